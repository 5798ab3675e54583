"""The API's cross-process state runs on the database or on Redis: tests run on both."""

import os
import uuid

import pytest
import redis

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def require_redis() -> None:
    """Skip without Redis locally; under CI (CI set), where .ci/run starts Redis, fail instead."""
    if redis_reachable():
        return
    message = f"Redis is not reachable at {TEST_REDIS_URL}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the Redis variants)")
    pytest.skip(message)


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def shared_state(request, settings):
    """Run the test with the database's state, then with Redis's (a key prefix of its own)."""
    # These tests are about the limits: on with the defaults, whatever the environment says.
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_PER_SECOND, settings.RATE_LIMIT_BURST = 100.0, 1000
    if request.param == "redis":
        require_redis()
        settings.REDIS_URL = TEST_REDIS_URL
        settings.REDIS_KEY_PREFIX = f"twc-test:{uuid.uuid4().hex}:"
        yield "redis"
        client = redis.Redis.from_url(TEST_REDIS_URL)
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)
    else:
        settings.REDIS_URL = ""
        yield "database"
