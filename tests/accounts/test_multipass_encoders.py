"""Tokens from a third-party encoder, npm's multipassify (pinned in tests/js/package-lock.json),
sign in: the format is Shopify's, not only ours. Node and npm are needed: the test skips locally
without them and fails under CI (CI set), so a CI machine that lost node cannot pass silently."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.services.multipass import store_multipass_set
from customers.models import Customer

JS = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture(scope="module")
def multipassify() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "node and npm are needed to run npm's multipassify"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the third-party encoder)")
        pytest.skip(message)
    if not (JS / "node_modules" / "multipassify").is_dir():
        # `npm ci` installs exactly the lockfile's versions into tests/js/node_modules (gitignored).
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=300)
    return JS / "multipass_encode.js"


def encode_with_node(script: Path, secret: str, payload: str) -> str:
    command = ["node", str(script), secret, payload]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_multipassify_tokens_sign_in(api_a, store_a, multipassify):
    secret = store_multipass_set(store=store_a, enabled=True).multipass_secret
    payload = '{"email": "ann@shop.com", "identifier": "js-1", "first_name": "Ann", "tag_string": "js, vip"}'
    token = encode_with_node(multipassify, secret, payload)  # multipassify sets created_at itself
    assert token.endswith("=") or len(token) % 4 == 0  # multipassify keeps base64's padding

    response = api_a.post("/api/accounts/multipass", {"token": token})
    assert response.status_code == 201, response.content
    customer = Customer.objects.get(store=store_a)
    assert (customer.email, customer.multipass_identifier, customer.tags) == ("ann@shop.com", "js-1", "js, vip")
    replay = api_a.post("/api/accounts/multipass", {"token": token})
    assert replay.status_code == 400 and replay.json()["errors"][0]["code"] == "InvalidMultipassToken"

    again = api_a.post("/api/accounts/multipass", {"token": encode_with_node(multipassify, secret, payload)})
    assert again.status_code == 200 and again.json()["customer"]["id"] == customer.ref
    wrong = api_a.post("/api/accounts/multipass", {"token": encode_with_node(multipassify, "other", payload)})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "InvalidMultipassToken"
