"""A search page's rows, read so that no planner estimate can make it walk a whole store.

"Newest first, 50 rows" with a condition is a planner's gamble: walking the created_at index and
filtering is instant when the condition holds for many customers, and reads the whole store when it
holds for few; reading the condition's index and sorting is the reverse. PostgreSQL picks by its
estimate of the condition, which for a word in names, emails and ids can be off by a hundredfold.
So a search reads in two steps, each bounded whatever the estimate:

1. the newest WINDOW customers after the cursor (their edge found on the list's own index), and
   among them the matches, in order: a common condition fills its page here. This step walks the
   window, bitmap scans off: a misjudged "rare" word would otherwise gather its matches from the
   whole store (300 ms for a common name at 1,000,000 customers) to keep the few in the window;
2. when it does not, the matches are rare (fewer than a page in WINDOW customers): the rest are
   read through the condition's indexes into a materialised set (a CTE the planner cannot fold
   into the ordered walk), sorted, and cut to what the page still needs.

Both steps keep the keyset's order and bounds, so paging is exactly the list's. A query on
created_at skips this: the list's index serves its range in order, and a window of the newest
customers would cut across the range the query asks for.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.models import Q, QuerySet

from customers.models import Customer

# Customers read in step 1 before the search turns to the condition's indexes: the walk's worst
# case (a condition holding for none of them) against step 2's (matches just under a page per
# WINDOW customers, all sorted).
WINDOW = 10_000


def _keys(scope: QuerySet[Customer]) -> tuple[str, str, bool]:
    """(ordering field, tiebreak, descending) of an ordered listing."""
    field, tiebreak = (str(name) for name in scope.query.order_by)
    return field.lstrip("-"), tiebreak.lstrip("-"), field.startswith("-")


def _up_to(field: str, tiebreak: str, descending: bool, edge: tuple, *, inclusive: bool) -> Q:
    """Rows before `edge` in an order (and `edge` itself when inclusive). Up to the edge inclusive
    in the listing's order and up to it exclusive in the reverse order share no row and miss none.
    The redundant bound on `field` alone gives the index its range."""
    value, last = edge
    op = "gt" if descending else "lt"
    tiebreak_op = f"{op}e" if inclusive else op
    bound = Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"{tiebreak}__{tiebreak_op}": last})
    return Q(**{f"{field}__{op}e": value}) & bound


def _sorted_matches(matches: QuerySet[Customer], keys: tuple[str, str, bool], count: int) -> list[int]:
    """The tiebreaks (seqs) of the first `count` of `matches` in the listing's order, from a
    materialised set."""
    field, tiebreak, descending = keys
    sql, params = matches.prefetch_related(None).order_by().values_list(field, tiebreak).query.sql_with_params()
    direction = "DESC" if descending else "ASC"
    statement = (
        f"WITH matches (key, tiebreak) AS MATERIALIZED ({sql}) "  # noqa: S608 - our own compiled SQL
        f"SELECT tiebreak FROM matches ORDER BY key {direction}, tiebreak {direction} LIMIT %s"
    )
    with connections[matches.db].cursor() as cursor:
        cursor.execute(statement, [*params, count])
        return [row[0] for row in cursor.fetchall()]


@contextmanager
def _planned(db: str, *, walk: bool) -> Iterator[None]:
    """On PostgreSQL, the statements inside run without parallel workers (whose start costs more
    than the few rows these steps read: 15 ms for one metadata match on a busy machine) and, to
    `walk`, without bitmap scans (a plain index scan, on the list's index or a unique key, remains)."""
    if connections[db].vendor != "postgresql":
        yield
        return
    settings = {"max_parallel_workers_per_gather": "0", **({"enable_bitmapscan": "off"} if walk else {})}
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        # Local to this transaction (or, inside a caller's, reset below).
        cursor.execute(
            "SELECT " + ", ".join("current_setting(%s), set_config(%s, %s, true)" for _ in settings),
            [value for name, setting in settings.items() for value in (name, name, setting)],
        )
        previous = cursor.fetchone()[0::2]
        yield
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
            [value for name, old in zip(settings, previous, strict=True) for value in (name, old)],
        )


def search_rows(scope: QuerySet[Customer], condition: Q, count: int) -> list[Customer]:
    """The first `count` customers of `scope` (the store's, after the cursor, in the page's order)
    that meet `condition`."""
    field, tiebreak, descending = _keys(scope)
    edge = list(scope.prefetch_related(None).values_list(field, tiebreak)[WINDOW - 1 : WINDOW])
    if not edge:
        # At most WINDOW customers after the cursor (a small store, a deep page): walking them is
        # the whole answer, where a bitmap would gather the condition's matches in every store.
        with _planned(scope.db, walk=True):
            return list(scope.filter(condition)[:count])
    window = _up_to(field, tiebreak, descending, edge[0], inclusive=True)
    with _planned(scope.db, walk=True):
        rows = list(scope.filter(window).filter(condition)[:count])
    if len(rows) == count:
        return rows
    beyond = scope.filter(condition).filter(_up_to(field, tiebreak, not descending, edge[0], inclusive=False))
    with _planned(scope.db, walk=False):
        tiebreaks = _sorted_matches(beyond, (field, tiebreak, descending), count - len(rows))
    found = {getattr(customer, tiebreak): customer for customer in scope.filter(**{f"{tiebreak}__in": tiebreaks})}
    return rows + [found[key] for key in tiebreaks if key in found]
