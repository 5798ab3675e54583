"""Root conftest: settings every test run needs."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Checking a PBKDF2-hashed client secret costs ~0.2 s of CPU per token request.
    # The real hashers stay behind it, so imported hashes (bcrypt, Argon2, ...) still verify.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _empty_token_cache():
    # Each test starts with no cached token and no spare rate-limit tokens, as a fresh server
    # process would.
    from tenants.token_cache import token_cache
    from twc.api.ratelimit import local_allotments

    token_cache.clear()
    local_allotments.clear()
    yield
    token_cache.clear()
    local_allotments.clear()
