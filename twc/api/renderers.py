"""Every API response rendered by orjson: it renders JSON much faster than the standard library's json."""

import decimal
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer


def _default(value: object) -> orjson.Fragment | str:
    if isinstance(value, decimal.Decimal):
        # Money keeps its two decimals on the wire (12.50, not 12.5).
        return orjson.Fragment(str(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data: object, *, indent: bool = False) -> bytes:
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(data, default=_default, option=option)


class JSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if data is None:
            return b""
        return dumps(data)
