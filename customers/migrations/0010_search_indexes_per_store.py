"""Indexes of GET /api/customers/search per store, PostgreSQL only (docs/performance.md, "Search").

0008's trigram indexes held every store's rows: a bare word's bitmap covered all stores, rechecked
row by row. These lead with `store_id` (btree_gin lets a GIN index hold it beside `gin_trgm_ops`
columns), so a store's search reads its own entries only:

- trigram GIN (store_id, expression) where a value is looked for inside a text: the tags, and a
  bare word's pre-filter, the names, email, id and phone as one text (every word of a query in one
  index scan; pg_trgm serves `LIKE` and `~`);
- btree (store_id, column text_pattern_ops) for the exact values and prefixes (`value*`) of the
  names, the id, the email and the phone: anchored at the start, where a trigram index finds every
  text with a word that starts so (the database's collation is not C, so the default btree
  indexes serve no LIKE);
- btree (store_id, orders_count) and (store_id, total_spent) for the comparators;
- metadata: GIN over the values folded to lower case (customers_metadata_folded), for
  `metadata.KEY:value`'s containment pre-filter (customers.search.compiler);
- the default address's country, province and city: btree on UPPER(column) text_pattern_ops;
- extended statistics on every expression searched, so that the planner knows how common a name
  or a city is (PostgreSQL keeps none for the expressions of partial indexes).

Every index is partial on live rows (or default addresses), as every search is. Built CONCURRENTLY
(no lock against writes on a live table), hence not atomic. SQLite has none of these and answers the
same queries by scanning the store.
"""

from django.db import migrations

CUSTOMER = "customers_customer"
ADDRESS = "customers_address"
LIVE = "WHERE deleted_at IS NULL"
OLD_TRIGRAM_INDEXES = [
    "customers_customer_trgm_first",
    "customers_customer_trgm_last",
    "customers_customer_trgm_ref",
    "customers_customer_trgm_email",
    "customers_customer_trgm_phone",
]
FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION customers_metadata_folded(metadata jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, lower(value)), '{}'::jsonb) FROM jsonb_each_text(metadata)
$$
"""
# customers.search.compiler.WORDS, to the letter: a bare word's pre-filter on all its columns at once.
WORDS = "UPPER(first_name || ' ' || last_name || ' ' || COALESCE(email_key, '') || ' ' || ref || ' ' || COALESCE(phone, ''))"
INDEXES = {
    "customers_customer_srch_words": f"{CUSTOMER} USING gin (store_id, ({WORDS}) gin_trgm_ops) {LIVE}",
    "customers_customer_srch_tags": f"{CUSTOMER} USING gin (store_id, (UPPER(tags)) gin_trgm_ops) {LIVE}",
    "customers_customer_srch_first": f"{CUSTOMER} (store_id, (UPPER(first_name::text)) text_pattern_ops) {LIVE}",
    "customers_customer_srch_last": f"{CUSTOMER} (store_id, (UPPER(last_name::text)) text_pattern_ops) {LIVE}",
    "customers_customer_srch_ref": f"{CUSTOMER} (store_id, (UPPER(ref::text)) text_pattern_ops) {LIVE}",
    "customers_customer_srch_email": f"{CUSTOMER} (store_id, email_key varchar_pattern_ops) {LIVE}",
    "customers_customer_srch_phone": f"{CUSTOMER} (store_id, phone varchar_pattern_ops) {LIVE}",
    "customers_customer_srch_orders": f"{CUSTOMER} (store_id, orders_count) {LIVE}",
    "customers_customer_srch_spent": f"{CUSTOMER} (store_id, total_spent) {LIVE}",
    "customers_customer_srch_metadata": (
        f"{CUSTOMER} USING gin (store_id, customers_metadata_folded(metadata) jsonb_path_ops) {LIVE}"
    ),
    **{
        f"customers_address_srch_{column}": (
            f"{ADDRESS} ((UPPER({column}::text)) text_pattern_ops, customer_id) WHERE is_default"
        )
        for column in ("country_code", "country", "province_code", "province", "city")
    },
}
STATISTICS = {
    "customers_customer_srch_first_st": f"(UPPER(first_name::text)) FROM {CUSTOMER}",
    "customers_customer_srch_last_st": f"(UPPER(last_name::text)) FROM {CUSTOMER}",
    "customers_customer_srch_ref_st": f"(UPPER(ref::text)) FROM {CUSTOMER}",
    "customers_customer_srch_tags_st": f"(UPPER(tags)) FROM {CUSTOMER}",
    "customers_customer_srch_words_st": f"({WORDS}) FROM {CUSTOMER}",
    **{
        f"customers_address_srch_{column}_st": f"(UPPER({column}::text)) FROM {ADDRESS}"
        for column in ("country_code", "country", "province_code", "province", "city")
    },
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    schema_editor.execute(FOLD_FUNCTION)
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
    for name in OLD_TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    for name, definition in STATISTICS.items():
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name} ON {definition}")
    schema_editor.execute(f"ANALYZE {CUSTOMER}")
    schema_editor.execute(f"ANALYZE {ADDRESS}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS customers_metadata_folded(jsonb)")
    for name, expression in (
        ("customers_customer_trgm_first", "UPPER(first_name::text)"),
        ("customers_customer_trgm_last", "UPPER(last_name::text)"),
        ("customers_customer_trgm_ref", "UPPER(ref::text)"),
        ("customers_customer_trgm_email", "email_key"),
        ("customers_customer_trgm_phone", "phone"),
    ):
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {CUSTOMER} USING gin (({expression}) gin_trgm_ops) {LIVE}"
        )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("customers", "0009_customer_merged_into")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
