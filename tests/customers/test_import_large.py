"""A 100,000-row import on PostgreSQL: every row lands, once."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from customers.models import Address, Customer

ROWS = 100_000
AREA_CODES = ("613", "416", "514", "604", "403", "902", "705", "519", "905", "647")


@pytest.mark.django_db(transaction=True)
def test_100k_row_import_lands_every_row(store_a, tmp_path):
    """Committed data: the import's worker processes (--jobs, one per CPU) have their own connections."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,email,phone,first_name,last_name,tags,accepts_marketing,addresses\n")
        for i in range(ROWS):
            phone = f"+1{AREA_CODES[i % 10]}555{i // 10:04d}"
            address = '"[{""city"": ""Ottawa"", ""zip"": ""K1A 0B1""}]"' if i % 4 == 0 else ""
            f.write(f'big-{i},Big.{i}@Example.com,{phone},First{i},Last,"t{i % 7}, all",{i % 2},{address}\n')
    out = StringIO()
    call_command(
        "import_customers", str(path), "--store", "Store A", "--no-progress", "--batch-size", "10000", stdout=out
    )
    assert f"created: {ROWS}, updated: 0, skipped: 0, failed: 0" in out.getvalue()
    refs = set(Customer.objects.filter(store=store_a, deleted_at__isnull=True).values_list("ref", flat=True))
    assert refs == {f"big-{i}" for i in range(ROWS)}
    assert Address.objects.filter(customer__store=store_a).count() == ROWS // 4
    last = Customer.objects.get(ref=f"big-{ROWS - 1}")
    assert (last.email_key, last.phone, last.tags, last.accepts_marketing, last.version) == (
        f"big.{ROWS - 1}@example.com",
        f"+1{AREA_CODES[(ROWS - 1) % 10]}555{(ROWS - 1) // 10:04d}",
        f"t{(ROWS - 1) % 7}, all",
        True,
        1,
    )
