"""Reading text that clients send: control characters and ISO 8601 timestamps, for every app."""

import datetime as dt
import re

from django.utils.dateparse import parse_datetime

# Any C0 or C1 control character: none belongs in a one-line value (a name, a reference, a parameter).
CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same but tab, newline and carriage return, which a multi-line text (a note) may hold.
CONTROL_EXCEPT_TAB_AND_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def parse_iso_datetime(value: str) -> dt.datetime | None:
    """The date and time an ISO 8601 `value` writes (a date alone: its midnight), or None.

    Never raises: Django's parser raises ValueError for a well-formed but impossible date.
    """
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def in_utc(moment: dt.datetime) -> dt.datetime | None:
    """`moment` in UTC, a naive one read as UTC (the contract); None when UTC cannot represent it.

    Stored in UTC because PostgreSQL refuses offsets beyond 15:59 (+16:47 is valid ISO 8601), and
    0001-01-01T00:00:00+05:00 is before the first representable instant.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return None


def is_row_number(value: str) -> bool:
    """Whether `value` is a non-negative integer that fits a 64-bit column, written in ASCII digits:
    `str.isdigit()` also accepts "²" and other digits that `int()` refuses."""
    return value.isascii() and value.isdigit() and len(value) <= 18
