"""The import's errors file is safe to open in a spreadsheet and re-imports to what the source said;
`import_customers` tells by its exit status whether every row landed (0), some were rejected (2) or
it could not finish (1), as a real process, and stops on a file without a header."""

import csv
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.import_errors import FORMULA_STARTS
from customers.models import Customer

ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_HEADER = ["Customer ID", "First Name", "Last Name", "Email", "Phone", "Note", "Tags", "Total Spent"]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def import_file(path, *args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("import_customers", str(path), "--store", "Store A", "--no-progress", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def formula_cells(rows) -> list[str]:
    return [cell for row in rows for cell in row if cell[:1] in FORMULA_STARTS and cell]


def test_every_formula_start_round_trips_through_the_errors_file(store_a, tmp_path):
    """Our own layout and Shopify's: each rejected row (a bad email) has cells starting with each of
    = + - @ tab CR; the errors file holds none that starts so, and, the emails fixed, re-imports
    to exactly the source's values."""
    starts = sorted(FORMULA_STARTS)
    ours = [["id", "email", "phone", "first_name", "last_name", "note", "tags"]]
    shopify = [SHOPIFY_HEADER]
    expected = {}
    for n, start in enumerate(starts):
        note = f"{start}note {n}\nline two"
        name = f"{start}Name{n}" if start not in "\t\r" else f"Name{n}"  # names refuse control characters
        tags = f"{start}tag{n}" if start not in "\t\r=" else f"tag{n}"
        ours.append([f"o-{n}", "bad", f"+1 613 555 01{n:02d}", name, "Ok", note, tags])
        shopify.append([f"'70{n}", name, "Ok", "bad", f"'+1613555020{n}", note, tags, "-1.00"])
        expected[f"o-{n}"] = ("+1613555" + f"01{n:02d}", name, note, tags)
        expected[f"70{n}"] = (f"+1613555020{n}", name, note.strip(), tags)  # Shopify's cells are stripped
    ours.append(["o-plain", "bad", "", "'hello", "Ok", "'quoted", ""])  # a "'" before a letter stays
    expected["o-plain"] = (None, "'hello", "'quoted", "")
    figures = []
    for layout, rows in (("api fields", ours), ("Shopify", shopify)):
        source, errors = tmp_path / f"{layout}.csv", tmp_path / f"{layout}-errors.csv"
        write_csv(source, rows)
        status, _ = import_file(source, "--errors", str(errors))
        assert status == 2
        written = read_csv(errors)
        assert len(written) == len(rows)
        assert formula_cells(written) == []
        escaped = sum(cell.startswith("'") and cell[1:2] in FORMULA_STARTS for row in written for cell in row)
        email = written[0].index("email" if layout == "api fields" else "Email")
        for row in written[1:]:
            row[email] = f"fixed{written.index(row)}@{layout[:3].lower()}.example.com".replace(" ", "")
        write_csv(errors, written)
        status, out = import_file(errors)
        assert status == 0, out
        figures.append(f"{layout}: {len(written) - 1} rows, {escaped} cells escaped, 0 starting as a formula")
    for ref, (phone, name, note, tags) in expected.items():
        customer = Customer.objects.get(store=store_a, ref=ref)
        assert (customer.phone, customer.first_name, customer.note) == (phone, name.strip(), note), ref
        assert customer.tags == tags, ref
    done = f"{len(expected)} of {len(expected)} customers as the source"
    print(f"\nerrors file: {'; '.join(figures)}; re-imported: {done}")


def test_a_headerless_file_of_either_layout_stops_with_status_1(store_a, tmp_path):
    for name, rows in {
        "ours": [["c-1", "c1@example.com", "+16135550100"]],
        "shopify": [["'7012", "Ann", "Smith", "ann@example.com", "'+16135550100"]],
        "errors of a JSON import": [["error_line", "error_field", "error_code", "error_reason", "row"], ["1"] * 5],
    }.items():
        path = tmp_path / f"{name}.csv"
        write_csv(path, rows)
        with pytest.raises(CommandError, match="names none of the columns an import reads") as stopped:
            call_command("import_customers", str(path), "--store", "Store A", "--no-progress", stdout=StringIO())
        assert stopped.value.returncode == 1, name
    assert not Customer.objects.filter(store=store_a).exists()


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
def test_the_exit_status_of_the_real_command(store_a, tmp_path):
    files = {
        "every row lands": ('{"id": "r-1", "email": "r1@example.com"}\n', 0),
        "a row is rejected": ('{"id": "r-2", "email": "r2@example.com"}\n{"id": "r-3", "email": "bad"}\n', 2),
        "every row is rejected": ('{"id": "r-4", "email": "bad"}\n{"id": "r-5"}\n', 2),
        "the file is cut short": ('[{"id": "r-6", "email": "r6@example.com"}, {"id"', 1),
        "no header": ("r-7,r7@example.com,+16135550107\n", 1),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="twc.settings")
    seen = {}
    for case, (content, expected) in files.items():
        path = tmp_path / (case.replace(" ", "-") + (".json" if content.startswith("[") else ".txt"))
        path.write_text(content)
        done = subprocess.run(
            [sys.executable, "manage.py", "import_customers", str(path), "--store", "Store A", "--no-progress"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        seen[case] = done.returncode
        assert done.returncode == expected, f"{case}: {done.stdout}{done.stderr}"
        if expected == 2:
            assert "rows were rejected (listed above)" in done.stderr
    print("\nimport_customers exit status: " + ", ".join(f"{case} {code}" for case, code in seen.items()))
    assert set(Customer.objects.filter(store=store_a).values_list("ref", flat=True)) == {"r-1", "r-2", "r-6"}
