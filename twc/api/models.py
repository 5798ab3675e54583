"""Cross-process state of the API kept in the database when `REDIS_URL` is not set."""

from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST with an `Idempotency-Key`, per store, kept until `expires_at`.

    While the first request runs, `status` is null and `locked_until` bounds how long a crashed
    process can hold the key.
    """

    store = models.ForeignKey("tenants.Store", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    owner = models.CharField(max_length=32)
    locked_until = models.DateTimeField(null=True)
    status = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "key"], name="twc_api_idempotency_key_per_store_uniq")]

    def __str__(self) -> str:
        return f"Idempotency key {self.pk}"


class IdempotencySubject(models.Model):
    """A data subject (a customer, by its twc_customer_id) whose data a stored reply holds: erasing
    the customer deletes the reply (twc.api.idempotency_store.stored_replies_forget)."""

    record = models.ForeignKey(IdempotencyRecord, on_delete=models.CASCADE, related_name="subjects")
    subject = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"Subject of idempotency key {self.record_id}"


class RateLimitBucket(models.Model):
    """One token bucket: the tokens left at `updated_at` (Unix seconds)."""

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField()
    updated_at = models.FloatField()

    def __str__(self) -> str:
        return self.key


class WritePosition(models.Model):
    """The primary's WAL position after an OAuth application's last write (twc/replica.py), when
    `REDIS_URL` is not set: reads of that application use the standby only once it has replayed it."""

    application_id = models.BigIntegerField(unique=True)
    position = models.BigIntegerField()

    def __str__(self) -> str:
        return f"Write position of application {self.application_id}"
