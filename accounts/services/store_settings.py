"""The store's sign-in settings as its staff change them in the admin: Multipass and CORS origins."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import StoreAccountSettings
from accounts.services.multipass import store_multipass_set
from tenants.models import Store


def clean_origins(text: str) -> str:
    """One origin a line (scheme://host[:port], no path), normalised; ValidationError otherwise."""
    origins = []
    for line in text.splitlines():
        origin = line.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise ValidationError(f"{origin!r} is not an origin such as https://shop.example.com.")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return "\n".join(dict.fromkeys(origins))


@transaction.atomic
def store_account_settings_update(
    *, store: Store, multipass_enabled: bool, rotate_secret: bool, cors_allowed_origins: str
) -> StoreAccountSettings:
    settings = store_multipass_set(store=store, enabled=multipass_enabled, rotate=rotate_secret)
    settings.cors_allowed_origins = clean_origins(cors_allowed_origins)
    settings.save(update_fields=["cors_allowed_origins"])
    return settings
