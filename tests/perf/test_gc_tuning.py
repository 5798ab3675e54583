"""twc.gc_tuning: what the import command and the WSGI application do to the garbage collector."""

import gc
import subprocess
import sys

from twc.gc_tuning import YOUNG_THRESHOLD, tune_for_bulk_work


def test_tuning_freezes_what_is_loaded_and_collects_young_objects_less_often():
    before = gc.get_threshold()
    try:
        tune_for_bulk_work()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 20)
        assert gc.get_freeze_count() > 10_000  # Django and the apps, out of every collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_wsgi_application_is_tuned_when_it_loads():
    code = "import gc, twc.wsgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(YOUNG_THRESHOLD), "True"]
