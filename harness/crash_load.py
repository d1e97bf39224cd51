"""Issue 3 item 4 — crash under load: SIGKILL gunicorn workers and master mid-submission.

A fresh PostgreSQL database, migrated and seeded (citizens with API tokens, a published item
with one mandatory material); gunicorn (2 workers, production settings) on a
free loopback port. N clients submit applications (POST /api/v1/applications, a small
base64 PDF, one Idempotency-Key per logical submission) and retry with the SAME key on
connection errors, timeouts, 429 and 5xx until acknowledged (201, or 200 for a replay) or
a deadline. Meanwhile a killer SIGKILLs a random worker every 0.3–1.5 s, and a few times
the master itself — alternately the master alone (its workers are orphaned and drain) and
the whole process group (a hard crash), with worker kills between them — and restarts
gunicorn.

Pass when: every acknowledged submission is stored exactly once (one application per
applicant and key, the acknowledged id and case number, one case), no logical submission is
stored twice, no partial submission exists (each application: one case, one 'submit' step,
its material with a file whose SHA-256 matches, one audit record), `tongban audit verify`
passes, and every submission was acknowledged (none gave up, none refused with a 4xx).

Run: ``python harness/crash_load.py`` (default 400 submissions, 8 clients; ≤ 3 minutes).
Exit status 0 = pass. ``--seed`` replays a kill schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import common, loadgen


@dataclass
class Kills:
    workers: int = 0
    masters: int = 0
    hard_crashes: int = 0  # master killed with its whole process group
    orphans_killed: int = 0  # orphaned workers that had not drained in time
    restart_seconds: list[float] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


async def killer(
    server: common.Gunicorn,
    done: asyncio.Event,
    progress: list[int],
    total: int,
    args: argparse.Namespace,
    rng: random.Random,
    kills: Kills,
) -> None:
    # Master kills at 10 %, 25 %, 40 % … of the acknowledged submissions, with a worker kill
    # between them (or at once past 80 %), so all land while the load is still running. Once a
    # master kill is due the killer waits only the shortest interval: a fast run (the load
    # done in under 8 s) otherwise ended before the last master kill.
    marks = [total * (0.1 + 0.15 * k) for k in range(args.master_kills)]
    began = time.monotonic()
    since_master = 0  # worker kills since the last master kill: keep them interleaved
    # --kill-progress N: a worker is killed only after N more acknowledgements since the last
    # kill, so that on a slow or busy machine the kills cannot outpace the workers' restarts.
    last_kill_progress = -args.kill_progress
    while not done.is_set() and time.monotonic() - began < args.time_limit:
        due = bool(marks) and progress[0] >= marks[0]
        wait = args.kill_min if due else rng.uniform(args.kill_min, args.kill_max)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=wait)
            return
        urgent = progress[0] >= 0.8 * total  # the load is nearly done: no more waiting
        if marks and progress[0] >= marks[0] and (since_master >= 1 or urgent):
            marks.pop(0)
            since_master = 0
            hard = kills.masters % 2 == 1
            t0 = time.monotonic()
            orphans = await asyncio.to_thread(server.kill_master, whole_group=hard)
            kills.masters += 1
            kills.hard_crashes += int(hard)
            what = "master + workers (hard crash)" if hard else "master (workers orphaned)"
            left = await asyncio.to_thread(common.wait_gone, orphans, 15.0)
            kills.orphans_killed += len(left)
            for _ in range(300):  # ≤ 15 s for the listening socket to be released
                if common.port_is_free(server.port):
                    break
                await asyncio.sleep(0.05)
            server.start()
            await asyncio.to_thread(server.wait_ready, 60.0)
            kills.restart_seconds.append(time.monotonic() - t0)
            kills.log.append(
                f"t={t0 - began:5.1f}s SIGKILL {what}; restarted, ready after "
                f"{kills.restart_seconds[-1]:.1f} s"
            )
            common.log(kills.log[-1])
            continue
        workers = server.worker_pids()
        if workers and progress[0] - last_kill_progress >= args.kill_progress:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills.workers += 1
                since_master += 1
                last_kill_progress = progress[0]


async def scenario(
    server: common.Gunicorn,
    world: common.World,
    subs: list[loadgen.Submission],
    args: argparse.Namespace,
    rng: random.Random,
) -> tuple[Kills, int, float]:
    # A connection per request, as nginx sends them upstream by default.
    client = loadgen.HttpClient(
        "127.0.0.1", server.port, max_connections=2 * args.clients, keep_alive=False
    )
    queue: asyncio.Queue[loadgen.Submission] = asyncio.Queue()
    for sub in subs:
        queue.put_nowait(sub)
    progress = [0]
    done = asyncio.Event()
    kills = Kills()
    began = time.monotonic()
    not_started = 0

    async def client_task(seed: int) -> None:
        nonlocal not_started
        jitter = random.Random(seed)  # noqa: S311 — backoff jitter
        while not queue.empty():
            sub = queue.get_nowait()
            if time.monotonic() - began > args.time_limit:
                not_started += 1
                continue
            await loadgen.submit_until_acknowledged(
                client,
                world.item_code,
                sub,
                deadline=args.deadline,
                request_timeout=args.request_timeout,
                rng=jitter,
            )
            progress[0] += int(sub.acknowledged)

    killing = asyncio.create_task(killer(server, done, progress, len(subs), args, rng, kills))
    await asyncio.gather(*(client_task(rng.randrange(1 << 30)) for _ in range(args.clients)))
    done.set()
    await killing
    await client.close()
    return kills, not_started, time.monotonic() - began


def verify(subs: list[loadgen.Submission]) -> dict[str, int | list[str]]:
    """Compare what the clients were told with what the database holds."""
    from django.db import connections
    from django.db.models import Count

    from tongban.cases.models import Application, Case

    connections.close_all()
    stored: dict[tuple[int, str], list[str]] = {}
    for user_id, key, pk in Application.objects.values_list(
        "applicant_id", "idempotency_key", "id"
    ):
        stored.setdefault((user_id, key or ""), []).append(str(pk))
    case_numbers: dict[str, list[str]] = {}
    for application_id, number in Case.objects.values_list("application_id", "case_number"):
        case_numbers.setdefault(str(application_id), []).append(number)
    lost = duplicated = mismatched = unacked_stored = 0
    notes: list[str] = []
    for sub in subs:
        rows = stored.get((sub.user_id, sub.key), [])
        if not sub.acknowledged:
            unacked_stored += int(bool(rows))
            continue
        if not rows:
            lost += 1
            notes.append(f"lost: {sub.key} acknowledged as {sub.application_id}")
        elif len(rows) > 1:
            duplicated += 1
            notes.append(f"duplicated: {sub.key} stored {len(rows)} times")
        elif rows[0] != sub.application_id or case_numbers.get(rows[0]) != [sub.case_number]:
            mismatched += 1
            notes.append(f"mismatch: {sub.key} acknowledged {sub.application_id}")
    # A logical submission stored under two keys would be a duplicate too: the form's
    # reason carries the logical key, so count it directly.
    by_content = (
        Application.objects.filter(form_data__has_key="reason")
        .values("form_data__reason")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return {
        "lost": lost,
        "duplicated": duplicated + by_content,
        "mismatched": mismatched,
        "unacknowledged_but_stored": unacked_stored,
        "notes": notes[:10],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--master-kills", type=int, default=3)
    parser.add_argument("--kill-min", type=float, default=0.3, help="seconds between kills")
    parser.add_argument("--kill-max", type=float, default=1.5)
    parser.add_argument(
        "--kill-progress", type=int, default=0, help="acknowledgements between worker kills"
    )
    parser.add_argument("--deadline", type=float, default=60.0, help="per submission, seconds")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--time-limit", type=float, default=150.0, help="for the load phase")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)  # noqa: S311 — a replayable kill schedule
    started = time.monotonic()
    with common.app_environment("crash") as app:
        world = common.seed_world(citizens=6, extra_items=0)
        run = f"crash{seed}"
        subs = [
            loadgen.Submission(
                index=i,
                key=f"{run}-{i}",
                token=world.tokens[i % len(world.tokens)],
                user_id=world.user_ids[i % len(world.user_ids)],
            )
            for i in range(args.submissions)
        ]
        server = common.Gunicorn(app.environ(), log_path=app.var_dir / "gunicorn.log")
        server.start()
        try:
            common.log(f"gunicorn ready in {server.wait_ready():.1f} s on port {server.port}")
            common.log(f"load: {args.submissions} submissions, {args.clients} clients, seed {seed}")
            kills, not_started, load_seconds = asyncio.run(scenario(server, world, subs, args, rng))
        finally:
            server.stop()
        outcome = verify(subs)
        integrity = common.check_integrity(app)
    acknowledged = [s for s in subs if s.acknowledged]
    retried = [s for s in subs if s.attempts > 1]
    replayed = [s for s in subs if s.replayed]
    gave_up = [s for s in subs if s.gave_up]
    rejected = [s for s in subs if s.rejected]
    causes: Counter[str] = Counter()
    for sub in subs:
        causes.update(sub.errors)
    attempts = sum(s.attempts for s in subs)
    checks = {
        "lost = 0": outcome["lost"] == 0,
        "duplicated = 0": outcome["duplicated"] == 0,
        "acknowledged id and case number match the database": outcome["mismatched"] == 0,
        "no partial submission; audit chain intact": integrity.ok,
        "every submission acknowledged (none gave up, none refused)": len(acknowledged)
        == len(subs),
        "the killer killed workers and masters": kills.workers > 0
        and kills.masters == args.master_kills,
    }
    print("\n==== crash under load (issue 3 item 4) ====")
    print(f"seed               {seed} (replay: --seed {seed})")
    print(
        f"load               {len(subs)} submissions by {args.clients} clients in "
        f"{load_seconds:.1f} s ({len(acknowledged) / load_seconds:.1f} acknowledged/s)"
    )
    print(f"acknowledged       {len(acknowledged)} (of which {len(replayed)} as 200 replays)")
    print(
        f"retried            {len(retried)} submissions needed more than one attempt; "
        f"{attempts} attempts in all"
    )
    print(f"retry causes       {dict(sorted(causes.items()))}")
    print(f"lost               {outcome['lost']}")
    print(f"duplicated         {outcome['duplicated']}")
    print(f"mismatched         {outcome['mismatched']}")
    print(
        f"unacknowledged     gave up {len(gave_up)}, refused {len(rejected)}, not started "
        f"{not_started}; stored anyway {outcome['unacknowledged_but_stored']}"
    )
    restarts = ", ".join(f"{s:.1f}" for s in kills.restart_seconds)
    print(
        f"kills              {kills.workers} workers SIGKILLed; {kills.masters} masters "
        f"SIGKILLed ({kills.hard_crashes} with their workers); restarts ready after "
        f"[{restarts}] s; orphans force-killed {kills.orphans_killed}"
    )
    for line in kills.log:
        print(f"                   {line}")
    print(integrity.describe())
    for note in outcome["notes"]:  # type: ignore[union-attr]
        print(f"  {note}")
    for sub in rejected[:3]:
        print(f"  refused: {sub.key}: {sub.rejected}")
    for name, passed in checks.items():
        print(f"  [{'PASS' if passed else 'FAIL'}] {name}")
    print(f"runtime            {time.monotonic() - started:.0f} s")
    ok = all(checks.values()) and not_started == 0
    print("crash under load:", "PASS" if ok else "FAIL")
    if not ok:
        print("---- gunicorn log (tail) ----")
        print(server.tail())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
