"""One extend_schema decorator per customer endpoint operation, applied in customers.api: its
summary, description, parameters, request and responses (errors from twc.api.schema)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from customers.schema.inputs import (
    CustomerInputSerializer,
    MergeInputSerializer,
    OrderInputSerializer,
    SendInviteInputSerializer,
    WishlistInputSerializer,
)
from customers.schema.parameters import (
    CUSTOMER_FILTERS,
    CUSTOMER_LIST_PARAMETERS,
    FIELDS,
    IF_MATCH,
    ORDER_LIST_PARAMETERS,
    REF_PARAMETER,
    SEARCH_HELP,
    SEARCH_PARAMETERS,
)
from customers.schema.serializers import (
    CountSerializer,
    CustomerPageSerializer,
    CustomerSerializer,
    CustomerWithInviteSerializer,
    DeletedCustomerSerializer,
    OrderPageSerializer,
    OrderSerializer,
    UploadReportSerializer,
    WishlistSerializer,
)
from twc.api.schema import error_responses


def customer_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(CustomerSerializer, description=description + " The `ETag` header is its version.")


LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    response=[201],
    description="The new customer's URL, `/api/customers/{id}` with the id percent-encoded as one path segment "
    "(its twc_customer_id when the id would name another route, such as `count`).",
)
# Without `fields`, every field of the customer; with it, only those.
CUSTOMER_OR_FIELDS = {
    "anyOf": [{"$ref": "#/components/schemas/Customer"}, {"$ref": "#/components/schemas/CustomerFields"}]
}
LINK_HELP = 'With more pages: `Link: <url>; rel="next", <url>; rel="previous"` (Shopify\'s style).'
UPDATE_HELP = (
    "Fields the body leaves out keep their values (PUT is partial here, like PATCH). With `version` in the body "
    "or `If-Match`, the update applies only to that version (else 409 ConcurrentModification). The state "
    "changes only through the account actions: sending another state is 409 InvalidOperation."
)

list_customers = extend_schema(
    operation_id="customers_list",
    summary="List and filter customers",
    description="The caller's store's customers, a page at a time (keyset cursor, no total count: see "
    "`/api/customers/count`). A list is the one response with a wrapper. " + LINK_HELP,
    parameters=CUSTOMER_LIST_PARAMETERS,
    responses={200: CustomerPageSerializer, **error_responses(400)},
)
search_customers = extend_schema(
    operation_id="customers_search",
    summary="Search customers (Shopify's query language)",
    description="The caller's store's customers matching `query`, newest first, a page at a time like the "
    "list. " + SEARCH_HELP + " " + LINK_HELP,
    parameters=SEARCH_PARAMETERS,
    responses={200: CustomerPageSerializer, **error_responses(400)},
)
merge_customers = extend_schema(
    operation_id="customers_merge",
    summary="Merge two customers",
    description="`from` is merged into `into`: the survivor keeps its own values and takes `from`'s where it has "
    "none (`keep` says per field whose value wins); `from`'s orders, wishlists and addresses (but those equal to "
    "one of the survivor's) move to it, tags and metadata are joined, notes joined with a line break. `from` is "
    "then deleted with `merged_into`, and its customer tokens revoked. 409 InvalidOperation: the same customer "
    "twice, more than 250 tags, a note too long, or both with a password and no `keep.account`. One "
    "`customers/merge` event.",
    request=MergeInputSerializer,
    responses={200: customer_response("The survivor, as of the merge."), **error_responses(400, 404, 409)},
)
count_customers = extend_schema(
    operation_id="customers_count",
    summary="Count customers",
    description="How many customers the same filters as the list select.",
    parameters=CUSTOMER_FILTERS,
    responses={200: CountSerializer, **error_responses(400)},
)
create_customer = extend_schema(
    operation_id="customers_create",
    summary="Create a customer",
    description="The body needs an `email` or a `phone` (400 RequiredField otherwise).",
    request=CustomerInputSerializer,
    parameters=[LOCATION],
    responses={201: customer_response("The new customer, at `Location`."), **error_responses(400, 409)},
)
update_customer_by_body = extend_schema(
    operation_id="customers_update",
    summary="Update the customer the body names",
    description="The body's `id` (or else `twc_customer_id`) names the customer (400 RequiredField without "
    "either). " + UPDATE_HELP,
    request=CustomerInputSerializer,
    parameters=[IF_MATCH],
    responses={200: customer_response("The updated customer."), **error_responses(400, 404, 409)},
)
get_customer = extend_schema(
    operation_id="customers_get",
    summary="Read a customer",
    description="`fields` returns only the fields it names, as in the list.",
    parameters=[REF_PARAMETER, FIELDS],
    responses={
        200: OpenApiResponse(
            CUSTOMER_OR_FIELDS, description="The customer (only the `fields` named). The `ETag` header is its version."
        ),
        **error_responses(400, 404),
    },
)


def _update_by_path(operation_id: str, summary: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description="The path names the customer; an `id` in the body renames it. " + UPDATE_HELP,
        request=CustomerInputSerializer,
        parameters=[REF_PARAMETER, IF_MATCH],
        responses={200: customer_response("The updated customer."), **error_responses(400, 404, 409)},
    )


put_customer = _update_by_path("customers_put", "Update the customer the path names (PUT)")
patch_customer = _update_by_path("customers_patch", "Update the customer the path names (PATCH)")
delete_customer = extend_schema(
    operation_id="customers_delete",
    summary="Delete a customer (soft)",
    description="The customer is no longer found, and its id, email and phone are free again.",
    parameters=[REF_PARAMETER],
    responses={200: DeletedCustomerSerializer, **error_responses(404)},
)
list_customer_orders = extend_schema(
    operation_id="customers_orders_list",
    summary="The customer's orders",
    description="Newest first, paged like the customer list. " + LINK_HELP,
    parameters=[REF_PARAMETER, *ORDER_LIST_PARAMETERS],
    responses={200: OrderPageSerializer, **error_responses(400, 404)},
)
upload_customers = extend_schema(
    operation_id="customers_upload",
    summary="Create many customers",
    description='Up to 10,000 customers: a JSON array, or an object `{"customers": [...]}`. Each item is '
    "created on its own, exactly as by `POST /api/customers`; `results` has one entry per item, in order.",
    request=CustomerInputSerializer(many=True),
    parameters=[
        OpenApiParameter(
            "on_conflict",
            OpenApiTypes.STR,
            enum=["error", "skip", "update"],
            description="An item whose id, email or phone belongs to an existing customer: `error` (default) fails "
            "it with DuplicateField, `skip` reports it skipped, `update` applies it as a PUT would.",
        )
    ],
    responses={200: UploadReportSerializer, **error_responses(400, 413)},
)
send_invite = extend_schema(
    operation_id="customers_send_invite",
    summary="Invite the customer to activate their account",
    description="Sends (unless `send_email` is false) a single-use activation link valid 30 days; a new invite "
    "voids the previous link. 409 InvalidOperation when the state does not allow an invite (an enabled account).",
    request=SendInviteInputSerializer,
    parameters=[REF_PARAMETER],
    responses={200: CustomerWithInviteSerializer, **error_responses(400, 404, 409)},
)
create_order = extend_schema(
    operation_id="orders_create",
    summary="Record an order",
    description="Assigned to the customer `customer_id` names, else to the store's customer with its email, "
    "else phone; that customer's order figures follow.",
    request=OrderInputSerializer,
    responses={201: OrderSerializer, **error_responses(400, 409)},
)
create_wishlist = extend_schema(
    operation_id="wishlists_create",
    summary="Record a wishlist",
    request=WishlistInputSerializer,
    responses={201: WishlistSerializer, **error_responses(400)},
)
