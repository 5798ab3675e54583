"""The schema says what the server enforces (issue 12, class 9).

Each probe is one request on either side of a rule openapi.yaml states (a parameter's bounds,
pattern or empty value, a body field's length, characters, enum, minimum, nullability): the
value is checked against the committed schema AND sent to the server, and the two must agree,
accepted (2xx, or 404/409 about the data) exactly when the schema allows it. Then the other
parts of the class: the 201's Location, `fields` on GET by reference, the wishlist's items, and
enum member names that generated clients can use.
"""

import re
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Address, Wishlist
from customers.validation import COUNTRY_CODES, CURRENCY_CODES
from tests.api.openapi import document, is_valid, parameter_schema, query_value, request_schema
from tests.factories import customer_make

ACCEPTED = {200, 201, 202, 404, 409}
LONG = "x" * 1001

# (path, parameter, value): the list's, the count's, the orders' and the reference's parameters.
QUERY_PROBES = [
    *[
        (path, "limit", value)
        for path in ("/api/customers", "/api/customers/{ref}/orders")
        for value in ("0", "1", "250", "251", "", "-1", "1.5", "²", "٣", "ten")
    ],
    *[
        (path, "fields", value)
        for path in ("/api/customers", "/api/customers/{ref}")
        for value in ("", ",", " ", "id,email", " id , email ,", "id,,email", "id,bogus", "id email", "id\x1c")
    ],
    ("/api/customers", "ids", ""),
    ("/api/customers", "ids", "   "),
    ("/api/customers", "ids", " , "),
    ("/api/customers", "ids", "c-1, c-2"),
    ("/api/customers", "ids", "c-1\x01"),
    ("/api/customers/count", "state", ""),
    ("/api/customers/count", "state", "enabled"),
    ("/api/customers/count", "state", "bogus"),
    ("/api/customers", "tag", ""),
    ("/api/customers", "tag", "vip"),
    ("/api/customers", "tag", "a,b"),
    ("/api/customers", "tag", "a\x85"),
    ("/api/customers", "email", "x" * 1000),
    ("/api/customers", "email", LONG),
    ("/api/customers", "q", "ann"),
    ("/api/customers", "q", "a\x7f"),
    ("/api/customers", "ordering", ""),
    ("/api/customers", "ordering", "-updated_at"),
    ("/api/customers", "ordering", "name"),
    ("/api/customers/{ref}/orders", "ordering", "updated_at"),
    ("/api/customers", "page_info", ""),
    ("/api/customers", "page_info", "x" * 501),
    ("/api/customers", "page_info", "not a cursor!"),
    ("/api/customers/count", "created_at_min", ""),
    ("/api/customers/count", "accepts_marketing", ""),
    ("/api/customers/count", "since_id", ""),
    *[("/api/events", "limit", value) for value in ("0", "1", "1000", "1001", "", "²")],
    *[("/api/events", "types", value) for value in ("", "customers/create", " customers/create , orders/create", "x")],
    *[("/api/events", "after", value) for value in ("", "not a cursor")],
]
# (method, path, body, expected-statuses-when-accepted): body fields on either side of each rule.
BODY_PROBES = [
    *[
        ("patch", "/api/customers/{ref}", body)
        for body in (
            {"version": 0},
            {"version": -3},
            {"version": 1},
            {"version": None},
            {"id": None},
            {"id": "  "},
            {"id": "a\x01"},
            {"id": "x" * 256},
            {"tags": None},
            {"tags": "a, b"},
            {"tags": ["a", "b"]},
            {"tags": ["a,b"]},
            {"tags": ["x" * 256]},
            {"tags": "x" * 256},
            {"tags": "a\x01"},
            {"currency": "CAD"},
            {"currency": "XYZ"},
            {"currency": None},
            {"currency": ""},
            {"first_name": None},
            {"first_name": "x" * 255},
            {"first_name": "x" * 256},
            {"first_name": "a\x9f"},
            {"note": "two\nlines\tand a tab"},
            {"note": "a\x01"},
            {"phone": "x" * 65},
            {"multipass_identifier": "a\x00"},
            {"addresses": [{"country_code": "FR"}]},
            {"addresses": [{"country_code": ""}]},
            {"addresses": [{"country_code": "ZZ"}]},
            {"addresses": [{"city": None, "customer_id": 5, "id": None}]},
            {"addresses": [{"zip": "x" * 33}]},
            {"addresses": [{"city": "a\x01"}]},
            {"addresses": [{}] * 101},
        )
    ],
    *[
        ("post", "/api/orders", body)
        for body in (
            {"total_price": 0},
            {"total_price": 999999999999.99},
            {"total_price": 1e12},
            {"total_price": -0.001},
            {"name": "  "},
            {"name": ""},
            {"name": "a\x01"},
            {"currency": ""},
            {"currency": None},
            {"currency": "XYZ"},
            {"email": ""},
            {"email": "not checked as an address"},
            {"created_at": None},
            {"customer_id": ""},
            {"customer_id": None},
        )
    ],
    *[
        ("post", "/api/customers", body)
        for body in (
            {"password_hash": "$2b$12$" + "a" * 53},
            {"password_hash": "$2b$12$" + "a" * 52},
            {"password_hash": "md5$abc"},
            {"password_hash": ""},
            {"password_hash": None},
        )
    ],
    *[
        ("post", "/api/accounts/recover", body)
        for body in ({"email": ""}, {"email": "anything at all"}, {"email": "x" * 4097}, {"email": 5})
    ],
    *[
        ("post", "/api/webhooks", body)
        for body in (
            {"url": "https://8.8.8.8/hook", "topics": ["*"]},
            {"url": "HTTPS://8.8.8.8:8443/hook?x=1", "topics": ["customers/create", "orders/create"]},
            {"url": "http://8.8.8.8/hook", "topics": ["*"]},
            {"url": "https://user:pw@8.8.8.8/hook", "topics": ["*"]},
            {"url": "https://8.8.8.8:99999/", "topics": ["*"]},
            {"url": "https://[0]/", "topics": ["*"]},
            {"url": "https://8.8.8.8/a b", "topics": ["*"]},
            {"url": "https://8.8.8.8/", "topics": []},
            {"url": "https://8.8.8.8/", "topics": ["customers/nope"]},
        )
    ],
    *[
        ("post", "/api/wishlists", body)
        for body in (
            {"items": []},
            {"items": ["p-1", 7]},
            {"items": [""]},
            {"items": ["  "]},
            {"items": ["p-1", ""]},
            {"items": [True]},
            {"items": [1.5]},
            {"items": ["x" * 256]},
            {"name": None},
            {"name": ""},
        )
    ],
]


def concrete(path: str) -> str:
    return path.replace("{ref}", "c-1")


@pytest.fixture
def seeded(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="c1@example.com")
    return api_a


def test_query_parameters_documented_are_enforced(seeded, capsys):
    mismatches = []
    for path, name, value in QUERY_PROBES:
        schema = parameter_schema(path, "get", name)
        allowed = is_valid(schema, query_value(schema, value))
        status = seeded.get(f"{concrete(path)}?{urlencode({name: value})}").status_code
        assert status in ACCEPTED | {400}, (path, name, value, status)  # never a 500 ("²" was one)
        if allowed != (status in ACCEPTED):
            mismatches.append((path, name, value, "schema allows" if allowed else "schema refuses", status))
    with capsys.disabled():
        print(f"\nschema vs server, query: {len(QUERY_PROBES)} probes, {len(mismatches)} disagreements")
    assert mismatches == []


def test_request_bodies_documented_are_enforced(seeded, capsys):
    mismatches = []
    for number, (method, path, fields) in enumerate(BODY_PROBES):
        body = dict(fields)
        if path == "/api/orders":
            body.setdefault("name", f"#probe-{number}")
        if path == "/api/customers":
            body.setdefault("email", f"probe-{number}@example.com")
        allowed = is_valid(request_schema(path, method), body)
        status = getattr(seeded, method)(concrete(path), body, format="json").status_code
        assert status in ACCEPTED | {400}, (path, body, status)
        if allowed != (status in ACCEPTED):
            mismatches.append((method, path, str(body)[:80], "schema allows" if allowed else "schema refuses", status))
    with capsys.disabled():
        print(f"schema vs server, bodies: {len(BODY_PROBES)} probes, {len(mismatches)} disagreements")
    assert mismatches == []


def test_if_match_is_read_even_beside_a_body_version(seeded):
    """A malformed If-Match was ignored when the body named a version (and "²" answered 500)."""
    schema = parameter_schema("/api/customers/{ref}", "patch", "If-Match")
    for header, accepted in (('"1"', True), ('W/"1"', True), ("1", True), ("", True), ("v1", False), ("\xb2", False)):
        assert is_valid(schema, header) == accepted, header
        for body in ({"note": "n"}, {"note": "n", "version": 1}):
            response = seeded.patch("/api/customers/c-1", body, format="json", HTTP_IF_MATCH=header)
            assert (response.status_code in ACCEPTED) == accepted, (header, body, response.content)


def test_enum_documented_values_are_the_servers():
    schemas = document()["components"]["schemas"]
    assert set(schemas["CurrencyEnum"]["enum"]) == CURRENCY_CODES
    assert set(schemas["CountryCodeEnum"]["enum"]) == COUNTRY_CODES
    # a response's currency is a code as well, even one the ISO list has dropped since
    assert schemas["Customer"]["properties"]["currency"]["pattern"] == "^[A-Z]{3}$"


def enums(node, where=""):
    if isinstance(node, dict):
        if "enum" in node:
            yield where, node
        for key, value in node.items():
            yield from enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from enums(value, f"{where}/{index}")


def test_every_enum_member_has_a_name_generated_clients_can_use():
    """openapi-python-client and openapi-typescript name `-created_at` VALUE_0 unless the schema
    names it (x-enum-varnames); a value that is an identifier names itself."""
    identifier = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    checked = 0
    for where, schema in enums(document()):
        values = [value for value in schema["enum"] if value is not None]
        names = schema.get("x-enum-varnames")
        if names is not None:
            assert len(names) == len(schema["enum"]) and all(identifier.fullmatch(n) for n in names), where
            assert len(set(names)) == len(names), where
        else:
            assert all(isinstance(v, str) and identifier.fullmatch(v) for v in values), (where, values)
        checked += 1
    assert checked >= 10
    ordering = next(p for p in document()["paths"]["/api/customers"]["get"]["parameters"] if p["name"] == "ordering")
    names = dict(zip(ordering["schema"]["enum"], ordering["schema"]["x-enum-varnames"], strict=True))
    assert names == {
        "created_at": "CREATED_AT",
        "-created_at": "CREATED_AT_DESC",
        "updated_at": "UPDATED_AT",
        "-updated_at": "UPDATED_AT_DESC",
    }


# --- Location ---------------------------------------------------------------------------------
LOCATION_IDS = ["c-1", "a/b", "a?b=1", "a#frag", "with space", "100%", "ünï", "count", "x/orders", "x/send_invite"]


def test_201_carries_the_location_of_the_new_customer(api_a, capsys):
    documented = document()["paths"]["/api/customers"]["post"]["responses"]["201"]["headers"]["Location"]
    assert documented["required"] is True
    for number, ref in enumerate(LOCATION_IDS):
        response = api_a.post("/api/customers", {"id": ref, "email": f"loc{number}@example.com"}, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        location = response["Location"]
        if ref in ("count", "x/orders", "x/send_invite"):  # the path would name another route
            assert location == f"/api/customers/{created['twc_customer_id']}"
        else:
            assert location == f"/api/customers/{quote(ref, safe='')}"
        read = api_a.get(location)
        assert read.status_code == 200 and read.json()["twc_customer_id"] == created["twc_customer_id"], location
    # without an id: the assigned one (the twc_customer_id)
    response = api_a.post("/api/customers", {"email": "noid@example.com"}, format="json")
    assert response["Location"] == f"/api/customers/{response.json()['id']}"
    with capsys.disabled():
        print(f"\nLocation: {len(LOCATION_IDS) + 1} creates, each Location read back to its customer")


def test_location_is_replayed_with_the_stored_answer(api_a):
    body = {"id": "r?1", "email": "r1@example.com"}
    first = api_a.post("/api/customers", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_a.post("/api/customers", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again["Idempotent-Replayed"] == "true"
    assert first["Location"] == again["Location"] == "/api/customers/r%3F1"


def test_updates_and_reads_carry_no_location(seeded):
    assert not seeded.get("/api/customers/c-1").has_header("Location")
    assert not seeded.patch("/api/customers/c-1", {"note": "x"}, format="json").has_header("Location")


# --- fields on GET by reference ----------------------------------------------------------------
def test_fields_on_get_by_reference_is_the_partial_representation(seeded):
    seeded.get("/api/customers/c-1")  # the token is cached from here on
    with CaptureQueriesContext(connection) as every_field:
        full = seeded.get("/api/customers/c-1").json()
    with CaptureQueriesContext(connection) as some_fields:
        seeded.get("/api/customers/c-1?fields=id,email")
    # the addresses are not read unless named (they are joined into the customer's one query)
    address_table = Address._meta.db_table
    assert address_table in " ".join(q["sql"] for q in every_field)
    assert address_table not in " ".join(q["sql"] for q in some_fields)
    response = seeded.get("/api/customers/c-1?fields=id,email,version")
    assert response.status_code == 200
    assert response.json() == {"id": "c-1", "email": "c1@example.com", "version": full["version"]}
    assert response["ETag"] == f'"{full["version"]}"'
    assert seeded.get("/api/customers/c-1?fields=addresses").json() == {"addresses": full["addresses"]}
    # as on the list: an unknown field, none, or another parameter is 400 naming it
    for query in ("fields=", "fields=id,bogus", "fields=,", "fieldz=id"):
        response = seeded.get(f"/api/customers/c-1?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] in ("fields", "fieldz")
    # another store's customer is as missing as ever
    assert seeded.get("/api/customers/nobody?fields=id").status_code == 404


def test_fields_on_get_by_reference_agrees_with_the_list(seeded):
    listed = seeded.get("/api/customers?fields=email,tags,default_address").json()["customers"][0]
    assert seeded.get("/api/customers/c-1?fields=email,tags,default_address").json() == listed


def test_fields_on_get_by_reference_is_not_seen_by_another_store(seeded, api_b):
    assert api_b.get("/api/customers/c-1?fields=id").status_code == 404


# --- wishlist items ----------------------------------------------------------------------------
@pytest.mark.parametrize("items", [[""], ["  "], ["p-1", ""], ["\t"]])
def test_wishlist_refuses_blank_items(api_a, items):
    response = api_a.post("/api/wishlists", {"email": "w@example.com", "items": items}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "items"
    assert not Wishlist.objects.exists()


def test_wishlist_items_documented_min_length_is_one():
    item = document()["components"]["schemas"]["WishlistInputRequest"]["properties"]["items"]["items"]
    string = next(branch for branch in item["oneOf"] if branch["type"] == "string")
    assert string["minLength"] == 1


def test_wishlist_integer_items_are_stored_as_strings(api_a):
    response = api_a.post("/api/wishlists", {"items": ["p-1", 7]}, format="json")
    assert response.status_code == 201
    assert response.json()["items"] == ["p-1", "7"]


def test_path_parameters_are_those_of_the_path():
    """/api/events/{event_id} documented a path parameter `id` beside `event_id`: a client filled in
    one the server never reads."""
    for path, methods in document()["paths"].items():
        in_template = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in methods.items():
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert documented == in_template, (method, path, documented)
