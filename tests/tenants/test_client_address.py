"""The client's address behind a balancer (twc.client_address): what per-address limits key on."""

import pytest
from django.test import RequestFactory

from tests.api.test_ratelimit import token_request
from twc.client_address import client_address


def request_from(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "203.0.113.7", "10.0.0.2"),  # no trusted proxy: the header is the client's to forge
        (1, None, "10.0.0.2"),  # not through the balancer
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the client's own entry is ignored
        (2, "1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.2"),  # fewer hops than proxies: not through them all
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:DB8::1", "2001:db8::1"),
        (1, "9" * 10_000, "10.0.0.2"),
    ],
)
def test_the_address_is_the_one_the_outermost_trusted_proxy_saw(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(request_from("10.0.0.2", forwarded)) == expected


def test_behind_a_balancer_one_clients_failures_do_not_limit_another(creds_a, creds_b, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TOKEN_RATE_LIMIT_PER_SECOND = 0.001
    settings.TOKEN_RATE_LIMIT_BURST = 2
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    stranger = {**balancer, "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert token_request(creds_a, "wrong", **stranger).status_code == 401
    assert token_request(creds_b, "wrong", **stranger).status_code == 401
    assert token_request(creds_b, "wrong", **stranger).status_code == 429
    # another client behind the same balancer still has its own bucket
    other = {**balancer, "HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    assert token_request(creds_a, "wrong", **other).status_code == 401
