"""The customer endpoints of the contract: thin views over services and selectors."""

from rest_framework.response import Response
from rest_framework.views import APIView

from customers import services
from customers.errors import FieldError, ValidationFailed
from customers.representation import (
    customer_to_dict,
    deleted_customer_to_dict,
    order_to_dict,
    wishlist_to_dict,
)
from customers.selectors import customer_get
from customers.services.bulk import customers_upload
from customers.services.lifecycle import customer_invite


def customer_response(customer, addresses=None, status=200) -> Response:
    body = customer_to_dict(customer, addresses)
    return Response(body, status=status, headers={"ETag": f'"{customer.version}"'})


class CustomerCollectionView(APIView):
    """POST /api/customers (create) and PUT /api/customers (update the customer the body names)."""

    def post(self, request):
        customer, addresses = services.customer_create(store=request.store, data=request.data)
        return customer_response(customer, addresses, status=201)

    def put(self, request):
        customer, addresses = services.customer_update(
            store=request.store, data=request.data, if_match=request.headers.get("If-Match")
        )
        return customer_response(customer, addresses)


class CustomerDetailView(APIView):
    """GET /api/customers/{customerRef} and DELETE /api/customers/{id}."""

    def get(self, request, ref):
        return customer_response(customer_get(store=request.store, ref=ref))

    def delete(self, request, ref):
        customer = services.customer_soft_delete(store=request.store, ref=ref)
        return Response(deleted_customer_to_dict(customer))


class UploadCustomersView(APIView):
    """POST /api/upload-customers[?on_conflict=error|skip|update]: many customers, one result per item."""

    def post(self, request):
        data = request.data
        if isinstance(data, dict) and set(data) == {"customers"}:
            data = data["customers"]
        if not isinstance(data, list):
            raise ValidationFailed(
                FieldError("InvalidJsonInput", 'The body must be a JSON array of customers or {"customers": [...]}.')
            )
        on_conflict = request.query_params.get("on_conflict", "error")
        report = customers_upload(store=request.store, items=data, on_conflict=on_conflict)
        return Response(report)


class OrderCreateView(APIView):
    def post(self, request):
        order, customer = services.order_create(store=request.store, data=request.data)
        return Response(order_to_dict(order, customer.ref if customer else None), status=201)


class WishlistCreateView(APIView):
    def post(self, request):
        wishlist, customer = services.wishlist_create(store=request.store, data=request.data)
        return Response(wishlist_to_dict(wishlist, customer.ref if customer else None), status=201)


class CustomerSendInviteView(APIView):
    """POST /api/customers/{id}/send_invite: invite the customer to activate their account.

    Optional body {"send_email": false} when the store's systems send the email themselves; the
    response is the customer with "invite": {"url", "expires_at"} beside its fields.
    """

    def post(self, request, ref):
        data = request.data if request.data not in (None, "") else {}
        if not isinstance(data, dict):
            raise ValidationFailed(FieldError("InvalidJsonInput", "The body must be a JSON object."))
        unknown = [key for key in data if key != "send_email"]
        if unknown:
            raise ValidationFailed(
                FieldError("InvalidField", f"Unknown field '{str(unknown[0])[:100]}'.", field=str(unknown[0])[:100])
            )
        send_email = data.get("send_email", True)
        if not isinstance(send_email, bool):
            raise ValidationFailed(
                FieldError("InvalidField", "'send_email' must be true or false.", field="send_email")
            )
        invite = customer_invite(
            store=request.store, customer=customer_get(store=request.store, ref=ref), send_email=send_email
        )
        body = customer_to_dict(invite.customer)
        body["invite"] = {"url": invite.url, "expires_at": invite.expires_at.isoformat(), "emailed": invite.emailed}
        return Response(body, headers={"ETag": f'"{invite.customer.version}"'})
