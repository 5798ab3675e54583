"""The client credentials of an OAuth request (token, revoke, introspect), read one way everywhere.

The validator (tenants.oauth_validator) authenticates with what `client_credentials` reads, and the
limits (tenants.oauth_limits) count under the same decoded `client_id`, so no spelling of an id
(percent-encoded, in another case of the scheme) authenticates as a client while counting as
another.

RFC 6749 section 2.3.1: HTTP Basic credentials are the form-urlencoded id and secret, joined by a
colon, in base64. A client uses one method: with an `Authorization: Basic` header the body's
credentials are not read (DOT would otherwise try the body when the header fails, a second hash).
"""

import base64
import binascii
import contextvars
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

# DOT's client_id column holds 100 characters; its generated secrets are 128. Longer values name
# no client: they are refused before any lookup or hash.
MAX_CLIENT_ID_LENGTH = 100
MAX_SECRET_LENGTH = 512

# An id of the characters DOT generates is its own bucket key; any other is keyed by its digest,
# so a key is bounded and safe for Redis and the database whatever was sent.
PLAIN_ID = re.compile(r"[A-Za-z0-9._~-]{1,100}")


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str | None  # decoded; None when none was sent or it could not be read
    secret: str = ""
    via: str = ""  # "basic", "body", or "" when the request carries none

    @property
    def usable(self) -> bool:
        """Worth a lookup and a hash: an id and a secret, both of a length a real client has."""
        return (
            self.client_id is not None
            and 0 < len(self.client_id) <= MAX_CLIENT_ID_LENGTH
            and 0 < len(self.secret) <= MAX_SECRET_LENGTH
        )

    @property
    def bucket_id(self) -> str | None:
        if not self.client_id:
            return None
        if PLAIN_ID.fullmatch(self.client_id):
            return self.client_id
        return "sha256:" + hashlib.sha256(self.client_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


UNREADABLE_BASIC = ClientCredentials(None, "", "basic")


def basic_value(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Basic ...` header (the scheme in any case), else None."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "basic" else None


def decode_basic(value: str) -> ClientCredentials:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            return UNREADABLE_BASIC
        return ClientCredentials(
            unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict"), "basic"
        )
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return UNREADABLE_BASIC


def client_credentials(
    *, authorization: str | None, client_id: str | None, client_secret: str | None
) -> ClientCredentials:
    """The request's credentials: the Basic header's when it has one, else the body's."""
    value = basic_value(authorization)
    if value is not None:
        return decode_basic(value)
    if client_id:
        return ClientCredentials(client_id, client_secret or "", "body")
    return ClientCredentials(None)


def credentials_of(request: HttpRequest) -> ClientCredentials:
    """`client_credentials` of a Django request (the form body, as DOT reads it)."""
    return client_credentials(
        authorization=request.META.get("HTTP_AUTHORIZATION"),
        client_id=request.POST.get("client_id"),
        client_secret=request.POST.get("client_secret"),
    )


# --- Fingerprints: which credentials succeeded before --------------------------------------------
def secret_fingerprint(client_id: str, secret: str) -> str:
    """A keyed digest of an id and its secret. It only decides whether a request may reach the real
    check while the limits refuse its client_id; the secret itself stays hashed by DOT."""
    return salted_hmac("tenants.oauth.client-secret", f"{client_id}\0{secret}", algorithm="sha256").hexdigest()


def fingerprint_matches(stored: str, credentials: ClientCredentials) -> bool:
    if not stored or credentials.client_id is None:
        return False
    return constant_time_compare(stored, secret_fingerprint(credentials.client_id, credentials.secret))


# --- What the validator found, for the view that asked -------------------------------------------
@dataclass
class CredentialCheck:
    """Filled in by the validator during one request: whether client authentication was attempted
    and succeeded, and whether a secret was verified by its hash."""

    authenticated: bool | None = None
    secret_verified: bool = False
    hashes: int = 0
    client_id: str | None = None


current_check: contextvars.ContextVar[CredentialCheck | None] = contextvars.ContextVar(
    "tenants_oauth_credential_check", default=None
)
