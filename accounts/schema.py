"""OpenAPI of the accounts' endpoints: the customer-token scheme, the bodies, one decorator each."""

import copy
from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from customers.fields import CUSTOMER_SHOWN_FIELDS
from customers.phones import MAX_PHONE_INPUT_LENGTH
from customers.schema.fields import text
from customers.schema.inputs import AddressInputSerializer
from customers.schema.parameters import LIMIT, PAGE_INFO, REF_PARAMETER
from customers.schema.serializers import CustomerSerializer, OrderPageSerializer, WishlistSerializer
from customers.validation import MAX_ADDRESSES
from twc.api.schema import error_responses

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CustomerTokenAuthentication"
    name = "customerToken"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A customer access token from `/api/accounts/sign_in` or `/api/accounts/multipass`; "
            "accepted only under `/api/me`.",
        }


MeSerializer = type(
    "MeSerializer",
    (serializers.Serializer,),
    {
        **{name: copy.deepcopy(CustomerSerializer._declared_fields[name]) for name in CUSTOMER_SHOWN_FIELDS},  # type: ignore[attr-defined]
        "Meta": type("Meta", (), {"ref_name": "Me"}),
        "__doc__": "The customer as the customer may see it (no note, tags, multipass_identifier).",
    },
)


class SignedInSerializer(serializers.Serializer):
    customer = MeSerializer()
    customer_access_token = serializers.CharField(help_text="Bearer token for /api/me; shown once.")
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "SignedIn"


class NewTokenSerializer(serializers.Serializer):
    customer_access_token = serializers.CharField()
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CustomerAccessToken"


# accounts.api.string_fields: any string up to this length; a wrong one is InvalidCredentials.
MAX_CREDENTIAL_LENGTH = 4096


def credential(**kwargs) -> serializers.CharField:
    return serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_CREDENTIAL_LENGTH, **kwargs)


class SignInInputSerializer(serializers.Serializer):
    email = credential()
    password = credential()

    class Meta:
        ref_name = "SignInInput"


class MeInputSerializer(serializers.Serializer):
    first_name = text(255, required=False, allow_null=True)
    last_name = text(255, required=False, allow_null=True)
    phone = text(MAX_PHONE_INPUT_LENGTH, required=False, allow_null=True, help_text="Any dialable format.")
    accepts_marketing = serializers.BooleanField(required=False)
    marketing_opt_in_level = serializers.ChoiceField(
        choices=["single_opt_in", "confirmed_opt_in", "unknown"], required=False, allow_null=True
    )
    addresses = serializers.ListField(
        child=AddressInputSerializer(), required=False, allow_null=True, max_length=MAX_ADDRESSES
    )

    class Meta:
        ref_name = "MeInput"


class PasswordChangeInputSerializer(serializers.Serializer):
    current_password = credential()
    new_password = credential(help_text="Django's password validators decide (400 InvalidField naming it).")

    class Meta:
        ref_name = "PasswordChangeInput"


class WishlistPageSerializer(serializers.Serializer):
    wishlists = WishlistSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "WishlistPage"


CUSTOMER_IP = OpenApiParameter(
    "TWC-Customer-IP",
    {
        "anyOf": [
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"},
            {"type": "string", "maxLength": 0},
        ]
    },
    OpenApiParameter.HEADER,
    required=False,
    description="The shopper's address, as the storefront's server saw it: failures are also limited per address.",
)
PAGE_PARAMETERS = [LIMIT, PAGE_INFO]
FAILURES = (
    "Every failure (wrong password, unknown email, an account that is not enabled, a deleted customer) is the "
    "same `400 InvalidCredentials`. After 5 failures for one email within 15 minutes: `429` with `Retry-After` "
    "(one minute, doubling with each further failure up to an hour); a success resets it."
)

sign_in = extend_schema(
    operation_id="accounts_sign_in",
    summary="Sign a customer in with email and password",
    description="Scope `customers:sign_in`. " + FAILURES,
    request=SignInInputSerializer,
    parameters=[CUSTOMER_IP],
    responses={200: SignedInSerializer, **error_responses(400, 429)},
)
multipass = extend_schema(
    operation_id="accounts_multipass",
    summary="Sign a customer in with a Multipass token",
    description="Scope `customers:sign_in`. The token is Shopify's Multipass format (AES-128-CBC and "
    "HMAC-SHA256 keyed from the SHA-256 of the store's secret), valid 15 minutes after its `created_at` and "
    "once. `201` when it created the customer. 400 InvalidMultipassToken for a bad signature, a malformed, "
    "expired or replayed token, or a `remote_ip` other than `TWC-Customer-IP`; 400 InvalidCredentials for an "
    "account staff disabled; 409 InvalidOperation when Multipass is off for the store.",
    request=inline_serializer("MultipassInput", {"token": serializers.CharField()}),
    parameters=[CUSTOMER_IP],
    responses={200: SignedInSerializer, 201: SignedInSerializer, **error_responses(400, 409)},
)
me_get = extend_schema(
    operation_id="me_get",
    summary="The signed-in customer",
    responses={200: MeSerializer, **error_responses(401)},
)
me_patch = extend_schema(
    operation_id="me_update",
    summary="Change the signed-in customer's own fields",
    description="Only first_name, last_name, phone, accepts_marketing, marketing_opt_in_level and addresses; "
    "any other field is 400 InvalidField, even unchanged.",
    request=MeInputSerializer,
    responses={200: MeSerializer, **error_responses(400, 401, 409)},
)
me_password = extend_schema(
    operation_id="me_password",
    summary="Change the signed-in customer's password",
    description="A new token comes back; every other token of the customer is revoked. A wrong "
    "`current_password` is 400 InvalidCredentials and counts as a failed sign-in.",
    request=PasswordChangeInputSerializer,
    parameters=[CUSTOMER_IP],
    responses={200: NewTokenSerializer, **error_responses(400, 401, 429)},
)
me_orders = extend_schema(
    operation_id="me_orders",
    summary="The signed-in customer's orders, newest first",
    parameters=PAGE_PARAMETERS,
    responses={200: OrderPageSerializer, **error_responses(400, 401)},
)
me_wishlists = extend_schema(
    operation_id="me_wishlists",
    summary="The signed-in customer's wishlists, newest first",
    parameters=PAGE_PARAMETERS,
    responses={200: WishlistPageSerializer, **error_responses(400, 401)},
)
me_sign_out = extend_schema(
    operation_id="me_sign_out",
    summary="Sign out: revoke this customer token",
    request=None,
    responses={204: OpenApiResponse(description="Signed out."), **error_responses(400, 401, 413, 415)},
)
recover = extend_schema(
    operation_id="accounts_recover",
    summary="Send a password reset link",
    description='Scope `customers:sign_in`. Always `202 {"sent": true}`, whatever the email: a link valid 24 '
    "hours is mailed only when an enabled customer has the email, at most once per 15 minutes.",
    request=inline_serializer("RecoverInput", {"email": credential()}),
    responses={202: inline_serializer("RecoverSent", {"sent": serializers.BooleanField()}), **error_responses(400)},
)
send_password_reset = extend_schema(
    operation_id="customers_send_password_reset",
    summary="Send the customer a password reset link",
    description="Mails (unless `send_email` is false) a single-use link valid 24 hours; a newer link voids older "
    "ones. 409 InvalidOperation when the account is not enabled.",
    request=inline_serializer("SendPasswordResetInput", {"send_email": serializers.BooleanField(required=False)}),
    parameters=[REF_PARAMETER],
    responses={
        200: inline_serializer(
            "CustomerWithPasswordReset",
            {
                **copy.deepcopy(CustomerSerializer._declared_fields),  # type: ignore[attr-defined]
                "password_reset": inline_serializer(
                    "PasswordResetLink",
                    {
                        "url": serializers.URLField(),
                        "expires_at": serializers.DateTimeField(),
                        "emailed": serializers.BooleanField(),
                    },
                ),
            },
        ),
        **error_responses(400, 404, 409),
    },
)
multipass = extend_schema(
    operation_id="accounts_multipass",
    summary="Sign a customer in with a Multipass token",
    description="Scope `customers:sign_in`. Shopify's Multipass format (docs/accounts.md); 201 when it created "
    "the customer. 400 InvalidMultipassToken for a bad, expired or replayed token; 409 InvalidOperation when "
    "Multipass is off for the store.",
    request=inline_serializer("MultipassInput", {"token": credential()}),
    parameters=[CUSTOMER_IP],
    responses={200: SignedInSerializer, 201: SignedInSerializer, **error_responses(400, 409)},
)
