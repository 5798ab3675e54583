"""Hardening: production settings pass `check --deploy`, HTTPS posture, no-store, request ids,
structured logs without personal data or secrets, health probes, 503 when the database is gone."""

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError

from tests.conftest import api_client, fetch_token, post_form
from twc.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def production_env(**extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "DEBUG", "EMAIL_", "PUBLIC_BASE_URL"))
    }
    env.update(DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="api.example.com")
    env.update(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", PUBLIC_BASE_URL="https://api.example.com")
    env.update(extra)
    return env


def test_production_settings_pass_the_deploy_security_checks():
    result = manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING", env=production_env())
    print(f"\ncheck --deploy (security, production env): exit {result.returncode}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_leave_no_deploy_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    ids = set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", result.stdout + result.stderr))
    print(f"\ncheck --deploy (all checks, production env): exit {result.returncode}, warnings {sorted(ids)}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ids == set(), result.stdout + result.stderr


def test_production_without_a_mail_server_or_public_url_fails_the_deploy_checks():
    env = production_env()
    del env["EMAIL_BACKEND"], env["PUBLIC_BASE_URL"]  # the defaults: console mail, http://127.0.0.1:8000 links
    result = manage("check", "--deploy", env=env)
    ids = sorted(set(re.findall(r"\((twc\.[WE]\d+)\)", result.stdout + result.stderr)))
    print(f"\ncheck --deploy (production env, default mail and links): exit {result.returncode}, errors {ids}")
    assert result.returncode == 1
    assert ids == ["twc.E001", "twc.E002"]


def test_production_refuses_the_development_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_ENV=production needs DEBUG off and its own DJANGO_SECRET_KEY" in result.stderr


def test_https_posture_redirects_the_api_but_not_the_health_probes(api_a, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    plain = api_a.get("/api/customers/c-1")
    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/api/customers/c-1")
    assert api_a.get("/healthz").status_code == 200
    secure = api_a.get("/api/customers/c-1", secure=True)
    assert secure.status_code == 404
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_customer_data_is_never_cached(api_a):
    created = api_a.post("/api/customers", {"id": "c-1", "email": "a@example.com"})
    responses = [
        created,
        api_a.get("/api/customers/c-1"),
        api_a.put("/api/customers", {"id": "c-1", "note": "n"}),
        api_a.post("/api/upload-customers", [{"email": "b@example.com"}]),
        api_a.get("/api/customers/missing"),
        api_a.generic("POST", "/api/customers", b"{}", content_type="application/json", CONTENT_LENGTH="999999999"),
        api_a.delete("/api/customers/c-1"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 404, 413, 200]
    assert [r["Cache-Control"] for r in responses] == ["no-store"] * len(responses)


def test_request_id_is_generated_echoed_or_replaced(api_a):
    generated = api_a.get("/api/customers/c-1")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert api_a.get("/api/customers/c-1", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-ID"] == "lb-1234.abc"
    replaced = api_a.get("/api/customers/c-1", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


@pytest.fixture
def json_log():
    """Everything logged during the test, as the production formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_logs_are_json_lines_without_emails_phones_or_tokens(creds_a, json_log, monkeypatch, store_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    client = api_client(token)
    email, phone = "Leak.Check@Example.com", "+1 613 555 0199"
    body = {"id": "leak-1", "email": email, "phone": phone}
    assert client.post("/api/customers", body, HTTP_X_REQUEST_ID="req-1").status_code == 201
    assert client.post("/api/customers", body | {"id": "leak-2"}).status_code == 409
    assert client.get(f"/api/customers/{email}").status_code == 404
    assert client.get("/api/customers/6135550199").status_code == 404
    assert api_client("not-" + token).get("/api/customers/leak-1").status_code == 401
    token_request = {"grant_type": "client_credentials", "client_secret": "s3cr3t"}
    assert post_form(client, "/o/token/", token_request).status_code == 401

    def explode(**kwargs):
        raise RuntimeError(f"boom for {email} / +16135550199 / {phone} with Bearer {token} and token={token}")

    monkeypatch.setattr("customers.api.services.customer_create", explode)
    crashed = client.post("/api/customers", body, HTTP_X_REQUEST_ID="req-crash")
    assert crashed.status_code == 500

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["logger"] == "twc.request"]
    first = next(line for line in requests if line["request_id"] == "req-1")
    assert {key: first[key] for key in ("store", "method", "path", "status")} == {
        "store": store_a.pk,
        "method": "POST",
        "path": "/api/customers",
        "status": 201,
    }
    assert isinstance(first["duration_ms"], float)
    assert [line["status"] for line in requests if line["path"] == "/api/customers/{ref}"] == [404, 404, 401]
    crash = next(line for line in lines if "exc" in line)
    assert crash["request_id"] == "req-crash" and "RuntimeError" in crash["exc"]
    print(f"\nlogs: {len(lines)} JSON lines, {len(requests)} request lines, 0 emails, phones or tokens")
    lowered = text.lower()
    for secret in (email.lower(), "+16135550199", "613 555 0199", "6135550199", token.lower(), "s3cr3t"):
        assert secret not in lowered


def test_healthz_answers_without_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_the_database(db, client):
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready", "database": "ok"})


def test_probes_answer_head_and_live_only_at_the_root(db, client):
    assert client.head("/healthz").status_code == client.head("/readyz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.get("/o/healthz").status_code == client.get("/o/readyz").status_code == 404


def database_down(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def assert_service_unavailable(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "statusCode": 503,
        "message": "The database cannot be reached; retry later.",
        "errors": [{"code": "ServiceUnavailable", "message": "The database cannot be reached; retry later."}],
    }


def test_readyz_is_503_in_shape_when_the_database_is_gone(db, client, monkeypatch):
    class UnreachableDatabase:
        cursor = staticmethod(database_down)

    monkeypatch.setattr("twc.health.connection", UnreachableDatabase())
    assert_service_unavailable(client.get("/readyz"))


def test_authentication_without_database_is_503_not_500(api_a, monkeypatch):
    monkeypatch.setattr("tenants.authentication.AccessToken.objects.select_related", database_down)
    assert_service_unavailable(api_a.get("/api/customers/c-1"))


def test_token_endpoint_without_database_is_503_not_500(creds_a, monkeypatch):
    monkeypatch.setattr("oauth2_provider.views.TokenView.post", database_down)
    response = post_form(
        api_client(None),
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
    )
    assert_service_unavailable(response)
