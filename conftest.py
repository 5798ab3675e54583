"""Root conftest: settings every test run needs."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Checking a PBKDF2-hashed client secret costs ~0.2 s of CPU per token request.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
