"""Standard Webhooks v1 signatures: base64 HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with
the base64-decoded part of the secret after `whsec_`."""

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one signature per secret, separated by spaces (both during a rotation)."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets)
