"""Paging: a forged `page_info` is `400 InvalidField` (field "page_info"), never a 5xx, whatever
base64 of whatever JSON it holds (offsets PostgreSQL refuses, years Python cannot shift to UTC,
impossible dates, huge numbers); and the `Link` URLs of a listing under a customer encode the
customer's id as one path segment, so that ids holding `?`, `#`, `/`, `%`, spaces or non-ASCII
letters give URLs that lead back to the same listing."""

import base64
import json
from collections import Counter
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import customer_make, order_make

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
STATUSES: Counter = Counter()

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@st.composite
def timestamps(draw) -> str:
    """ISO 8601 text, mostly well-formed, at the edges of what Python and PostgreSQL represent."""
    year = draw(st.sampled_from([1, 2, 1969, 1970, 2026, 9998, 9999]) | st.integers(1, 9999))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
    hour, minute = draw(st.integers(0, 24)), draw(st.integers(0, 60))
    offset = draw(
        st.sampled_from(["", "Z", "+00:00", "+23:59", "-23:59", "+16:47", "-15:59", "+24:00", "+99:99", "+0530"])
        | st.integers(-1439, 1439).map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}")
    )
    fraction = draw(st.sampled_from(["", ".000001", ".999999", ".5"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{fraction}{offset}"


DOCUMENTS = st.fixed_dictionaries(
    {
        "o": st.sampled_from(["created_at", "-created_at", "updated_at", "-updated_at"]) | JSON,
        "v": timestamps() | JSON,
        "t": st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 10**30]) | st.integers() | JSON,
        "d": st.sampled_from(["next", "previous"]) | JSON,
    }
)


def encoded(document) -> str:
    text = json.dumps(document)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


CURSORS = st.one_of(
    DOCUMENTS.map(encoded),
    JSON.map(encoded),
    st.text(max_size=80),
    st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
)


@pytest.fixture(autouse=True, scope="module")
def _print_statuses():
    yield
    print(f"\npaging: {sum(STATUSES.values())} forged page_info values answered {dict(sorted(STATUSES.items()))}")


@pytest.fixture
def listed(store_a):
    customer = customer_make(store=store_a, id="c-1", email="ann@example.com")
    for n in range(3):
        order_make(store=store_a, name=f"#{n}", customer_id="c-1", total_price=n)
    return customer


def check_answer(response) -> None:
    STATUSES[response.status_code] += 1
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert [e["field"] for e in response.json()["errors"]] == ["page_info"]


@FUZZ
@given(cursor=CURSORS, ordering=st.sampled_from(["created_at", "-created_at", "updated_at", "-updated_at"]))
@example(
    cursor=encoded({"o": "created_at", "v": "2026-01-01T00:00:00+23:59", "t": 1, "d": "next"}), ordering="created_at"
)
@example(
    cursor=encoded({"o": "created_at", "v": "0001-01-01T00:00:00+05:00", "t": 1, "d": "next"}), ordering="created_at"
)
@example(
    cursor=encoded({"o": "created_at", "v": "9999-12-31T23:00:00-05:00", "t": 1, "d": "next"}), ordering="created_at"
)
@example(
    cursor=encoded({"o": "created_at", "v": "2026-01-01T00:00:00+16:47", "t": 1, "d": "next"}), ordering="created_at"
)
def test_any_cursor_of_the_customer_list_is_a_200_or_a_400(api_a, listed, cursor, ordering):
    check_answer(api_a.get("/api/customers", {"page_info": cursor, "ordering": ordering}))


@FUZZ
@given(cursor=CURSORS, ordering=st.sampled_from(["created_at", "-created_at"]))
@example(
    cursor=encoded({"o": "-created_at", "v": "1-01-01T00:00:00+23:59", "t": 1, "d": "previous"}), ordering="-created_at"
)
def test_any_cursor_of_a_customers_orders_is_a_200_or_a_400(api_a, listed, cursor, ordering):
    check_answer(api_a.get("/api/customers/c-1/orders", {"page_info": cursor, "ordering": ordering}))


REFS = ["a?b", "a#b", "a/b", "a b", "ü", "a%b", "a%3Fb", "?", "#", "a+b", "a&page_info=x", ".", "..", "用户"]


@pytest.mark.parametrize("ref", REFS)
def test_the_links_of_a_customers_orders_encode_its_id_as_one_path_segment(api_a, store_a, ref):
    customer_make(store=store_a, id=ref, email="ann@example.com")
    for n in range(3):
        order_make(store=store_a, name=f"#{n}", customer_id=ref, total_price=n)
    segment = quote(ref, safe="") if ref not in (".", "..") else ref.replace(".", "%2E")
    path = f"/api/customers/{segment}/orders"
    first = api_a.get(path, {"limit": 1})
    assert first.status_code == 200, first.content[:300]
    seen = [order["name"] for order in first.json()["orders"]]
    response = first
    while 'rel="next"' in response.get("Link", ""):
        links = dict(
            (rel.split('"')[1], url.strip(" <>"))
            for url, rel in (part.split(";") for part in response["Link"].split(","))
        )
        url = urlsplit(links["next"])
        assert url.path == path and url.fragment == "", links["next"]
        assert all(char.isascii() and char not in " #" for char in links["next"]), links["next"]
        response = api_a.get(f"{url.path}?{url.query}")
        assert response.status_code == 200, response.content[:300]
        seen += [order["name"] for order in response.json()["orders"]]
    assert seen == ["#2", "#1", "#0"]


def test_the_links_of_the_list_keep_parameters_holding_question_marks_and_hashes(api_a, store_a):
    for n in range(3):
        customer_make(store=store_a, id=f"a#b?{n}", email=f"a{n}@example.com")
    first = api_a.get("/api/customers/", {"limit": 1, "q": "a#b?"})
    assert len(first.json()["customers"]) == 1
    url = urlsplit(first["Link"].split(";")[0].strip("<>"))
    assert url.path == "/api/customers/" and url.fragment == ""
    second = api_a.get(f"{url.path}?{url.query}")
    assert [c["id"] for c in second.json()["customers"]] == ["a#b?1"]
