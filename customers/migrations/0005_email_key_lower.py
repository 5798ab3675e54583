"""Email keys are now `lower()` of the address, no longer `casefold()` (customers/emails.py).

The two differ only on non-ASCII addresses (ß, ſ, ς, the Kelvin sign, ligatures...), so only rows
whose email holds a character outside printable ASCII are read and rewritten.
"""

from django.db import migrations

BATCH = 1000


def rekey(apps, schema_editor):
    for name in ("Customer", "Order", "Wishlist"):
        model = apps.get_model("customers", name)
        rows = model.objects.filter(email__regex=r"[^ -~]").only("pk", "email", "email_key")
        changed = []
        for row in rows.iterator(chunk_size=BATCH):
            key = (row.email.strip().lower() or None) if row.email else None
            if key != row.email_key:
                row.email_key = key
                changed.append(row)
        model.objects.bulk_update(changed, ["email_key"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_order_store_customer_index"),
    ]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
