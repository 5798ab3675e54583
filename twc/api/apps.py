from django.apps import AppConfig


class ApiConfig(AppConfig):
    """What every endpoint shares; its models hold the API's cross-process state when Redis is not used."""

    name = "twc.api"
    label = "twc_api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from twc import checks  # noqa: F401  (registers the project's deploy checks)
        from twc.connection_health import connect_signals

        connect_signals()
