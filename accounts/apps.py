from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customers' accounts: sign-in, customer access tokens, password resets, Multipass."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from accounts import schema  # noqa: F401  (registers the customer-token security scheme)
        from accounts.cors import allow_store_origins

        check_request_enabled.connect(allow_store_origins, dispatch_uid="accounts.cors")
