"""Every error comes in the contract's shape with the right code, never as HTML or a 5xx."""

import pytest

from customers.models import Customer


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status
    assert body["message"]
    assert code in [e["code"] for e in body["errors"]]
    return body


def test_broken_json(api_a):
    assert_error(api_a.post("/api/customers", '{"email": ', content_type="application/json"), 400, "InvalidJsonInput")


def test_json_of_the_wrong_type(api_a):
    assert_error(api_a.post("/api/customers", "[1, 2]", content_type="application/json"), 400, "InvalidJsonInput")


def test_empty_body(api_a):
    assert_error(api_a.post("/api/customers", "", content_type="application/json"), 400, "RequiredField")


def test_duplicate_keys(api_a):
    body = '{"email": "a@x.com", "email": "b@x.com"}'
    assert_error(api_a.post("/api/customers", body, content_type="application/json"), 400, "InvalidJsonInput")
    assert not Customer.objects.exists()


def test_deeply_nested_json(api_a):
    body = "[" * 100_000 + "]" * 100_000
    assert_error(api_a.post("/api/customers", body, content_type="application/json"), 400, "InvalidJsonInput")


def test_invalid_utf8(api_a):
    assert_error(
        api_a.post("/api/customers", b'{"email": "\xff\xfe"}', content_type="application/json"), 400, "InvalidJsonInput"
    )


def test_nan_is_not_json(api_a):
    body = '{"email": "a@x.com", "note": NaN}'
    assert_error(api_a.post("/api/customers", body, content_type="application/json"), 400, "InvalidJsonInput")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type(api_a, content_type):
    assert_error(api_a.post("/api/customers", "email=a", content_type=content_type), 415, "UnsupportedMediaType")


def test_oversized_body(api_a, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = '{"note": "' + "x" * 2000 + '"}'
    assert_error(api_a.post("/api/customers", body, content_type="application/json"), 413, "PayloadTooLarge")


@pytest.mark.parametrize(
    "method,path",
    [
        ("patch", "/api/customers"),
        ("delete", "/api/customers"),
        ("get", "/api/upload-customers"),
        ("put", "/api/upload-customers"),
        ("post", "/api/customers/c-1"),
    ],
)
def test_wrong_method(api_a, method, path):
    assert_error(getattr(api_a, method)(path), 405, "MethodNotAllowed")


@pytest.mark.parametrize("path", ["/api/nothing", "/api/", "/api", "/api/customers-x/1"])
def test_unknown_api_path(api_a, path):
    assert_error(api_a.get(path), 404, "ResourceNotFound")


def test_unknown_api_path_without_token_is_still_json(db):
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/nothing"), 404, "ResourceNotFound")


def test_trailing_slash_is_accepted(api_a):
    assert api_a.post("/api/customers/", {"email": "a@x.com"}).status_code == 201
