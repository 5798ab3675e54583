"""Structured logs: one JSON line per event, one per request, with a request id.

Personal data and secrets never reach a log line: the request log carries no bodies, no headers and
no customer reference (a path's `{ref}` is logged as the route), and the formatter scrubs what looks
like an email, a phone number, a bearer token or a secret from every message and traceback (an
IntegrityError's text names the duplicate email, for instance).
"""

import contextvars
import datetime as dt
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable

import orjson
from django.http import HttpRequest
from django.http.response import HttpResponseBase

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
request_logger = logging.getLogger("twc.request")

# A client's X-Request-ID is echoed only when it is short and plain; anything else gets a new one.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

SCRUBBERS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[token]"),
    (
        re.compile(
            r"(?i)(access_token|refresh_token|client_secret|password|secret|token)"
            r"(\"?\s*[:=]\s*\"?)[^\s\"&,;]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"[^\s@\"'<>(),;:/\\\[\]{}=&?]+(?:@|%40)[^\s@\"'<>(),;:/\\\[\]{}=&?]+"), "[email]"),
    (re.compile(r"\+\d[\d\s().-]{5,}\d"), "[phone]"),
    (re.compile(r"\(?\b\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]\d{3,4}\b"), "[phone]"),
    (re.compile(r"\b\d{7,}\b"), "[phone]"),
]


def scrub(text: str) -> str:
    """The text with anything that looks like an email, a phone number or a secret replaced."""
    for pattern, replacement in SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


# Fields a log record may carry into its JSON line (passed with `extra=`); nothing else is copied.
STRUCTURED_FIELDS = ("request_id", "store", "method", "path", "status", "duration_ms")
SCRUBBED_FIELDS = {"path"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the request's fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for field in STRUCTURED_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = scrub(value) if field in SCRUBBED_FIELDS and isinstance(value, str) else value
        if "request_id" not in line and request_id_var.get() is not None:
            line["request_id"] = request_id_var.get()
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(line).decode()


@functools.lru_cache(maxsize=256)
def logged_route(route: str) -> str:
    """A route as logged (`customers/<path:ref>` is `/customers/{ref}`); the routes are few."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).lstrip("^").rstrip("$")


def route_of(request: HttpRequest) -> str:
    """The path as logged: a matched route's parameters are shown as `{name}`, never their values."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.kwargs:
        return logged_route(match.route)
    return request.path[:200]


class RequestLogMiddleware:
    """Give every request an id (the client's `X-Request-ID` or a new one), echo it back, and log
    one line when it ends: request id, store, method, path, status and duration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if CLIENT_REQUEST_ID.match(sent) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # our own attribute on Django's request
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            store = getattr(request, "store", None)
            request_logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "store": store.pk if store is not None else None,
                    "method": request.method,
                    "path": route_of(request),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)
