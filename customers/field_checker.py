"""FieldChecker: the checks of one incoming JSON object, collecting every field's error."""

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from twc.api.errors import MAX_ERRORS, FieldError, ValidationFailed, invalid_field_entry, unknown_field_entry
from twc.text import CONTROL_EXCEPT_TAB_AND_BREAKS, CONTROL_OR_BREAK, in_utc, parse_iso_datetime

MAX_TIMESTAMP_LENGTH = 64


class FieldChecker:
    """Collects every field error of one payload instead of stopping at the first.

    It keeps at most `limit` entries (an error response lists MAX_ERRORS) and only counts the
    others (`omitted`), so that a body of a million bad keys costs a counter, not a million entries.
    """

    def __init__(self, prefix: str = "", *, limit: int = MAX_ERRORS):
        self.errors: list[FieldError] = []
        self.omitted = 0
        self.limit = limit
        self.prefix = prefix
        self.failed_fields: set[str] = set()  # the named fields at fault, kept or omitted

    @property
    def room(self) -> int:
        return max(0, self.limit - len(self.errors))

    def add(self, entry: FieldError) -> None:
        if entry.field is not None:
            self.failed_fields.add(entry.field)
        if len(self.errors) < self.limit:
            self.errors.append(entry)
        else:
            self.omitted += 1

    def fail(self, field: str, message: str) -> None:
        name = self.prefix + field
        self.failed_fields.add(name)
        if len(self.errors) < self.limit:
            self.errors.append(invalid_field_entry(name, message))
        else:
            self.omitted += 1

    def merge(self, other: "FieldChecker") -> None:
        """Take another checker's entries (an address's) and its count of omitted ones."""
        for entry in other.errors:
            self.add(entry)
        self.failed_fields |= other.failed_fields
        self.omitted += other.omitted

    def unknown_fields(
        self, data: dict, known: Collection[str], entry: Callable[[Any], FieldError] = unknown_field_entry
    ) -> None:
        """An entry for each key of `data` not in `known`, while there is room; the rest counted."""
        unknown = len(data) - sum(1 for name in known if name in data)
        if not unknown:
            return
        found = 0
        for key in data:
            if found == unknown or len(self.errors) >= self.limit:
                break
            if key not in known:
                self.errors.append(entry(key))
                found += 1
        self.omitted += unknown - found

    def raise_if_failed(self) -> None:
        if self.errors or self.omitted:
            raise ValidationFailed(self.errors, omitted=self.omitted)

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
