"""Fixtures: two stores in every test (so each endpoint has a neighbour to leak into), and API
clients holding real OAuth tokens obtained from POST /o/token/."""

from urllib.parse import urlencode

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tenants.services import store_application_create
from tests.factories import store_credentials_make


def post_form(client: APIClient, path: str, data: dict, **extra):
    """POST `data` form-encoded, as OAuth clients send token and revocation requests (RFC 6749
    section 4.4.2, RFC 7009 section 2.1); the test client's default format is JSON."""
    return client.post(path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra)


def fetch_token(client_id: str, client_secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope is not None:
        data["scope"] = scope
    response = post_form(APIClient(), "/o/token/", data)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def api_client(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def creds_a(db):
    return store_credentials_make(name="Store A", tenant_name="Tenant A", country="CA", currency="CAD")


@pytest.fixture
def creds_b(db):
    return store_credentials_make(name="Store B", tenant_name="Tenant B", country="US", currency="USD")


@pytest.fixture
def store_a(creds_a):
    return creds_a.store


@pytest.fixture
def store_b(creds_b):
    return creds_b.store


@pytest.fixture
def api_a(creds_a, creds_b):
    """Store A's client; store B exists beside it in every test."""
    return api_client(fetch_token(creds_a.client_id, creds_a.client_secret))


@pytest.fixture
def api_b(creds_b):
    return api_client(fetch_token(creds_b.client_id, creds_b.client_secret))


@pytest.fixture
def scoped_client(store_a):
    """A client of store A whose application is granted only the given scopes."""

    def client_with_scopes(scopes: str) -> APIClient:
        creds = store_application_create(store=store_a, scopes=scopes)
        return api_client(fetch_token(creds.client_id, creds.client_secret))

    return client_with_scopes


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
