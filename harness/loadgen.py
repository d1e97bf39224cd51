"""A small asyncio load generator for the harness (stdlib only).

- :class:`HttpClient`: keep-alive HTTP/1.1 over asyncio streams, bounded connection pool,
  one overall timeout per request; every transport failure is a :class:`TransportError`
  with a short ``kind`` (refused, reset, closed, timeout, protocol).
- :func:`submit_until_acknowledged`: one logical submission, retried with the SAME
  Idempotency-Key on transport errors, 429 and 5xx until acknowledged (201/200) or a
  deadline.
- :func:`closed_loop` (N clients back to back) and :func:`open_loop` (a fixed arrival rate,
  latency measured from the scheduled start so a slow server cannot hide queueing) record
  :class:`Sample` rows; :func:`summarize` turns them into rates and percentiles.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

PDF_HEAD = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n"


def pdf_for(label: str) -> bytes:
    """A small, distinct PDF per logical submission (its SHA-256 identifies it)."""
    return PDF_HEAD + f"% {label}\n%%EOF\n".encode() + b"0" * 512


class TransportError(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    last_used: float = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


class HttpClient:
    """Keep-alive HTTP/1.1 client for one loopback host:port."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 64,
        idle_seconds: float = 1.0,
        keep_alive: bool = True,
    ) -> None:
        self.host, self.port = host, port
        # keep_alive=False: a connection per request, as nginx does towards its upstream by
        # default; each is accepted by whichever worker gets to it first, which spreads load
        # the way independent clients do (reusing a few connections pins them to a worker).
        self.keep_alive = keep_alive
        self.idle_seconds = idle_seconds  # below gunicorn's --keep-alive: never reuse a
        self._slots = asyncio.Semaphore(max_connections)  # connection the server closes
        self._idle: list[_Connection] = []
        self.opened = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        timeout: float = 10.0,
    ) -> Response:
        try:
            async with asyncio.timeout(timeout), self._slots:
                return await self._exchange(method, path, headers or {}, body)
        except TimeoutError:
            raise TransportError("timeout") from None

    async def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        conn = self._take_idle()
        try:
            if conn is None:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                conn = _Connection(reader, writer)
                self.opened += 1
            lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            if not self.keep_alive:
                lines.append("Connection: close")
            lines += [f"{name}: {value}" for name, value in headers.items()]
            if body or method in {"POST", "PUT", "PATCH"}:
                lines.append(f"Content-Length: {len(body)}")
            conn.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await conn.writer.drain()
            response, keep = await _read_response(conn.reader)
        except BaseException as error:
            if conn is not None:
                conn.close()
            if isinstance(error, ConnectionRefusedError):
                raise TransportError("refused") from None
            if isinstance(error, ConnectionResetError | BrokenPipeError):
                raise TransportError("reset") from None
            if isinstance(error, asyncio.IncompleteReadError | EOFError):
                raise TransportError("closed") from None
            if isinstance(error, OSError):
                raise TransportError("oserror", str(error)) from None
            if isinstance(error, ValueError):
                raise TransportError("protocol", str(error)) from None
            raise
        if keep and self.keep_alive:
            conn.last_used = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        return response

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.last_used < self.idle_seconds and not conn.reader.at_eof():
                return conn
            conn.close()
        return None

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    line = await reader.readline()
    if not line:
        raise EOFError("connection closed before the status line")
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"bad status line {line[:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise EOFError("connection closed in the headers")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    else:
        body = await reader.read()
        return Response(status, headers, body), False
    keep = headers.get("connection", "").lower() != "close"
    return Response(status, headers, body), keep


# --------------------------------------------------------------------------- requests


def submission_body(item_code: str, label: str) -> bytes:
    return json.dumps(
        {
            "item_code": item_code,
            "form": {"reason": f"压测 {label}", "move_date": "2026-12-01", "household_size": 2},
            "materials": [
                {
                    "material_code": "M01",
                    "filename": f"{label}.pdf",
                    "content_base64": base64.b64encode(pdf_for(label)).decode(),
                }
            ],
        },
        ensure_ascii=False,
    ).encode()


def submission_headers(token: str, key: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@dataclass
class Submission:
    index: int
    key: str
    token: str
    user_id: int
    attempts: int = 0
    acknowledged: bool = False
    replayed: bool = False  # acknowledged with 200: an earlier attempt had been stored
    application_id: str = ""
    case_id: str = ""
    case_number: str = ""
    rejected: str = ""  # a 4xx answer: the harness or the app is wrong, never retried
    gave_up: bool = False
    errors: Counter[str] = field(default_factory=Counter)


async def submit_until_acknowledged(
    client: HttpClient,
    item_code: str,
    sub: Submission,
    *,
    deadline: float,
    request_timeout: float = 10.0,
    rng: random.Random | None = None,
) -> Submission:
    """POST one logical submission until 201/200, retrying with the same Idempotency-Key."""
    rng = rng or random.Random()  # noqa: S311 — jitter, not security
    body = submission_body(item_code, sub.key)
    headers = submission_headers(sub.token, sub.key)
    give_up_at = time.monotonic() + deadline
    backoff = 0.05
    while time.monotonic() < give_up_at:
        sub.attempts += 1
        pause = backoff
        try:
            response = await client.request(
                "POST", "/api/v1/applications", headers=headers, body=body, timeout=request_timeout
            )
        except TransportError as error:
            sub.errors[error.kind] += 1
        else:
            if response.status in (200, 201):
                data = response.json()
                sub.acknowledged = True
                sub.replayed = response.status == 200
                sub.application_id = str(data["id"])
                sub.case_id = str(data["cases"][0]["id"])
                sub.case_number = data["cases"][0]["case_number"]
                return sub
            if response.status == 429 or response.status >= 500:
                code = ""
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    code = "_" + str(response.json().get("code", ""))
                sub.errors[f"http_{response.status}{code}"] += 1
                with contextlib.suppress(ValueError):
                    pause = max(pause, min(1.0, float(response.headers.get("retry-after", 0))))
            else:
                sub.rejected = f"{response.status} {response.body[:300]!r}"
                return sub
        remaining = give_up_at - time.monotonic()
        await asyncio.sleep(max(0.0, min(remaining, pause * rng.uniform(0.5, 1.5))))
        backoff = min(backoff * 2, 1.0)
    sub.gave_up = True
    return sub


# --------------------------------------------------------------------------- runners and stats


@dataclass
class Sample:
    kind: str  # what was asked: read, write, health …
    status: int  # HTTP status; 0 for a transport error
    latency: float  # seconds
    done: float  # monotonic time of completion
    error: str = ""  # transport error kind
    retry_after: str | None = None
    body: bytes = b""


Timed = Callable[[float], Awaitable[Sample]]  # given the start time to measure from


def timed(
    client: HttpClient,
    kind: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
    keep_body: bool = False,
) -> Timed:
    """An awaitable factory: given the start time to measure from, run and time the request."""

    async def run(started: float) -> Sample:
        try:
            response = await client.request(
                method, path, headers=headers, body=body, timeout=timeout
            )
        except TransportError as error:
            now = time.monotonic()
            return Sample(kind, 0, now - started, now, error=error.kind)
        now = time.monotonic()
        return Sample(
            kind,
            response.status,
            now - started,
            now,
            retry_after=response.headers.get("retry-after"),
            body=response.body if keep_body or response.status >= 400 else b"",
        )

    return run


async def closed_loop(
    concurrency: int,
    duration: float,
    make: Callable[[int], Timed],
    *,
    stop: Callable[[list[Sample]], bool] | None = None,
) -> list[Sample]:
    """`concurrency` clients, each sending its next request when the last one answered."""
    samples: list[Sample] = []
    counter = iter(range(10**9))
    end = time.monotonic() + duration

    async def client() -> None:
        while time.monotonic() < end and not (stop and stop(samples)):
            samples.append(await make(next(counter))(time.monotonic()))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return samples


async def open_loop(
    rate: float,
    duration: float,
    make: Callable[[int], Timed],
    *,
    max_outstanding: int = 512,
    drain_seconds: float = 15.0,
    poisson: bool = False,
    seed: int = 0,
) -> tuple[list[Sample], int]:
    """Start requests at a fixed rate (evenly spaced, or Poisson arrivals); return the
    samples and how many could not be started because `max_outstanding` were already
    waiting (counted as client-side drops)."""
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()
    dropped = 0
    start = time.monotonic()
    total = int(rate * duration)
    rng = random.Random(seed)  # noqa: S311 — arrival times, not security
    offset = 0.0

    async def one(index: int, scheduled: float) -> None:
        samples.append(await make(index)(scheduled))

    for index in range(total):
        offset = offset + rng.expovariate(rate) if poisson else index / rate
        if offset >= duration:
            break
        scheduled = start + offset
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_outstanding:
            dropped += 1
            continue
        task = asyncio.create_task(one(index, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=drain_seconds)
        for task in pending:
            task.cancel()
    return samples, dropped


def quantile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class Summary:
    count: int
    ok: int
    rate: float  # all answers per second
    goodput: float  # 2xx per second
    p50: float
    p99: float
    max: float
    statuses: Counter[str]

    def line(self) -> str:
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return (
            f"n={self.count} ok={self.ok} goodput={self.goodput:.1f}/s "
            f"p50={self.p50 * 1000:.0f}ms p99={self.p99 * 1000:.0f}ms "
            f"max={self.max * 1000:.0f}ms [{codes}]"
        )


def summarize(samples: list[Sample], seconds: float, *, ok_only_latency: bool = True) -> Summary:
    ok = [s for s in samples if 200 <= s.status < 300]
    latencies = [s.latency for s in (ok if ok_only_latency else samples)]
    statuses = Counter(str(s.status) if s.status else s.error for s in samples)
    seconds = max(seconds, 1e-9)
    return Summary(
        count=len(samples),
        ok=len(ok),
        rate=len(samples) / seconds,
        goodput=len(ok) / seconds,
        p50=quantile(latencies, 0.50),
        p99=quantile(latencies, 0.99),
        max=max(latencies, default=0.0),
        statuses=statuses,
    )
