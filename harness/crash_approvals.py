"""Issue 3 item 4, with ADR 0019 — approvals under kill -9: SIGKILL gunicorn workers and
master while citizens submit and staff approve, and check that every consequence of every
approval (licence, 一件事 release, 跨省通办 status report) happened exactly once.

A fresh PostgreSQL database, migrated and seeded with the world of ``harness/approvals.py``:
a licensed item, 一件事 bundle cases whose downstream child waits for the upstream's
approval, and 跨省通办 cases received in 440000 and handed over to 330000 (prepared in setup
by calling the services). gunicorn (2 workers, production settings, no broker: the
consequences run in the web process right after the approval commits, the embedded
default) on a free loopback port. Staff obtain API tokens (password + TOTP); then at once:

- citizens submit applications for the licensed item (Idempotency-Key, retried as in
  ``crash_load.py``), each acknowledged one going to the staff's queue;
- staff take cases from the queue — bundle upstreams and cross-region cases from the start —
  and accept (clerk), start the review and approve (reviewer) each, retrying on connection
  errors, 429 and 5xx; a 409 after an attempt whose answer was lost is resolved by looking
  the case up (the step was stored);
- the killer of ``crash_load.py`` SIGKILLs a random worker every 1.5–4 s (once 4 more
  requests were acknowledged since the last kill: kills never outpace the restarts) and three
  times the master (alone, then with its workers), restarting gunicorn;
- this process plays ``celery beat``: every 2 s it runs ``events_deliver_due`` and the
  hand-off outbox's ``outbox_deliver_due`` (the deliveries a kill cut off between commit
  and handler; ``TONGBAN_EVENTS_FIRST_RETRY_S=2`` keeps the wait short).

After the load the periodic retry runs until nothing is owed (bounded). Pass when: every
acknowledged submission stored exactly once; every case took each step once and in order;
every approved case has exactly one licence; every released bundle child was released once;
every cross-region received application's timeline holds each step once, in order, and its
remote status is the handling case's; no EventDelivery pending or parked and every hand-off
message delivered; `tongban audit verify` passes; everything acknowledged; the killer
killed workers and masters.

Run: ``python harness/crash_approvals.py`` (≤ 2 minutes). Exit status 0 = pass.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import approvals, common, crash_load, loadgen

EVENTS_ENV = {"TONGBAN_EVENTS_FIRST_RETRY_S": "2", "TONGBAN_EVENTS_RETRY_BASE_S": "1"}
# Approvals are slow requests (a licence is signed and logged in the request, eagerly): with
# the default 200-ms queue wait most waiting requests would be shed and retried a second
# later. Shedding is saturation.py's subject; here a request may wait up to 2 s for its turn.
SHEDDING_ENV = {"TONGBAN_QUEUE_WAIT_MS": "2000", "TONGBAN_QUEUE_WAIT_OVERLOADED_MS": "2000"}


def periodic_retry() -> tuple[int, int]:
    """What beat does in production: retry due event deliveries and hand-off messages."""
    from django.db import connections

    from tongban.core import events
    from tongban.interchange import services as interchange

    try:
        return events.deliveries_due(), interchange.outbox_deliver_due()
    finally:
        connections.close_all()


class Beat:
    def __init__(self) -> None:
        self.runs = 0
        self.deliveries = 0
        self.messages = 0

    async def tick(self) -> None:
        deliveries, messages = await asyncio.to_thread(periodic_retry)
        self.runs += 1
        self.deliveries += deliveries
        self.messages += messages

    async def every(self, seconds: float, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=seconds)
            except TimeoutError:
                await self.tick()


async def scenario(
    server: common.Gunicorn,
    world: approvals.ApprovalWorld,
    subs: list[loadgen.Submission],
    jobs: list[approvals.CaseJob],
    args: argparse.Namespace,
    rng: random.Random,
) -> tuple[crash_load.Kills, Beat, float, float]:
    client = loadgen.HttpClient(
        "127.0.0.1",
        server.port,
        max_connections=2 * (args.clients + args.staff),
        keep_alive=False,
    )
    for desk in world.desks.values():
        for login in (desk.clerk, desk.reviewer):
            await approvals.staff_login(client, login)
    common.log(f"{2 * len(world.desks)} staff signed in (password + TOTP)")
    staff_queue: asyncio.Queue[approvals.CaseJob | None] = asyncio.Queue()
    for job in jobs:
        staff_queue.put_nowait(job)
    submissions: asyncio.Queue[loadgen.Submission] = asyncio.Queue()
    for sub in subs:
        submissions.put_nowait(sub)
    progress = [0]
    total = len(subs) + 3 * (len(subs) + len(jobs))
    done = asyncio.Event()
    kills = crash_load.Kills()
    beat = Beat()
    began = time.monotonic()

    async def citizen(seed: int) -> None:
        jitter = random.Random(seed)  # noqa: S311 — backoff jitter
        while not submissions.empty():
            sub = submissions.get_nowait()
            if time.monotonic() - began > args.time_limit:
                continue
            await loadgen.submit_until_acknowledged(
                client,
                world.licensed_item,
                sub,
                deadline=args.deadline,
                request_timeout=args.request_timeout,
                rng=jitter,
            )
            if sub.acknowledged:
                progress[0] += 1
                job = approvals.CaseJob("licensed", "police", sub.case_id, sub.case_number)
                jobs.append(job)
                staff_queue.put_nowait(job)

    async def staff(seed: int) -> None:
        jitter = random.Random(seed)  # noqa: S311 — backoff jitter
        while (job := await staff_queue.get()) is not None:
            if time.monotonic() - began > args.time_limit:
                continue
            await approvals.approve(
                lambda: client,
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
            staff_queue.put_nowait(None)  # after every job: the queue is first in, first out

    killing = asyncio.create_task(
        crash_load.killer(server, done, progress, total, args, rng, kills)
    )
    beating = asyncio.create_task(beat.every(args.beat_interval, done))
    await asyncio.gather(
        citizens_then_stop(), *(staff(rng.randrange(1 << 30)) for _ in range(args.staff))
    )
    load_seconds = time.monotonic() - began
    done.set()
    await killing
    await beating
    await client.close()
    # The periodic retry until nothing is owed (the last kills' deliveries become due after
    # FIRST_RETRY_S, a failed one after its backoff).
    drain_began = time.monotonic()
    while time.monotonic() - drain_began < args.drain_limit:
        await beat.tick()
        if await asyncio.to_thread(approvals.pending_work) == (0, 0):
            break
        await asyncio.sleep(1.0)
    return kills, beat, load_seconds, time.monotonic() - drain_began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=36, help="licensed-item applications")
    parser.add_argument("--bundles", type=int, default=12, help="一件事 cases prepared in setup")
    parser.add_argument("--cross-region", type=int, default=12, help="跨省通办 cases (setup)")
    parser.add_argument("--clients", type=int, default=2, help="citizens submitting at once")
    parser.add_argument("--staff", type=int, default=4, help="staff approving at once")
    parser.add_argument("--master-kills", type=int, default=3)
    parser.add_argument("--kill-min", type=float, default=1.0, help="seconds between kills")
    parser.add_argument("--kill-max", type=float, default=4.0)
    parser.add_argument(
        "--kill-progress",
        type=int,
        default=4,
        help="acknowledged requests between worker kills (the kills never outpace restarts)",
    )
    parser.add_argument("--deadline", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--time-limit", type=float, default=150.0, help="for the load phase")
    parser.add_argument("--beat-interval", type=float, default=2.0)
    parser.add_argument("--drain-limit", type=float, default=60.0, help="seconds")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)  # noqa: S311 — a replayable kill schedule
    started = time.monotonic()
    with common.app_environment("approve", **EVENTS_ENV, **SHEDDING_ENV) as app:
        began = time.monotonic()
        world = approvals.seed(citizens=6, bundles=args.bundles, cross_region=args.cross_region)
        common.log(
            f"world seeded in {time.monotonic() - began:.1f} s: {args.bundles} bundle cases, "
            f"{args.cross_region} cross-region cases handed over"
        )
        run = f"approve{seed}"
        subs = [
            loadgen.Submission(
                index=i,
                key=f"{run}-{i}",
                token=world.citizen_tokens[i % len(world.citizen_tokens)],
                user_id=world.citizen_ids[i % len(world.citizen_ids)],
            )
            for i in range(args.submissions)
        ]
        jobs = list(world.jobs)
        server = common.Gunicorn(app.environ(), log_path=app.var_dir / "gunicorn.log")
        server.start()
        try:
            common.log(f"gunicorn ready in {server.wait_ready():.1f} s on port {server.port}")
            common.log(
                f"load: {args.submissions} submissions by {args.clients} citizens, "
                f"{len(jobs)}+ cases approved by {args.staff} staff, seed {seed}"
            )
            kills, beat, load_seconds, drain_seconds = asyncio.run(
                scenario(server, world, subs, jobs, args, rng)
            )
        finally:
            server.stop()
        outcome = crash_load.verify(subs)
        report = approvals.check_consequences(world)
        audit_ok, audit_output = common.audit_verify(app)
    summary = approvals.job_summary(jobs)
    acknowledged = [s for s in subs if s.acknowledged]
    sub_retried = [s for s in subs if s.attempts > 1]
    expected_jobs = args.bundles + args.cross_region + args.submissions
    print("\n==== approvals under kill -9 (issue 3 item 4, ADR 0019) ====")
    print(f"seed               {seed} (replay: --seed {seed})")
    print(
        f"load               {len(subs)} submissions + {summary['steps']} staff steps in "
        f"{load_seconds:.1f} s; periodic retry drained in {drain_seconds:.1f} s"
    )
    print(
        f"acknowledged       submissions {len(acknowledged)}/{len(subs)} "
        f"({sum(s.replayed for s in subs)} as 200 replays); cases approved "
        f"{summary['approved']}/{expected_jobs} {summary['by_kind']}; steps acknowledged by "
        f"409 + lookup (stored, answer lost) {summary['replayed']}"
    )
    print(
        f"retried            {len(sub_retried)} submissions, {summary['retried']} cases; "
        f"{sum(s.attempts for s in subs)} submission attempts, {summary['attempts']} step "
        f"attempts for {summary['steps']} steps"
    )
    print(f"retry causes       {summary['causes']}")
    print(
        f"periodic retry     {beat.runs} runs: {beat.deliveries} event deliveries, "
        f"{beat.messages} hand-off messages delivered"
    )
    restarts = ", ".join(f"{s:.1f}" for s in kills.restart_seconds)
    print(
        f"kills              {kills.workers} workers SIGKILLed; {kills.masters} masters "
        f"SIGKILLed ({kills.hard_crashes} with their workers); restarts ready after "
        f"[{restarts}] s; orphans force-killed {kills.orphans_killed}"
    )
    for line in kills.log:
        print(f"                   {line}")
    print(
        f"submissions        lost {outcome['lost']}, duplicated {outcome['duplicated']}, "
        f"mismatched {outcome['mismatched']}"
    )
    print(f"consequences       {report.describe()}")
    print(f"audit              {audit_output}")
    for note in outcome["notes"]:  # type: ignore[union-attr]
        print(f"  {note}")
    for rejected in summary["rejected"][:3]:
        print(f"  refused: {rejected}")
    checks = approvals.print_checks(
        report,
        {
            "submissions: lost = 0, duplicated = 0, ids match": outcome["lost"] == 0
            and outcome["duplicated"] == 0
            and outcome["mismatched"] == 0,
            "audit chain verifies": audit_ok,
            "everything acknowledged (every submission, every case approved)": len(acknowledged)
            == len(subs)
            and summary["approved"] == expected_jobs,
            # Both kinds of master kill landed while approvals ran: a master alone (workers
            # orphaned) and the whole group (a hard crash). A fast run (the load done in
            # 10 s on a quiet machine) may end before a third planned master kill.
            "the killer killed workers, a master alone and a master with its workers": (
                kills.workers > 0
                and kills.hard_crashes >= 1
                and kills.masters - kills.hard_crashes >= 1
            ),
        },
    )
    print(f"runtime            {time.monotonic() - started:.0f} s")
    ok = all(checks.values())
    print("approvals under kill -9:", "PASS" if ok else "FAIL")
    if not ok:
        print("---- gunicorn log (tail) ----")
        print(server.tail())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
