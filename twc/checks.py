"""Deployment checks of the project's own settings (`manage.py check --deploy`).

Django's deploy checks cover HTTPS and cookies; these cover what reaches customers: invite mail
carries a live activation link, so it must leave through a real mail server, and its links must
point at the public HTTPS address. Registered by twc.api's AppConfig.
"""

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, register

# Backends that keep mail on this machine: the console (the process's log), memory, files.
LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.security, deploy=True)
def check_invite_mail(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    if settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS:
        return [
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: invite mails, each with a live activation link, "
                "would be written on this machine instead of sent.",
                hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST, EMAIL_PORT, "
                "EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS (docs/operations.md).",
                id="twc.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    url = settings.PUBLIC_BASE_URL
    parts = urlsplit(url)
    hint = "Set PUBLIC_BASE_URL to the service's public HTTPS address, e.g. https://customers.example.com."
    if parts.scheme != "https" or not parts.hostname:
        return [
            Error(
                f"PUBLIC_BASE_URL {url!r} is not an https:// address: account links would go out in clear.",
                hint=hint,
                id="twc.E002",
            )
        ]
    if _is_local(parts.hostname):
        return [
            Error(
                f"PUBLIC_BASE_URL {url!r} points at this machine: customers could not open account links.",
                hint=hint,
                id="twc.E003",
            )
        ]
    return []


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified or address.is_link_local
