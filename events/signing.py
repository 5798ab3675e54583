"""Standard Webhooks v1 signatures: base64 HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with
the base64-decoded part of the secret after `whsec_`."""

import base64
import functools
import hashlib
import hmac

PREFIX = "whsec_"


@functools.lru_cache(maxsize=256)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = _key(secret)
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets: list[str] | tuple[str, ...], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one signature per secret, separated by spaces (both during a rotation)."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets)
