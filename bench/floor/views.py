"""The floor's views: what a competent hand writes for the same requests, with nothing around it.

No authentication, no validation beyond what the SQL needs, no events, no rate limit: the SQL the
service's request needs at least (GET: the customer and its addresses in one statement; create: the
customer and its address in one transaction; update: one `UPDATE ... RETURNING` and the addresses;
/api/me: the customer a token names, with its addresses), and its JSON by Django's JsonResponse.
"""

import hashlib
import json
import uuid

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

SHOWN = (
    "seq, twc_customer_id, ref, email, phone, first_name, last_name, note, state, verified_email, "
    "accepts_marketing, accepts_marketing_updated_at, marketing_opt_in_level, multipass_identifier, currency, "
    "tax_exempt, tax_exemptions, tags, metadata, private_metadata, orders_count, total_spent, last_order_id, "
    "last_order_name, version, created_at, updated_at"
)
SHOWN_NAMES = [name.strip() for name in SHOWN.split(",")]
JSON_COLUMNS = ("tax_exemptions", "metadata", "private_metadata")
ADDRESS = (
    "id, first_name, last_name, company, address1, address2, city, province, province_code, country, "
    "country_code, zip, phone, name, is_default"
)
ADDRESS_NAMES = [name.strip() for name in ADDRESS.split(",")]
JOINED = ", ".join(f"c.{name}" for name in SHOWN_NAMES) + ", " + ", ".join(f"a.{name}" for name in ADDRESS_NAMES)

GET_SQL = f"""SELECT {JOINED} FROM customers_customer c LEFT JOIN customers_address a ON a.customer_id = c.seq
WHERE c.store_id = %s AND c.ref = %s AND c.deleted_at IS NULL ORDER BY a.id"""  # noqa: S608
ME_SQL = f"""SELECT {JOINED} FROM accounts_customeraccesstoken t JOIN customers_customer c ON c.seq = t.customer_id
LEFT JOIN customers_address a ON a.customer_id = c.seq
WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > now() AND c.deleted_at IS NULL
AND c.state = 'enabled' AND c.store_id = t.store_id ORDER BY a.id"""  # noqa: S608
UPDATE_SQL = f"""UPDATE customers_customer SET note = %s, tags = %s, version = version + 1, updated_at = now()
WHERE store_id = %s AND ref = %s AND deleted_at IS NULL RETURNING {SHOWN}"""  # noqa: S608
ADDRESSES_SQL = f"SELECT {ADDRESS} FROM customers_address WHERE customer_id = %s ORDER BY id"  # noqa: S608
INSERT_CUSTOMER_SQL = f"""INSERT INTO customers_customer (twc_customer_id, store_id, ref, email, email_key, phone,
first_name, last_name, note, state, verified_email, password, disabled_by_staff, accepts_marketing,
accepts_marketing_updated_at, marketing_opt_in_level, multipass_identifier, currency, tax_exempt, tax_exemptions,
tags, metadata, private_metadata, orders_count, total_spent, last_order_id, last_order_name, version, created_at,
updated_at, deleted_at, erased_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', 'disabled', false, '', false, %s, %s, %s, NULL, 'CAD', false, '[]',
%s, '{{}}', '{{}}', 0, 0, NULL, NULL, 1, %s, %s, NULL, NULL) RETURNING {SHOWN}"""  # noqa: S608
INSERT_ADDRESS_SQL = f"""INSERT INTO customers_address (customer_id, first_name, last_name, company, address1,
address2, city, province, province_code, country, country_code, zip, phone, name, is_default)
VALUES (%s, %s, %s, '', %s, '', %s, '', %s, '', %s, %s, '', '', true) RETURNING {ADDRESS}"""  # noqa: S608


def customer_dict(row, addresses: list) -> dict:
    customer = dict(zip(SHOWN_NAMES, row, strict=True))
    for name in JSON_COLUMNS:
        if isinstance(customer[name], str):
            customer[name] = json.loads(customer[name])
    customer["id"] = customer.pop("ref")
    items = [dict(zip(ADDRESS_NAMES, address, strict=True)) for address in addresses]
    customer["addresses"] = items
    customer["default_address"] = next((item for item in items if item["is_default"]), None)
    return customer


def joined_response(rows: list) -> JsonResponse:
    if not rows:
        return JsonResponse({"error": "not found"}, status=404)
    width = len(SHOWN_NAMES)
    addresses = [row[width:] for row in rows if row[width] is not None]
    return JsonResponse(customer_dict(rows[0][:width], addresses))


def customer_get(request: HttpRequest, store_id: int, ref: str) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(GET_SQL, [store_id, ref])
        return joined_response(cursor.fetchall())


def me(request: HttpRequest) -> JsonResponse:
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ")
    with connection.cursor() as cursor:
        cursor.execute(ME_SQL, [hashlib.sha256(raw.encode()).hexdigest()])
        return joined_response(cursor.fetchall())


def customers(request: HttpRequest, store_id: int) -> JsonResponse:
    body = json.loads(request.body)
    if request.method == "POST":
        return create(store_id, body)
    return update(store_id, body)


def create(store_id: int, body: dict) -> JsonResponse:
    now = timezone.now()
    accepts = bool(body.get("accepts_marketing"))
    email = body.get("email")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            INSERT_CUSTOMER_SQL,
            [
                uuid.uuid4(),
                store_id,
                body["id"],
                email,
                email.lower() if email else None,
                body.get("phone"),
                body.get("first_name", ""),
                body.get("last_name", ""),
                accepts,
                now if accepts else None,
                body.get("marketing_opt_in_level") if accepts else None,
                body.get("tags", ""),
                now,
                now,
            ],
        )
        customer = cursor.fetchone()
        addresses = []
        for address in body.get("addresses", []):
            cursor.execute(
                INSERT_ADDRESS_SQL,
                [
                    customer[0],
                    body.get("first_name", ""),
                    body.get("last_name", ""),
                    address.get("address1", ""),
                    address.get("city", ""),
                    address.get("province_code", ""),
                    address.get("country_code", ""),
                    address.get("zip", ""),
                ],
            )
            addresses.append(cursor.fetchone())
    return JsonResponse(customer_dict(customer, addresses), status=201)


def update(store_id: int, body: dict) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_SQL, [body.get("note", ""), body.get("tags", ""), store_id, body["id"]])
        customer = cursor.fetchone()
        if customer is None:
            return JsonResponse({"error": "not found"}, status=404)
        cursor.execute(ADDRESSES_SQL, [customer[0]])
        return JsonResponse(customer_dict(customer, cursor.fetchall()))
