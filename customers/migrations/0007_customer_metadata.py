from django.db import migrations, models

# GIN indexes for GET /api/customers?metadata.KEY=VALUE (a `@>` containment lookup), on PostgreSQL
# only: SQLite has no GIN, and scans the store's rows (its JSON1 answers the same lookup).
INDEXES = (
    ("customers_customer_metadata", "metadata"),
    ("customers_customer_private_md", "private_metadata"),
)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "customers_customer" USING gin ("{column}" jsonb_path_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_merge_staff_disable_and_email_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="metadata",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="customer",
            name="private_metadata",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
