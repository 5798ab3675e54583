"""FieldChecker: the checks of one incoming JSON object, collecting every field's error."""

import datetime as dt
from collections.abc import Collection
from typing import Any

from twc.api.errors import FieldError, invalid_field_entry
from twc.text import CONTROL_EXCEPT_TAB_AND_BREAKS, CONTROL_OR_BREAK, in_utc, parse_iso_datetime

MAX_TIMESTAMP_LENGTH = 64


class FieldChecker:
    """Collects every field error of one payload instead of stopping at the first."""

    def __init__(self, prefix: str = ""):
        self.errors: list[FieldError] = []
        self.prefix = prefix

    def fail(self, field: str, message: str) -> None:
        self.errors.append(invalid_field_entry(self.prefix + field, message))

    def text(self, data: dict, field: str, max_length: int, *, multiline: bool = False, nullable_as: Any = "") -> Any:
        """The text, stripped unless multi-line; `nullable_as` for a null; None when it fails."""
        value = data[field]
        if value is None:
            return nullable_as
        if not isinstance(value, str):
            self.fail(field, f"'{field}' must be a string.")
            return None
        if len(value) > max_length:
            self.fail(field, f"'{field}' is longer than {max_length} characters.")
            return None
        if (CONTROL_EXCEPT_TAB_AND_BREAKS if multiline else CONTROL_OR_BREAK).search(value):
            self.fail(field, f"'{field}' contains control characters.")
            return None
        return value.strip() if not multiline else value

    def boolean(self, data: dict, field: str) -> bool | None:
        value = data[field]
        if not isinstance(value, bool):
            self.fail(field, f"'{field}' must be true or false.")
            return None
        return value

    def choice(self, data: dict, field: str, choices: Collection[str], *, nullable: bool = False) -> Any:
        """The value, one of `choices`; None for a null when `nullable`, or when it fails."""
        value = data[field]
        if value is None and nullable:
            return None
        if value not in choices:
            allowed = ", ".join(sorted(choices))
            self.fail(field, f"'{field}' must be one of: {allowed}.")
            return None
        return value

    def timestamp(self, data: dict, field: str) -> dt.datetime | None:
        """An aware datetime in UTC; a timestamp without an offset is read as UTC (the contract)."""
        value = data[field]
        if value is None:
            return None
        parsed = None
        if isinstance(value, str) and len(value) <= MAX_TIMESTAMP_LENGTH:
            parsed = parse_iso_datetime(value.strip())
        if parsed is None:
            self.fail(field, f"'{field}' must be an ISO 8601 date and time.")
            return None
        in_range = in_utc(parsed)
        if in_range is None:
            self.fail(field, f"'{field}' is out of range.")
        return in_range
