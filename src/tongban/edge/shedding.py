"""Overload protection for each server process: load shedding and a request deadline.

Load shedding. A process runs at most ``TONGBAN["MAX_IN_FLIGHT"]`` requests at once. Up to
``TONGBAN["QUEUE_LENGTH"]`` more wait for a slot; anything beyond is shed at once: 503 with
``Retry-After`` and, under ``/api/``, the API's error body ``{code, message, fields}``,
otherwise a small static page. A shed request costs no database work and holds no thread.
``/healthz`` and static files are never shed (the load balancer must see the truth; static
files cost nothing).

How long a request may wait, and in which order waiters are served, adapt to overload (the
ideas of CoDel and of Facebook's "adaptive LIFO"). Overloaded means a standing queue:
waiters have queued without a break for half of ``TONGBAN["QUEUE_WAIT_MS"]``, or the queue
overflowed since it was last empty. Otherwise a request may wait up to QUEUE_WAIT_MS, which
absorbs bursts, and freed slots go first come, first served, so nobody starves in a busy
spell. While overloaded a request may wait only ``TONGBAN["QUEUE_WAIT_OVERLOADED_MS"]``, a
freed slot goes to the newest waiter and a full queue evicts its oldest (shed): the requests
admitted are those that waited least and those that would wait longest are told to come
back, so admitted requests keep close to their unloaded latency instead of every request
queueing until it times out. The mode ends the moment the queue drains. (A fixed hold of
2 s after each overflow shed 5 % at half capacity after one database stall, and always
serving the newest starved older waiters in busy spells; harness/saturation.py, ADR 0016.)

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

from .refusals import CountedLog, refusal

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
        self._log = CountedLog(logger)

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
        self._log.count("overloaded: shed requests (MAX_IN_FLIGHT=%d per process)", self.limit)
        return refusal(
            request,
            status=503,
            api_body=API_BODY,
            page=PAGE,
            retry_after=RETRY_AFTER_SECONDS,
        )


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.granted = False


class Slots:
    """`limit` slots and a bounded queue of waiters (thread-safe).

    Overloaded means a *standing queue* (CoDel's signal): waiters have been queueing
    without a break for `interval` (half the normal wait), or the queue overflowed since it
    was last empty. While capacity keeps up the queue empties between bursts, so neither
    happens; under overload it never empties, so the mode lasts as long as the overload and
    ends the moment the queue drains (a stall of the database, say, no longer leaves the
    process shedding for seconds after it).

    A freed slot goes to the oldest waiter, or to the newest once the queue has stood for
    `lifo_after` (an eighth of the normal wait; adaptive LIFO); a full queue evicts its
    oldest waiter. A waiter waits up to `wait` seconds, or only `overloaded_wait` when it
    arrives while overloaded.
    """

    def __init__(
        self, limit: int, *, queue_length: int, wait: float, overloaded_wait: float
    ) -> None:
        self.limit = limit
        self.queue_length = max(0, queue_length)
        self.wait = max(0.0, wait)
        self.overloaded_wait = min(self.wait, max(0.0, overloaded_wait))
        self.interval = self.wait / 2
        # Order turns newest-first sooner than waits shorten: serving the newest in a short
        # standing queue costs no one their admission, and keeps stale waiters out.
        self.lifo_after = min(self.interval, max(self.overloaded_wait, self.wait / 8))
        self._lock = threading.Lock()
        self._free = limit
        self._waiters: deque[_Waiter] = deque()  # oldest left, newest right
        self._standing_since: float | None = None  # when the queue last stopped being empty
        self._overflowed = False  # since the queue was last empty

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
                self._overflowed = True
            if not self._waiters:
                self._standing_since = now
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
            self._drained()
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                # FIFO while keeping up; the newest waiter once the queue stands (adaptive LIFO)
                newest = self._standing_for(time.monotonic()) >= self.lifo_after
                waiter = self._waiters.pop() if newest else self._waiters.popleft()
                waiter.granted = True
                waiter.event.set()
                self._drained()
            elif self._free < self.limit:
                self._free += 1
            else:
                raise ValueError("Slots released more often than acquired")

    def _drained(self) -> None:
        """After a waiter left: an empty queue ends the overload (caller holds the lock)."""
        if not self._waiters:
            self._standing_since = None
            self._overflowed = False

    def _standing_for(self, now: float) -> float:
        """How long waiters have queued without a break (infinite after an overflow)."""
        if self._overflowed:
            return float("inf")
        return 0.0 if self._standing_since is None else now - self._standing_since

    def overloaded(self, now: float) -> bool:
        return self._standing_for(now) >= self.interval

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
