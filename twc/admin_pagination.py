"""A change-list paginator that does not count a million rows on every page view.

On PostgreSQL the count of a large result is the planner's estimate (EXPLAIN of the very query:
the estimate comes from pg_class.reltuples and the column statistics, so it follows the store and
filters). When the estimate is small the rows are counted, but at most EXACT_COUNT_BELOW of them
(a COUNT over a LIMIT subquery), since the planner's guess for a LIKE can be far off. SQLite has no
planner estimate: exact there. Use with `show_full_result_count = False`, which drops the admin's
second count.
"""

import json

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this estimate the exact count is cheap enough to run.
EXACT_COUNT_BELOW = 10_000


def planner_row_estimate(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of how many rows `queryset` returns; None where there is none."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:  # queryset.none(), such as a filter given a value no row can have
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            estimate = planner_row_estimate(self.object_list)
            if estimate is not None:
                if estimate >= EXACT_COUNT_BELOW:
                    return estimate
                counted = self.object_list.order_by()[:EXACT_COUNT_BELOW].count()
                return counted if counted < EXACT_COUNT_BELOW else max(estimate, counted)
        return super().count
