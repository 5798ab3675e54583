"""twc.api.failure_limits on the database and on Redis: the lockout's arithmetic and its race."""

import pytest

from tests.api.conftest import shared_state  # noqa: F401  (the fixture: database, then Redis)
from tests.battery.concurrency import run_concurrently
from twc.api import failure_limits
from twc.api.failure_limits import FailurePolicy

POLICY = FailurePolicy(max_failures=5, window=900, first_wait=60, max_wait=3600)


def test_locked_after_the_fifth_failure_then_cleared(db, shared_state):  # noqa: F811
    for _ in range(4):
        failure_limits.record_failure("k", POLICY)
        assert failure_limits.locked_for("k", POLICY) is None
    failure_limits.record_failure("k", POLICY)
    assert 59 <= failure_limits.locked_for("k", POLICY) <= 60
    failure_limits.record_failure("k", POLICY)
    assert 119 <= failure_limits.locked_for("k", POLICY) <= 120
    assert failure_limits.locked_for("other", POLICY) is None
    failure_limits.clear("k")
    assert failure_limits.locked_for("k", POLICY) is None


def test_the_wait_stops_at_the_maximum():
    assert [POLICY.wait(n) for n in (4, 5, 6, 7, 11, 12, 500)] == [0, 60, 120, 240, 3600, 3600, 3600]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_last_failures_racing_both_count(shared_state, is_postgres):  # noqa: F811
    if not is_postgres:
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    for _ in range(4):
        failure_limits.record_failure("race", POLICY)
    results = run_concurrently(2, lambda _: failure_limits.record_failure("race", POLICY))
    assert results == [None, None]
    # Six failures, not five: the lock is the sixth's (two minutes), and none was lost.
    assert 119 <= failure_limits.locked_for("race", POLICY) <= 120
