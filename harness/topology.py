"""Issue 3 item 4, with ADR 0019 — the production topology: two gunicorns, a broker, one
Celery worker and beat; the worker SIGKILLed mid-task; nothing lost or done twice.

A fresh PostgreSQL database seeded with the world of ``harness/approvals.py`` (a licensed
item, 一件事 bundle cases, 跨省通办 cases handed over in setup). Started by this scenario, each
in its own process group, all stopped by it (also on failure):

- two gunicorn masters on two loopback ports (2 workers each, production settings), with
  ``CELERY_BROKER_URL`` set: the web processes only queue tasks;
- one worker, ``python -m celery -A tongban.config.celery worker --concurrency 2``, and
  ``celery beat`` (schedule file in a temporary directory; ``events_deliver_due`` every 15 s,
  ``outbox_deliver_due`` every 30 s, from ``CELERY_BEAT_SCHEDULE``);
- the broker: Redis (``--broker redis``: a database of the run's own — one of 8–14 found
  empty and claimed, or ``HARNESS_REDIS_URL`` — flushed at the end) or RabbitMQ
  (``--broker amqp``: ``HARNESS_AMQP_URL``, default the guest account on ``/``); either way
  a queue of the run's own (``CELERY_TASK_DEFAULT_QUEUE``), deleted at the end. The
  rate-limit cache is that Redis database too (``TONGBAN_CACHE_URL``), as in production.

Citizens submit through both gunicorns and staff approve through both (random per
request). During the load: once the pool process of the worker that holds a database
transaction open (a task mid-run) is SIGKILLed, and once — later, while deliveries are
pending, a task is mid-run and (if it comes within 5 s) a hand-off delivery is in the worker —
the whole worker (main process and pool) is SIGKILLed and restarted. Then the scenario waits
for beat and the worker to deliver what is owed.

Every process connects with its own ``application_name`` (``PGAPPNAME``), and the scenario
adds to its scratch database a trigger that records which connection inserted each licence
and release step and marked each event delivery delivered: so the checks can say that the
worker, not a web process, did the work.

Pass when: everything acknowledged; every approved case has exactly one licence; every
case took each step once; every releasable bundle child released once; every cross-region
step on the received application's timeline once, in order, with the handling case's
status; no EventDelivery pending or parked and every hand-off message delivered within the
drain limit; every licence, release and delivery done by the worker; both kills hit a task
mid-run; `tongban audit verify` passes.

Run: ``python harness/topology.py [--broker redis|amqp]`` (≤ 2 minutes). Exit status 0 = pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import approvals, common, crash_load, loadgen

EVENTS_ENV = {"TONGBAN_EVENTS_FIRST_RETRY_S": "2", "TONGBAN_EVENTS_RETRY_BASE_S": "1"}
# Redis: HARNESS_REDIS_URL names a database to use (flushed at the start and the end);
# without it the run claims one of databases 8–14 (the tests use 1 and 15) that it finds
# empty, so that concurrent runs on one machine never share or flush each other's.
REDIS_URL = os.environ.get("HARNESS_REDIS_URL", "")
REDIS_SERVER = "redis://127.0.0.1:6379"
REDIS_DATABASES = range(8, 15)
REDIS_CLAIM = "tongban-harness:claim"  # holds the run's tag; run_all.sh flushes what it claimed
AMQP_URL = os.environ.get("HARNESS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
WORKER_APP = "tongban-worker"


# --------------------------------------------------------------------------- the broker


class Broker:
    """The broker of one run: its URL, the run's own queue and Redis database (also the
    rate-limit cache, as in production), and cleaning up after it."""

    def __init__(self, kind: str, tag: str) -> None:
        self.kind = kind
        self.tag = tag
        self.queue = f"tongban-harness-{tag}-{kind}"
        self.redis_url = ""  # set by claim()

    @property
    def url(self) -> str:
        return self.redis_url if self.kind == "redis" else AMQP_URL

    def _redis(self, url: str | None = None) -> Any:
        import redis

        return redis.Redis.from_url(url or self.redis_url, socket_timeout=5)

    def claim(self) -> None:
        """Take a Redis database of the run's own and, on RabbitMQ, drop a queue of this
        name left by an earlier run."""
        if REDIS_URL:
            self.redis_url = REDIS_URL
            self._redis().flushdb()
        else:
            for number in REDIS_DATABASES:
                url = f"{REDIS_SERVER}/{number}"
                client = self._redis(url)
                if client.set(REDIS_CLAIM, self.tag, nx=True, ex=900):
                    if client.dbsize() == 1:  # nothing but the claim: empty, and now ours
                        self.redis_url = url
                        break
                    client.delete(REDIS_CLAIM)  # someone's data: not ours to flush
            else:
                raise RuntimeError(f"no empty Redis database among {list(REDIS_DATABASES)}")
        if self.kind == "amqp":
            self._amqp_delete()

    def cleanup(self) -> None:
        if self.redis_url:
            with contextlib.suppress(Exception):
                self._redis().flushdb()
        if self.kind == "amqp":
            with contextlib.suppress(Exception):
                self._amqp_delete()

    def _amqp_delete(self) -> None:
        from kombu import Connection

        with Connection(AMQP_URL, connect_timeout=5) as conn:
            channel = conn.channel()
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.queue)
            channel.close()

    def depth(self) -> int | None:
        """Messages waiting in the run's queue (None when the broker cannot say)."""
        try:
            if self.kind == "redis":
                return int(self._redis().llen(self.queue))
            from kombu import Connection

            with Connection(AMQP_URL, connect_timeout=5) as conn:
                channel = conn.channel()
                _, count, _ = channel.queue_declare(self.queue, passive=True)
                channel.close()
                return int(count)
        except Exception:
            return None


# --------------------------------------------------------------------------- Celery processes


class CeleryProcess:
    """`celery worker` or `celery beat` as a child in its own process group, logging to a file."""

    def __init__(self, label: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.label = label
        self.command = [sys.executable, "-m", "celery", "-A", "tongban.config.celery", *args]
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_offset = 0  # where the log of the current start begins

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _pidfile(self) -> Path | None:
        run_dir = os.environ.get("HARNESS_RUN_DIR")  # run_all.sh stops what a killed run left
        return Path(run_dir) / f"celery-{self.label}.pid" if run_dir else None

    def start(self) -> None:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
            self.command,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=str(common.REPO),
            start_new_session=True,
        )
        log_file.close()
        self.starts += 1
        pidfile = self._pidfile()
        if pidfile is not None:
            pidfile.write_text(str(self.proc.pid))

    def wait_for(self, pattern: str, timeout: float = 60.0) -> float:
        """Wait until the log (since the last start) matches `pattern`; return the seconds."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited with {self.proc.returncode}: {self.tail()}"
                )
            if re.search(pattern, self.text()[self.log_offset :]):
                return time.monotonic() - began
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} not ready after {timeout} s: {self.tail()}")

    def pool(self) -> list[int]:
        pid = self.pid
        return common.children(pid) if pid is not None and common.alive(pid) else []

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool): a crash."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (warm shutdown), then SIGKILL of the group if anything is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        self.kill()
        pidfile = self._pidfile()
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


# --------------------------------------------------------------------------- provenance

PROVENANCE_SQL = """
CREATE TABLE harness_provenance (
    id bigserial PRIMARY KEY, what text NOT NULL, row_id text NOT NULL, app text NOT NULL
);
CREATE FUNCTION harness_provenance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO harness_provenance (what, row_id, app)
    VALUES (TG_ARGV[0], NEW.id::text, current_setting('application_name'));
    RETURN NEW;
END $$;
CREATE TRIGGER harness_licence AFTER INSERT ON {licence}
    FOR EACH ROW EXECUTE FUNCTION harness_provenance('licence');
CREATE TRIGGER harness_release AFTER INSERT ON {transition}
    FOR EACH ROW WHEN (NEW.action = 'release') EXECUTE FUNCTION harness_provenance('release');
CREATE TRIGGER harness_delivered AFTER UPDATE OF status ON {delivery}
    FOR EACH ROW WHEN (NEW.status = 'delivered' AND OLD.status <> 'delivered')
    EXECUTE FUNCTION harness_provenance('delivery');
"""


def provenance_install() -> None:
    """Record which connection (application_name) wrote each consequence (harness-only)."""
    from django.db import connection

    from tongban.cases.models import CaseTransition
    from tongban.core.models import EventDelivery
    from tongban.licenses.models import License

    sql = PROVENANCE_SQL.format(
        licence=License._meta.db_table,
        transition=CaseTransition._meta.db_table,
        delivery=EventDelivery._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def provenance() -> dict[tuple[str, str], int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT what, app, count(*) FROM harness_provenance GROUP BY 1, 2")
        rows = {(what, app): int(n) for what, app, n in cursor.fetchall()}
    connection.close()
    return rows


# --------------------------------------------------------------------------- kills


@dataclass
class Kill:
    what: str
    at: float  # seconds into the load
    in_transaction: int  # worker connections with a transaction open at the kill
    pending: int  # event deliveries pending at the kill
    queued: int | None  # messages waiting in the broker queue
    messages: int  # hand-off deliveries (outbox_deliver) received by the worker, not finished
    restart_seconds: float = 0.0


@dataclass
class Chaos:
    kills: list[Kill] = field(default_factory=list)


def _snapshot(db_name: str) -> tuple[list[int], int]:
    """(client ports of the worker's connections with a transaction open, event deliveries
    pending), straight from PostgreSQL (not through Django: this runs in a thread while the
    load goes on)."""
    import psycopg

    from tongban.core.models import EventDelivery

    with psycopg.connect(common.database_url(db_name), autocommit=True, connect_timeout=5) as conn:
        busy = conn.execute(
            "SELECT client_port FROM pg_stat_activity WHERE datname = %s"
            " AND application_name = %s AND xact_start IS NOT NULL",
            (db_name, WORKER_APP),
        ).fetchall()
        pending = conn.execute(
            f"SELECT count(*) FROM {EventDelivery._meta.db_table} WHERE status = 'pending'"  # noqa: S608
        ).fetchone()
    return [int(row[0]) for row in busy if row[0]], int(pending[0] if pending else 0)


def socket_owner(ports: list[int], pids: list[int]) -> int | None:
    """Which of `pids` owns a loopback TCP socket whose local port is in `ports` (/proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) in ports:
                    inodes.add(fields[9])
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return pid
    return None


def in_flight(text: str, task: str) -> int:
    """Tasks of this name the worker's log shows received and not finished (reserved or
    running)."""
    received = set(re.findall(rf"Task tongban\.[\w.]+\.{task}\[([0-9a-f-]+)\] received", text))
    finished = set(
        re.findall(rf"Task tongban\.[\w.]+\.{task}\[([0-9a-f-]+)\] (?:succeeded|raised)", text)
    )
    return len(received - finished)


async def _mid_task(
    db_name: str, worker: CeleryProcess, whole: bool, limit: float
) -> tuple[int, int, int, int | None]:
    """Wait (bounded) for a moment when a task is mid-run: a pool process of the worker holds
    a database transaction open. For the whole worker, also while deliveries are pending and —
    for the first part of the wait — a hand-off message is in flight (an `outbox_deliver`
    received and not finished: the message a crash strands). Returns (worker transactions
    open, deliveries pending, hand-off deliveries in flight, the pool process in a transaction)."""
    began = time.monotonic()
    ports: list[int] = []
    pending = messages = 0
    busy_pid: int | None = None
    while time.monotonic() - began < limit:
        ports, pending = await asyncio.to_thread(_snapshot, db_name)
        messages = in_flight(worker.text()[worker.log_offset :], "outbox_deliver")
        busy_pid = socket_owner(ports, worker.pool()) if ports else None
        if busy_pid and (not whole or (pending and (messages or time.monotonic() - began > 5))):
            break
        await asyncio.sleep(0.01)
    return len(ports), pending, messages, busy_pid


async def chaos(
    worker: CeleryProcess,
    broker: Broker,
    db_name: str,
    progress: list[int],
    total: int,
    done: asyncio.Event,
    record: Chaos,
    args: argparse.Namespace,
) -> None:
    began = time.monotonic()
    for mark, whole in ((args.child_kill_at, False), (args.worker_kill_at, True)):
        while progress[0] < mark * total and not done.is_set():
            await asyncio.sleep(0.05)
        if done.is_set():
            return
        busy, pending, messages, busy_pid = await _mid_task(db_name, worker, whole, limit=10.0)
        queued = await asyncio.to_thread(broker.depth)
        at = time.monotonic() - began
        if whole:
            await asyncio.to_thread(worker.kill)
            kill = Kill("worker (main process and pool)", at, busy, pending, queued, messages)
            await asyncio.sleep(args.worker_down)
            t0 = time.monotonic()
            worker.start()
            await asyncio.to_thread(worker.wait_for, r"ready\.", 60.0)
            kill.restart_seconds = time.monotonic() - t0
        else:
            victim = busy_pid or next(iter(worker.pool()), None)
            if victim is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            what = "one pool process" + (" (in a transaction)" if busy_pid else "")
            kill = Kill(what, at, busy, pending, queued, messages)
        record.kills.append(kill)
        common.log(
            f"t={at:5.1f}s SIGKILL {kill.what}: {busy} worker transactions open, {pending} "
            f"deliveries pending, {queued} tasks queued, {messages} hand-off deliveries in "
            f"the worker"
            + (f"; restarted, ready after {kill.restart_seconds:.1f} s" if whole else "")
        )


# --------------------------------------------------------------------------- the scenario


async def scenario(
    servers: list[common.Gunicorn],
    worker: CeleryProcess,
    broker: Broker,
    db_name: str,
    world: approvals.ApprovalWorld,
    subs: list[loadgen.Submission],
    jobs: list[approvals.CaseJob],
    args: argparse.Namespace,
    rng: random.Random,
) -> tuple[Chaos, float, float | None]:
    clients = [
        loadgen.HttpClient("127.0.0.1", s.port, max_connections=32, keep_alive=False)
        for s in servers
    ]
    logins = [login for desk in world.desks.values() for login in (desk.clerk, desk.reviewer)]
    for n, login in enumerate(logins):
        await approvals.staff_login(clients[n % len(clients)], login)
    common.log(f"{len(logins)} staff signed in (password + TOTP) through both servers")
    staff_queue: asyncio.Queue[approvals.CaseJob | None] = asyncio.Queue()
    for job in jobs:
        staff_queue.put_nowait(job)
    submissions: asyncio.Queue[loadgen.Submission] = asyncio.Queue()
    for sub in subs:
        submissions.put_nowait(sub)
    progress = [0]
    total = 3 * (len(subs) + len(jobs))  # staff steps
    done = asyncio.Event()
    record = Chaos()
    began = time.monotonic()

    def pick() -> loadgen.HttpClient:
        return rng.choice(clients)

    async def citizen(seed: int) -> None:
        jitter = random.Random(seed)  # noqa: S311 — backoff jitter
        while not submissions.empty():
            sub = submissions.get_nowait()
            if time.monotonic() - began > args.time_limit:
                continue
            await loadgen.submit_until_acknowledged(
                clients[sub.index % len(clients)],
                world.licensed_item,
                sub,
                deadline=args.deadline,
                request_timeout=args.request_timeout,
                rng=jitter,
            )
            if sub.acknowledged:
                job = approvals.CaseJob("licensed", "police", sub.case_id, sub.case_number)
                jobs.append(job)
                staff_queue.put_nowait(job)

    async def staff(seed: int) -> None:
        jitter = random.Random(seed)  # noqa: S311 — backoff jitter
        while (job := await staff_queue.get()) is not None:
            if time.monotonic() - began > args.time_limit:
                continue
            await approvals.approve(
                pick,
                world,
                job,
                deadline=args.deadline,
                request_timeout=args.request_timeout,
                rng=jitter,
                progress=progress,
            )

    async def citizens_then_stop() -> None:
        await asyncio.gather(*(citizen(rng.randrange(1 << 30)) for _ in range(args.clients)))
        for _ in range(args.staff):
            staff_queue.put_nowait(None)

    killing = asyncio.create_task(
        chaos(worker, broker, db_name, progress, total, done, record, args)
    )
    await asyncio.gather(
        citizens_then_stop(), *(staff(rng.randrange(1 << 30)) for _ in range(args.staff))
    )
    load_seconds = time.monotonic() - began
    done.set()
    await killing
    for client in clients:
        await client.close()
    # Beat and the worker deliver what is owed: nothing here runs a task.
    drain_began = time.monotonic()
    drained: float | None = None
    while time.monotonic() - drain_began < args.drain_limit:
        if await asyncio.to_thread(approvals.pending_work) == (0, 0):
            drained = time.monotonic() - drain_began
            break
        await asyncio.sleep(0.5)
    return record, load_seconds, drained


def worker_log_counts(text: str) -> tuple[Counter[str], Counter[str]]:
    """From the worker's log: tasks that succeeded per name, and the sum of what they
    returned (deliveries or messages done); plus the pool processes lost."""
    runs: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    pattern = r"Task tongban\.[\w.]+\.(\w+)\[[0-9a-f-]+\] succeeded in [\d.e-]+s: (\w+)"
    for match in re.finditer(pattern, text):
        runs[match.group(1)] += 1
        value = match.group(2)
        returned[match.group(1)] += int(value) if value.isdigit() else int(value == "True")
    runs["pool processes lost (WorkerLostError)"] = len(
        re.findall(r"WorkerLostError\('Worker exited prematurely", text)
    )
    return runs, returned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=("redis", "amqp"), default="redis")
    parser.add_argument("--submissions", type=int, default=60, help="licensed-item applications")
    parser.add_argument("--bundles", type=int, default=20, help="一件事 cases prepared in setup")
    parser.add_argument("--cross-region", type=int, default=20, help="跨省通办 cases (setup)")
    parser.add_argument("--clients", type=int, default=2, help="citizens submitting at once")
    parser.add_argument("--staff", type=int, default=4, help="staff approving at once")
    parser.add_argument("--web-workers", type=int, default=2, help="per gunicorn")
    parser.add_argument("--child-kill-at", type=float, default=0.25, help="share of the steps")
    parser.add_argument("--worker-kill-at", type=float, default=0.55, help="share of the steps")
    parser.add_argument("--worker-down", type=float, default=1.0, help="seconds before restart")
    parser.add_argument("--deadline", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--time-limit", type=float, default=90.0, help="for the load phase")
    parser.add_argument("--drain-limit", type=float, default=75.0, help="seconds")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)  # noqa: S311 — a replayable schedule
    started = time.monotonic()
    broker = Broker(args.broker, common.run_tag())
    servers: list[common.Gunicorn] = []
    worker: CeleryProcess | None = None
    beat: CeleryProcess | None = None
    with common.app_environment(f"topo_{args.broker}", **EVENTS_ENV) as app:
        began = time.monotonic()
        world = approvals.seed(citizens=6, bundles=args.bundles, cross_region=args.cross_region)
        provenance_install()
        common.log(f"world seeded in {time.monotonic() - began:.1f} s")
        subs = [
            loadgen.Submission(
                index=i,
                key=f"topo{seed}-{i}",
                token=world.citizen_tokens[i % len(world.citizen_tokens)],
                user_id=world.citizen_ids[i % len(world.citizen_ids)],
            )
            for i in range(args.submissions)
        ]
        jobs = list(world.jobs)
        tmp = app.var_dir
        try:
            broker.claim()
            # Only the children see the broker: this process seeded with eager tasks and must
            # not run any now.
            shared = {
                "CELERY_BROKER_URL": broker.url,
                "CELERY_TASK_DEFAULT_QUEUE": broker.queue,
                "TONGBAN_CACHE_URL": broker.redis_url,
            }

            def env(name: str) -> dict[str, str]:
                return {**app.environ(), **shared, "PGAPPNAME": name}

            worker = CeleryProcess(
                "worker",
                [
                    "worker",
                    "--concurrency",
                    "2",
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "INFO",
                    "--hostname",
                    f"harness-{common.run_tag()}@%h",
                    "--queues",
                    broker.queue,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                env(WORKER_APP),
                tmp / "worker.log",
            )
            beat = CeleryProcess(
                "beat",
                [
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(tmp / "celerybeat-schedule"),
                    "--pidfile",
                    str(tmp / "celerybeat.pid"),
                ],
                env("tongban-beat"),
                tmp / "beat.log",
            )
            worker.start()
            beat.start()
            for n in range(2):
                servers.append(
                    common.Gunicorn(
                        env(f"tongban-web{n + 1}"),
                        workers=args.web_workers,
                        log_path=tmp / f"gunicorn{n + 1}.log",
                    )
                )
                servers[-1].start()
            for server in servers:
                server.wait_ready()
            ready = worker.wait_for(r"ready\.", 60.0)
            common.log(f"worker ready in {ready:.1f} s")
            beat.wait_for(r"beat: Starting", 30.0)
            common.log(
                f"gunicorns on ports {servers[0].port} and {servers[1].port}, worker and beat "
                f"on {args.broker} (queue {broker.queue}, Redis {broker.redis_url}); seed {seed}"
            )
            record, load_seconds, drained = asyncio.run(
                scenario(servers, worker, broker, app.db_name, world, subs, jobs, args, rng)
            )
        finally:
            for process in (beat, *servers, worker):
                if process is not None:
                    process.stop()
            broker.cleanup()
        outcome = crash_load.verify(subs)
        report = approvals.check_consequences(world)
        origin = provenance()
        audit_ok, audit_output = common.audit_verify(app)
        worker_text = worker.text()
        tails = [("worker", worker.tail()), ("beat", beat.tail(10))] + [
            (f"gunicorn :{server.port}", server.tail(15)) for server in servers
        ]
    summary = approvals.job_summary(jobs)
    acknowledged = [s for s in subs if s.acknowledged]
    expected_jobs = args.bundles + args.cross_region + args.submissions
    runs, returned = worker_log_counts(worker_text)
    by_worker = {
        what: origin.get((what, WORKER_APP), 0) for what in ("licence", "release", "delivery")
    }
    elsewhere = {
        f"{what} by {app_name or '?'}": n
        for (what, app_name), n in origin.items()
        if app_name != WORKER_APP
    }
    print(f"\n==== topology: 2 gunicorns + {args.broker} + worker + beat (ADR 0019) ====")
    print(f"seed               {seed} (replay: --seed {seed})")
    drain = f"{drained:.1f} s" if drained is not None else f"NOT within {args.drain_limit:.0f} s"
    print(
        f"load               {len(subs)} submissions + {summary['steps']} staff steps in "
        f"{load_seconds:.1f} s; beat and the worker delivered what was owed in {drain}"
    )
    print(
        f"acknowledged       submissions {len(acknowledged)}/{len(subs)}; cases approved "
        f"{summary['approved']}/{expected_jobs} {summary['by_kind']}"
    )
    print(
        f"retried            {sum(s.attempts > 1 for s in subs)} submissions, "
        f"{summary['retried']} cases; causes {summary['causes']}"
    )
    for kill in record.kills:
        restart = f", restarted in {kill.restart_seconds:.1f} s" if kill.restart_seconds else ""
        print(
            f"kill               t={kill.at:.1f}s {kill.what}: {kill.in_transaction} worker "
            f"transactions open, {kill.pending} deliveries pending, {kill.queued} tasks queued, "
            f"{kill.messages} hand-off deliveries in the worker{restart}"
        )
    print(
        f"worker             {worker.starts} starts; tasks succeeded {dict(sorted(runs.items()))}"
    )
    print(
        f"                   delivered by events_deliver {returned['events_deliver']}, by the "
        f"periodic events_deliver_due {returned['events_deliver_due']}; hand-off messages by "
        f"outbox_deliver {returned['outbox_deliver']}, by outbox_deliver_due "
        f"{returned['outbox_deliver_due']}"
    )
    print(f"done by the worker {by_worker}; elsewhere {elsewhere or 'nothing'}")
    print(
        f"submissions        lost {outcome['lost']}, duplicated {outcome['duplicated']}, "
        f"mismatched {outcome['mismatched']}"
    )
    print(f"consequences       {report.describe()}")
    print(f"audit              {audit_output}")
    for rejected in summary["rejected"][:3]:
        print(f"  refused: {rejected}")
    pool_mid_task = any(kill.what.endswith("(in a transaction)") for kill in record.kills)
    worker_mid_task = any(
        kill.what.startswith("worker") and kill.in_transaction for kill in record.kills
    )
    checks = approvals.print_checks(
        report,
        {
            "submissions: lost = 0, duplicated = 0, ids match": outcome["lost"] == 0
            and outcome["duplicated"] == 0
            and outcome["mismatched"] == 0,
            "everything acknowledged (every submission, every case approved)": len(acknowledged)
            == len(subs)
            and summary["approved"] == expected_jobs,
            "owed work delivered within the drain limit": drained is not None,
            "every licence, release and delivery done by the worker (web processes only queue)": (
                not elsewhere
                and by_worker["licence"] == report.licences
                and by_worker["release"] == report.releases
                and by_worker["delivery"] == report.deliveries["delivered"]
            ),
            "a pool process and the whole worker were SIGKILLed mid-task": pool_mid_task
            and worker_mid_task,
            "audit chain verifies": audit_ok,
        },
    )
    print(f"runtime            {time.monotonic() - started:.0f} s")
    ok = all(checks.values())
    print(f"topology ({args.broker}):", "PASS" if ok else "FAIL")
    if not ok:
        for name, tail in tails:
            print(f"---- {name} log (tail) ----")
            print(tail)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
