"""The checkout stands on its own: nothing points outside the repository, and the README stays short."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300


def tracked_files() -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name]


def test_no_tracked_file_points_outside_the_repository():
    outside = "../" + "shared"  # spelt in two parts so that this file does not match itself
    this_file = Path(__file__).resolve()
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_files()
        if path.resolve() != this_file and path.is_file() and outside.encode() in path.read_bytes()
    ]
    assert offenders == []


def test_readme_is_read_in_minutes():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
