"""Model instances from a plain cursor's rows, as the ORM makes them, for hand-written hot queries.

The ORM (and RawQuerySet) works out the columns, their converters and the model's init order again
for every query; for a joined read of 46 columns that costs more CPU than the query's round trip
(docs/performance.md). `ModelRows` works the converters out once per database and model, then
builds instances with `Model.from_db`, so each field's `from_db_value` (JSON, SQLite's booleans,
decimals and datetimes) applies exactly as through a queryset.
"""

from typing import Any, Generic, TypeVar

from django.db import connections
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
