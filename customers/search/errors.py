"""The one error of the query language: `400 InvalidField` on `query`, saying where."""

from twc.api.errors import ValidationFailed, invalid_field

PARAM = "query"


def query_error(message: str, position: int | None = None) -> ValidationFailed:
    """`position` is 0-based in the query; the message counts characters from 1, as people do."""
    where = f" (at character {position + 1})" if position is not None else ""
    return invalid_field(PARAM, f"'query': {message}{where}.")
