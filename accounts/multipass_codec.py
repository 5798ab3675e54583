"""Shopify's Multipass token format, so that the encoders stores already use produce our tokens.

keys: SHA-256 of the secret (UTF-8); the first 16 bytes are the AES-128 key, the last 16 the HMAC key.
token: base64url(IV ‖ ciphertext ‖ HMAC-SHA256(IV ‖ ciphertext)), padding optional; the IV is 16
random bytes and the ciphertext AES-128-CBC of the JSON with PKCS#7 padding.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
MAC_LENGTH = 32
# A token carries a few names and addresses; far larger is not a token (and not worth decrypting).
MAX_TOKEN_CHARS = 64 * 1024


class MalformedToken(ValueError):
    """Not a token of this secret: bad encoding, bad signature, bad padding or not a JSON object."""


def keys_of(secret: str) -> tuple[bytes, bytes]:
    digest = hashlib.sha256(secret.encode("utf-8")).digest()
    return digest[:BLOCK], digest[BLOCK:]


def encode(secret: str, payload: dict[str, Any], *, iv: bytes | None = None) -> str:
    """A Multipass token of `payload` (what a store's encoder does; the tests and docs use it)."""
    encryption_key, signing_key = keys_of(secret)
    iv = os.urandom(BLOCK) if iv is None else iv
    padder = padding.PKCS7(BLOCK * 8).padder()
    plain = padder.update(json.dumps(payload).encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(encryption_key), modes.CBC(iv)).encryptor()
    signed = iv + encryptor.update(plain) + encryptor.finalize()
    mac = hmac.new(signing_key, signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(signed + mac).decode("ascii")


def token_bytes(token: str) -> bytes:
    """The token's bytes (padding optional; surrounding whitespace ignored)."""
    text = token.strip()
    if not text or len(text) > MAX_TOKEN_CHARS:
        raise MalformedToken("The token is empty or too long.")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise MalformedToken("The token is not base64url.") from None


def decode(secret: str, raw: bytes) -> dict[str, Any]:
    """The JSON object `raw` (token_bytes) carries, after checking its signature first."""
    if len(raw) < 2 * BLOCK + MAC_LENGTH or (len(raw) - MAC_LENGTH) % BLOCK:
        raise MalformedToken("The token has the wrong length.")
    encryption_key, signing_key = keys_of(secret)
    signed, mac = raw[:-MAC_LENGTH], raw[-MAC_LENGTH:]
    if not hmac.compare_digest(mac, hmac.new(signing_key, signed, hashlib.sha256).digest()):
        raise MalformedToken("The token's signature is not valid.")
    decryptor = Cipher(algorithms.AES(encryption_key), modes.CBC(signed[:BLOCK])).decryptor()
    padded = decryptor.update(signed[BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK * 8).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        payload = json.loads(plain.decode("utf-8"))
    except ValueError:  # bad padding, not UTF-8, not JSON (all ValueError subclasses)
        raise MalformedToken("The token does not hold a JSON object.") from None
    if not isinstance(payload, dict):
        raise MalformedToken("The token does not hold a JSON object.")
    return payload
