"""Load shedding and the request deadline (edge/shedding.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from psycopg import pq

from tongban.edge import shedding


def _middleware(settings: Any, limit: int, wait_ms: int = 0) -> shedding.LoadSheddingMiddleware:
    settings.TONGBAN = {**settings.TONGBAN, "MAX_IN_FLIGHT": limit, "QUEUE_WAIT_MS": wait_ms}
    return shedding.LoadSheddingMiddleware(lambda request: HttpResponse("ok"))


def test_api_request_over_the_limit_is_shed_with_json_and_retry_after(settings: Any) -> None:
    middleware = _middleware(settings, limit=1)
    assert middleware.slots is not None
    assert middleware.slots.acquire()  # the one slot is busy
    try:
        response = middleware(RequestFactory().get("/api/v1/catalog/items"))
    finally:
        middleware.slots.release()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body == {"code": "overloaded", "message": "服务繁忙，请稍后重试", "fields": {}}
    assert int(response["Content-Length"]) == len(response.content)


def test_page_request_over_the_limit_gets_a_small_html_page(settings: Any) -> None:
    middleware = _middleware(settings, limit=1)
    assert middleware.slots is not None
    middleware.slots.acquire()
    try:
        response = middleware(RequestFactory().get("/items/"))
    finally:
        middleware.slots.release()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("text/html")
    assert "服务繁忙" in response.content.decode()
    assert b"Traceback" not in response.content


def test_health_check_and_static_files_are_never_shed(settings: Any) -> None:
    middleware = _middleware(settings, limit=1)
    assert middleware.slots is not None
    middleware.slots.acquire()
    try:
        for path in ("/healthz", f"{settings.STATIC_URL}web/app.css"):
            assert middleware(RequestFactory().get(path)).status_code == 200
    finally:
        middleware.slots.release()


def test_slot_is_returned_after_a_request_even_when_the_view_raises(settings: Any) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "MAX_IN_FLIGHT": 1, "QUEUE_WAIT_MS": 0}

    def boom(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom")

    middleware = shedding.LoadSheddingMiddleware(boom)
    with pytest.raises(RuntimeError):
        middleware(RequestFactory().get("/api/v1/catalog/items"))
    assert middleware.slots is not None
    assert middleware.slots.acquire()  # the slot is free again
    middleware.slots.release()


def test_a_request_waits_up_to_queue_wait_for_a_slot(settings: Any) -> None:
    middleware = _middleware(settings, limit=1, wait_ms=2000)
    assert middleware.slots is not None
    middleware.slots.acquire()
    threading.Timer(0.05, middleware.slots.release).start()  # frees up within the wait
    assert middleware(RequestFactory().get("/api/v1/catalog/items")).status_code == 200


def test_a_full_queue_sheds_at_once_without_waiting(settings: Any) -> None:
    middleware = _middleware(settings, limit=1, wait_ms=5000)
    assert middleware.slots is not None
    middleware.slots.queue_length = 0  # nobody may wait
    middleware.slots.acquire()
    try:
        began = time.monotonic()
        response = middleware(RequestFactory().get("/api/v1/catalog/items"))
        assert response.status_code == 503
        assert time.monotonic() - began < 1.0  # not the 5 s wait
    finally:
        middleware.slots.release()


def test_waiters_are_served_in_order_while_capacity_keeps_up() -> None:
    """No starvation in a busy spell: the oldest waiter gets the next slot."""
    slots = shedding.Slots(limit=1, queue_length=4, wait=10, overloaded_wait=10)
    assert slots.acquire()  # the running request
    outcome: dict[str, bool] = {}
    threads = []
    for name in ("first", "second"):
        thread = threading.Thread(target=lambda n=name: outcome.setdefault(n, slots.acquire()))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while slots.waiting < len(threads) and time.monotonic() < deadline:
            time.sleep(0.001)
    assert not slots.overloaded(time.monotonic())
    slots.release()
    threads[0].join(5)
    assert outcome == {"first": True}
    slots.release()
    threads[1].join(5)
    assert outcome == {"first": True, "second": True}
    slots.release()


def test_overloaded_waiters_are_served_newest_first_and_a_full_queue_evicts_the_oldest() -> None:
    slots = shedding.Slots(limit=1, queue_length=2, wait=10, overloaded_wait=10)
    assert slots.acquire()  # the running request
    outcome: dict[str, bool] = {}

    def wait(name: str) -> None:
        outcome[name] = slots.acquire()

    threads = []
    for name in ("oldest", "middle", "newest"):
        thread = threading.Thread(target=wait, args=(name,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while slots.waiting < min(len(threads), 2) and time.monotonic() < deadline:
            time.sleep(0.001)
        if name == "newest":  # the third waiter pushed the oldest out of the full queue
            threads[0].join(5)
            assert outcome == {"oldest": False}
    assert slots.overloaded(time.monotonic())  # the overflow switched the mode on
    slots.release()  # so the slot goes to the newest waiter, not the one waiting longest
    threads[2].join(5)
    assert outcome["newest"] is True and "middle" not in outcome
    slots.release()
    threads[1].join(5)
    assert outcome["middle"] is True
    slots.release()
    with pytest.raises(ValueError):
        slots.release()  # more releases than acquisitions


def test_a_waiter_that_times_out_leaves_the_queue() -> None:
    slots = shedding.Slots(limit=1, queue_length=1, wait=0.01, overloaded_wait=0.01)
    assert slots.acquire()
    assert slots.acquire() is False
    assert slots.waiting == 0
    slots.release()
    assert slots.acquire() is True
    no_wait = shedding.Slots(limit=1, queue_length=4, wait=0, overloaded_wait=0)
    assert no_wait.acquire() is True
    assert no_wait.acquire() is False  # no wait allowed: shed at once


def _waiting_in_background(slots: shedding.Slots, count: int) -> tuple[list, dict]:
    outcome: dict[int, bool] = {}
    threads = []
    for index in range(count):
        thread = threading.Thread(target=lambda i=index: outcome.setdefault(i, slots.acquire()))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while slots.waiting < index + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    return threads, outcome


def test_a_standing_queue_switches_to_the_short_wait_until_it_drains() -> None:
    slots = shedding.Slots(limit=1, queue_length=4, wait=0.4, overloaded_wait=0.01)
    assert slots.acquire()  # the running request
    threads, outcome = _waiting_in_background(slots, 1)  # a normal waiter (0.4 s)
    assert not slots.overloaded(time.monotonic())  # a burst, not yet a standing queue
    time.sleep(slots.interval + 0.02)
    assert slots.overloaded(time.monotonic())  # queued without a break for `interval`
    began = time.monotonic()
    assert slots.acquire() is False  # arrives overloaded: only the short wait
    assert time.monotonic() - began < 0.15
    slots.release()  # the slot goes to the waiter; the queue drains …
    threads[0].join(5)
    assert outcome == {0: True}
    assert not slots.overloaded(time.monotonic())  # … and the overload ends at once
    slots.release()


def test_an_overflowing_queue_switches_to_the_short_wait() -> None:
    slots = shedding.Slots(limit=1, queue_length=1, wait=10, overloaded_wait=0.01)
    assert slots.acquire()
    threads, first = _waiting_in_background(slots, 1)
    began = time.monotonic()
    assert slots.acquire() is False  # evicts the first waiter, then waits only briefly
    assert time.monotonic() - began < 5
    threads[0].join(5)
    assert first == {0: False}
    assert slots.waiting == 0 and not slots.overloaded(time.monotonic())  # drained: over
    slots.release()


def test_a_waiter_alone_after_a_stall_is_not_overload() -> None:
    """One slow request (a database stall) makes a waiter wait in vain; once it has left,
    the next arrival gets the normal wait again: no seconds of shedding after a stall."""
    slots = shedding.Slots(limit=1, queue_length=4, wait=0.1, overloaded_wait=0.001)
    assert slots.acquire()
    assert slots.acquire() is False  # waited the whole normal wait in vain
    assert not slots.overloaded(time.monotonic())
    threads, outcome = _waiting_in_background(slots, 1)
    slots.release()
    threads[0].join(5)
    assert outcome == {0: True}  # served after the normal wait was allowed to run
    slots.release()


def test_zero_limit_disables_shedding(settings: Any) -> None:
    middleware = _middleware(settings, limit=0)
    assert middleware.slots is None
    assert middleware(RequestFactory().get("/api/v1/catalog/items")).status_code == 200


def test_full_stack_sheds_while_a_request_is_in_flight(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real middleware chain: one request blocks in the view, the next is shed."""
    settings.TONGBAN = {**settings.TONGBAN, "MAX_IN_FLIGHT": 1, "QUEUE_WAIT_MS": 0}
    entered, release = threading.Event(), threading.Event()

    def blocking_items_list(**filters: Any) -> list[Any]:
        entered.set()
        release.wait(10)
        return []

    monkeypatch.setattr("tongban.catalog.api.items_list", blocking_items_list)
    client = Client()  # a new handler: loads the middleware with the settings above
    first: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: first.setdefault("response", client.get("/api/v1/catalog/items"))
    )
    thread.start()
    try:
        assert entered.wait(10)
        shed = client.get("/api/v1/catalog/items")
        assert shed.status_code == 503
        assert shed["Retry-After"] == "1"
        assert shed.json()["code"] == "overloaded"
        health = client.get("/healthz")  # exempt: answered by the view, never shed
        assert "status" in health.json() and "code" not in health.json()
    finally:
        release.set()
        thread.join(10)
    assert first["response"].status_code == 200
    assert client.get("/api/v1/catalog/items").status_code == 200  # the slot is back


class _FakePgConn:
    def __init__(self, fd: int, status: pq.TransactionStatus) -> None:
        self.socket = fd
        self.transaction_status = status


class _FakeWrapper:
    vendor = "postgresql"

    def __init__(self, fd: int, status: pq.TransactionStatus) -> None:
        self.connection = type("Conn", (), {"pgconn": _FakePgConn(fd, status)})()


def test_watchdog_cuts_a_database_wait_past_the_deadline() -> None:
    ours, server_side = socket.socketpair()
    try:
        watchdog = shedding.DeadlineWatchdog()
        wrapper = _FakeWrapper(ours.fileno(), pq.TransactionStatus.ACTIVE)
        watchdog._tracked[1] = shedding._Tracked(deadline=100.0, path="/api/x", wrappers=[wrapper])
        assert watchdog.sweep(now=99.0) == 0  # not yet due
        assert watchdog.sweep(now=100.5) == 1
        ours.settimeout(2)
        assert ours.recv(1) == b""  # the waiting side sees end-of-file at once
        server_side.settimeout(2)
        assert server_side.recv(1) == b""  # and so does the database side
    finally:
        ours.close()
        server_side.close()


def test_watchdog_leaves_idle_and_non_postgresql_connections_alone() -> None:
    ours, other = socket.socketpair()
    try:
        idle = _FakeWrapper(ours.fileno(), pq.TransactionStatus.IDLE)
        sqlite = _FakeWrapper(ours.fileno(), pq.TransactionStatus.ACTIVE)
        sqlite.vendor = "sqlite"
        watchdog = shedding.DeadlineWatchdog()
        watchdog._tracked[1] = shedding._Tracked(0.0, "/x", [idle, sqlite, object()])
        assert watchdog.sweep(now=1.0) == 0
        other.sendall(b"x")
        assert ours.recv(1) == b"x"  # still connected
    finally:
        ours.close()
        other.close()


def test_tracking_registers_and_forgets_requests() -> None:
    watchdog = shedding.DeadlineWatchdog(interval=3600)
    key = watchdog.track(deadline=0.0, path="/api/x")
    assert key in watchdog._tracked
    assert watchdog._tracked[key].wrappers  # this thread's database wrappers
    watchdog.untrack(key)
    assert key not in watchdog._tracked


def test_gunicorn_threads_leave_room_for_the_stack_and_the_excess(settings: Any) -> None:
    """Every waiter of the stack holds a thread; spare threads carry the excess here to be
    shed (503 now) instead of leaving it queued unseen inside gunicorn."""
    config = settings.TONGBAN
    assert shedding.gunicorn_threads() >= config["MAX_IN_FLIGHT"] + config["QUEUE_LENGTH"] + 2
    settings.TONGBAN = {**config, "MAX_IN_FLIGHT": 2, "QUEUE_LENGTH": 30}
    assert shedding.gunicorn_threads() == 36
    settings.TONGBAN = {**config, "MAX_IN_FLIGHT": 1, "QUEUE_LENGTH": 0}
    assert shedding.gunicorn_threads() == 8  # never fewer than gunicorn needs to stay responsive


def test_a_short_standing_queue_serves_the_newest_without_shortening_waits() -> None:
    """Past `lifo_after` the newest waiter is served (stale waiters stay out of the admitted
    latency), but nobody is shed sooner until the queue has stood for `interval`."""
    slots = shedding.Slots(limit=1, queue_length=4, wait=0.4, overloaded_wait=0.01)
    assert (slots.lifo_after, slots.interval) == (0.05, 0.2)
    assert slots.acquire()
    threads, outcome = _waiting_in_background(slots, 2)
    time.sleep(0.07)
    assert not slots.overloaded(time.monotonic())
    slots.release()
    threads[1].join(5)
    assert outcome == {1: True}  # the newer waiter
    slots.release()
    threads[0].join(5)
    assert outcome == {1: True, 0: True}  # the older one still served, not shed
    slots.release()
