"""The OpenAPI schema: valid, no warnings, in step with the committed openapi.yaml, served with its
docs from our own server, and true to the responses the API really gives."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from tests.api.openapi import SCHEMA_FILE, assert_matches_schema, document


def generate_schema(tmp_path) -> str:
    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return target.read_text()


def test_schema_is_valid_without_warnings_and_matches_the_committed_copy(tmp_path):
    generated = generate_schema(tmp_path)  # --fail-on-warn and --validate raise on any warning or error
    assert generated == SCHEMA_FILE.read_text(), (
        "openapi.yaml is out of date: run `make schema` (python manage.py spectacular --validate "
        "--fail-on-warn --file openapi.yaml) and commit it"
    )


def test_schema_documents_every_endpoint_errors_and_security():
    doc = document()
    operations = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    assert operations >= {
        ("/api/customers", "get"),
        ("/api/customers", "post"),
        ("/api/customers", "put"),
        ("/api/customers/count", "get"),
        ("/api/customers/{ref}", "get"),
        ("/api/customers/{ref}", "put"),
        ("/api/customers/{ref}", "patch"),
        ("/api/customers/{ref}", "delete"),
        ("/api/customers/{ref}/orders", "get"),
        ("/api/upload-customers", "post"),
        ("/api/orders", "post"),
        ("/api/wishlists", "post"),
    }
    for path, methods in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in methods.items():
            statuses = set(operation["responses"])
            assert {"401", "403", "405", "429", "503"} <= statuses, (path, method)
            if method in ("post", "put", "patch"):
                assert {"400", "413", "415"} <= statuses, (path, method)
            if method == "post":
                assert {"409", "422"} <= statuses
                assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
            if "{ref}" in path:
                assert "404" in statuses
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if path.startswith("/api/me"):
                assert operation["security"] == [{"customerToken": []}]
                continue
            scope = "customers:read" if method == "get" else "customers:write"
            if path.startswith("/api/accounts/"):
                scope = "customers:sign_in"
            assert operation["security"] == [{"oauth2": [scope]}]
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/o/token/"
    assert set(flow["scopes"]) == {"customers:read", "customers:write", "customers:sign_in"}


def test_schema_and_docs_are_served_without_a_token(client: Client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert client.get("/api/schema/").status_code == 200


def test_docs_use_only_assets_from_our_own_server(client: Client, settings):
    settings.DEBUG = False
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    assert not re.search(r"https?://|//cdn", html)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset  # WhiteNoise serves them with DEBUG off
        assert b"".join(response.streaming_content if response.streaming else [response.content])


@pytest.mark.parametrize("shape", ["full", "fields"])
def test_real_responses_match_the_schema(api_a, shape, client):
    def assert_documented(response, path, method, status):
        """The response has the status meant and the body the schema documents for it."""
        assert response.status_code == status, response.content  # the status meant, not any documented one
        assert_matches_schema(response, path, method)

    created = api_a.post(
        "/api/customers",
        {
            "id": "c-1",
            "email": "a@x.com",
            "phone": "613-555-0100",
            "tags": ["vip"],
            "accepts_marketing": True,
            "marketing_opt_in_level": "single_opt_in",
            "tax_exemptions": ["CA_STATUS_CARD_EXEMPTION"],
            "addresses": [{"city": "Ottawa", "default": True}],
        },
    )
    assert_documented(created, "/api/customers", "post", 201)
    order = api_a.post("/api/orders", {"name": "#1", "email": "a@x.com", "total_price": 9.5})
    assert_documented(order, "/api/orders", "post", 201)
    assert_documented(api_a.post("/api/wishlists", {"email": "a@x.com", "items": ["p"]}), "/api/wishlists", "post", 201)
    assert_documented(api_a.get("/api/customers/c-1"), "/api/customers/{ref}", "get", 200)
    query = "?fields=id,total_spent,default_address" if shape == "fields" else ""
    assert_documented(api_a.get(f"/api/customers{query}"), "/api/customers", "get", 200)
    assert_documented(api_a.get("/api/customers/count"), "/api/customers/count", "get", 200)
    assert_documented(api_a.get("/api/customers/c-1/orders"), "/api/customers/{ref}/orders", "get", 200)
    assert_documented(api_a.put("/api/customers", {"id": "c-1", "note": "n"}), "/api/customers", "put", 200)
    assert_documented(api_a.patch("/api/customers/c-1", {"note": "m"}), "/api/customers/{ref}", "patch", 200)
    assert_documented(api_a.put("/api/customers/c-1", {"note": "o"}), "/api/customers/{ref}", "put", 200)
    upload = api_a.post("/api/upload-customers", [{"email": "b@x.com"}, {"email": "a@x.com"}])
    assert_documented(upload, "/api/upload-customers", "post", 200)
    # errors
    assert_documented(api_a.get("/api/customers/nope"), "/api/customers/{ref}", "get", 404)
    assert_documented(api_a.post("/api/customers", {"email": "A@x.com"}), "/api/customers", "post", 409)
    assert_documented(api_a.get("/api/customers?limit=0"), "/api/customers", "get", 400)
    assert_documented(client.get("/api/customers"), "/api/customers", "get", 401)
    assert_documented(api_a.delete("/api/customers/c-1"), "/api/customers/{ref}", "delete", 200)
