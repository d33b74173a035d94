"""Login throttling behind the production proxy: allauth counts attempts per client address
(the X-Forwarded-For entry the proxy appended, not the proxy's own REMOTE_ADDR), in a cache that
every gunicorn worker shares (the database, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER, SOMEONE_ELSE = "203.0.113.7", "198.51.100.23"
PASSWORD = "correct horse battery staple"  # the `user` fixture's


def through_the_proxy(client_address: str) -> Client:
    """A browser at `client_address`, as the app sees it behind the proxy."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_address)


def log_in(client: Client, email: str, password: str) -> int:
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return response.status_code


@pytest.fixture(params=["database", "redis"])
def shared_cache(request: Any, settings: Any) -> Iterator[Callable[[], list[str]]]:
    """Production's setting (one trusted proxy), the counters' cache, and the keys it holds as
    read over a connection of its own, the way another worker would see them."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    if request.param == "database":
        assert settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")

        def table_keys() -> list[str]:
            with connection.cursor() as cursor:
                cursor.execute("SELECT cache_key FROM django_cache")
                return [row[0] for row in cursor.fetchall()]

        yield table_keys
        return
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: set it (e.g. redis://127.0.0.1:6379/0) to test Redis")
    import redis

    prefix = f"test-throttling-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    server = redis.Redis.from_url(url)
    try:
        yield lambda: [key.decode() for key in server.scan_iter(f"{prefix}:*")]
    finally:
        keys = list(server.scan_iter(f"{prefix}:*"))
        if keys:
            server.delete(*keys)
        server.close()


def test_one_client_failing_logins_is_throttled_and_no_one_else(user, shared_cache):
    attacker = through_the_proxy(ATTACKER)
    statuses = [log_in(attacker, f"guess{i}@example.com", "wrong") for i in range(31)]
    assert statuses == [200] * 30 + [429]  # allauth's 30 login attempts a minute per address
    assert log_in(attacker, user.email, PASSWORD) == 429

    assert log_in(through_the_proxy(SOMEONE_ELSE), user.email, PASSWORD) == 302


def test_the_counters_are_where_every_worker_reads_them(user, shared_cache):
    attacker = through_the_proxy(ATTACKER)
    for i in range(3):
        assert log_in(attacker, f"guess{i}@example.com", "wrong") == 200
    keys = shared_cache()
    assert any(":login:" in key and key.endswith(f":ip:{ATTACKER}") for key in keys), keys
    assert not any(PROXY in key for key in keys), keys
