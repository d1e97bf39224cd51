"""Overload protection for each server process: load shedding and a request deadline.

Load shedding. A process runs at most ``TONGBAN["MAX_IN_FLIGHT"]`` requests at once. Up to
``TONGBAN["QUEUE_LENGTH"]`` more wait for a slot; anything beyond is shed at once: 503 with
``Retry-After`` and, under ``/api/``, the API's error body ``{code, message, fields}``,
otherwise a small static page. A shed request costs no database work and holds no thread.
``/healthz`` and static files are never shed (the load balancer must see the truth; static
files cost nothing).

How long a request may wait adapts (the ideas of CoDel and of Facebook's "adaptive LIFO"):
normally up to ``TONGBAN["QUEUE_WAIT_MS"]``, which absorbs bursts; but once the queue has
overflowed, or a request has waited that long in vain — work arrives faster than it is
done, i.e. overload — only ``TONGBAN["QUEUE_WAIT_OVERLOADED_MS"]``, for the next ten
normal waits (renewed while the overload lasts). The order adapts too: while capacity
keeps up, a freed slot goes to the waiter that has waited longest (first come, first
served, so nobody starves in a busy spell); while overloaded, to the newest waiter, and a
full queue evicts its oldest (shed). So a burst is queued and served in order, while under
sustained overload the requests admitted are those that waited least and those that would
wait longest are told to come back: admitted requests keep close to their unloaded
latency, instead of every request queueing until it times out. (Always serving the newest
starved the oldest waiters past QUEUE_WAIT_MS in busy spells at half capacity, which then
tripped the overload mode and shed up to 9 % there; harness/saturation.py.)

gunicorn's ``--threads`` must exceed MAX_IN_FLIGHT + QUEUE_LENGTH (``gunicorn_threads()``): the
spare threads carry excess requests to this middleware to be shed, instead of leaving them
queued inside gunicorn where no one measures them. Python runs one thread at a time, so give
each core one worker process.

Request deadline. ``statement_timeout`` lets PostgreSQL cancel a slow statement, but a
connection stalled where the server cannot see it (a hung pooler or proxy, a network that
drops packets) would hold a thread for as long as TCP takes to give up. A watchdog thread
per process looks at requests older than ``TONGBAN["REQUEST_DEADLINE_MS"]``; if one is
waiting for a PostgreSQL answer, it shuts that connection's socket down. The waiting call
then fails at once with OperationalError, which the API answers with 503 (and Django drops
the broken connection at the end of the request). A request past its deadline that is not
waiting on the database is left alone.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
API_BODY = {"code": "overloaded", "message": "服务繁忙，请稍后重试", "fields": {}}
PAGE = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>服务繁忙 · 通办</title></head><body>"
    "<h1>服务繁忙</h1><p>当前访问人数较多，请稍后刷新重试。</p>"
    "<p>The service is busy. Please try again in a moment.</p></body></html>"
)
LOG_EVERY_SECONDS = 10.0


def gunicorn_threads() -> int:
    """gunicorn --threads for these settings: the requests in flight, the waiting stack and
    a few spare threads that carry the excess here to be shed."""
    config = settings.TONGBAN
    return max(8, int(config.get("MAX_IN_FLIGHT", 0)) + int(config.get("QUEUE_LENGTH", 0)) + 4)


class LoadSheddingMiddleware:
    """Admit at most MAX_IN_FLIGHT requests per process; shed the excess with 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        config = settings.TONGBAN
        self.limit = int(config.get("MAX_IN_FLIGHT", 0))
        self.deadline = max(0, int(config.get("REQUEST_DEADLINE_MS", 0))) / 1000
        self.slots = (
            Slots(
                self.limit,
                queue_length=int(config.get("QUEUE_LENGTH", 0)),
                wait=int(config.get("QUEUE_WAIT_MS", 0)) / 1000,
                overloaded_wait=int(config.get("QUEUE_WAIT_OVERLOADED_MS", 0)) / 1000,
            )
            if self.limit > 0
            else None
        )
        self.exempt_prefixes = tuple(p for p in (settings.STATIC_URL,) if p and p.startswith("/"))
        self._shed_lock = threading.Lock()
        self._shed_since_log = 0
        self._last_log = time.monotonic()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        arrived = time.monotonic()
        if self.slots is None or self._exempt(request.path):
            return self._run(request, arrived)
        if not self.slots.acquire():
            return self._shed(request)
        try:
            return self._run(request, arrived)
        finally:
            self.slots.release()

    def _exempt(self, path: str) -> bool:
        return path == "/healthz" or path.startswith(self.exempt_prefixes)

    def _run(self, request: HttpRequest, arrived: float) -> HttpResponse:
        if self.deadline <= 0:
            return self.get_response(request)
        key = WATCHDOG.track(arrived + self.deadline, request.path)
        try:
            return self.get_response(request)
        finally:
            WATCHDOG.untrack(key)

    def _shed(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            body = json.dumps(API_BODY, ensure_ascii=False).encode()
            response = HttpResponse(
                body, status=503, content_type="application/json; charset=utf-8"
            )
        else:
            response = HttpResponse(
                PAGE.encode(), status=503, content_type="text/html; charset=utf-8"
            )
            response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
            response["X-Frame-Options"] = "DENY"
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        response["Content-Length"] = str(len(response.content))
        # Counted and logged once per LOG_EVERY_SECONDS below, not once per request by
        # django.request: logging each shed request would spend the capacity shedding saves.
        response._has_been_logged = True  # type: ignore[attr-defined]
        self._count_shed()
        return response

    def _count_shed(self) -> None:
        with self._shed_lock:
            self._shed_since_log += 1
            now = time.monotonic()
            if now - self._last_log < LOG_EVERY_SECONDS:
                return
            count, self._shed_since_log = self._shed_since_log, 0
            elapsed, self._last_log = now - self._last_log, now
        logger.warning(
            "overloaded: shed %d requests in the last %.0f s (MAX_IN_FLIGHT=%d per process)",
            count,
            elapsed,
            self.limit,
        )


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.granted = False


class Slots:
    """`limit` slots and a bounded queue of waiters (thread-safe).

    A freed slot goes to the oldest waiter, or to the newest while overloaded (adaptive
    LIFO); a full queue evicts its oldest waiter. A waiter
    waits up to `wait` seconds — or only `overloaded_wait` while overloaded: for
    OVERLOAD_HOLD_WAITS normal waits after the queue overflowed or a waiter waited a whole
    wait in vain (normal or short). Neither happens while capacity keeps up; under overload
    the short waits keep running out, so the mode holds while the overload lasts.
    """

    OVERLOAD_HOLD_WAITS = 10

    def __init__(
        self, limit: int, *, queue_length: int, wait: float, overloaded_wait: float
    ) -> None:
        self.limit = limit
        self.queue_length = max(0, queue_length)
        self.wait = max(0.0, wait)
        self.overloaded_wait = min(self.wait, max(0.0, overloaded_wait))
        self.hold = self.OVERLOAD_HOLD_WAITS * self.wait
        self._lock = threading.Lock()
        self._free = limit
        self._overloaded_until = 0.0
        self._waiters: deque[_Waiter] = deque()  # oldest left, newest right

    def acquire(self) -> bool:
        """Take a slot, waiting if allowed; False when the request is to be shed."""
        now = time.monotonic()
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return True
            if self.queue_length == 0 or self.wait == 0:
                return False
            if len(self._waiters) >= self.queue_length:
                self._waiters.popleft().event.set()  # evicted: wakes up not granted
                self._overloaded_until = now + self.hold
            waiter = _Waiter()
            self._waiters.append(waiter)
            timeout = self.overloaded_wait if self.overloaded(now) else self.wait
        waiter.event.wait(timeout)
        with self._lock:
            if waiter.granted:  # possibly handed over just as the wait ran out
                return True
            try:
                self._waiters.remove(waiter)
            except ValueError:  # evicted
                return False
            # A whole wait without a free slot: a normal one starts the overload mode, a
            # short one renews it (work still arrives faster than it is done), so the mode
            # holds while the overload lasts and lapses within `hold` after it.
            self._overloaded_until = time.monotonic() + self.hold
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                # FIFO while keeping up; the newest waiter while overloaded (adaptive LIFO)
                overloaded = self.overloaded(time.monotonic())
                waiter = self._waiters.pop() if overloaded else self._waiters.popleft()
                waiter.granted = True
                waiter.event.set()
            elif self._free < self.limit:
                self._free += 1
            else:
                raise ValueError("Slots released more often than acquired")

    def overloaded(self, now: float) -> bool:
        return now < self._overloaded_until

    @property
    def waiting(self) -> int:
        return len(self._waiters)


@dataclass
class _Tracked:
    deadline: float
    path: str
    wrappers: list[Any] = field(default_factory=list)


class DeadlineWatchdog:
    """One daemon thread per process: cuts the database I/O of requests past their deadline."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._tracked: dict[int, _Tracked] = {}
        self._keys = itertools.count()
        self._pid = 0  # the thread does not survive fork(): start one per process

    def track(self, deadline: float, path: str) -> int:
        """Register the calling thread's request; its database wrappers are this thread's."""
        wrappers = [connections[alias] for alias in connections]
        key = next(self._keys)
        with self._lock:
            self._tracked[key] = _Tracked(deadline, path, wrappers)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="request-deadline", daemon=True).start()
        return key

    def untrack(self, key: int) -> None:
        with self._lock:
            self._tracked.pop(key, None)

    def sweep(self, now: float | None = None) -> int:
        """Interrupt the database waits of overdue requests; return how many were cut."""
        now = time.monotonic() if now is None else now
        cut = 0
        with self._lock:  # held so a request cannot finish and reuse its socket meanwhile
            for tracked in self._tracked.values():
                if tracked.deadline > now:
                    continue
                for wrapper in tracked.wrappers:
                    if _interrupt_database_wait(wrapper):
                        cut += 1
                        logger.warning(
                            "request deadline exceeded on %s: database wait interrupted",
                            tracked.path,
                        )
        return cut

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            if self._tracked:
                try:
                    self.sweep()
                except Exception:  # the watchdog must outlive any one bad sweep
                    logger.exception("request deadline watchdog failed")


def _interrupt_database_wait(wrapper: Any) -> bool:
    """Shut down the socket of a PostgreSQL connection that is waiting for a result."""
    if getattr(wrapper, "vendor", "") != "postgresql":
        return False
    pgconn = getattr(getattr(wrapper, "connection", None), "pgconn", None)
    if pgconn is None:
        return False
    try:
        from psycopg import pq

        if pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
            return False  # not waiting for the server: nothing to cut
        fd = int(pgconn.socket)
    except Exception:  # closed or broken already
        return False
    try:
        # shutdown() acts on the socket, not the descriptor: the owner's blocked poll()
        # wakes up with end-of-file. Only our duplicate descriptor is closed.
        with socket.socket(fileno=os.dup(fd)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


WATCHDOG = DeadlineWatchdog()
