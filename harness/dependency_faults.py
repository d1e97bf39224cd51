"""Issue 3 item 5 — dependency faults: the database slow, locked, reset, hung, refused.

gunicorn (2 workers, production settings) reaches PostgreSQL through
:class:`harness.faultproxy.FaultProxy`; the harness itself reads the database directly.
Three probes run back to back: a write (POST /api/v1/applications), a read
(GET /api/v1/catalog/items) and /healthz. Phases:

  baseline   pass                          → the normal rate
  slow       delay 3000 ms per chunk       → the request deadline / connect_timeout cut in
  locked     the audit head row locked 8 s → lock_timeout fails writes, reads go on
  reset      every connection reset        → OperationalError at once
  hung       blackhole (accept, never answer) → deadline / connect_timeout
  down       refuse (nothing listening)    → connection refused at once

In every fault phase each answer must come within 6 s, be 2xx or a 503/504 whose body is
the JSON error {code, message, fields} (healthz: its own JSON with status 503), and no body
may hold a stack trace; /healthz must answer 503 while the database is unusable. After
each phase: the fault is removed and the time to 10 consecutive successes must be ≤ 10 s;
every acknowledged write is stored exactly once, no partial submission exists, and
`tongban audit verify` passes.

Run: ``python harness/dependency_faults.py`` (about 2.5 minutes). Exit status 0 = pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: make `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import common, loadgen
from harness.faultproxy import FaultProxy

LATENCY_BOUND_S = 6.0
RECOVERY_BOUND_S = 10.0
CONSECUTIVE = 10
RATE_WINDOW_S = 5.0
MIN_RATE_SHARE = 0.5


@dataclass
class Phase:
    name: str
    description: str
    mode: str = "pass"
    delay_ms: int = 0
    lock_audit_head: bool = False
    db_unusable: bool = True  # every DB request should fail (healthz must say 503)


PHASES = [
    Phase("slow", "proxy delays every chunk 3000 ms", "delay", 3000),
    Phase(
        "locked",
        "audit head row locked by another session",
        lock_audit_head=True,
        db_unusable=False,
    ),
    Phase("reset", "proxy resets every connection", "reset"),
    Phase("hung", "proxy blackholes (accepts, never answers)", "blackhole"),
    Phase("down", "proxy refuses connections (nothing listening)", "refuse"),
]


@dataclass
class PhaseResult:
    phase: Phase
    samples: list[loadgen.Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recovery_s: float | None = None
    recovery_rate: float = 0.0
    recovery_failures: int = 0
    integrity: common.IntegrityReport | None = None


class Probe:
    """Makes the three kinds of request; remembers every acknowledged write."""

    def __init__(self, client: loadgen.HttpClient, world: common.World) -> None:
        self.client, self.world = client, world
        self.count = 0
        self.acknowledged: dict[str, tuple[int, str]] = {}  # key → (user id, application id)
        self.unacknowledged_writes = 0

    def make(self, kind: str, timeout: float) -> loadgen.Timed:
        self.count += 1
        if kind == "health":
            return loadgen.timed(
                self.client, kind, "GET", "/healthz", timeout=timeout, keep_body=True
            )
        if kind == "read":
            return loadgen.timed(
                self.client,
                kind,
                "GET",
                "/api/v1/catalog/items?limit=20",
                timeout=timeout,
                keep_body=True,
            )
        slot = self.count % len(self.world.tokens)
        key = f"fault-{int(time.time())}-{self.count}"
        run = loadgen.timed(
            self.client,
            kind,
            "POST",
            "/api/v1/applications",
            headers=loadgen.submission_headers(self.world.tokens[slot], key),
            body=loadgen.submission_body(self.world.item_code, key),
            timeout=timeout,
            keep_body=True,
        )

        async def write(started: float) -> loadgen.Sample:
            sample = await run(started)
            if sample.status in (200, 201):
                application = json.loads(sample.body)["id"]
                self.acknowledged[key] = (self.world.user_ids[slot], str(application))
            else:
                self.unacknowledged_writes += 1
            return sample

        return write


async def probe_for(
    probe: Probe, kinds: list[str], seconds: float, timeout: float
) -> list[loadgen.Sample]:
    """One back-to-back client per kind for `seconds` (the last requests finish after)."""
    samples: list[loadgen.Sample] = []
    end = time.monotonic() + seconds

    async def client(kind: str) -> None:
        while time.monotonic() < end:
            samples.append(await probe.make(kind, timeout)(time.monotonic()))

    await asyncio.gather(*(client(kind) for kind in kinds))
    return samples


async def recover(probe: Probe) -> tuple[float | None, float, int]:
    """After the fault is removed: seconds to CONSECUTIVE successes in a row, then the rate
    over RATE_WINDOW_S; and how many requests failed before that."""
    began = time.monotonic()
    streak, failures = 0, 0
    recovered_at: float | None = None
    ok_after = 0
    stop = asyncio.Event()

    async def client(kind: str) -> None:
        nonlocal streak, failures, recovered_at, ok_after
        while not stop.is_set():
            sample = await probe.make(kind, 10.0)(time.monotonic())
            now = time.monotonic()
            good = 200 <= sample.status < 300
            if recovered_at is None:
                streak = streak + 1 if good else 0
                failures += 0 if good else 1
                if streak >= CONSECUTIVE:
                    recovered_at = now
                elif now - began > RECOVERY_BOUND_S + 5:
                    stop.set()
            else:
                ok_after += int(good)
                if now - recovered_at >= RATE_WINDOW_S:
                    stop.set()

    await asyncio.gather(client("write"), client("read"))
    if recovered_at is None:
        return None, 0.0, failures
    return recovered_at - began, ok_after / RATE_WINDOW_S, failures


def judge(phase: Phase, samples: list[loadgen.Sample]) -> list[str]:
    problems = []
    for sample in samples:
        label = f"{phase.name}/{sample.kind}"
        if sample.latency > LATENCY_BOUND_S:
            problems.append(f"{label}: answered after {sample.latency:.1f} s (bound 6 s)")
        if sample.status == 0:
            problems.append(f"{label}: no HTTP answer ({sample.error})")
            continue
        if b"Traceback" in sample.body:
            problems.append(f"{label}: stack trace in the body")
        if 200 <= sample.status < 300:
            continue
        if sample.status not in (503, 504):
            problems.append(f"{label}: status {sample.status} {sample.body[:120]!r}")
            continue
        try:
            body = json.loads(sample.body)
        except ValueError:
            problems.append(f"{label}: {sample.status} body is not JSON {sample.body[:80]!r}")
            continue
        expected = {"status"} if sample.kind == "health" else {"code", "message", "fields"}
        if not expected <= set(body):
            problems.append(f"{label}: {sample.status} body lacks {sorted(expected)}: {body}")
    by_kind = {kind: [s for s in samples if s.kind == kind] for kind in ("write", "read", "health")}
    for kind, rows in by_kind.items():
        if not rows:
            problems.append(f"{phase.name}/{kind}: no request completed")
    if phase.db_unusable:
        for kind, rows in by_kind.items():
            if rows and not any(s.status in (503, 504) for s in rows):
                problems.append(f"{phase.name}/{kind}: never failed — was the fault in effect?")
    elif phase.lock_audit_head:
        if not any(s.status in (503, 504) for s in by_kind["write"]):
            problems.append(f"{phase.name}/write: never hit lock_timeout")
        # Reads do not take the lock: they are served, or — when a write stalled on the
        # lock holds their worker's one slot — shed at once; never held for the lock.
        for sample in by_kind["read"]:
            if sample.latency > 1.0 or sample.status not in (200, 503):
                problems.append(
                    f"{phase.name}/read: waited for the audit lock ({sample.latency:.1f} s, "
                    f"{sample.status})"
                )
    # The same fault repeated adds nothing: keep the first three per phase/kind.
    shown: dict[str, int] = {}
    kept = []
    for problem in problems:
        label = problem.split(":")[0]
        shown[label] = shown.get(label, 0) + 1
        if shown[label] <= 3:
            kept.append(problem)
    return kept


@contextlib.contextmanager
def audit_head_locked(app: common.AppEnv, seconds: float) -> Iterator[None]:
    """Hold the audit head row lock from another session (bounded by `seconds`)."""
    import psycopg

    from tongban.core.models import AuditHead

    table = AuditHead._meta.db_table
    released = threading.Event()
    ready = threading.Event()

    def hold() -> None:
        with psycopg.connect(app.db_url, connect_timeout=5) as conn:
            conn.execute(f'SELECT 1 FROM "{table}" WHERE id = 1 FOR UPDATE')  # noqa: S608
            ready.set()
            released.wait(seconds)
            conn.rollback()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield None
    finally:
        released.set()
        thread.join(timeout=10)


def summary_line(samples: list[loadgen.Sample], kind: str) -> str:
    rows = [s for s in samples if s.kind == kind]
    if not rows:
        return f"{kind}: none"
    statuses: dict[str, int] = {}
    for s in rows:
        key = str(s.status) if s.status else s.error
        statuses[key] = statuses.get(key, 0) + 1
    latencies = [s.latency for s in rows]
    codes = " ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))
    return (
        f"{kind:<6} n={len(rows):<3} [{codes}] p50 {loadgen.quantile(latencies, 0.5):.2f} s, "
        f"max {max(latencies):.2f} s"
    )


async def scenario(
    app: common.AppEnv,
    server: common.Gunicorn,
    proxy: FaultProxy,
    world: common.World,
    args: argparse.Namespace,
) -> tuple[float, list[PhaseResult], Probe]:
    # A connection per request, as nginx sends them upstream by default.
    client = loadgen.HttpClient("127.0.0.1", server.port, max_connections=32, keep_alive=False)
    probe = Probe(client, world)
    await probe_for(probe, ["write", "read"], 2.0, 10.0)  # warm-up
    began = time.monotonic()
    baseline = await probe_for(probe, ["write", "read"], args.baseline, 10.0)
    baseline_rate = sum(200 <= s.status < 300 for s in baseline) / (time.monotonic() - began)
    common.log(f"baseline: {baseline_rate:.1f} successes/s with 2 clients (write + read)")
    results = []
    for phase in PHASES:
        if args.only and phase.name not in args.only:
            continue
        common.log(f"phase {phase.name}: {phase.description} for {args.fault:.0f} s")
        result = PhaseResult(phase)
        if phase.lock_audit_head:
            with audit_head_locked(app, args.fault + 10):
                result.samples = await probe_for(
                    probe, ["write", "read", "health"], args.fault, 20.0
                )
        else:
            await asyncio.to_thread(proxy.set_mode, phase.mode, phase.delay_ms)
            result.samples = await probe_for(probe, ["write", "read", "health"], args.fault, 20.0)
            common.log(f"  proxy: {proxy.describe()}")
            await asyncio.to_thread(proxy.set_mode, "pass")
        for kind in ("write", "read", "health"):
            common.log(f"  {summary_line(result.samples, kind)}")
        result.problems = judge(phase, result.samples)
        result.recovery_s, result.recovery_rate, result.recovery_failures = await recover(probe)
        recovery = "never" if result.recovery_s is None else f"{result.recovery_s:.1f} s"
        common.log(
            f"  recovered: {CONSECUTIVE} consecutive successes after {recovery} "
            f"({result.recovery_failures} failures first), then {result.recovery_rate:.1f}/s"
        )
        result.integrity = await asyncio.to_thread(common.check_integrity, app)
        common.log(f"  {result.integrity.describe()}")
        results.append(result)
    await client.close()
    return baseline_rate, results, probe


def lost_writes(probe: Probe) -> tuple[int, int]:
    """Acknowledged writes missing from, or duplicated in, the database."""
    from django.db import connections

    from tongban.cases.models import Application

    connections.close_all()
    stored: dict[tuple[int, str], list[str]] = {}
    for user_id, key, pk in Application.objects.values_list(
        "applicant_id", "idempotency_key", "id"
    ):
        stored.setdefault((user_id, key), []).append(str(pk))
    lost = duplicated = 0
    for key, (user_id, application_id) in probe.acknowledged.items():
        rows = stored.get((user_id, key), [])
        lost += int(application_id not in rows)
        duplicated += int(len(rows) > 1)
    return lost, duplicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fault", type=float, default=8.0, help="seconds per fault phase")
    parser.add_argument("--baseline", type=float, default=5.0)
    parser.add_argument("--only", nargs="*", help="run only these phases")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    started = time.monotonic()
    with common.app_environment("faults") as app:
        world = common.seed_world()
        target = urlsplit(app.db_url)
        proxy = FaultProxy((target.hostname or "127.0.0.1", target.port or 5432)).start()
        proxied = app.db_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
        server = common.Gunicorn(
            app.environ(database_url=proxied), log_path=app.var_dir / "gunicorn.log"
        )
        server.start()
        try:
            common.log(f"gunicorn ready in {server.wait_ready():.1f} s; DB via proxy :{proxy.port}")
            baseline_rate, results, probe = asyncio.run(scenario(app, server, proxy, world, args))
        finally:
            server.stop()
            proxy.stop()
        lost, duplicated = lost_writes(probe)
        final = common.check_integrity(app)
    print("\n==== dependency faults (issue 3 item 5) ====")
    print(
        f"app: gunicorn 2 workers × {server.threads} threads → faultproxy → PostgreSQL; baseline "
        f"{baseline_rate:.1f} successes/s (write + read clients)"
    )
    failed = False
    for result in results:
        phase = result.phase
        print(f"\n[{phase.name}] {phase.description}")
        for kind in ("write", "read", "health"):
            print(f"    {summary_line(result.samples, kind)}")
        rate_ok = result.recovery_rate >= MIN_RATE_SHARE * baseline_rate
        recovered = result.recovery_s is not None and result.recovery_s <= RECOVERY_BOUND_S
        recovery = "never" if result.recovery_s is None else f"{result.recovery_s:.1f} s"
        print(
            f"    recovery: {CONSECUTIVE} consecutive successes after {recovery} "
            f"({result.recovery_failures} failed first); rate then {result.recovery_rate:.1f}/s "
            f"({result.recovery_rate / baseline_rate:.0%} of baseline)"
        )
        assert result.integrity is not None
        print(f"    {result.integrity.describe()}")
        problems = list(result.problems)
        if not recovered:
            problems.append(f"not recovered within {RECOVERY_BOUND_S:.0f} s")
        if not rate_ok:
            problems.append(f"rate after recovery below {MIN_RATE_SHARE:.0%} of baseline")
        if not result.integrity.ok:
            problems.append("integrity check failed")
        for problem in problems[:12]:
            print(f"    FAIL {problem}")
        print(f"    {'PASS' if not problems else 'FAIL'}")
        failed = failed or bool(problems)
    writes = len(probe.acknowledged)
    print(
        f"\nwrites acknowledged {writes}, lost {lost}, duplicated {duplicated}; "
        f"writes answered 503 or unanswered {probe.unacknowledged_writes}"
    )
    print(final.describe())
    failed = failed or lost > 0 or duplicated > 0 or not final.ok
    print(f"runtime {time.monotonic() - started:.0f} s")
    print("dependency faults:", "FAIL" if failed else "PASS")
    if failed:
        print("---- gunicorn log (tail) ----")
        print(server.tail())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
