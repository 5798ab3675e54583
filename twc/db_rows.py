"""Model instances from a plain cursor's rows, as the ORM makes them, for hand-written hot queries.

The ORM (and RawQuerySet) works out the columns, their converters and the model's init order again
for every query; for a joined read of 46 columns that costs more CPU than the query's round trip
(docs/performance.md). `ModelRows` works the converters out once per database and model, then
builds instances with `Model.from_db`, so each field's `from_db_value` (JSON, SQLite's booleans,
decimals and datetimes) applies exactly as through a queryset.
"""

from typing import Any, Generic, TypeVar

from django.db import connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)

# (index of a column, its converters with the expression each one is called with)
Converters = list[tuple[int, list[tuple[Any, Any]]]]


class ModelRows(Generic[M]):
    """The concrete columns of `model` (but `skip`: attnames a query leaves out), in the model's order."""

    def __init__(self, model: type[M], *, skip: tuple[str, ...] = ()):
        self.model = model
        self.fields = [field for field in model._meta.concrete_fields if field.attname not in skip]
        self.width = len(self.fields)
        self.attnames = [field.attname for field in self.fields]
        self._converters: dict[str, Converters] = {}

    def select(self, table_alias: str) -> str:
        """The SELECT list of these columns, qualified by `table_alias`."""
        return ", ".join(f'{table_alias}."{field.column}"' for field in self.fields)

    def converters(self, alias: str) -> Converters:
        found = self._converters.get(alias)
        if found is None:
            connection = connections[alias]
            found = []
            for index, field in enumerate(self.fields):
                expression = field.get_col(self.model._meta.db_table)
                pairs = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
                if pairs:
                    found.append((index, [(converter, expression) for converter in pairs]))
            self._converters[alias] = found
        return found

    def values(self, row: tuple | list, alias: str, *, start: int = 0) -> list:
        """The converted values of these columns, found in `row` from `start` on."""
        values = list(row[start : start + self.width])
        connection = connections[alias]
        for index, pairs in self.converters(alias):
            value = values[index]
            for converter, expression in pairs:
                value = converter(value, expression, connection)
            values[index] = value
        return values

    def instance(self, row: tuple | list, alias: str, *, start: int = 0) -> M:
        return self.model.from_db(alias, self.attnames, self.values(row, alias, start=start))


_insert_sql: dict[tuple[type[Model], int], tuple[str, list[Any]]] = {}


def _insert_statement(model: type[Model], count: int) -> tuple[str, list[Any]]:
    """INSERT of `count` rows of every concrete column but the primary key (the database's),
    RETURNING it; and the fields in the order of its columns."""
    found = _insert_sql.get((model, count))
    if found is None:
        pk = model._meta.pk
        assert pk is not None  # every concrete model has one
        fields = [field for field in model._meta.concrete_fields if field is not pk]
        columns = ", ".join(f'"{field.column}"' for field in fields)
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        values = ", ".join([row] * count)
        sql = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES {values} RETURNING "{pk.column}"'  # noqa: S608
        found = _insert_sql[(model, count)] = (sql, fields)
    return found


def insert_new(instances: list[M]) -> None:
    """Insert new instances of one model (primary keys left to the database) in one statement, as
    `save(force_insert=True)` or `bulk_create` would (each field's `pre_save` and
    `get_db_prep_save`; a related object saved since is taken by its key), and set their keys.
    Without the ORM's per-call SQL compilation, and without model signals: only for models that
    have no receivers (customers and addresses)."""
    if not instances:
        return
    model = type(instances[0])
    sql, fields = _insert_statement(model, len(instances))
    alias = router.db_for_write(model, instance=instances[0])
    connection = connections[alias]
    params: list[Any] = []
    for instance in instances:
        assert type(instance) is model and instance.pk is None, "new instances of one model only"
        instance._prepare_related_fields_for_save(operation_name="insert_new")  # type: ignore[attr-defined]
        params.extend(field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [row[0] for row in cursor.fetchall()]
    for instance, key in zip(instances, keys, strict=True):
        instance.pk = key
        instance._state.adding, instance._state.db = False, alias


_update_sql: dict[tuple[type[Model], tuple[str, ...], tuple[str, ...]], tuple[str, list[Any], list[Any]]] = {}


def update_statement(model: type[Model], values: dict[str, Any], **where: Any) -> tuple[str, list[Any]]:
    """The UPDATE of the rows of `model` matching every `where` (field names, plain values) with
    `values` (field names, plain values: no expressions), as `QuerySet.filter(**where).update(**values)`
    would compile it (each field's `get_db_prep_save`), written once per set of fields; and its parameters."""
    shape = (model, tuple(values), tuple(where))
    found = _update_sql.get(shape)
    if found is None:
        set_fields = [model._meta.get_field(name) for name in values]
        where_fields = [model._meta.get_field(name) for name in where]
        assignments = ", ".join(f'"{field.column}" = %s' for field in set_fields)  # type: ignore[union-attr]
        conditions = " AND ".join(f'"{field.column}" = %s' for field in where_fields)  # type: ignore[union-attr]
        sql = f'UPDATE "{model._meta.db_table}" SET {assignments} WHERE {conditions}'  # noqa: S608
        found = _update_sql[shape] = (sql, set_fields, where_fields)
    sql, set_fields, where_fields = found
    connection = connections[router.db_for_write(model)]
    params = [
        field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for field, value in zip(set_fields, values.values(), strict=True)
    ]
    params += [
        field.get_db_prep_value(value, connection)  # type: ignore[union-attr]
        for field, value in zip(where_fields, where.values(), strict=True)
    ]
    return sql, params


def update_where(model: type[Model], values: dict[str, Any], **where: Any) -> int:
    """Run update_statement; the number of rows updated."""
    sql, params = update_statement(model, values, **where)
    with connections[router.db_for_write(model)].cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
