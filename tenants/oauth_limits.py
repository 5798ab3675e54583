"""The limits on client credentials at /o/token/, /o/revoke_token/ and /o/introspect/.

They count failed client authentications only, in three buckets shared by the three endpoints and
every process (twc.api.ratelimit): per decoded client_id, per client address, and one for the
whole service, which bounds the hash work strangers can cause however many addresses they use.

A request takes a token from each bucket before its secret is checked, so that a refused request
costs no hash, and gives them back when its credentials turn out valid: successes are not counted.
When a bucket refuses, the request still reaches the check if its id and secret match the
fingerprint of the credentials that last succeeded for that client_id (set at creation, renewed at
each success): a stranger hammering a store's client_id cannot lock out the store, whose own
requests are never refused by these limits. docs/api.md ("Tokens") says it for clients.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest

from tenants.models import StoreApplication
from tenants.oauth_credentials import ClientCredentials, CredentialCheck, fingerprint_matches, secret_fingerprint
from twc.api.ratelimit import Decision, Limit, give_back_each, take_each
from twc.client_address import client_address


@dataclass
class Admission:
    refusal: Decision | None = None  # the bucket that refused, when the request is answered 429
    taken: list[Limit] = field(default_factory=list)
    by_fingerprint: bool = False


def credential_limits(request: HttpRequest, credentials: ClientCredentials) -> list[Limit]:
    limits = [
        Limit(
            f"oauth-fail-ip:{client_address(request)}",
            settings.TOKEN_RATE_LIMIT_PER_SECOND,
            settings.TOKEN_RATE_LIMIT_BURST,
        )
    ]
    if credentials.bucket_id is not None:
        limits.append(
            Limit(
                f"oauth-fail-client:{credentials.bucket_id}",
                settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND,
                settings.TOKEN_CLIENT_RATE_LIMIT_BURST,
            )
        )
    limits.append(
        Limit("oauth-fail-all", settings.TOKEN_GLOBAL_RATE_LIMIT_PER_SECOND, settings.TOKEN_GLOBAL_RATE_LIMIT_BURST)
    )
    return limits


def stored_fingerprint(client_id: str) -> str:
    value = (
        StoreApplication.objects.filter(application__client_id=client_id)
        .values_list("secret_fingerprint", flat=True)
        .first()
    )
    return value or ""


def admit(request: HttpRequest, credentials: ClientCredentials) -> Admission:
    if not settings.RATE_LIMIT_ENABLED:
        return Admission()
    refusal, taken = take_each(credential_limits(request, credentials))
    if refusal is None:
        return Admission(taken=taken)
    client_id = credentials.client_id  # usable credentials have one
    if credentials.usable and client_id is not None and fingerprint_matches(stored_fingerprint(client_id), credentials):
        return Admission(taken=taken, by_fingerprint=True)
    return Admission(refusal=refusal, taken=taken)


def settle(admission: Admission, check: CredentialCheck, credentials: ClientCredentials) -> None:
    """After the endpoint answered: a failure keeps its tokens; anything else gives them back, and
    credentials verified by their hash become the client's fingerprint."""
    if check.authenticated is False:
        # Admitted by its fingerprint, the credentials were usable: they have a client_id.
        if admission.by_fingerprint and credentials.client_id is not None:
            # The fingerprint outlived its secret (changed elsewhere): it admits no one any more.
            StoreApplication.objects.filter(
                application__client_id=credentials.client_id,
                secret_fingerprint=secret_fingerprint(credentials.client_id, credentials.secret),
            ).update(secret_fingerprint="")
        return
    give_back_each(admission.taken)
    if check.secret_verified and check.client_id == credentials.client_id:
        remember_fingerprint(credentials)


def remember_fingerprint(credentials: ClientCredentials) -> None:
    if credentials.client_id is None:  # no client to remember them for
        return
    fingerprint = secret_fingerprint(credentials.client_id, credentials.secret)
    StoreApplication.objects.filter(application__client_id=credentials.client_id).exclude(
        secret_fingerprint=fingerprint
    ).update(secret_fingerprint=fingerprint)
