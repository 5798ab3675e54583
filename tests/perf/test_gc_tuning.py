"""twc.gc_tuning: what the import command and the WSGI application do to the garbage collector."""

import gc
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from twc.gc_tuning import YOUNG_THRESHOLD, tune_for_bulk_work

PYTHON_DEFAULTS = (700, 10, 10)


@pytest.fixture
def default_collector():
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(*PYTHON_DEFAULTS)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tuning_freezes_what_is_loaded_and_collects_young_objects_less_often(default_collector):
    assert gc.get_freeze_count() == 0
    tune_for_bulk_work()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 20)
    assert gc.get_freeze_count() > 10_000  # Django and the apps, out of every collection


def test_the_wsgi_application_is_tuned_when_it_loads():
    code = "import gc, twc.wsgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(YOUNG_THRESHOLD), "True"]


def test_the_import_tunes_its_own_process_only(default_collector, store_a, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "g-1", "email": "g1@example.com"}\n')
    call_command("import_customers", str(source), "--store", "Store A", "--no-progress", stdout=StringIO())
    assert gc.get_threshold() == PYTHON_DEFAULTS and gc.get_freeze_count() == 0  # the caller's, untouched
    # From the command line (its own process) it tunes before anything else, even a bad --store.
    code = (
        "import gc, os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'twc.settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "try:\n"
        f"    execute_from_command_line(['manage.py', 'import_customers', {str(source)!r}, '--store', 'Nope'])\n"
        "except BaseException:\n"
        "    pass\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == [str(YOUNG_THRESHOLD), "True"], done.stderr
