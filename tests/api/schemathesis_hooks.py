"""Schemathesis hooks of tests/api/test_fuzz_schemathesis.py (loaded with SCHEMATHESIS_HOOKS).

With every check on, schemathesis also asserts that each schema-valid request is accepted
(positive_data_acceptance). A few rules of the server cannot be written in JSON Schema: whether a
value names something that exists, whether a phone number is dialable or an email written one way,
whether credentials are right, and a few rules across fields.
A schema-valid request refused for one of those alone is no disagreement between the schema and
the server, so `filter_failure` drops exactly those refusals (the report counts them as
`filtered`); any other refusal, and every other check, still fails the run. The schema states
each of these rules in the operation's or the field's description.

The bulk upload answers an invalid item `200` with that item failed in its report (the contract: a
bad item never stops the good ones), where negative_data_rejection expects a 4xx: such an answer is
dropped too, when the report does show a failed item.
"""

import re
import uuid

import schemathesis

ANY_FIELD = object()
# (error code, field, how its message starts): the rules behind them, which no JSON Schema keyword states.
NOT_IN_SCHEMA = (
    # a dialable number (libphonenumber's metadata)
    ("InvalidField", "phone", "'phone' is not a dialable number"),
    # a value naming an existing customer of the store, a cursor this server made for the listing
    ("InvalidField", "customer_id", "No customer has this 'customer_id'."),
    ("InvalidField", "since_id", "'since_id': no customer"),
    ("InvalidField", "page_info", "'page_info' is not a cursor of this listing"),
    ("InvalidField", "after", "'after' is not a cursor of this feed"),
    ("InvalidField", "event_ids", "'event_ids' must name events of this store"),
    # a webhook's host as the DNS resolves it now (events.ssrf)
    ("InvalidField", "url", "The url's host does not resolve"),
    ("InvalidField", "url", "The url's host resolves to"),
    # an address written one way (NFKC, Unicode categories; customers.emails.is_written_one_way)
    ("InvalidField", "email", "'email' must be in NFC"),
    # credentials and tokens that the store or the customer holds, and Django's password validators
    ("InvalidCredentials", ANY_FIELD, "The email or the password is not correct."),
    ("InvalidMultipassToken", None, ""),
    ("InvalidField", "new_password", ""),
    # rules across fields, or between a create and an update sharing one body schema
    ("RequiredField", "email", "A customer needs an 'email' or a 'phone'."),
    ("RequiredField", "id", "Name the customer with 'id'"),
    ("InvalidField", "addresses", "At most one address can be the default."),  # OpenAPI 3.0: no maxContains
    ("InvalidField", "password_hash", "'password_hash' is accepted only when the customer is created."),
    # the names of metadata keys (OpenAPI 3.0 has no propertyNames; the field descriptions say it)
    ("InvalidField", "metadata.", "A key must be 1 to 64 characters"),
    ("InvalidField", "private_metadata.", "A key must be 1 to 64 characters"),
)
IDEMPOTENCY_KEY = "Idempotency-Key"
VALID_KEY = re.compile(r"[!-~]{1,255}")


def _under(prefix: object, field: object) -> bool:
    """A NOT_IN_SCHEMA field ending in "." stands for every field under it (`metadata.` for its keys)."""
    return isinstance(prefix, str) and prefix.endswith(".") and isinstance(field, str) and field.startswith(prefix)


def is_rule_not_in_schema(entry: dict) -> bool:
    return any(
        entry.get("code") == code
        and (field is ANY_FIELD or entry.get("field") == field or _under(field, entry.get("field")))
        and str(entry.get("message", "")).startswith(message)
        for code, field, message in NOT_IN_SCHEMA
    )


def refused_for_rules_alone(status: int, body) -> bool:
    """A 400 whose every error is one of NOT_IN_SCHEMA."""
    if status != 400 or not isinstance(body, dict) or not body.get("errors"):
        return False
    return all(isinstance(entry, dict) and is_rule_not_in_schema(entry) for entry in body["errors"])


UPLOAD = "POST /api/upload-customers"


def upload_refused_an_item(status: int, body) -> bool:
    return status == 200 and isinstance(body, dict) and isinstance(body.get("failed"), int) and body["failed"] > 0


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure but a schema-valid request refused only for rules the schema cannot state,
    and an upload's invalid item refused in its report."""
    kind = type(failure).__name__
    if kind not in ("RejectedPositiveData", "AcceptedNegativeData"):
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    if kind == "AcceptedNegativeData":
        return not (case.operation.label == UPLOAD and upload_refused_an_item(response.status_code, body))
    return not refused_for_rules_alone(response.status_code, body)


def with_an_email(item) -> None:
    """A customer without an email or a phone gets an email, so that creates reach the database
    rather than stop at "a create needs an email or a phone" (an empty or null email is none)."""
    if isinstance(item, dict) and item.get("email") in (None, "") and item.get("phone") in (None, ""):
        item["email"] = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """A fresh Idempotency-Key for every request: a key drawn twice with two bodies is answered 422
    IdempotencyKeyReused, an answer about the earlier request (tests/api/test_idempotency.py), not
    about this one. A key that breaks the schema (the case's negative part) is sent as drawn.
    And an email for the customers a create or an upload would refuse for want of one."""
    headers = case.headers
    if headers and isinstance(headers.get(IDEMPOTENCY_KEY), str) and VALID_KEY.fullmatch(headers[IDEMPOTENCY_KEY]):
        headers[IDEMPOTENCY_KEY] = uuid.uuid4().hex
    if case.operation.label == "POST /api/customers":
        with_an_email(case.body)
    elif case.operation.label == UPLOAD and isinstance(case.body, list):
        for item in case.body:
            with_an_email(item)
