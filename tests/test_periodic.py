"""The embedded beat of `tongban demo` (ops/periodic.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tongban.ops.periodic import Entry, entries_from, run_due, start_embedded_beat


def test_runs_due_entries_only_and_survives_a_failing_task() -> None:
    now = timezone.now()
    entries = entries_from(
        {
            "due": {"task": "t.due", "schedule": 10.0, "args": (1,)},
            "not_due": {"task": "t.not_due", "schedule": timedelta(hours=1)},
            "failing": {"task": "t.failing", "schedule": 10.0},
        },
        now,
    )
    by_name = {entry.name: entry for entry in entries}
    by_name["due"].last_run_at = now - timedelta(seconds=11)
    by_name["failing"].last_run_at = now - timedelta(seconds=11)
    ran: list[str] = []

    def run(entry: Entry) -> None:
        ran.append(entry.task)
        if entry.task == "t.failing":
            raise RuntimeError("boom")

    wait = run_due(entries, run, timezone.now)

    assert ran == ["t.due", "t.failing"]
    assert by_name["due"].last_run_at >= now  # rescheduled from the run
    assert by_name["not_due"].last_run_at == now
    assert 0.5 <= wait <= 10.0  # the next due entry is the 10 s ones

    ran.clear()
    run_due(entries, run, timezone.now)
    assert ran == []  # nothing due again straight away


def test_the_embedded_beat_ends_when_its_stop_event_is_set(settings: Any) -> None:
    settings.CELERY_BEAT_SCHEDULE = {"hourly": {"task": "t.hourly", "schedule": timedelta(hours=1)}}
    stop = threading.Event()
    beat = start_embedded_beat(stop)
    assert beat.is_alive()  # waiting for the hourly entry

    stop.set()  # what `tongban demo` does when it is stopped

    beat.join(timeout=5)
    assert not beat.is_alive()
