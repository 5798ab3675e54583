from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import schema  # noqa: F401  (registers the OpenAPI security scheme)
        from tenants.token_cache import connect_signals

        connect_signals()
