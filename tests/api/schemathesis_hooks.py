"""Schemathesis hooks of tests/api/test_fuzz_schemathesis.py (loaded with SCHEMATHESIS_HOOKS).

With every check on, schemathesis also asserts that each schema-valid request is accepted
(positive_data_acceptance). A few rules of the server cannot be written in JSON Schema: whether a
value names something that exists, whether a phone number is dialable, and three rules across fields.
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

# (error code, field) -> the rule behind it, that no JSON Schema keyword can state.
NOT_IN_SCHEMA = {
    ("InvalidField", "phone"): "a dialable number (libphonenumber's metadata)",
    ("InvalidField", "customer_id"): "names an existing customer of the store",
    ("InvalidField", "since_id"): "names an existing customer of the store",
    ("InvalidField", "page_info"): "a cursor this server made for this listing",
    ("RequiredField", "email"): "a create needs an email or a phone",
    ("RequiredField", "id"): "PUT /api/customers needs an id or a twc_customer_id",
    ("InvalidField", "addresses"): "at most one address marked default (OpenAPI 3.0 has no maxContains)",
}
# Messages of those entries that are about the rule, and not about the value's form (which the
# schema does state: length, characters, type).
RULE_MESSAGES = (
    "'phone' is not a dialable number",
    "Not a dialable phone number",
    "No customer has this 'customer_id'.",
    "'since_id': no customer",
    "'page_info' is not a cursor of this listing",
    "A customer needs an 'email' or a 'phone'.",
    "Name the customer with 'id'",
    "At most one address can be the default.",
)
IDEMPOTENCY_KEY = "Idempotency-Key"
VALID_KEY = re.compile(r"[!-~]{1,255}")


def refused_for_rules_alone(status: int, body) -> bool:
    """A 400 whose every error is one of NOT_IN_SCHEMA, worded as that rule."""
    if status != 400 or not isinstance(body, dict) or not body.get("errors"):
        return False
    return all(
        (entry.get("code"), entry.get("field")) in NOT_IN_SCHEMA
        and str(entry.get("message", "")).startswith(RULE_MESSAGES)
        for entry in body["errors"]
    )


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
