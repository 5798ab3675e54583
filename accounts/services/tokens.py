"""Customer access tokens: issued at sign-in, checked on every /api/me request, revoked at once.

A token is `twcct_` and 32 random bytes (base64url); only its SHA-256 is stored. It is looked up on
every request and never cached, so a revocation (sign-out, a password change or reset, a staff
disable, a delete, an erasure, a merge) holds in every process from the moment it commits.
"""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone

from accounts.models import CustomerAccessToken
from customers.models import Address, Customer, CustomerState
from customers.selectors import ADDRESS_ROWS, CUSTOMER_ROWS, customers_from_joined_rows
from tenants.authentication import CUSTOMER_TOKEN_PREFIX
from tenants.models import Store
from twc.db_rows import ModelRows

# The store middleware refuses these as store tokens without a lookup (tenants.authentication).
TOKEN_PREFIX = CUSTOMER_TOKEN_PREFIX
TOKEN_ROWS = ModelRows(CustomerAccessToken)
STORE_ROWS = ModelRows(Store)
# The token (unrevoked), its store, its customer and the customer's addresses: one row per address.
# Written once, not compiled by the ORM for every /api/me request (docs/performance.md).
TOKEN_FIND_SQL = (
    f"SELECT {TOKEN_ROWS.select('t')}, {STORE_ROWS.select('s')}, {CUSTOMER_ROWS.select('c')}, "
    f'{ADDRESS_ROWS.select("a")} FROM "{CustomerAccessToken._meta.db_table}" t '
    f'JOIN "{Store._meta.db_table}" s ON s."id" = t."store_id" '
    f'JOIN "{Customer._meta.db_table}" c ON c."seq" = t."customer_id" '
    f'LEFT OUTER JOIN "{Address._meta.db_table}" a ON a."customer_id" = c."seq" '
    f'WHERE t."token_hash" = %s AND t."revoked_at" IS NULL'
)
TOKEN_LIFETIME = dt.timedelta(days=30)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, in the sign-in's answer
    expires_at: dt.datetime


def token_digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def customer_token_issue(*, customer: Customer) -> IssuedToken:
    now = timezone.now()
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + TOKEN_LIFETIME
    CustomerAccessToken.objects.create(
        customer=customer,
        store_id=customer.store_id,
        token_hash=token_digest(raw),
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedToken(token=raw, expires_at=expires_at)


def customer_token_find(raw_token: str) -> CustomerAccessToken | None:
    """The live token `raw_token` names, with its store, its customer and the customer's addresses
    (one query), or None: unknown, revoked, expired, or its customer is deleted or no longer enabled."""
    if not raw_token.startswith(TOKEN_PREFIX) or len(raw_token) > 100:
        return None
    alias = CustomerAccessToken.objects.db
    with connections[alias].cursor() as cursor:
        cursor.execute(TOKEN_FIND_SQL, [token_digest(raw_token)])
        rows = cursor.fetchall()
    if not rows:
        return None
    token = TOKEN_ROWS.instance(rows[0], alias)
    if token.expires_at <= timezone.now():
        return None
    token.store = STORE_ROWS.instance(rows[0], alias, start=TOKEN_ROWS.width)
    (customer,) = customers_from_joined_rows(rows, alias, start=TOKEN_ROWS.width + STORE_ROWS.width)
    token.customer = customer
    if (
        customer.deleted_at is not None
        or customer.state != CustomerState.ENABLED
        or customer.store_id != token.store_id
    ):
        return None
    return token


def customer_token_revoke(*, token: CustomerAccessToken) -> None:
    CustomerAccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def customer_tokens_revoke(*, customer: Customer, keep: CustomerAccessToken | None = None) -> int:
    """Revoke every live token of the customer (but `keep`); the number revoked."""
    tokens = CustomerAccessToken.objects.filter(customer_id=customer.pk, revoked_at__isnull=True)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    return tokens.update(revoked_at=timezone.now())


def customer_active_sessions(*, customer: Customer) -> int:
    """How many live tokens the customer has (the admin shows it)."""
    return CustomerAccessToken.objects.filter(
        customer_id=customer.pk, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).count()
