"""The store's own data on a customer: `metadata` and `private_metadata` (string values by key).

One set of rules for both fields, shared by the API, the bulk upload, the importer, the admin and
the list's filters: keys of 1-64 characters of `A-Za-z0-9_.-`, string values of at most 4,096
characters, at most 100 keys. A create sets them; an update merges them key by key, and a key sent
as `null` is removed (so a cleaned value keeps its nulls until `merge_metadata` applies it).
"""

import re
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact

from customers.field_checker import FieldChecker
from tenants.models import Store
from twc.api.errors import ValidationFailed, invalid_field_entry

METADATA_FIELDS = ("metadata", "private_metadata")
MAX_METADATA_KEYS = 100
MAX_METADATA_VALUE_LENGTH = 4096
METADATA_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def is_metadata_key(key: object) -> bool:
    return isinstance(key, str) and METADATA_KEY.fullmatch(key) is not None


def too_many_keys_message(field: str) -> str:
    return f"'{field}' can have at most {MAX_METADATA_KEYS} keys."


def _metadata_cleaner(field: str):
    def clean_metadata(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
        value = data[field]
        if value is None:
            value = {}  # null: no change on an update, none on a create
        if not isinstance(value, dict):
            check.fail(field, f"'{field}' must be a JSON object of string values.")
            return
        failed = False
        for key, item in value.items():
            if not is_metadata_key(key):
                check.fail(f"{field}.{str(key)[:100]}", "A key must be 1 to 64 characters of A-Z a-z 0-9 _ . -")
                failed = True
            elif item is not None and not isinstance(item, str):
                check.fail(f"{field}.{key}", "A value must be a string (or null, which removes the key).")
                failed = True
            elif item is not None and len(item) > MAX_METADATA_VALUE_LENGTH:
                check.fail(f"{field}.{key}", f"A value can have at most {MAX_METADATA_VALUE_LENGTH} characters.")
                failed = True
            if failed and not check.room:
                return
        if not failed and sum(item is not None for item in value.values()) > MAX_METADATA_KEYS:
            check.fail(field, too_many_keys_message(field))
        elif not failed:
            cleaned[field] = dict(value)

    return clean_metadata


clean_metadata = _metadata_cleaner("metadata")
clean_private_metadata = _metadata_cleaner("private_metadata")


def new_metadata(sent: dict) -> dict:
    """A create's value: the keys sent, a null one being no key."""
    return {key: value for key, value in sent.items() if value is not None}


def merge_metadata(field: str, current: dict | None, sent: dict) -> dict:
    """An update's value: `sent` over `current` key by key, a null removing its key.

    Raises `400 InvalidField` naming the field when the result has more than 100 keys.
    """
    merged = dict(current or {})
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        raise ValidationFailed(invalid_field_entry(field, too_many_keys_message(field)))
    return merged


def is_metadata_param(name: str) -> bool:
    """`metadata.KEY` or `private_metadata.KEY` with a well-formed key: a list filter."""
    field, dot, key = name.partition(".")
    return bool(dot) and field in METADATA_FIELDS and is_metadata_key(key)


def filter_metadata(queryset: QuerySet, query_params: Any) -> QuerySet:
    """Narrow to the customers whose metadata has each `metadata.KEY=VALUE` exactly.

    On PostgreSQL a containment lookup (`@>`, served by the GIN indexes of migration 0007), one
    per field with every key asked of it. Django has no `contains` on SQLite's JSON: there each
    key's text (JSON1's json_extract) is compared, which is the same for string values.
    """
    wanted: dict[str, dict[str, str]] = {}
    for name, value in query_params.items():
        if is_metadata_param(name):
            field, _dot, key = name.partition(".")
            wanted.setdefault(field, {})[key] = value
    for field, pairs in wanted.items():
        if connection.vendor == "postgresql":
            queryset = queryset.filter(**{f"{field}__contains": pairs})
        else:
            for key, value in pairs.items():
                queryset = queryset.filter(Exact(KeyTextTransform(key, field), value))
    return queryset


# Shopify's customer CSV names a metafield "Metafield: namespace.key [type]" (the type optional).
SHOPIFY_METAFIELD_COLUMN = re.compile(r"metafield:\s*(?P<key>[^\s\[\]]+)\s*(?:\[[^\]]*\])?", re.IGNORECASE)


def metadata_column(column: str, *, shopify: bool = False) -> tuple[str, str] | None:
    """The (field, key) an import column fills: `metadata.KEY`, `private_metadata.KEY`, and in a
    Shopify CSV its metafield columns (into `metadata` under `namespace.key`); else None.

    A metafield whose name is no metadata key stays an ignored column rather than failing each row.
    """
    name = column.strip()
    field, dot, key = name.partition(".")
    if dot and field.lower() in METADATA_FIELDS and is_metadata_key(key):
        return field.lower(), key
    if shopify:
        match = SHOPIFY_METAFIELD_COLUMN.fullmatch(name)
        if match and is_metadata_key(match["key"]):
            return "metadata", match["key"]
    return None


def put_metadata_cells(item: dict, columns: dict[int, tuple[str, str]], cells: list[str]) -> None:
    """Add the row's non-empty metadata cells (by position: (field, key)) to the item; an empty one sends nothing."""
    for position, (field, key) in columns.items():
        cell = cells[position].strip()
        if cell:
            values = item.setdefault(field, {})
            if isinstance(values, dict):  # else a `metadata` column's bad JSON, which the validation reports
                values[key] = cell
