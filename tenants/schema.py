"""The OpenAPI description of store tokens: the OAuth client-credentials scheme and its scopes.

A drf-spectacular extension registers itself when its module is imported (tenants.apps does).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tenants.permissions import READ_SCOPE, WRITE_SCOPE


class StoreTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.StoreTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials of one store's application; send the token as "
            "`Authorization: Bearer <token>`.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/o/token/",
                    "scopes": {READ_SCOPE: "Read the store's customers", WRITE_SCOPE: "Create, update and delete"},
                }
            },
        }

    def get_security_requirement(self, auto_schema):
        scope = READ_SCOPE if auto_schema.method in ("GET", "HEAD", "OPTIONS") else WRITE_SCOPE
        return {self.name: [scope]}
