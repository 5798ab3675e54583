"""A strict JSON parser: every malformed body is `400 InvalidJsonInput`, never a 500.

The standard library parser, not orjson, because it can reject duplicate keys (a client that sends
`{"email": a, "email": b}` has a bug we should not guess around). Nesting deeper than Python's
recursion limit raises RecursionError, which DRF's own parser lets through as a 500.
"""

import json
import re
from collections.abc import Mapping
from typing import IO, Any, NoReturn

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


# A \uD800-\uDFFF escape: the standard library accepts a lone surrogate, which no database can store.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json_bytes(raw: bytes) -> Any:
    """Parse a JSON document from bytes; raise ParseError with a readable reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise ParseError("The JSON body is nested too deeply.") from None
    except ValueError as exc:
        raise ParseError(f"The body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw):
        try:
            orjson.loads(text)  # accepts surrogate pairs (emoji), refuses lone surrogates
        except orjson.JSONDecodeError:
            raise ParseError("The body holds a lone UTF-16 surrogate (\\uD800-\\uDFFF escape).") from None
    return data


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            raise ParseError("The request body is empty; a JSON document is expected.")
        return parse_json_bytes(raw)
