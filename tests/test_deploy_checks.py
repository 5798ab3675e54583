"""`manage.py check --deploy` refuses invite mail that would stay on the machine and account links
that are not the public HTTPS address (twc/checks.py)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

SMTP = "django.core.mail.backends.smtp.EmailBackend"
PUBLIC = "https://customers.example.com"


def deploy_check() -> str:
    out = StringIO()
    call_command("check", deploy=True, stdout=out, stderr=out)
    return out.getvalue()


def deploy_check_errors() -> str:
    with pytest.raises(SystemCheckError) as raised:
        deploy_check()
    return str(raised.value)


@override_settings(EMAIL_BACKEND=SMTP, PUBLIC_BASE_URL=PUBLIC)
def test_a_real_mail_server_and_public_https_links_pass():
    assert "twc." not in deploy_check()


@pytest.mark.parametrize("backend", ["console", "locmem", "filebased"])
def test_mail_kept_on_the_machine_is_an_error(backend):
    with override_settings(EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend", PUBLIC_BASE_URL=PUBLIC):
        errors = deploy_check_errors()
    assert "(twc.E001) EMAIL_BACKEND is" in errors and "live activation link" in errors
    assert "twc.E002" not in errors and "twc.E003" not in errors


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8000", "twc.E002"),  # the default
        ("http://customers.example.com", "twc.E002"),
        ("customers.example.com", "twc.E002"),
        ("https://", "twc.E002"),
        ("https://127.0.0.1:8443", "twc.E003"),
        ("https://localhost", "twc.E003"),
        ("https://app.localhost/", "twc.E003"),
        ("https://[::1]", "twc.E003"),
        ("https://0.0.0.0", "twc.E003"),
    ],
)
def test_links_that_customers_cannot_open_safely_are_an_error(url, code):
    with override_settings(EMAIL_BACKEND=SMTP, PUBLIC_BASE_URL=url):
        errors = deploy_check_errors()
    assert f"({code}) PUBLIC_BASE_URL {url!r}" in errors
    assert "twc.E001" not in errors


def test_the_checks_are_deploy_checks_only(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    out = StringIO()
    call_command("check", stdout=out)
    assert "twc." not in out.getvalue()
