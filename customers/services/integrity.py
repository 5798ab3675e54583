"""Turn a unique-constraint violation raised by the database into the contract's DuplicateField."""

from django.db import IntegrityError

# Constraint name -> the API field it guards. PostgreSQL names the constraint.
CONSTRAINT_FIELDS = {
    "customers_customer_ref_per_store_uniq": "id",
    "customers_customer_email_per_store_uniq": "email",
    "customers_customer_phone_per_store_uniq": "phone",
    "customers_order_name_per_store_uniq": "name",
}
# SQLite names the columns instead ("UNIQUE constraint failed: customers_customer.store_id, ...").
SQLITE_COLUMN_FIELDS = {
    "customers_customer.ref": "id",
    "customers_customer.email_key": "email",
    "customers_customer.phone": "phone",
    "customers_order.name": "name",
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
