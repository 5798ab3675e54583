"""What the delivery worker records of each attempt: the attempt's row, its delivery delivered, due
again on the retry schedule, or given up, and the subscription's failing streak (a 410 or three
days of failures disable it)."""

import datetime as dt
import logging
import random
from typing import Any

import orjson
from django.db import connection

from events import sender
from events.delivery import ATTEMPTS, DELIVERIES, SUBSCRIPTIONS, Claimed, Subscription, db_time, placeholders, uuid_text

logger = logging.getLogger(__name__)

# After the first attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (with jitter).
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1
MAX_RETRY_AFTER = 86400
FAILING_DISABLES_AFTER = dt.timedelta(days=3)


def next_delay(attempts: int, retry_after: float | None) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_RETRY_AFTER)
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


_ATTEMPT_COLUMNS = "delivery_id, subscription_id, event_id, attempt, status_code, error, duration_ms, attempted_at"
# The outcomes come as one JSON array of rows (_outcome_rows): psycopg writing seven arrays out
# element by element cost 6.6 us a delivery in the worker's thread, orjson 0.1. A delivery deleted
# meanwhile (its subscription was) is neither updated nor given an attempt: the attempts are those
# of the deliveries the UPDATE locked and changed.
_PG_RECORD = f"""
    WITH a AS (
        SELECT (r->>0)::bigint AS delivery_id, (r->>1)::uuid AS subscription_id, (r->>2)::uuid AS event_id,
               (r->>3)::int AS attempt, (r->>4)::int AS status_code, r->>5 AS error, (r->>6)::int AS duration_ms,
               r->>7 AS state, (r->>8)::timestamptz AS next_attempt_at
        FROM jsonb_array_elements(%s::jsonb) AS r
    ), recorded AS (
        UPDATE {DELIVERIES} d
        SET state = a.state, attempts = a.attempt, leased_until = NULL,
            next_attempt_at = coalesce(a.next_attempt_at, d.next_attempt_at),
            finished_at = CASE WHEN a.state = 'pending' THEN NULL ELSE %s::timestamptz END
        FROM a WHERE d.id = a.delivery_id
        RETURNING d.id
    )
    INSERT INTO {ATTEMPTS} ({_ATTEMPT_COLUMNS})
    SELECT a.delivery_id, a.subscription_id, a.event_id, a.attempt, a.status_code, a.error, a.duration_ms,
           %s::timestamptz
    FROM a JOIN recorded ON recorded.id = a.delivery_id
"""
# SQLite (no writing CTEs): the same rows, in two statements; its writers are serialised, so no
# delivery can go between them.
_SQLITE_RECORD_DELIVERIES = f"""
    UPDATE {DELIVERIES}
    SET state = a.state, attempts = a.attempt, leased_until = NULL,
        next_attempt_at = coalesce(a.next_attempt_at, {DELIVERIES}.next_attempt_at),
        finished_at = CASE WHEN a.state = 'pending' THEN NULL ELSE %s END
    FROM (SELECT value->>0 AS delivery_id, value->>3 AS attempt, value->>7 AS state, value->>8 AS next_attempt_at
          FROM json_each(%s)) AS a
    WHERE {DELIVERIES}.id = a.delivery_id
"""
_SQLITE_RECORD_ATTEMPTS = f"""
    INSERT INTO {ATTEMPTS} ({_ATTEMPT_COLUMNS})
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, %s FROM json_each(%s)
    WHERE value->>0 IN (SELECT id FROM {DELIVERIES})
"""


def _outcome_rows(results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> list[list]:
    """Per attempt: delivery, subscription, event, attempt number, status, error, duration, and the
    delivery's next state: delivered, pending again (with its next attempt's time) or failed."""
    rows = []
    for d, o in results:
        attempt = d.attempts + 1
        state, next_attempt_at = "delivered", None
        if not o.delivered:
            delay = next_delay(attempt, o.retry_after)
            if delay is None:
                state = "failed"
            else:
                state, next_attempt_at = "pending", db_time(now + dt.timedelta(seconds=delay))
        rows.append(
            [d.id, d.subscription.id, d.event_key, attempt, o.status, o.error, o.duration_ms, state, next_attempt_at]
        )
    return rows


def record(cursor: Any, results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> None:
    """What came back, in one statement on PostgreSQL: each attempt's row, and its delivery
    delivered, due again later, or given up; then the subscriptions' failing streaks."""
    if not results:
        return
    at = db_time(now)
    rows = orjson.dumps(_outcome_rows(results, now)).decode()
    if connection.vendor == "postgresql":
        cursor.execute(_PG_RECORD, [rows, at, at])
    else:
        cursor.execute(_SQLITE_RECORD_ATTEMPTS, [at, rows])
        cursor.execute(_SQLITE_RECORD_DELIVERIES, [at, rows])
    _record_subscriptions(cursor, results, now)


def _record_subscriptions(cursor: Any, results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> None:
    """A success ends a subscription's failing streak; a failure starts one; a 410, or a streak of 3
    days, disables the subscription."""
    outcomes: dict[Any, tuple[Subscription, list[sender.Outcome]]] = {}
    for d, o in results:
        outcomes.setdefault(d.subscription.id, (d.subscription, []))[1].append(o)
    for subscription, answers in outcomes.values():
        failing_since = subscription.failing_since
        gone = False
        for outcome in answers:
            if outcome.delivered:
                failing_since = None
            else:
                failing_since = failing_since or now
                gone = gone or outcome.status == 410
        reason = ""
        if gone:
            reason = "The receiver answered 410 Gone."
        elif failing_since is not None and now - failing_since >= FAILING_DISABLES_AFTER:
            reason = "Every delivery failed for 3 days."
        if reason:
            logger.warning("webhook %s disabled: %s", uuid_text(subscription.id), reason)
            cursor.execute(
                f"UPDATE {SUBSCRIPTIONS} SET failing_since = %s, enabled = %s, disabled_reason = %s, updated_at = %s "
                "WHERE id = %s",
                [db_time(failing_since) if failing_since else None, False, reason, db_time(now), subscription.id],
            )
        elif failing_since != subscription.failing_since:
            cursor.execute(
                f"UPDATE {SUBSCRIPTIONS} SET failing_since = %s WHERE id = %s",
                [db_time(failing_since) if failing_since else None, subscription.id],
            )


def release(cursor: Any, ids: list[int]) -> None:
    """Claimed deliveries this worker will not send (stopping, or too late): back to the queue now."""
    if ids:
        cursor.execute(f"UPDATE {DELIVERIES} SET leased_until = NULL WHERE id IN ({placeholders(ids)})", ids)  # rare
