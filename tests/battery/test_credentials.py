"""Credentials under attack: the OAuth endpoints and the admin's login (contract, Part 2, Hardening).

- the token endpoint grants client_credentials only, refusing any other grant before any lookup or
  hash (oauthlib checked a password grant's password first: any store's client could test a staff
  password, `invalid_grant` when wrong, `unauthorized_client` when right);
- the limits on credentials count failures by the decoded client_id, never successes, and never
  refuse valid credentials: a stranger hammering a store's client_id cannot lock the store out;
- introspection and revocation are limited like the token endpoint and answer only for the
  caller's own tokens; tokens in a query string are refused everywhere;
- failed staff sign-ins are throttled per username and per address.

Each test prints its figure (`pytest -s tests/battery/test_credentials.py`); statuses and counts
decide, never timings.
"""

import base64
import datetime as dt
import threading
import time
from collections import Counter
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from tests.api.conftest import shared_state  # noqa: F401  (the fixture, run on the database and Redis)
from tests.battery.concurrency import run_concurrently
from tests.conftest import api_client, fetch_token, post_form
from tests.factories import user_make
from tests.hashing import count_hashes

pytestmark = pytest.mark.usefixtures("shared_state")

REAL_IP, STRANGER_IP = "192.0.2.10", "198.51.100.66"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def oauth_post(path: str, data: dict, *, authorization: str | None = None, ip: str = REAL_IP, query: str = ""):
    extra = {"REMOTE_ADDR": ip}
    if authorization:
        extra["HTTP_AUTHORIZATION"] = authorization
    return post_form(APIClient(), path + query, data, **extra)


def token_request(creds, secret: str | None = None, *, ip: str = REAL_IP, **data):
    body = {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret if secret is None else secret,
        **data,
    }
    return oauth_post("/o/token/", body, ip=ip)


def statuses(responses) -> dict[int, int]:
    return dict(sorted(Counter(response.status_code for response in responses).items()))


# --- The grant ------------------------------------------------------------------------------------
def test_a_password_grant_answers_alike_for_a_right_and_a_wrong_staff_password_without_hashing(creds_a, settings):
    user_make("root", superuser=True)  # password "pw"
    user_make("staff-a")
    hashes = count_hashes(settings)
    answers = []
    with CaptureQueriesContext(connection) as queries:
        for username, password in [("root", "pw"), ("root", "wrong"), ("staff-a", "pw"), ("nobody", "pw")]:
            for authorization in (None, basic(creds_a.client_id, creds_a.client_secret)):
                data = {"grant_type": "password", "username": username, "password": password}
                if authorization is None:
                    data.update(client_id=creds_a.client_id, client_secret=creds_a.client_secret)
                answers.append(oauth_post("/o/token/", data, authorization=authorization))
    bodies = {response.content for response in answers}
    print(
        f"\npassword grant, right and wrong staff passwords: {len(answers)} requests, statuses {statuses(answers)}, "
        f"{len(bodies)} distinct body, {sum(hashes.values())} hashes, {len(queries)} SQL statements"
    )
    assert {response.status_code for response in answers} == {400}
    assert len(bodies) == 1
    assert answers[0].json()["error"] == "unsupported_grant_type"
    assert sum(hashes.values()) == 0 and len(queries) == 0


GRANT_VARIANTS = {
    "password": {"grant_type": "password", "username": "root", "password": "pw"},
    "authorization_code": {"grant_type": "authorization_code", "code": "abc", "redirect_uri": "https://x.example"},
    "refresh_token": {"grant_type": "refresh_token", "refresh_token": "abc"},
    "device_code": {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "abc"},
    "jwt_bearer": {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"},
    "implicit": {"grant_type": "implicit"},
    "unknown": {"grant_type": "anything"},
    "upper case": {"grant_type": "CLIENT_CREDENTIALS"},
    "padded": {"grant_type": " client_credentials"},
    "empty": {"grant_type": ""},
    "missing": {},
}


def test_every_grant_but_client_credentials_is_unsupported_before_any_credential_is_read(creds_a, settings):
    hashes = count_hashes(settings)
    credentials = {"client_id": creds_a.client_id, "client_secret": creds_a.client_secret}
    answers = {}
    with CaptureQueriesContext(connection) as queries:
        for name, data in GRANT_VARIANTS.items():
            answers[name] = oauth_post("/o/token/", {**data, **credentials})
        client = APIClient(REMOTE_ADDR=REAL_IP)
        answers["repeated"] = client.post(
            "/o/token/",
            f"grant_type=client_credentials&grant_type=client_credentials&client_id={creds_a.client_id}",
            content_type="application/x-www-form-urlencoded",
        )
        answers["repeated, another"] = client.post(
            "/o/token/",
            "grant_type=client_credentials&grant_type=password",
            content_type="application/x-www-form-urlencoded",
        )
        answers["json body"] = client.post(
            "/o/token/", {"grant_type": "client_credentials", **credentials}, format="json"
        )
    print(
        f"\nother grants: {len(answers)} variants, statuses {statuses(answers.values())}, "
        f"{sum(hashes.values())} hashes, {len(queries)} SQL statements"
    )
    for name, response in answers.items():
        assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type"), name
    assert sum(hashes.values()) == 0 and len(queries) == 0
    assert token_request(creds_a).status_code == 200


# --- Failures are counted by the decoded client_id, successes never ----------------------------------
def spellings(client_id: str) -> list[str]:
    """The same id as a client may form-urlencode it (RFC 6749 section 2.3.1)."""
    every = "".join(f"%{ord(char):02X}" for char in client_id)
    return [client_id, every, every.lower(), client_id[:5] + quote(client_id[5:], safe="")]


def test_a_percent_encoded_client_id_counts_in_the_same_bucket(creds_a, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 4
    hashes = count_hashes(settings)
    names = spellings(creds_a.client_id)
    failures = [
        oauth_post("/o/token/", {"grant_type": "client_credentials"}, authorization=basic(n, "no")) for n in names
    ]
    assert [response.status_code for response in failures] == [401] * 4
    refused = [
        oauth_post("/o/token/", {"grant_type": "client_credentials"}, authorization=basic(name, "no")) for name in names
    ]
    refused.append(token_request(creds_a, "no"))  # the body's spelling too
    print(
        f"\n{len(names)} spellings of one client_id: {statuses(failures)} then {statuses(refused)}, "
        f"{hashes['verify']} hashes (one per counted failure)"
    )
    assert {response.status_code for response in refused} == {429}
    assert hashes["verify"] == 4
    # the encoded spelling authenticates as the client itself, and is never refused with its secret
    encoded = basic(names[1], creds_a.client_secret)
    assert oauth_post("/o/token/", {"grant_type": "client_credentials"}, authorization=encoded).status_code == 200


def test_successes_are_not_counted(creds_a, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 2
    settings.TOKEN_RATE_LIMIT_PER_SECOND, settings.TOKEN_RATE_LIMIT_BURST = 0.001, 2
    authorization = basic(creds_a.client_id, creds_a.client_secret)
    successes = [token_request(creds_a) for _ in range(10)]
    successes += [
        oauth_post("/o/token/", {"grant_type": "client_credentials"}, authorization=authorization) for _ in range(5)
    ]
    failures = [token_request(creds_a, "wrong") for _ in range(3)]
    print(f"\nsuccesses then failures with a burst of 2: {statuses(successes)} then {statuses(failures)}")
    assert {response.status_code for response in successes} == {200}
    assert [response.status_code for response in failures] == [401, 401, 429]


@pytest.mark.parametrize("where", ["one address", "many addresses", "the client's own address"])
def test_a_stranger_hammering_a_store_client_id_cannot_stop_the_real_client(where, creds_a, creds_b, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 10
    settings.TOKEN_RATE_LIMIT_PER_SECOND, settings.TOKEN_RATE_LIMIT_BURST = 0.001, 40
    settings.TOKEN_GLOBAL_RATE_LIMIT_PER_SECOND, settings.TOKEN_GLOBAL_RATE_LIMIT_BURST = 0.001, 60
    hashes = count_hashes(settings)
    stranger, real = [], []
    for number in range(80):
        ip = {"one address": STRANGER_IP, "many addresses": f"10.66.0.{number}"}.get(where, REAL_IP)
        stranger.append(token_request(creds_a, f"guess-{number}", ip=ip))
        if number % 8 == 0:
            real.append(token_request(creds_a))
    guess_hashes = hashes["verify"] - len(real)
    got = sum(response.status_code == 200 for response in real)
    other_store = token_request(creds_b)
    print(
        f"\nstranger on {where}: {len(stranger)} requests for store A's client_id, statuses {statuses(stranger)}, "
        f"{guess_hashes} hashes of its guesses; the real client got {got} of {len(real)} tokens"
    )
    assert got == len(real)
    assert {response.status_code for response in stranger} == {401, 429}
    assert guess_hashes <= 10  # its guesses cost a hash only while the client's budget lasted
    assert other_store.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_strangers_cannot_stop_the_real_client(creds_a, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 10
    hashes = count_hashes(settings)
    done = threading.Event()

    def act(index):
        if index == 0:  # the store's own client, a token now and then
            try:
                return [token_request(creds_a) for _ in range(10)]
            finally:
                done.set()
        sent = []
        while not done.is_set():
            sent.append(token_request(creds_a, f"guess-{index}-{len(sent)}", ip=f"10.88.0.{index}"))
        return sent

    started = time.monotonic()
    real, *strangers = run_concurrently(5, act)
    elapsed = time.monotonic() - started
    stranger = [response for sent in strangers for response in sent]
    print(
        f"\n4 concurrent strangers ({connection.vendor}): {len(stranger)} requests in {elapsed:.1f} s "
        f"({len(stranger) / elapsed:.0f}/s), statuses {statuses(stranger)}, {hashes['verify'] - len(real)} hashes of "
        f"their guesses; the real client got {sum(r.status_code == 200 for r in real)} of {len(real)} tokens"
    )
    assert [response.status_code for response in real] == [200] * 10
    assert set(statuses(stranger)) <= {401, 429}
    assert hashes["verify"] - len(real) <= 10


def test_strangers_on_many_addresses_against_many_stores_are_bounded_by_the_service_wide_budget(db, settings):
    from tests.factories import store_credentials_make

    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 10
    settings.TOKEN_GLOBAL_RATE_LIMIT_PER_SECOND, settings.TOKEN_GLOBAL_RATE_LIMIT_BURST = 0.001, 20
    stores = [store_credentials_make() for _ in range(5)]
    hashes = count_hashes(settings)
    stranger = [token_request(stores[number % 5], f"guess-{number}", ip=f"10.77.0.{number}") for number in range(100)]
    guess_hashes = hashes["verify"]
    real = [token_request(creds) for creds in stores for _ in range(2)]
    print(
        f"\nstrangers on 100 addresses against 5 stores: statuses {statuses(stranger)}, {guess_hashes} hashes "
        f"(the service-wide budget is 20); the stores' clients got {statuses(real)}"
    )
    assert guess_hashes == 20
    assert statuses(stranger) == {401: 20, 429: 80}
    assert {response.status_code for response in real} == {200}


def test_a_store_whose_fingerprint_predates_the_attack_is_recognised_at_its_first_success(creds_a, settings):
    from tenants.models import StoreApplication

    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 3
    StoreApplication.objects.update(secret_fingerprint="")  # as for an application made before fingerprints
    assert token_request(creds_a).status_code == 200  # renews it
    assert StoreApplication.objects.get(application__client_id=creds_a.client_id).secret_fingerprint
    for number in range(5):
        token_request(creds_a, f"guess-{number}", ip=STRANGER_IP)
    assert token_request(creds_a, "guess", ip=STRANGER_IP).status_code == 429
    assert token_request(creds_a).status_code == 200


# --- Introspection and revocation --------------------------------------------------------------------
def introspect(token: str, creds, **extra):
    return oauth_post(
        "/o/introspect/", {"token": token}, authorization=basic(creds.client_id, creds.client_secret), **extra
    )


def test_introspection_answers_only_for_the_callers_own_tokens(creds_a, creds_b):
    token_a = fetch_token(creds_a.client_id, creds_a.client_secret)
    token_b = fetch_token(creds_b.client_id, creds_b.client_secret)
    own = introspect(token_a, creds_a)
    assert own.status_code == 200
    assert own.json()["active"] is True and own.json()["client_id"] == creds_a.client_id
    assert set(own.json()["scope"].split()) == {"customers:read", "customers:write", "customers:sign_in"}
    answers = {
        "another app's live token": introspect(token_a, creds_b),
        "another app's, by body credentials": oauth_post(
            "/o/introspect/",
            {"token": token_b, "client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
        ),
        "an unknown token": introspect("no-such-token", creds_a),
    }
    AccessToken.objects.filter(application__client_id=creds_b.client_id).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )
    answers["its own expired token"] = introspect(token_b, creds_b)
    bodies = sorted({response.content for response in answers.values()})
    print(f"\nintrospection: own token active; {len(answers)} other cases, bodies {bodies}")
    for name, response in answers.items():
        assert (response.status_code, response.json()) == (200, {"active": False}), name
    # by a bearer token instead of client credentials, by GET, or with the token in the URL: refused
    bearer = oauth_post("/o/introspect/", {"token": token_a}, authorization=f"Bearer {token_a}")
    assert (bearer.status_code, bearer.json()["error"], bearer["WWW-Authenticate"]) == (
        401,
        "invalid_client",
        'Basic realm="oauth"',
    )
    assert APIClient().get("/o/introspect/").status_code == 405
    assert APIClient().get(f"/o/introspect/?token={token_a}").json()["error"] == "invalid_request"


def test_revocation_is_of_the_callers_own_tokens_only(creds_a, creds_b):
    token_a = fetch_token(creds_a.client_id, creds_a.client_secret)
    by_b = oauth_post(
        "/o/revoke_token/", {"token": token_a}, authorization=basic(creds_b.client_id, creds_b.client_secret)
    )
    assert by_b.status_code == 200  # RFC 7009: the same answer, and nothing revoked
    assert api_client(token_a).get("/api/customers").status_code == 200
    by_a = oauth_post(
        "/o/revoke_token/", {"token": token_a}, authorization=basic(creds_a.client_id, creds_a.client_secret)
    )
    assert by_a.status_code == 200
    assert api_client(token_a).get("/api/customers").status_code == 401


def test_revoke_and_introspect_are_limited_like_the_token_endpoint(creds_a, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 0.001, 3
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    hashes = count_hashes(settings)
    wrong = basic(creds_a.client_id, "wrong")
    paths = ["/o/introspect/", "/o/revoke_token/", "/o/token/"]
    data = {"token": token, "grant_type": "client_credentials"}
    failures = [oauth_post(path, data, authorization=wrong, ip=STRANGER_IP) for path in paths]
    refused = [oauth_post(path, data, authorization=wrong, ip=STRANGER_IP) for path in paths * 10]
    right = basic(creds_a.client_id, creds_a.client_secret)
    allowed = [
        oauth_post(path, {"token": "other", "grant_type": "client_credentials"}, authorization=right) for path in paths
    ]
    print(
        f"\nrevoke, introspect, token share one failure budget of 3: {statuses(failures)} then {statuses(refused)}, "
        f"{hashes['verify'] - len(allowed)} hashes of the {len(failures) + len(refused)} failures; "
        f"valid credentials {statuses(allowed)}"
    )
    assert [response.status_code for response in failures] == [401, 401, 401]
    assert {response.status_code for response in refused} == {429}
    assert all(response["Retry-After"] for response in refused)
    assert [response.status_code for response in allowed] == [200, 200, 200]
    assert hashes["verify"] - len(allowed) == 3


def test_tokens_in_a_query_string_are_refused_everywhere(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    client = APIClient()
    api = {
        "GET ?access_token=": client.get(f"/api/customers?access_token={token}"),
        "GET one ?access_token=": client.get(f"/api/customers/x?access_token={token}"),
        "with a header too": api_client(token).get(f"/api/customers?access_token={token}"),
        "POST ?access_token=": client.post(f"/api/customers?access_token={token}", {"email": "a@x.com"}),
        "a form body's access_token": post_form(client, "/api/customers", {"access_token": token}),
    }
    oauth = {
        "token ?client_secret=": oauth_post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_id": creds_a.client_id},
            query=f"?client_secret={creds_a.client_secret}",
        ),
        "token ?client_id=": oauth_post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_secret": creds_a.client_secret},
            query=f"?client_id={creds_a.client_id}",
        ),
        "revoke ?token=": oauth_post(
            "/o/revoke_token/",
            {"client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
            query=f"?token={token}",
        ),
        "introspect ?token=": oauth_post(
            "/o/introspect/",
            {"client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
            query=f"?token={token}",
        ),
    }
    print(f"\ntokens in query strings: /api/ {statuses(api.values())}, /o/ {statuses(oauth.values())}")
    for name, response in api.items():
        assert response.status_code == 401 and response.json()["errors"][0]["code"] == "InvalidToken", name
    assert api["GET ?access_token="]["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_request"'
    for name, response in oauth.items():
        assert (response.status_code, response.json()["error"]) == (400, "invalid_request"), name
    assert api_client(token).get("/api/customers").status_code == 200  # still valid: nothing was revoked


def test_hash_work_is_bounded_in_each_process(creds_a, settings):
    from tenants.oauth_validator import _semaphore

    settings.OAUTH_HASH_CONCURRENCY, settings.OAUTH_HASH_WAIT_SECONDS = 1, 0.05
    slot = _semaphore()
    assert slot.acquire(timeout=1)  # another request is checking a secret
    try:
        busy = token_request(creds_a)
    finally:
        slot.release()
    print(f"\nhash slots full: {busy.status_code} {busy.json()['error']}, Retry-After {busy['Retry-After']}")
    assert (busy.status_code, busy.json()["error"]) == (503, "temporarily_unavailable")
    assert token_request(creds_a).status_code == 200


# --- The admin's login ------------------------------------------------------------------------------
def admin_sign_in(username: str, password: str, *, ip: str = REAL_IP):
    return Client(REMOTE_ADDR=ip).post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_failed_staff_sign_ins_are_throttled_per_username_and_per_address(db, settings):
    settings.ADMIN_LOGIN_USER_FAILURES_BURST, settings.ADMIN_LOGIN_IP_FAILURES_BURST = 5, 8
    user_make("root", superuser=True)
    user_make("staff-a")
    hashes = count_hashes(settings)
    guesses = [admin_sign_in("root", f"guess-{n}", ip=f"10.1.0.{n}") for n in range(5)]
    throttled = [admin_sign_in("root", f"guess-{n}", ip=f"10.1.0.{n}") for n in range(5, 20)]
    hashes_of_guesses = hashes["verify"]
    with_the_password = admin_sign_in("Root".lower(), "pw", ip="10.1.0.99")
    print(
        f"\nadmin sign-in, one username from 20 addresses: {statuses(guesses)} then {statuses(throttled)}, "
        f"{hashes_of_guesses} hashes; with the password while throttled: {with_the_password.status_code}"
    )
    assert {response.status_code for response in guesses} == {200}  # the login form again, with its error
    assert {response.status_code for response in throttled} == {429}
    assert hashes_of_guesses == 5
    assert "Too many failed sign-ins" in throttled[0].content.decode()
    assert int(throttled[0]["Retry-After"]) >= 1
    assert with_the_password.status_code == 429
    # another username is not throttled, and signs in; then one address trying many usernames is
    assert admin_sign_in("staff-a", "pw", ip="10.1.0.1").status_code == 302
    spraying = [admin_sign_in(f"user-{n}", "pw", ip=STRANGER_IP) for n in range(12)]
    print(f"admin sign-in, one address trying 12 usernames: {statuses(spraying)}")
    assert statuses(spraying) == {200: 8, 429: 4}


def test_successful_staff_sign_ins_are_not_counted(db, settings):
    settings.ADMIN_LOGIN_USER_FAILURES_BURST = 2
    user_make("root", superuser=True)
    assert {admin_sign_in("root", "pw").status_code for _ in range(6)} == {302}
    assert [admin_sign_in("root", "no").status_code for _ in range(3)] == [200, 200, 429]
