"""Per-application scopes for django-oauth-toolkit.

A token request that names no scope gets every scope its application is granted; naming a scope
the application lacks is refused by DOT with `invalid_scope`.
"""

from typing import TYPE_CHECKING, Any

from oauth2_provider.scopes import SettingsScopes

if TYPE_CHECKING:
    from oauth2_provider.models import Application

    from tenants.models import StoreApplication


def granted_scopes(application: "Application | None") -> list[str]:
    link: StoreApplication | None = getattr(application, "store_link", None) if application is not None else None
    return link.scopes.split() if link is not None else []


class StoreApplicationScopes(SettingsScopes):
    def get_available_scopes(
        self, application: "Application | None" = None, request: object = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return granted_scopes(application)

    def get_default_scopes(
        self, application: "Application | None" = None, request: object = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return granted_scopes(application)
