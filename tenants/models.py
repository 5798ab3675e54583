"""Tenants (merchants), their stores, the stores' OAuth applications and staff."""

import zoneinfo

from django.conf import settings
from django.db import models

ALL_SCOPES = "customers:read customers:write customers:sign_in"


class Tenant(models.Model):
    """A merchant. Owns one or more stores."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    """A shop of a tenant. Every customer belongs to exactly one store."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="stores")
    name = models.CharField(max_length=200, unique=True)
    # ISO 3166-1 alpha-2: the region national phone numbers are read in.
    country = models.CharField(max_length=2, default="US")
    # ISO 4217: a new customer's currency unless it says otherwise.
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        choices=[(name, name) for name in sorted(zoneinfo.available_timezones())],
    )
    # Per-application API rate limit: a steady rate with a burst. Null means the global default.
    rate_limit_per_second = models.FloatField(null=True, blank=True)
    rate_limit_burst = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class StoreApplication(models.Model):
    """Links one OAuth application to the store its tokens act for.

    A one-to-one link instead of a swapped Application model (DOT #778, #1168); a store may have
    several, so it can rotate credentials.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="applications")
    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="store_link"
    )
    # Space-separated scopes this application may be granted.
    scopes = models.CharField(max_length=200, default=ALL_SCOPES)
    # A keyed digest of the client id and secret that last succeeded (tenants.oauth_limits): it lets
    # the store's own requests through while a stranger exhausts the limits on its client_id.
    secret_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.store} / {self.application.client_id}"


class StoreStaff(models.Model):
    """A staff user of the admin who manages one store's customers."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "store staff"
        constraints = [models.UniqueConstraint(fields=["store", "user"], name="tenants_storestaff_store_user_uniq")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store}"
