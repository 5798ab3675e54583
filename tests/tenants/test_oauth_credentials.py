"""Reading client credentials (RFC 6749 section 2.3.1): one reading for authentication and limits."""

import base64

import pytest

from tenants.oauth_credentials import ClientCredentials, client_credentials, decode_basic


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic(b"abc:s3cret"), ClientCredentials("abc", "s3cret", "basic")),
        # form-urlencoded before base64: %XX and + are decoded, in either case of hex
        (basic(b"%61%62%63:s%3Acr+et"), ClientCredentials("abc", "s:cr et", "basic")),
        (basic(b"%61%62%63:x"), ClientCredentials("abc", "x", "basic")),
        (basic("é:x".encode()), ClientCredentials("é", "x", "basic")),
        ("basic " + base64.b64encode(b"abc:x").decode(), ClientCredentials("abc", "x", "basic")),
        ("BASIC " + base64.b64encode(b"abc:x").decode().rstrip("="), ClientCredentials("abc", "x", "basic")),
        (basic(b"abc:"), ClientCredentials("abc", "", "basic")),
        # unreadable: no colon, not base64, not UTF-8, a %-escape that is not UTF-8
        (basic(b"abc"), ClientCredentials(None, "", "basic")),
        ("Basic !!!not-base64!!!", ClientCredentials(None, "", "basic")),
        (basic(b"\xff\xfe:x"), ClientCredentials(None, "", "basic")),
        (basic(b"%ff:x"), ClientCredentials(None, "", "basic")),
        ("Basic", ClientCredentials(None, "", "basic")),
    ],
)
def test_basic_credentials_are_decoded_as_the_rfc_says(header, expected):
    assert client_credentials(authorization=header, client_id="body-id", client_secret="body-secret") == expected


def test_without_basic_the_body_is_read_and_with_it_never():
    assert client_credentials(authorization=None, client_id="abc", client_secret="s") == ClientCredentials(
        "abc", "s", "body"
    )
    assert client_credentials(authorization="Bearer xyz", client_id="abc", client_secret=None).secret == ""
    assert client_credentials(authorization=None, client_id=None, client_secret="s") == ClientCredentials(None)


def test_bucket_keys_are_bounded_and_plain_ids_stay_readable():
    assert ClientCredentials("AbC123-_.~", "s").bucket_id == "AbC123-_.~"
    for odd in ("x" * 10_000, "a b", "a\x00b", "é", "a:b", "\ud800"):
        key = ClientCredentials(odd, "s").bucket_id
        assert key.startswith("sha256:") and len(key) == 47
    assert ClientCredentials("x" * 10_000, "s").bucket_id != ClientCredentials("x" * 10_001, "s").bucket_id
    assert ClientCredentials(None).bucket_id is None


def test_values_no_client_has_are_not_worth_a_lookup():
    assert ClientCredentials("abc", "s").usable
    assert not ClientCredentials("abc", "").usable
    assert not ClientCredentials("x" * 101, "s").usable
    assert not ClientCredentials("abc", "s" * 513).usable
    assert not ClientCredentials(None).usable


def test_a_huge_basic_header_is_read_in_linear_time():
    credentials = decode_basic(base64.b64encode(b"%41" * 100_000 + b":" + b"s" * 100_000).decode())
    assert credentials.client_id == "A" * 100_000 and not credentials.usable
