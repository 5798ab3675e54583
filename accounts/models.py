"""What customers' accounts keep beside the customer: access tokens, reset links, the store's
sign-in settings (Multipass, CORS origins), and Multipass tokens already used (without Redis)."""

from django.db import models

from customers.models import Customer
from tenants.models import Store


class CustomerAccessToken(models.Model):
    """A customer's bearer token for /api/me; only its SHA-256 is stored. Revoked by setting
    `revoked_at`, which every process sees at once: tokens are looked up on every request, never
    cached."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="access_tokens")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # A customer's live tokens: revoking them all, the admin's count of sessions.
            models.Index(
                fields=["customer", "expires_at"],
                condition=models.Q(revoked_at__isnull=True),
                name="accounts_token_customer_live",
            )
        ]

    def __str__(self) -> str:
        return f"Customer token {self.pk}"


class PasswordReset(models.Model):
    """A single-use password reset link (24 hours); only a hash of its token is stored."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="password_resets")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    emailed = models.BooleanField(default=False)
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "created_at"], name="accounts_reset_customer")]

    def __str__(self) -> str:
        return f"Password reset {self.pk}"


class StoreAccountSettings(models.Model):
    """A store's sign-in settings: Multipass and the origins allowed to call /api/me from a browser."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="account_settings")
    multipass_enabled = models.BooleanField(default=False)
    # Shown to the store's staff (they configure their encoder with it); rotating replaces it.
    multipass_secret = models.CharField(max_length=64, blank=True, default="")
    multipass_rotated_at = models.DateTimeField(null=True, blank=True)
    # One origin a line (https://shop.example.com): /api/me answers CORS requests from these.
    cors_allowed_origins = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "store account settings"
        verbose_name_plural = "store account settings"

    def __str__(self) -> str:
        return f"Account settings of {self.store}"

    @property
    def allowed_origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.cors_allowed_origins.splitlines() if line.strip()]


class MultipassTokenUse(models.Model):
    """A Multipass token already signed in with (the replay store when REDIS_URL is not set)."""

    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Multipass use {self.pk}"
