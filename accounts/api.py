"""The accounts' endpoints: sign-in flows (store tokens, scope customers:sign_in) and /api/me
(customer tokens only). Thin views over accounts.services."""

from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import schema
from accounts.authentication import CustomerTokenAuthentication, HasCustomerToken
from accounts.selectors import customer_wishlists
from accounts.services.me import customer_password_change, me_update
from accounts.services.resets import customer_password_reset, password_recover
from accounts.services.sign_in import CUSTOMER_IP_HEADER, SignIn, customer_ip, customer_sign_in
from accounts.services.tokens import customer_token_revoke
from customers.api import ORDER_ORDERINGS, page_response, parse_ordering
from customers.fields import CUSTOMER_SHOWN_FIELDS
from customers.filters import check_query_params
from customers.representation import customer_to_dict, order_to_dict, wishlist_to_dict
from customers.selectors import customer_get, customer_orders
from tenants.permissions import SIGN_IN_SCOPE
from twc.api.errors import (
    ValidationFailed,
    invalid_field_entry,
    invalid_json_input,
    required_field_entry,
    unknown_field_entry,
)
from twc.api.pagination import CURSOR_PARAM, orderings, paginate, parse_limit

WISHLIST_ORDERINGS = orderings(["created_at"], tiebreak="id")


def me_to_dict(customer, addresses=None) -> dict:
    """The customer as the customer may see it."""
    full = customer_to_dict(customer, addresses)
    return {name: full[name] for name in CUSTOMER_SHOWN_FIELDS}


def string_fields(data, names: tuple[str, ...]) -> dict[str, str]:
    """A JSON object with exactly these string fields (no others)."""
    if not isinstance(data, dict):
        raise invalid_json_input("The body must be a JSON object.")
    errors = [unknown_field_entry(key) for key in data if key not in names]
    for name in names:
        if name not in data or data[name] is None:
            errors.append(required_field_entry(name))
        elif not isinstance(data[name], str) or len(data[name]) > 4096:
            errors.append(invalid_field_entry(name, f"'{name}' must be a string of at most 4096 characters."))
    if errors:
        raise ValidationFailed(errors)
    return {name: data[name] for name in names}


def signed_in_response(sign_in: SignIn, status: int = 200) -> Response:
    return Response(
        {
            "customer": me_to_dict(sign_in.customer),
            "customer_access_token": sign_in.token.token,
            "expires_at": sign_in.token.expires_at.isoformat(),
        },
        status=status,
    )


class SignInView(APIView):
    """POST /api/accounts/sign_in: email and password for a customer access token."""

    required_scope = SIGN_IN_SCOPE

    @schema.sign_in
    def post(self, request):
        body = string_fields(request.data, ("email", "password"))
        sign_in = customer_sign_in(
            store=request.store,
            email=body["email"],
            password=body["password"],
            ip=customer_ip(request.headers.get(CUSTOMER_IP_HEADER)),
        )
        return signed_in_response(sign_in)


class RecoverView(APIView):
    """POST /api/accounts/recover: a reset link mailed if an enabled customer has the email; 202 always."""

    required_scope = SIGN_IN_SCOPE

    @schema.recover
    def post(self, request):
        body = string_fields(request.data, ("email",))
        password_recover(store=request.store, email=body["email"])
        return Response({"sent": True}, status=202)


class SendPasswordResetView(APIView):
    """POST /api/customers/{id}/send_password_reset (customers:write): the link, mailed unless
    `send_email` is false, as send_invite answers."""

    @schema.send_password_reset
    def post(self, request, ref):
        data = request.data if request.data not in (None, "") else {}
        if not isinstance(data, dict):
            raise invalid_json_input("The body must be a JSON object.")
        unknown = [key for key in data if key != "send_email"]
        if unknown:
            raise ValidationFailed(unknown_field_entry(unknown[0]))
        send_email = data.get("send_email", True)
        if not isinstance(send_email, bool):
            raise ValidationFailed(invalid_field_entry("send_email", "'send_email' must be true or false."))
        link = customer_password_reset(
            store=request.store, customer=customer_get(store=request.store, ref=ref), send_email=send_email
        )
        body = customer_to_dict(link.customer)
        body["password_reset"] = {"url": link.url, "expires_at": link.expires_at.isoformat(), "emailed": link.emailed}
        return Response(body)


class CustomerTokenView(APIView):
    """A view under /api/me: customer tokens only."""

    authentication_classes = [CustomerTokenAuthentication]
    permission_classes = [HasCustomerToken]


class MeView(CustomerTokenView):
    @schema.me_get
    def get(self, request):
        return Response(me_to_dict(request.auth.customer))

    @schema.me_patch
    def patch(self, request):
        customer, addresses = me_update(customer=request.auth.customer, data=request.data)
        return Response(me_to_dict(customer, addresses))


class MePasswordView(CustomerTokenView):
    @schema.me_password
    def post(self, request):
        body = string_fields(request.data, ("current_password", "new_password"))
        token = customer_password_change(
            token=request.auth,
            current_password=body["current_password"],
            new_password=body["new_password"],
            ip=customer_ip(request.headers.get(CUSTOMER_IP_HEADER)),
        )
        return Response({"customer_access_token": token.token, "expires_at": token.expires_at.isoformat()})


class MeSignOutView(CustomerTokenView):
    @schema.me_sign_out
    def post(self, request):
        customer_token_revoke(token=request.auth)
        return Response(status=204)


class MeOrdersView(CustomerTokenView):
    @schema.me_orders
    def get(self, request):
        params = request.query_params
        check_query_params(params, {"limit", CURSOR_PARAM})
        customer = request.auth.customer
        page = paginate(
            customer_orders(store=request.auth.store, customer=customer),
            ordering=parse_ordering(None, ORDER_ORDERINGS, "-created_at"),
            limit=parse_limit(params.get("limit")),
            cursor=params.get(CURSOR_PARAM),
        )
        return page_response(request, "orders", page, [order_to_dict(order, customer.ref) for order in page.items])


class MeWishlistsView(CustomerTokenView):
    @schema.me_wishlists
    def get(self, request):
        params = request.query_params
        check_query_params(params, {"limit", CURSOR_PARAM})
        customer = request.auth.customer
        page = paginate(
            customer_wishlists(store=request.auth.store, customer=customer),
            ordering=WISHLIST_ORDERINGS["-created_at"],
            limit=parse_limit(params.get("limit")),
            cursor=params.get(CURSOR_PARAM),
        )
        items = [wishlist_to_dict(wishlist, customer.ref) for wishlist in page.items]
        return page_response(request, "wishlists", page, items)
