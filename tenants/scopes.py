"""Per-application scopes for django-oauth-toolkit.

A token request that names no scope gets every scope its application is granted; naming a scope
the application lacks is refused by DOT with `invalid_scope`.
"""

from oauth2_provider.scopes import SettingsScopes


def granted_scopes(application) -> list[str]:
    link = getattr(application, "store_link", None) if application is not None else None
    return link.scopes.split() if link is not None else []


class StoreApplicationScopes(SettingsScopes):
    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return granted_scopes(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return granted_scopes(application)
