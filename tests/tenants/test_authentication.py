"""OAuth 2.0 client credentials, scopes and the store a token maps to."""

import base64
import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from tenants.models import StoreApplication
from tests.conftest import api_client, fetch_token, post_form
from tests.factories import customer_make


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["statusCode"] == 401
    assert body["errors"][0]["code"] == "InvalidToken"


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_no_token_is_invalid_token(db, method):
    path = "/api/customers/x" if method in ("get", "delete") else "/api/customers"
    assert_invalid_token(getattr(APIClient(), method)(path))


def test_unknown_token(db):
    assert_invalid_token(api_client("not-a-token").get("/api/customers/x"))


def test_malformed_authorization_header(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic abc")
    assert_invalid_token(client.get("/api/customers/x"))
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    assert_invalid_token(client.get("/api/customers/x"))


def test_expired_token(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert_invalid_token(api_client(token).get("/api/customers/x"))


def test_revoked_token(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    response = post_form(
        APIClient(),
        "/o/revoke_token/",
        {"token": token, "client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
    )
    assert response.status_code == 200
    assert_invalid_token(api_client(token).get("/api/customers/x"))


def test_token_in_query_string_is_refused(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    assert_invalid_token(APIClient().get(f"/api/customers/x?access_token={token}"))


def test_token_is_stored_as_a_checksum_only(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    stored = AccessToken.objects.get()
    assert stored.token == ""
    assert token not in stored.token_checksum


def test_token_lives_one_hour(creds_a):
    fetch_token(creds_a.client_id, creds_a.client_secret)
    lifetime = AccessToken.objects.get().expires - timezone.now()
    assert dt.timedelta(minutes=59) < lifetime <= dt.timedelta(hours=1)


def test_token_without_scope_gets_all_granted_scopes(creds_a):
    response = post_form(
        APIClient(),
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
    )
    assert set(response.json()["scope"].split()) == {"customers:read", "customers:write", "customers:sign_in"}


def test_scope_the_application_lacks_is_invalid_scope(store_a):
    from tenants.services import store_application_create

    creds = store_application_create(store=store_a, scopes="customers:read")
    response = post_form(
        APIClient(),
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "customers:write",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_wrong_secret_gets_no_token(creds_a):
    response = post_form(
        APIClient(),
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds_a.client_id, "client_secret": "wrong"},
    )
    assert response.status_code == 401


def test_read_scope_cannot_write(scoped_client):
    reader = scoped_client("customers:read")
    response = reader.post("/api/customers", {"email": "a@x.com"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "InsufficientScope"
    assert reader.get("/api/customers/nope").status_code == 404
    assert reader.delete("/api/customers/nope").status_code == 403
    assert reader.put("/api/customers", {"id": "x"}).status_code == 403


def test_write_scope_cannot_read(scoped_client):
    writer = scoped_client("customers:write")
    assert writer.post("/api/customers", {"id": "c", "email": "a@x.com"}).status_code == 201
    response = writer.get("/api/customers/c")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "InsufficientScope"


def test_token_names_a_narrower_scope(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret, scope="customers:read")
    assert api_client(token).post("/api/customers", {"email": "a@x.com"}).status_code == 403


def test_a_token_acts_only_for_its_store(api_a, api_b, store_a, store_b):
    customer_make(store=store_a, id="same", email="a@x.com")
    customer_make(store=store_b, id="same", email="b@x.com")
    assert api_a.get("/api/customers/same").json()["email"] == "a@x.com"
    assert api_b.get("/api/customers/same").json()["email"] == "b@x.com"


def test_scopes_taken_from_the_application_bind_its_live_tokens(creds_a):
    client = api_client(fetch_token(creds_a.client_id, creds_a.client_secret))
    assert client.post("/api/customers", {"id": "c-1", "email": "a@x.com"}).status_code == 201
    link = StoreApplication.objects.get(application__client_id=creds_a.client_id)
    link.scopes = "customers:read"
    link.save()  # as the admin saves it (the token cache is emptied on save)
    response = client.post("/api/customers", {"id": "c-2", "email": "b@x.com"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "InsufficientScope"
    assert client.get("/api/customers/c-1").status_code == 200


@pytest.mark.parametrize(
    ("authorization", "query", "challenge"),
    [
        (None, "", 'Bearer realm="api"'),  # no token: the challenge names no error (RFC 6750 section 3.1)
        ("Basic abc", "", 'Bearer realm="api"'),  # another scheme is no bearer token either
        ("Bearer not-a-token", "", 'Bearer realm="api", error="invalid_token"'),
        ("Bearer a b", "", 'Bearer realm="api", error="invalid_request"'),
        (None, "?access_token=abc", 'Bearer realm="api", error="invalid_request"'),
    ],
)
def test_401_challenges_follow_rfc_6750(db, authorization, query, challenge):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.get(f"/api/customers/x{query}")
    assert_invalid_token(response)
    assert response["WWW-Authenticate"] == challenge


def test_an_expired_or_revoked_token_is_an_invalid_token_challenge(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    expired = api_client(token).get("/api/customers/x")
    assert expired["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    AccessToken.objects.all().delete()
    revoked = api_client(token).get("/api/customers/x")
    assert revoked["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_403_challenge_names_the_missing_scope(scoped_client):
    response = scoped_client("customers:read").post("/api/customers", {"email": "a@x.com"})
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope", scope="customers:write"'


def test_a_failed_client_authentication_is_challenged_with_basic(creds_a):
    by_body = post_form(
        APIClient(),
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds_a.client_id, "client_secret": "wrong"},
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{creds_a.client_id}:wrong".encode()).decode())
    by_basic = post_form(client, "/o/token/", {"grant_type": "client_credentials"})
    revoke = post_form(client, "/o/revoke_token/", {"token": "x"})
    introspect = post_form(client, "/o/introspect/", {"token": "x"})
    for response in (by_body, by_basic, revoke, introspect):
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
        assert response["WWW-Authenticate"] == 'Basic realm="oauth"'
