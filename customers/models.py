"""The customer, their addresses, and the orders and wishlists the store's systems report.

Uniqueness lives in partial unique indexes per store (named below); services map a violation to
the contract's `DuplicateField`. Deleted customers are kept (soft delete) and free their keys.
"""

import uuid

from django.db import models
from django.db.models import Q

from tenants.models import Store


class CustomerState(models.TextChoices):
    DISABLED = "disabled"
    INVITED = "invited"
    ENABLED = "enabled"
    DECLINED = "declined"


class MarketingOptInLevel(models.TextChoices):
    SINGLE_OPT_IN = "single_opt_in"
    CONFIRMED_OPT_IN = "confirmed_opt_in"
    UNKNOWN = "unknown"


LIVE = Q(deleted_at__isnull=True)


class CustomerQuerySet(models.QuerySet["Customer"]):
    def for_store(self, store: Store) -> "CustomerQuerySet":
        """The one way to read customers: confined to one store's customers that are not deleted."""
        return self.filter(store=store, deleted_at__isnull=True)


class Customer(models.Model):
    # Internal, monotonic key: joins, cursor pagination. Never shown as the API's `id`.
    seq = models.BigAutoField(primary_key=True)
    # Unique per store (every lookup names the store), so that the key holds the distribution column
    # a sharded database needs (docs/scaling.md, "Citus").
    twc_customer_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # No index of its own: every index below starts with the store (each index costs every write).
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="customers", db_index=False)
    # The API's `id`: the store's own reference for the customer.
    ref = models.CharField("id (store reference)", max_length=255)

    email = models.CharField(max_length=254, null=True, blank=True)
    # email.lower(), computed in Python so SQLite and PostgreSQL agree on non-ASCII case.
    email_key = models.CharField(max_length=254, null=True, blank=True, editable=False)
    phone = models.CharField("phone (E.164)", max_length=20, null=True, blank=True)
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    note = models.TextField(blank=True, default="")

    state = models.CharField(max_length=10, choices=CustomerState.choices, default=CustomerState.DISABLED)
    verified_email = models.BooleanField(default=False)
    password = models.CharField(max_length=128, blank=True, default="", editable=False)
    # Set when staff disable an enabled account: Multipass does not re-enable it (docs/accounts.md).
    disabled_by_staff = models.BooleanField(default=False, editable=False)

    accepts_marketing = models.BooleanField(default=False)
    accepts_marketing_updated_at = models.DateTimeField(null=True, blank=True)
    marketing_opt_in_level = models.CharField(max_length=20, choices=MarketingOptInLevel.choices, null=True, blank=True)
    multipass_identifier = models.CharField(max_length=255, null=True, blank=True)

    currency = models.CharField(max_length=3)
    tax_exempt = models.BooleanField(default=False)
    tax_exemptions = models.JSONField(default=list, blank=True)
    # Normalised tags joined by ", " (the API's representation).
    tags = models.TextField(blank=True, default="")
    # The store's own data on the customer (customers.metadata): string values by key.
    metadata = models.JSONField(default=dict, blank=True)
    private_metadata = models.JSONField(default=dict, blank=True)

    # Order figures, kept right by customers.services.orders at every assignment.
    orders_count = models.PositiveIntegerField(default=0, editable=False)
    total_spent = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    last_order = models.ForeignKey(
        "Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False, db_index=False
    )
    last_order_name = models.CharField(max_length=255, null=True, blank=True, editable=False)

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(editable=False)
    updated_at = models.DateTimeField(editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the customer was merged away into another (customers.services.merge); it is then deleted.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False, db_index=False
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store", "ref"], condition=LIVE, name="customers_customer_ref_per_store_uniq"
            ),
            models.UniqueConstraint(
                fields=["store", "email_key"], condition=LIVE, name="customers_customer_email_per_store_uniq"
            ),
            models.UniqueConstraint(
                fields=["store", "phone"], condition=LIVE, name="customers_customer_phone_per_store_uniq"
            ),
            models.UniqueConstraint(
                fields=["store", "twc_customer_id"], name="customers_customer_twc_id_per_store_uniq"
            ),
        ]
        indexes = [
            # Every customer of a store, deleted ones too (the admin, the store's PROTECT check).
            models.Index(fields=["store", "updated_at"], name="customers_customer_store_upd"),
            # For deleting an order (SET_NULL); most customers have none, and those rows cost no upkeep.
            models.Index(
                fields=["last_order"], condition=Q(last_order__isnull=False), name="customers_customer_last_order"
            ),
            # For deleting a merge's survivor (SET_NULL): few customers were merged away.
            models.Index(
                fields=["merged_into"], condition=Q(merged_into__isnull=False), name="customers_customer_merged_into"
            ),
            # Keyset pagination of GET /api/customers: (ordering field, seq) per store, live rows.
            models.Index(fields=["store", "created_at", "seq"], condition=LIVE, name="customers_customer_list_crt"),
            models.Index(fields=["store", "updated_at", "seq"], condition=LIVE, name="customers_customer_list_upd"),
            # GET /api/customers?metadata.KEY=VALUE's `@>` lookups have GIN indexes (jsonb_path_ops) on
            # PostgreSQL, created by migration 0007 alone: SQLite has no such index, and a Meta entry
            # would make every SQLite table rebuild emit it.
        ]

    def __str__(self) -> str:
        # No email or phone here: the admin's history keeps str(obj) after an erasure.
        return f"Customer {self.ref}"

    @property
    def admin_graphql_api_id(self) -> str:
        return f"gid://twc/Customer/{self.twc_customer_id}"


class Address(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    company = models.CharField(max_length=255, blank=True, default="")
    address1 = models.CharField(max_length=255, blank=True, default="")
    address2 = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    province = models.CharField(max_length=255, blank=True, default="")
    province_code = models.CharField(max_length=32, blank=True, default="")
    country = models.CharField(max_length=255, blank=True, default="")
    country_code = models.CharField(max_length=2, blank=True, default="")
    zip = models.CharField(max_length=32, blank=True, default="")
    phone = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    is_default = models.BooleanField("default", default=False)

    class Meta:
        verbose_name_plural = "addresses"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="customers_address_one_default_per_customer"
            )
        ]

    def __str__(self) -> str:
        return f"Address {self.pk}"


class Order(models.Model):
    """An order as the store's systems report it; counted in the customer's figures."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=254, null=True, blank=True)
    email_key = models.CharField(max_length=254, null=True, blank=True, editable=False)
    phone = models.CharField(max_length=20, null=True, blank=True)
    total_price = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3)
    test = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "name"], name="customers_order_name_per_store_uniq")]
        indexes = [
            models.Index(fields=["store", "email_key"], name="customers_order_store_email"),
            models.Index(fields=["store", "phone"], name="customers_order_store_phone"),
            # A customer's orders, newest first: the order figures (their subqueries name the store
            # too, and without this index SQLite and PostgreSQL scan the store's orders per customer).
            models.Index(fields=["store", "customer", "created_at"], name="customers_order_store_customer"),
        ]

    def __str__(self) -> str:
        return f"Order {self.name}"


class Wishlist(models.Model):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="wishlists")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="wishlists")
    name = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=254, null=True, blank=True)
    email_key = models.CharField(max_length=254, null=True, blank=True, editable=False)
    phone = models.CharField(max_length=20, null=True, blank=True)
    items = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["store", "email_key"], name="customers_wishlist_store_email"),
            models.Index(fields=["store", "phone"], name="customers_wishlist_store_phone"),
        ]

    def __str__(self) -> str:
        return f"Wishlist {self.pk}"


class AccountInvite(models.Model):
    """A single-use account activation link; only a hash of its token is stored."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invites")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Invite {self.pk}"
