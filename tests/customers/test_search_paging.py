"""GET /api/customers/search read in two steps (customers.search.paging): a window of the newest
customers, then the rest of the matches through the condition's indexes. Whatever the window,
paging forward with `next` and back with `previous` gives exactly the one-page answer, newest
first, ties on created_at broken by the tiebreak, never a customer twice or one missed.

The window is shrunk to a few customers so that 30 customers cross it many times; store B holds
twins of every customer, which never show.
"""

import datetime as dt
from urllib.parse import quote

import pytest

from customers.models import Customer
from customers.search import paging
from tests.factories import customer_make

SEARCH = "/api/customers/search?query="
FIRST = ["Ann", "Bo", "Cy", "Dee", "Ed"]
QUERIES = [
    "",
    "ann",
    "tag:rare",
    "tag:common",
    "-tag:common",
    "tag_not:rare",
    "first_name:bo OR first_name:cy",
    "city:ottawa",
    "-city:ottawa",
    "orders_count:0 tag:rare",
    "updated_at:<2024-01-10",
    "created_at:>=2024-01-05",
    "metadata.tier:gold",
    "zzz-nobody",
]


@pytest.fixture
def crowd(store_a, store_b):
    """30 customers of store A a day apart, with every third one sharing its created_at with the
    next (ties), some tagged `rare` (old ones), most `common`; and their twins in store B."""
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for number in range(30):
        tags = ["common"] if number % 4 else ["common", "rare"] if number < 12 else []
        fields = dict(
            id=f"p-{number:02d}",
            email=f"{FIRST[number % 5].lower()}{number}@crowd.test",
            first_name=FIRST[number % 5],
            tags=", ".join(tags),
            metadata={"tier": "gold"} if number % 7 == 0 else {},
            addresses=[{"city": "Ottawa" if number % 6 == 0 else "Paris", "default": True}],
        )
        moment = start + dt.timedelta(days=number - number % 3 // 2)
        for store in (store_a, store_b):
            customer = customer_make(store=store, **fields)
            Customer.objects.filter(pk=customer.pk).update(created_at=moment, updated_at=moment)


def get(api, query: str, **params):
    extra = "".join(f"&{key}={value}" for key, value in params.items())
    response = api.get(SEARCH + quote(query, safe="") + extra)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[str]:
    return [customer["id"] for customer in body["customers"]]


def page_forward(api, query: str, limit: int) -> tuple[list[str], list[str | None]]:
    """Every id, following `next`; and the `previous` cursor of each page."""
    seen: list[str] = []
    previous: list[str | None] = []
    cursor = None
    while True:
        body = get(api, query, limit=limit, **({"page_info": cursor} if cursor else {}))
        seen += ids(body)
        previous.append(body["previous"])
        cursor = body["next"]
        if cursor is None:
            return seen, previous


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("query", QUERIES)
def test_paging_through_a_small_window_gives_the_one_page_answer(api_a, crowd, monkeypatch, window, query):
    expected = ids(get(api_a, query, limit=250))
    monkeypatch.setattr(paging, "WINDOW", window)
    assert ids(get(api_a, query, limit=250)) == expected
    for limit in (1, 3):
        forward, previous = page_forward(api_a, query, limit)
        assert forward == expected, (limit, forward)
        assert previous[0] is None
    if len(expected) > 3:
        # Back from the last page: each `previous` gives the page before it.
        forward, previous = page_forward(api_a, query, 3)
        back: list[str] = []
        cursor = previous[-1]
        while cursor is not None:
            body = get(api_a, query, limit=3, page_info=cursor)
            back = ids(body) + back
            cursor = body["previous"]
        assert back + forward[len(back) :] == expected


@pytest.mark.parametrize("window", [2, 10_000])
def test_the_answer_is_newest_first_and_store_a_s_alone(api_a, crowd, monkeypatch, window):
    monkeypatch.setattr(paging, "WINDOW", window)
    # Store B's twins would show twice; ties on created_at (p-01/p-02, p-04/p-05) newest seq first.
    assert ids(get(api_a, "tag:rare", limit=250)) == ["p-08", "p-04", "p-00"]
    assert ids(get(api_a, "(first_name:bo OR first_name:ann) created_at:<2024-01-07", limit=250)) == [
        "p-05",
        "p-01",
        "p-00",
    ]


def test_a_rare_match_is_read_through_the_materialised_step(api_a, crowd, monkeypatch):
    calls = []
    sorted_matches = paging._sorted_matches

    def spy(*args, **kwargs):
        calls.append(args[-1])
        return sorted_matches(*args, **kwargs)

    monkeypatch.setattr(paging, "WINDOW", 4)
    monkeypatch.setattr(paging, "_sorted_matches", spy)
    assert ids(get(api_a, "tag:rare", limit=2)) == ["p-08", "p-04"]
    # The newest 4 customers hold no `rare`: the step after the window asked for the whole page.
    assert calls == [3]
    calls.clear()
    assert len(ids(get(api_a, "tag:common", limit=2))) == 2
    assert calls == []  # a common tag fills its page inside the window


def test_created_at_queries_are_left_to_the_list_index(api_a, crowd, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a created_at query went through the window")

    monkeypatch.setattr(paging, "search_rows", refuse)
    monkeypatch.setattr("customers.api.search_rows", refuse)
    assert ids(get(api_a, "created_at:<2024-01-03", limit=250)) == ["p-02", "p-01", "p-00"]
