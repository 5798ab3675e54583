"""Turn a unique-constraint violation raised by the database into the contract's DuplicateField."""

from django.db import IntegrityError

from customers.fields import UNIQUE_KEYS
from customers.models import Customer

# Constraint name -> the API field it guards (the customer's from customers.fields, then the order's).
# PostgreSQL names the constraint.
CONSTRAINT_FIELDS = {key.constraint_name: key.api_name for key in UNIQUE_KEYS} | {
    "customers_order_name_per_store_uniq": "name"
}
# SQLite names the columns instead ("UNIQUE constraint failed: customers_customer.store_id, ...").
SQLITE_COLUMN_FIELDS = {f"{Customer._meta.db_table}.{key.key_column}": key.api_name for key in UNIQUE_KEYS} | {
    "customers_order.name": "name"
}


def duplicate_field_of(exc: IntegrityError) -> str | None:
    """The API field whose uniqueness `exc` violated, or None when it is another integrity error."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        return CONSTRAINT_FIELDS.get(constraint)
    message = str(exc)
    if "UNIQUE constraint failed" in message:
        for column, field in SQLITE_COLUMN_FIELDS.items():
            if column in message:
                return field
    return None
