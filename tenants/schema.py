"""The OpenAPI description of store tokens: the OAuth client-credentials scheme and its scopes.

A drf-spectacular extension registers itself when its module is imported (tenants.apps does).
"""

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tenants.permissions import READ_SCOPE, SIGN_IN_SCOPE, WRITE_SCOPE

if TYPE_CHECKING:  # drf_spectacular.openapi imports DRF's views, which load the permission classes
    from drf_spectacular.openapi import AutoSchema


class StoreTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.StoreTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials of one store's application; send the token as "
            "`Authorization: Bearer <token>`.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/o/token/",
                    "scopes": {
                        READ_SCOPE: "Read the store's customers",
                        WRITE_SCOPE: "Create, update and delete",
                        SIGN_IN_SCOPE: "Sign customers in and send them password resets",
                    },
                }
            },
        }

    def get_security_requirement(self, auto_schema: "AutoSchema") -> dict[str, list[Any]]:
        scope = getattr(auto_schema.view, "required_scope", None) or (
            READ_SCOPE if auto_schema.method in ("GET", "HEAD", "OPTIONS") else WRITE_SCOPE
        )
        return {self.name: [scope]}
