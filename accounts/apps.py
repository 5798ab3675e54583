from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customers' accounts: sign-in, customer access tokens, password resets, Multipass."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
