"""Rate limits per client address on the public entry points (edge/ratelimit.py, ADR 0017)."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client

LIMITS = {
    "login": {"rate": "3/m", "paths": ["/login/", "/api/v1/auth/token"]},
    "verify": {
        "rate": "2/m",
        "paths": ["/licenses/verify/", "/api/v1/licenses/verifications"],
        "methods": ["GET", "POST"],
    },
}
_attempts = itertools.count()


@pytest.fixture(autouse=True)
def limits(settings: Any) -> Iterator[None]:
    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMITS": LIMITS, "TRUSTED_PROXIES": 0}
    caches["default"].clear()
    yield
    with contextlib.suppress(Exception):  # a test may point the cache nowhere
        caches["default"].clear()


def token(client: Client, **headers: Any) -> Any:
    """A failed login, each for another account (the per-account lockout is also a 429)."""
    wrong = {"username": f"138{next(_attempts):08d}", "password": "not-the-password"}
    return client.post("/api/v1/auth/token", wrong, content_type="application/json", **headers)


@pytest.mark.django_db
def test_api_past_the_limit_gets_429_with_retry_after_and_the_error_body() -> None:
    client = Client()
    assert [token(client).status_code for _ in range(3)] == [401, 401, 401]
    limited = token(client)
    assert limited.status_code == 429
    assert limited.json() == {
        "code": "rate_limited",
        "message": "请求过于频繁，请稍后再试",
        "fields": {},
    }
    assert 1 <= int(limited["Retry-After"]) <= 61


@pytest.mark.django_db
def test_the_limit_ends_with_its_window() -> None:
    client = Client()
    with time_machine.travel("2026-11-27 10:00:00+08:00", tick=False) as clock:
        for _ in range(3):
            token(client)
        limited = token(client)
        assert limited.status_code == 429
        wait = int(limited["Retry-After"])
        if wait > 1:
            clock.shift(timedelta(seconds=wait - 1))
            assert token(client).status_code == 429  # not yet
            wait = 1
        clock.shift(timedelta(seconds=wait))
        assert token(client).status_code == 401  # counted afresh


@pytest.mark.django_db
def test_web_page_past_the_limit_is_a_chinese_page() -> None:
    client = Client()
    for n in range(3):
        assert client.post("/login/", {"username": f"x{n}", "password": "y"}).status_code != 429
    page = client.post("/login/", {"username": "x9", "password": "y"})
    assert page.status_code == 429 and "请求过于频繁" in page.content.decode()
    assert page["Retry-After"].isdigit()


@pytest.mark.django_db
def test_showing_a_form_is_not_counted() -> None:
    client = Client()
    assert {client.get("/login/").status_code for _ in range(10)} == {200}
    assert {client.get("/licenses/verify/").status_code for _ in range(10)} == {200}
    assert token(client).status_code == 401


@pytest.mark.django_db
def test_verification_counts_scanned_links_and_api_calls_together() -> None:
    client = Client()
    assert client.get("/licenses/verify/?token=abc").status_code != 429  # a scanned QR code
    api = client.post(
        "/api/v1/licenses/verifications", {"presentation": "abc"}, content_type="application/json"
    )
    assert api.status_code != 429
    assert client.get("/licenses/verify/?token=abc").status_code == 429
    assert token(client).status_code == 401  # another group, its own count


@pytest.mark.django_db
def test_clients_are_counted_apart() -> None:
    first, second = Client(REMOTE_ADDR="10.1.1.1"), Client(REMOTE_ADDR="10.1.1.2")
    for _ in range(3):
        token(first)
    assert token(first).status_code == 429
    assert token(second).status_code == 401


@pytest.mark.django_db
def test_exempt_networks_are_never_limited(settings: Any) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMIT_EXEMPT": ["10.20.0.0/16", "2001:db8::/32"]}
    hall, v6, outside = (
        Client(REMOTE_ADDR="10.20.3.4"),
        Client(REMOTE_ADDR="2001:db8::5"),
        Client(REMOTE_ADDR="10.21.0.1"),
    )
    assert {token(hall).status_code for _ in range(6)} == {401}
    assert {token(v6).status_code for _ in range(6)} == {401}
    assert [token(outside).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_a_malformed_exemption_is_a_configuration_error(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from tongban.edge.ratelimit import RateLimitMiddleware

    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMIT_EXEMPT": ["10.20.0.0/33"]}
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_EXEMPT"):
        RateLimitMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]


@pytest.mark.django_db
def test_ipv4_clients_on_a_dual_stack_socket_are_themselves(settings: Any) -> None:
    """gunicorn bound to [::] sees IPv4 clients as ::ffff:a.b.c.d; a /64 mask would put all of
    IPv4 into one count, and IPv4 exemptions would never match."""
    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMIT_EXEMPT": ["10.20.0.0/16"]}
    one, other = (
        Client(REMOTE_ADDR="::ffff:198.51.100.1"),
        Client(REMOTE_ADDR="::ffff:198.51.100.2"),
    )
    for _ in range(3):
        token(one)
    assert token(one).status_code == 429
    assert token(other).status_code == 401
    hall = Client(REMOTE_ADDR="::ffff:10.20.1.1")
    assert {token(hall).status_code for _ in range(5)} == {401}


@pytest.mark.django_db
def test_an_unknown_client_address_is_logged_once(caplog: Any) -> None:
    from tongban.edge import ratelimit

    ratelimit._unknown_logged.clear()
    client = Client(REMOTE_ADDR="")  # a Unix-socket proxy with TRUSTED_PROXIES unset
    with caplog.at_level(logging.ERROR, logger="tongban.edge.ratelimit"):
        for _ in range(3):
            token(client)
    assert caplog.text.count("client address unknown") == 1
    assert token(client).status_code == 429  # one shared count, as logged
    ratelimit._unknown_logged.clear()


@pytest.mark.django_db
def test_ipv6_clients_are_counted_per_64() -> None:
    for suffix in ("1", "2", "3"):
        token(Client(REMOTE_ADDR=f"2001:db8:1:2::{suffix}"))
    assert token(Client(REMOTE_ADDR="2001:db8:1:2::99")).status_code == 429
    assert token(Client(REMOTE_ADDR="2001:db8:1:3::1")).status_code == 401


@pytest.mark.django_db
def test_forwarded_for_is_trusted_only_as_far_as_the_proxies(settings: Any) -> None:
    proxy = Client(REMOTE_ADDR="10.0.0.5")
    # No trusted proxy: a client cannot escape its limit by writing X-Forwarded-For.
    for n in range(3):
        token(proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert token(proxy, HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429

    caches["default"].clear()
    settings.TONGBAN = {**settings.TONGBAN, "TRUSTED_PROXIES": 1}
    proxy = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(3):  # the proxy appended the real client; the left part is the client's
        token(proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    spoofed = token(proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7")
    assert spoofed.status_code == 429
    assert token(proxy, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 401
    assert token(proxy, HTTP_X_FORWARDED_FOR="not-an-address").status_code == 401  # the proxy


@pytest.mark.django_db
def test_unreachable_cache_lets_citizens_through(settings: Any, caplog: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    client = Client()
    with caplog.at_level(logging.ERROR, logger="tongban.edge.ratelimit"):
        assert [token(client).status_code for _ in range(5)] == [401] * 5
    assert "rate limit cache unavailable" in caplog.text


@pytest.mark.django_db
def test_counts_are_shared_through_redis(settings: Any) -> None:
    """Production's backend: every process (here: every client handler) sees one count."""
    import os
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379", pytrace=False)
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",  # the tests' own database
            "KEY_PREFIX": f"tongban-test-{os.getpid()}",
        }
    }
    caches["default"].clear()
    first, second = Client(), Client()  # two handlers, as two server processes would be
    assert [token(first).status_code, token(second).status_code, token(first).status_code] == [
        401,
        401,
        401,
    ]
    assert token(second).status_code == 429


def test_the_default_limits_name_paths_that_exist() -> None:
    """A renamed URL must not silently leave its limit behind."""
    from django.urls import resolve

    from tongban.config.settings import base

    rules = base.TONGBAN["RATE_LIMITS"]
    assert set(rules) == {"login", "verify"}
    for rule in rules.values():
        for path in rule["paths"]:
            assert resolve(path).func is not None, path
    assert "/api/v1/auth/token" in rules["login"]["paths"]
    assert "/api/v1/licenses/verifications" in rules["verify"]["paths"]
