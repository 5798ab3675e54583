"""Trigram (pg_trgm) GIN indexes for GET /api/customers/search's free-text parts, PostgreSQL only.

Django writes `istartswith`/`icontains` as `UPPER(col::text) LIKE UPPER(%s)`, so the indexes are on
that expression; `email_key` (already lower case) and `phone` are compared with plain LIKE. Every arm
of a bare word's OR has its index, so PostgreSQL can combine them (BitmapOr) instead of scanning the
store. Partial on live rows, as every API read is. SQLite has no such index and answers the same.
"""

from django.db import migrations

TABLE = "customers_customer"
INDEXES = {
    "customers_customer_trgm_first": "UPPER(first_name::text)",
    "customers_customer_trgm_last": "UPPER(last_name::text)",
    "customers_customer_trgm_ref": "UPPER(ref::text)",
    "customers_customer_trgm_email": "email_key",
    "customers_customer_trgm_phone": "phone",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} USING gin (({expression}) gin_trgm_ops) "
            "WHERE deleted_at IS NULL"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_customer_metadata")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
