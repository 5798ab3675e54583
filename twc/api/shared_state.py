"""Where cross-process state lives: Redis when `REDIS_URL` is set, else the database."""

import functools

import redis
from django.conf import settings


def use_redis() -> bool:
    return bool(settings.REDIS_URL)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    return settings.REDIS_KEY_PREFIX + ":".join(str(part) for part in parts)
