"""Every unique index of a store-scoped table (one with a `store_id` column) holds `store_id`, the
column a sharded PostgreSQL (Citus) would distribute those tables by, except the ones listed here
with the reason each stays (docs/scaling.md, "Citus"). A new global unique key fails this test
until it is made per store or listed."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# (table, indexed columns) -> why it has no store_id yet.
NOT_PER_STORE = {
    # Primary keys: Citus needs the distribution column in them too. Django 5.2's CompositePrimaryKey
    # cannot be the target of a foreign key yet, and every one of these is one.
    ("customers_customer", "seq"): "primary key",
    ("customers_order", "id"): "primary key",
    ("customers_wishlist", "id"): "primary key",
    ("events_event", "seq"): "primary key",
    ("events_webhooksubscription", "id"): "primary key",
    ("twc_api_idempotencyrecord", "id"): "primary key",
    ("accounts_customeraccesstoken", "id"): "primary key",
    # Looked up by the bearer token alone, before the store is known.
    ("accounts_customeraccesstoken", "token_hash"): "looked up by the token before the store is known",
    # Tables of the tenants themselves: reference tables under Citus (a copy on every node), where a
    # global key is fine.
    ("tenants_storeapplication", "id"): "reference table",
    ("tenants_storeapplication", "application_id"): "reference table: the token's application finds the store",
    ("tenants_storestaff", "id"): "reference table",
    ("accounts_storeaccountsettings", "id"): "reference table",
}

UNIQUE_INDEXES_SQL = """
    SELECT t.relname, i.relname, string_agg(a.attname, ',' ORDER BY k.ord)
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
      CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
     WHERE x.indisunique
       AND EXISTS (SELECT 1 FROM pg_attribute s WHERE s.attrelid = t.oid AND s.attname = 'store_id')
     GROUP BY t.relname, i.relname
"""


def unique_indexes_of_store_scoped_tables() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(UNIQUE_INDEXES_SQL)
        return sorted(cursor.fetchall())


def test_every_unique_index_of_a_store_scoped_table_holds_store_id_or_is_listed():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalogue")
    indexes = unique_indexes_of_store_scoped_tables()
    without_store = {(table, columns): name for table, name, columns in indexes if "store_id" not in columns.split(",")}
    print("\nunique indexes of store-scoped tables without store_id:")
    for (table, columns), name in sorted(without_store.items()):
        print(f"  {table}({columns}) {name}: {NOT_PER_STORE.get((table, columns), 'NOT LISTED')}")
    assert sorted(set(without_store) - set(NOT_PER_STORE)) == []
    # The list names only what exists: a key made per store leaves it.
    assert sorted(set(NOT_PER_STORE) - set(without_store)) == []
    # The keys this project made per store are there.
    per_store = {name for _, name, columns in indexes if columns.startswith("store_id,")}
    assert {"customers_customer_twc_id_per_store_uniq", "events_event_id_per_store_uniq"} <= per_store
