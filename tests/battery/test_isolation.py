"""Tenant isolation matrix: store B's token against store A's customers, on every endpoint and
method, naming A's customers by `id`, by `twc_customer_id`, in PUT bodies, in upload rows and in
order/wishlist `customer_id`: 0 reads and 0 writes.

Each case is one line of CASES. A case is sent twice, each time inside a rolled-back savepoint so
that cases never see each other's effects: once naming store A's real customer, once naming a
customer that exists nowhere (a "ghost"). B must not be able to tell the two apart: after masking
the values that name them, both responses are identical (a 404 for A's customer is the 404 of a
customer that does not exist). A "read" is a response that differs from its ghost twin or shows
any of A's data that B did not send; a "write" is any change to store A's rows.
Every endpoint is here, the list and count filters, the aliases and send_invite included; a new
endpoint is one more line.
"""

import json
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.forms.models import model_to_dict

from customers.models import AccountInvite, Address, Customer, Order, Wishlist
from events.models import Event, WebhookDelivery, WebhookSubscription
from tests.factories import customer_make, order_make, wishlist_make


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: object = None
    expect: int = 404
    headers: dict = field(default_factory=dict)


CASES = [
    Case("GET by id", "get", "/api/customers/{a_ref}"),
    Case("GET by twc_customer_id", "get", "/api/customers/{a_twc}"),
    Case("GET by email", "get", "/api/customers/{a_email}"),
    Case("GET by id, second customer", "get", "/api/customers/{a_ref2}"),
    Case("DELETE by id", "delete", "/api/customers/{a_ref}"),
    Case("DELETE by twc_customer_id", "delete", "/api/customers/{a_twc}"),
    Case("PUT naming id", "put", "/api/customers", {"id": "{a_ref}", "note": "pwned"}),
    Case("PUT naming twc_customer_id", "put", "/api/customers", {"twc_customer_id": "{a_twc}", "note": "pwned"}),
    Case("PUT naming id with version", "put", "/api/customers", {"id": "{a_ref}", "version": 1, "email": "x@b.test"}),
    Case("PUT naming id with If-Match", "put", "/api/customers", {"id": "{a_ref}"}, headers={"HTTP_IF_MATCH": '"1"'}),
    Case("PUT deleting addresses", "put", "/api/customers", {"id": "{a_ref}", "addresses": []}),
    Case(
        "PUT own customer carrying A's twc_customer_id",
        "put",
        "/api/customers",
        {"id": "b-own", "twc_customer_id": "{a_twc}", "note": "mine"},
        expect=200,
    ),
    Case(
        "PUT own customer taking A's email and phone",
        "put",
        "/api/customers",
        {"id": "b-own", "email": "{a_email}", "phone": "{a_phone}"},
        expect=200,
    ),
    Case(
        "PUT own customer claiming A's address id",
        "put",
        "/api/customers",
        {"id": "b-own", "addresses": [{"id": "{a_address_id}", "address1": "B street"}]},
        expect=200,
    ),
    Case(
        "POST with A's id, email and phone",
        "post",
        "/api/customers",
        {"id": "{a_ref}", "email": "{a_email}", "phone": "{a_phone}"},
        expect=201,
    ),
    Case("POST with A's twc_customer_id as id", "post", "/api/customers", {"id": "{a_twc}", "email": "t@b.test"}, 201),
    Case(
        "upload rows naming A's ids and emails",
        "post",
        "/api/upload-customers",
        [
            {"id": "{a_ref}", "email": "{a_email}", "phone": "{a_phone}"},
            {"id": "{a_ref2}", "email": "{a_email2_upper}"},
        ],
        expect=200,
    ),
    Case(
        "upload object naming A's twc_customer_id",
        "post",
        "/api/upload-customers",
        {"customers": [{"id": "{a_twc}", "twc_customer_id": "{a_twc}", "email": "{a_email}"}]},
        expect=200,
    ),
    Case("order with A's customer_id", "post", "/api/orders", {"name": "#B-1", "customer_id": "{a_ref}"}, 400),
    Case("order with A's twc_customer_id", "post", "/api/orders", {"name": "#B-2", "customer_id": "{a_twc}"}, 400),
    Case("order with A's email", "post", "/api/orders", {"name": "#B-3", "email": "{a_email}", "total_price": 5}, 201),
    Case("order with A's phone", "post", "/api/orders", {"name": "#B-4", "phone": "{a_phone}", "total_price": 5}, 201),
    Case("order reusing A's order name", "post", "/api/orders", {"name": "{a_order_name}", "total_price": 1}, 201),
    Case("wishlist with A's customer_id", "post", "/api/wishlists", {"customer_id": "{a_ref}", "items": ["p1"]}, 400),
    Case("wishlist with A's twc_customer_id", "post", "/api/wishlists", {"customer_id": "{a_twc}"}, 400),
    Case("wishlist with A's email", "post", "/api/wishlists", {"email": "{a_email}", "items": ["p1"]}, 201),
    Case("wishlist with A's phone", "post", "/api/wishlists", {"phone": "{a_phone}", "items": ["p1"]}, 201),
    Case("PUT by path", "put", "/api/customers/{a_ref}", {"note": "pwned"}),
    Case("PUT by path with twc_customer_id", "put", "/api/customers/{a_twc}", {"note": "pwned"}),
    Case("PATCH by path", "patch", "/api/customers/{a_ref}", {"note": "pwned"}),
    Case("PATCH renaming to A's id", "patch", "/api/customers/b-own", {"id": "{a_ref}"}, expect=200),
    Case("orders of A's customer", "get", "/api/customers/{a_ref}/orders"),
    Case("orders of A's customer by twc_customer_id", "get", "/api/customers/{a_twc}/orders"),
    Case("send_invite to A's customer", "post", "/api/customers/{a_ref}/send_invite", {"send_email": False}),
    Case("send_invite by twc_customer_id", "post", "/api/customers/{a_twc}/send_invite", {}),
    Case("merge A's customer into B's", "post", "/api/customers/merge", {"into": "b-own", "from": "{a_ref}"}),
    Case("merge B's customer into A's", "post", "/api/customers/merge", {"into": "{a_twc}", "from": "b-own"}),
    Case("merge A's two customers", "post", "/api/customers/merge", {"into": "{a_ref}", "from": "{a_ref2}"}),
    Case("list filtered by A's ids", "get", "/api/customers?ids={a_ref},{a_ref2}", expect=200),
    Case("list filtered by A's email", "get", "/api/customers?email={a_email}", expect=200),
    Case("list filtered by A's phone", "get", "/api/customers?phone={a_phone}", expect=200),
    Case("list searching A's secret name", "get", "/api/customers?q=AliceSecretFirst", expect=200),
    Case("list filtered by A's tag", "get", "/api/customers?tag=a-secret-tag", expect=200),
    Case("list since A's customer", "get", "/api/customers?since_id={a_ref}", expect=400),
    Case("search for A's secret name", "get", "/api/customers/search?query=AliceSecretFirst", expect=200),
    Case("search by A's email and id", "get", "/api/customers/search?query=email:{a_email} OR id:{a_ref}", expect=200),
    Case("search by A's tag", "get", "/api/customers/search?query=tag:a-secret-tag", expect=200),
    Case("search by A's phone", "get", "/api/customers/search?query=phone:%2B16135550111", expect=200),
    Case("search for the digits of A's phone", "get", "/api/customers/search?query=6135550111", expect=200),
    Case("search for a word of A's email", "get", "/api/customers/search?query=alice", expect=200),
    Case("search by A's email prefix", "get", "/api/customers/search?query=email:{a_email}*", expect=200),
    Case("search by A's metadata", "get", "/api/customers/search?query=metadata.crm:a-secret-crm", expect=200),
    Case("search by A's city and id prefix", "get", "/api/customers/search?query=city:Ottawa id:alpha*", expect=200),
    Case("search for none of B's", "get", "/api/customers/search?query=-email:own@b-store.test&limit=1", expect=200),
    Case("count filtered by A's email", "get", "/api/customers/count?email={a_email}", expect=200),
    Case("count filtered by A's ids", "get", "/api/customers/count?ids={a_ref}", expect=200),
    Case("sign_in with A's email", "post", "/api/accounts/sign_in", {"email": "{a_email}", "password": "x"}, 400),
    Case("/api/me with B's store token", "get", "/api/me", expect=401),
    Case("PATCH /api/me with B's store token", "patch", "/api/me", {"first_name": "x"}, expect=401),
    Case("/api/me/orders with B's store token", "get", "/api/me/orders", expect=401),
    Case("send_password_reset to A's customer", "post", "/api/customers/{a_ref}/send_password_reset", {}),
    Case("recover with A's email", "post", "/api/accounts/recover", {"email": "{a_email}"}, expect=202),
    Case("A's event by id", "get", "/api/events/{a_event}"),
    Case("the event feed", "get", "/api/events", expect=200),
    Case("the event feed filtered by type", "get", "/api/events?types=customers/create", expect=200),
    Case("A's webhook", "get", "/api/webhooks/{a_webhook}"),
    Case("PATCH A's webhook", "patch", "/api/webhooks/{a_webhook}", {"enabled": False}),
    Case("DELETE A's webhook", "delete", "/api/webhooks/{a_webhook}"),
    Case("rotate A's webhook secret", "post", "/api/webhooks/{a_webhook}/rotate_secret"),
    Case("A's webhook deliveries", "get", "/api/webhooks/{a_webhook}/deliveries"),
    Case("redeliver to A's webhook", "post", "/api/webhooks/{a_webhook}/redeliver", {"event_ids": ["{a_event}"]}),
    Case("the webhooks", "get", "/api/webhooks", expect=200),
    # B has Multipass off; a token of A's secret at B: tests/accounts/test_multipass.py (stores apart).
    Case("multipass at B", "post", "/api/accounts/multipass", {"token": "{a_email}"}, expect=409),
]

# Values that change from one run to the next whatever the store: masked before comparing twins.
VOLATILE_KEYS = {"twc_customer_id", "admin_graphql_api_id", "created_at", "updated_at", "deleted_at"}
VOLATILE_KEYS |= {"accepts_marketing_updated_at"}


def fill(template, values: dict):
    """The template with every "{name}" replaced; a string that is exactly one placeholder takes
    the value itself (so that an integer stays an integer)."""
    if isinstance(template, str):
        for name, value in values.items():
            if template == "{" + name + "}":
                return value
        for name, value in values.items():
            template = template.replace("{" + name + "}", str(value))
        return template
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    return template


def masked(data, values: dict):
    """A response body with the values that name A's (or the ghost's) customer replaced by their
    placeholder name, and volatile values replaced by their type."""
    if isinstance(data, dict):
        result = {}
        for key, value in data.items():
            if key in VOLATILE_KEYS or (key == "id" and (isinstance(value, int) or str(value).isdigit())):
                result[key] = type(value).__name__
            else:
                result[key] = masked(value, values)
        return result
    if isinstance(data, list):
        return [masked(item, values) for item in data]
    if isinstance(data, str):
        texts = [(name, value) for name, value in values.items() if isinstance(value, str)]
        for name, value in sorted(texts, key=lambda item: -len(item[1])):
            data = data.replace(value, "{" + name + "}")
        return data
    return data


def store_a_snapshot(store_a) -> dict:
    """Every row of store A, and every link from another store's rows to A's customers."""
    customers = Customer.objects.filter(store=store_a)
    return {
        "customers": [model_to_dict(c) | {"version": c.version, "updated_at": c.updated_at} for c in customers],
        "addresses": [model_to_dict(a) for a in Address.objects.filter(customer__store=store_a).order_by("id")],
        "orders": [model_to_dict(o) for o in Order.objects.filter(store=store_a).order_by("id")],
        "wishlists": [model_to_dict(w) for w in Wishlist.objects.filter(store=store_a).order_by("id")],
        "invites": [model_to_dict(i) for i in AccountInvite.objects.filter(customer__store=store_a).order_by("id")],
        "webhooks": list(WebhookSubscription.objects.filter(store=store_a).values()),
        "deliveries": list(WebhookDelivery.objects.filter(subscription__store=store_a).values()),
        "links_into_a": [
            (model.__name__, row_id)
            for model in (Order, Wishlist)
            for row_id in model.objects.exclude(store=store_a)
            .filter(customer__store=store_a)
            .order_by("id")
            .values_list("id", flat=True)
        ],
    }


def changed_rows(before: dict, after: dict) -> int:
    changes = 0
    for table, rows in before.items():
        later = after[table]
        changes += abs(len(later) - len(rows)) + sum(1 for old, new in zip(rows, later, strict=False) if old != new)
    return changes


def send(client, case: Case, values: dict, store_a):
    """Send the case inside a savepoint that is rolled back, so the next case starts afresh; return
    the response, what was sent, and how many of store A's rows it changed (seen before the rollback)."""
    body = fill(case.body, values)
    path = fill(case.path, values)
    before = store_a_snapshot(store_a)
    with transaction.atomic():
        call = getattr(client, case.method)
        if body is None:
            response = call(path, **case.headers)
        else:
            response = call(path, body, **case.headers)
        written = changed_rows(before, store_a_snapshot(store_a))
        transaction.set_rollback(True)
    return response, path + json.dumps(body), written


def test_store_b_can_neither_read_nor_write_store_a(api_a, api_b, store_a, store_b):
    a1 = customer_make(
        store=store_a,
        id="alpha-ref-001",
        email="alice.secret@a-store.test",
        phone="+16135550111",
        first_name="AliceSecretFirst",
        last_name="AliceSecretLast",
        note="A-SECRET-NOTE",
        tags="a-secret-tag",
        metadata={"crm": "a-secret-crm"},
        multipass_identifier="a-secret-multipass",
        addresses=[{"address1": "1 A Secret Street", "city": "Ottawa"}],
    )
    a2 = customer_make(store=store_a, id="alpha-ref-002", email="second.secret@a-store.test")
    order = order_make(store=store_a, name="#A-SECRET-1", email=a1.email, total_price=42)
    assert order.customer == a1
    wishlist_make(store=store_a, customer_id="alpha-ref-001", items=["a-secret-sku"])
    customer_make(store=store_b, id="b-own", email="own@b-store.test")
    a_webhook = WebhookSubscription.objects.create(
        store=store_a,
        url="https://a-secret-hooks.test/x",
        topics=["*"],
        secret="whsec_a-secret",
        created_at=a1.created_at,
        updated_at=a1.created_at,
    )

    real = {
        "a_ref": a1.ref,
        "a_ref2": a2.ref,
        "a_twc": str(a1.twc_customer_id),
        "a_email": a1.email,
        "a_email2_upper": a2.email.upper(),
        "a_phone": a1.phone,
        "a_address_id": a1.addresses.get().id,
        "a_order_name": "#A-SECRET-1",
        "a_event": str(Event.objects.filter(store=store_a).values_list("event_id", flat=True).first()),
        "a_webhook": str(a_webhook.id),
    }
    ghost = {
        "a_ref": "ghost-ref-001",
        "a_ref2": "ghost-ref-002",
        "a_twc": str(uuid.uuid4()),
        "a_email": "ghost.nobody@nowhere.test",
        "a_email2_upper": "GHOST.SECOND@NOWHERE.TEST",
        "a_phone": "+16135550177",
        "a_address_id": 987_654_321,
        "a_order_name": "#GHOST-1",
        "a_event": str(uuid.uuid4()),
        "a_webhook": str(uuid.uuid4()),
    }
    # What B must never see unless it sent it itself.
    secrets = [
        "AliceSecretFirst",
        "AliceSecretLast",
        "A-SECRET-NOTE",
        "a-secret-tag",
        "a-secret-crm",
        "a-secret-multipass",
        "1 A Secret Street",
        "a-secret-sku",
        str(a1.twc_customer_id),
        str(a2.twc_customer_id),
        "a-secret-hooks",
        "whsec_a-secret",
    ]

    requests = reads = writes = 0
    problems = []
    for case in CASES:
        response, sent, written = send(api_b, case, real, store_a)
        requests += 1
        twin, _, _ = send(api_b, case, ghost, store_a)
        body = response.json()
        leaked = [s for s in secrets if s in response.content.decode() and s not in sent]
        differs = masked(body, real) != masked(twin.json(), ghost) or response.status_code != twin.status_code
        writes += written
        reads += bool(leaked or differs)
        if response.status_code != case.expect or leaked or differs or written:
            problems.append((case.name, response.status_code, leaked, differs, written, body))

    print(f"\nisolation matrix: {requests} requests, {reads} reads, {writes} writes")
    assert problems == []
    assert (reads, writes) == (0, 0)
    assert api_a.get("/api/customers/alpha-ref-001").json()["note"] == "A-SECRET-NOTE"
