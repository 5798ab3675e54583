"""Rows of a model into PostgreSQL with one binary COPY: the bulk write's insert.

Binary, not text: psycopg packs each value in C and PostgreSQL parses nothing, so both sides spend
less per row than with text COPY (the figures are in docs/performance.md).
Binary COPY needs each column's type and a Python value of exactly that type, hence the two
dumpers below for values the bulk write keeps in another form.
"""

import re
import uuid
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from django.db import connection
from django.db.models import Model
from psycopg import Cursor
from psycopg.adapt import Dumper
from psycopg.postgres import types as pg_types
from psycopg.pq import Format


class UuidTextBinaryDumper(Dumper):
    """A uuid column from its canonical text (customers.uuids.new_uuid_text) or a uuid.UUID."""

    format = Format.BINARY
    oid = pg_types["uuid"].oid

    def dump(self, obj: uuid.UUID | str) -> bytes:
        return obj.bytes if isinstance(obj, uuid.UUID) else bytes.fromhex(obj.replace("-", ""))


class JsonbBinaryDumper(Dumper):
    """A jsonb column with orjson, in one call (psycopg's own goes through two, and json.dumps)."""

    format = Format.BINARY
    oid = pg_types["jsonb"].oid

    def dump(self, obj: object) -> bytes:
        return b"\x01" + orjson.dumps(obj)  # jsonb's binary format: version 1, then the text


@cache
def column_types(model: type[Model]) -> tuple[list[str], list[int]]:
    """The model's concrete columns and their PostgreSQL type oids (varchar(255) -> varchar)."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    # A concrete field has a column type (the stubs allow None, for fields that have no column).
    oids = [pg_types[re.sub(r"\(.*\)$", "", f.db_type(connection)).strip()].oid for f in fields]  # type: ignore[arg-type]
    return names, oids


def copy_rows(cursor: Cursor[Any], model: type[Model], rows: list[dict]) -> str:
    """Write `rows` (dicts keyed by attname, every concrete field present) with one COPY.

    `cursor` is psycopg's own (Django's wrapper would translate errors; the caller does that).
    Returns the statement, for the caller's query log.
    """
    names, oids = column_types(model)
    # A concrete field has a column (the stubs allow None, for fields that have no column).
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)  # type: ignore[arg-type]
    sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN (FORMAT BINARY)"
    # Scoped to this cursor: nothing else of the connection changes how it dumps values.
    cursor.adapters.register_dumper(None, UuidTextBinaryDumper)
    cursor.adapters.register_dumper(None, JsonbBinaryDumper)
    values_of = itemgetter(*names)
    with cursor.copy(sql) as copy:
        copy.set_types(oids)
        for row in rows:
            copy.write_row(values_of(row))
    return sql
