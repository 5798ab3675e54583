"""The customer endpoints of the contract: thin views over services and selectors."""

from urllib.parse import quote

from django.urls import Resolver404, resolve
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import services
from customers.fields import REPRESENTATION_FIELDS
from customers.filters import (
    FILTER_PARAMS,
    LIST_PARAMS,
    MAX_QUERY_LENGTH,
    check_query_params,
    filter_customers,
)
from customers.representation import (
    ADDRESS_DEPENDENT_FIELDS,
    customer_to_dict,
    customer_to_partial_dict,
    deleted_customer_to_dict,
    order_to_dict,
    wishlist_to_dict,
)
from customers.schema import operations
from customers.search.compiler import compile_search
from customers.search.errors import query_error
from customers.search.paging import search_rows
from customers.selectors import customer_get, customer_orders, customer_queryset
from customers.services.bulk import customers_upload
from customers.services.lifecycle import customer_invite
from customers.services.merge import customer_merge
from tenants.middleware import request_reads
from twc.api.bodies import send_email_option
from twc.api.errors import invalid_field, invalid_json_input
from twc.api.idempotency import RepliesNotStored, reply_holds
from twc.api.pagination import CURSOR_PARAM, link_header, orderings, paginate, parse_limit

CUSTOMER_ORDERINGS = orderings(["created_at", "updated_at"], tiebreak="seq")
ORDER_ORDERINGS = orderings(["created_at"], tiebreak="id")
SEARCH_ORDERING = CUSTOMER_ORDERINGS["-created_at"]


# Ids the customer-detail route cannot be sure to take (its siblings under /api/customers/): any
# other id without a `/` resolves to it, so it needs no resolve (about 50 us of a create).
ROUTED_ELSEWHERE = frozenset({"count", "search", "count/", "search/"})


def customer_location(customer) -> str:
    """The URL that reads the customer (customer_path), or the one of its twc_customer_id when the
    server decodes that path to another route (an id `count`, or one ending in `/orders`)."""
    if "/" not in customer.ref and customer.ref not in ROUTED_ELSEWHERE:
        return customer_path(customer.ref)
    try:
        match = resolve(f"/api/customers/{customer.ref}")
    except Resolver404:
        match = None
    if match is not None and match.url_name == "customer-detail" and match.kwargs.get("ref") == customer.ref:
        return customer_path(customer.ref)
    return customer_path(str(customer.twc_customer_id))


def customer_response(customer, addresses=None, status=200, fields: list[str] | None = None) -> Response:
    body = customer_to_dict(customer, addresses) if fields is None else customer_to_partial_dict(customer, fields)
    headers = {"ETag": f'"{customer.version}"'}
    if status == 201:
        headers["Location"] = customer_location(customer)
    return reply_holds(Response(body, status=status, headers=headers), [customer.twc_customer_id])


def owned_response(body: dict, customer, status: int) -> Response:
    """An order's or a wishlist's answer: it holds its customer's email and phone."""
    return reply_holds(Response(body, status=status), [customer.twc_customer_id] if customer else [])


def parse_fields(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    fields = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    unknown = [name for name in fields if name not in REPRESENTATION_FIELDS]
    if not fields or unknown:
        shown = ", ".join(unknown)[:200]
        raise invalid_field("fields", f"'fields' names unknown or no fields: {shown or raw[:50]}.")
    return fields


def parse_ordering(raw: str | None, allowed: dict, default: str):
    ordering = allowed.get(raw or default)
    if ordering is None:
        raise invalid_field("ordering", f"'ordering' must be one of: {', '.join(allowed)}.")
    return ordering


def customer_path(ref: str, *rest: str) -> str:
    """The API path of a customer (or of `rest` under it), its id percent-encoded as one path
    segment: an id may hold `/`, `?`, `#`, `%` or spaces, or be `.` or `..` (which URL resolution
    would remove unless encoded)."""
    segment = quote(ref, safe="")
    if segment in (".", ".."):
        segment = segment.replace(".", "%2E")
    return "/".join(("/api/customers", segment, *rest))


def page_response(request, key: str, page, items: list, *, path: str | None = None) -> Response:
    """A list is the one response with a wrapper: the items under `key` and the cursors beside them."""
    response = Response({key: items, "next": page.next_cursor, "previous": page.previous_cursor})
    link = link_header(request, page, path=path)
    if link:
        response["Link"] = link
    return response


class CustomerCollectionView(APIView):
    """GET /api/customers (list), POST /api/customers (create) and PUT /api/customers (update the
    customer the body names)."""

    @operations.list_customers
    def get(self, request):
        params = request.query_params
        check_query_params(params, FILTER_PARAMS | LIST_PARAMS, metadata=True)
        fields = parse_fields(params.get("fields"))
        ordering = parse_ordering(params.get("ordering"), CUSTOMER_ORDERINGS, "created_at")
        limit = parse_limit(params.get("limit"))
        with_addresses = fields is None or bool(ADDRESS_DEPENDENT_FIELDS.intersection(fields))
        with request_reads(request) as using:
            queryset = filter_customers(
                customer_queryset(store=request.store, with_addresses=with_addresses, using=using),
                query_params=params,
                request=request,
            )
            page = paginate(queryset, ordering=ordering, limit=limit, cursor=params.get(CURSOR_PARAM))
            items = [customer_to_partial_dict(c, fields) for c in page.items]
        return page_response(request, "customers", page, items)

    @operations.create_customer
    def post(self, request):
        customer, addresses = services.customer_create(store=request.store, data=request.data)
        return customer_response(customer, addresses, status=201)

    @operations.update_customer_by_body
    def put(self, request):
        customer, addresses = services.customer_update(
            store=request.store, data=request.data, if_match=request.headers.get("If-Match")
        )
        return customer_response(customer, addresses)


class CustomerSearchView(APIView):
    """GET /api/customers/search?query=...: Shopify's query language (customers.search), newest first,
    paged like the list."""

    @operations.search_customers
    def get(self, request):
        params = request.query_params
        query = params.get("query", "")
        # Before the generic check, whose message for a long value names no position.
        if len(query) > MAX_QUERY_LENGTH:
            raise query_error(f"at most {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
        check_query_params(params, {"query", "fields", "limit", CURSOR_PARAM})
        fields = parse_fields(params.get("fields"))
        limit = parse_limit(params.get("limit"))
        with_addresses = fields is None or bool(ADDRESS_DEPENDENT_FIELDS.intersection(fields))
        search = compile_search(query, store=request.store)
        with request_reads(request) as using:
            scope = customer_queryset(store=request.store, with_addresses=with_addresses, using=using)
            if search.stepped:
                page = paginate(
                    scope,
                    ordering=SEARCH_ORDERING,
                    limit=limit,
                    cursor=params.get(CURSOR_PARAM),
                    fetch=lambda ordered, count: search_rows(ordered, search.condition, count),
                )
            else:
                page = paginate(
                    scope.filter(search.condition),
                    ordering=SEARCH_ORDERING,
                    limit=limit,
                    cursor=params.get(CURSOR_PARAM),
                )
            items = [customer_to_partial_dict(c, fields) for c in page.items]
        return page_response(request, "customers", page, items)


class CustomerMergeView(APIView):
    """POST /api/customers/merge: `from` is merged into `into` (customers.services.merge); the survivor."""

    @operations.merge_customers
    def post(self, request):
        survivor = customer_merge(store=request.store, data=request.data)
        return customer_response(survivor)


class CustomerCountView(APIView):
    """GET /api/customers/count: how many customers the same filters as the list select."""

    @operations.count_customers
    def get(self, request):
        check_query_params(request.query_params, FILTER_PARAMS, metadata=True)
        with request_reads(request) as using:
            queryset = filter_customers(
                customer_queryset(store=request.store, with_addresses=False, using=using),
                query_params=request.query_params,
                request=request,
            )
            count = queryset.count()
        return Response({"count": count})


class CustomerDetailView(APIView):
    """GET /api/customers/{customerRef}, PUT and PATCH /api/customers/{id} (the path names the
    customer; both are partial, like PUT /api/customers), DELETE /api/customers/{id}."""

    @operations.get_customer
    def get(self, request, ref):
        check_query_params(request.query_params, {"fields"})
        fields = parse_fields(request.query_params.get("fields"))
        with_addresses = fields is None or bool(ADDRESS_DEPENDENT_FIELDS.intersection(fields))
        customer = customer_get(store=request.store, ref=ref, with_addresses=with_addresses)
        return customer_response(customer, fields=fields)

    def update(self, request, ref):
        customer, addresses = services.customer_update(
            store=request.store, data=request.data, ref=ref, if_match=request.headers.get("If-Match")
        )
        return customer_response(customer, addresses)

    @operations.put_customer
    def put(self, request, ref):
        return self.update(request, ref)

    @operations.patch_customer
    def patch(self, request, ref):
        return self.update(request, ref)

    @operations.delete_customer
    def delete(self, request, ref):
        customer = services.customer_soft_delete(store=request.store, ref=ref)
        return Response(deleted_customer_to_dict(customer))


class CustomerOrdersView(APIView):
    """GET /api/customers/{id}/orders: the customer's orders, newest first, paged like the list."""

    @operations.list_customer_orders
    def get(self, request, ref):
        params = request.query_params
        check_query_params(params, {"ordering", "limit", CURSOR_PARAM})
        ordering = parse_ordering(params.get("ordering"), ORDER_ORDERINGS, "-created_at")
        limit = parse_limit(params.get("limit"))
        customer = customer_get(store=request.store, ref=ref)
        page = paginate(
            customer_orders(store=request.store, customer=customer),
            ordering=ordering,
            limit=limit,
            cursor=params.get(CURSOR_PARAM),
        )
        orders = [order_to_dict(order, customer.ref) for order in page.items]
        return page_response(request, "orders", page, orders, path=customer_path(ref, "orders"))


class UploadCustomersView(APIView):
    """POST /api/upload-customers[?on_conflict=error|skip|update]: many customers, one result per item."""

    @operations.upload_customers
    def post(self, request):
        data = request.data
        if isinstance(data, dict) and set(data) == {"customers"}:
            data = data["customers"]
        if not isinstance(data, list):
            raise invalid_json_input('The body must be a JSON array of customers or {"customers": [...]}.')
        on_conflict = request.query_params.get("on_conflict", "error")
        report = customers_upload(store=request.store, items=data, on_conflict=on_conflict)
        held = [result["twc_customer_id"] for result in report["results"] if "twc_customer_id" in result]
        return reply_holds(Response(report), held)


class OrderCreateView(APIView):
    @operations.create_order
    def post(self, request):
        order, customer = services.order_create(store=request.store, data=request.data)
        return owned_response(order_to_dict(order, customer.ref if customer else None), customer, status=201)


class WishlistCreateView(APIView):
    @operations.create_wishlist
    def post(self, request):
        wishlist, customer = services.wishlist_create(store=request.store, data=request.data)
        return owned_response(wishlist_to_dict(wishlist, customer.ref if customer else None), customer, status=201)


class CustomerSendInviteView(RepliesNotStored, APIView):
    """POST /api/customers/{id}/send_invite: invite the customer to activate their account.

    Optional body {"send_email": false} when the store's systems send the email themselves; the
    response is the customer with "invite": {"url", "expires_at", "emailed"} beside its fields
    (a live link: never stored for an Idempotency-Key replay).
    """

    @operations.send_invite
    def post(self, request, ref):
        send_email = send_email_option(request.data)
        invite = customer_invite(
            store=request.store, customer=customer_get(store=request.store, ref=ref), send_email=send_email
        )
        body = customer_to_dict(invite.customer)
        body["invite"] = {"url": invite.url, "expires_at": invite.expires_at.isoformat(), "emailed": invite.emailed}
        return Response(body, headers={"ETag": f'"{invite.customer.version}"'})
