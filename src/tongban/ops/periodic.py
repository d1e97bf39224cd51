"""Periodic work in the embedded default: a small in-process beat for `tongban demo`.

In production, `celery beat` reads ``CELERY_BEAT_SCHEDULE`` and sends the tasks to the broker.
The embedded default has no broker (tasks run eagerly), so `tongban demo` runs this loop in a
daemon thread instead: the same schedule, the same tasks, run in-process one after another.
A task that fails is logged and tried again at its next due time; it never stops the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery.schedules import maybe_schedule

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    name: str
    task: str
    schedule: Any  # celery.schedules.schedule or crontab
    last_run_at: datetime
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def entries_from(schedule: Mapping[str, Mapping[str, Any]], now: datetime) -> list[Entry]:
    """Entries of a CELERY_BEAT_SCHEDULE-shaped mapping, first due one interval from `now`."""
    return [
        Entry(
            name=name,
            task=spec["task"],
            schedule=maybe_schedule(spec["schedule"]),
            last_run_at=now,
            args=tuple(spec.get("args", ())),
            kwargs=dict(spec.get("kwargs", {})),
        )
        for name, spec in schedule.items()
    ]


def run_due(
    entries: list[Entry], run: Callable[[Entry], None], now: Callable[[], datetime]
) -> float:
    """Run every due entry; return seconds until the next one is due (at most 60)."""
    wait = 60.0
    for entry in entries:
        due, next_in = entry.schedule.is_due(entry.last_run_at)
        if due:
            entry.last_run_at = now()
            try:
                run(entry)
            except Exception:
                logger.exception("periodic task %s (%s) failed", entry.name, entry.task)
            due, next_in = entry.schedule.is_due(entry.last_run_at)
        wait = min(wait, max(float(next_in), 0.5))
    return wait


def _run_task(entry: Entry) -> None:
    from tongban.config.celery import app

    app.loader.import_default_modules()
    app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs).get()


def start_embedded_beat(stop: threading.Event | None = None) -> threading.Thread:
    """Start the in-process beat over settings.CELERY_BEAT_SCHEDULE (a daemon thread); it
    ends once `stop` is set (`tongban demo` sets it when it is stopped)."""
    from django.conf import settings
    from django.utils import timezone

    stop = stop or threading.Event()
    entries = entries_from(getattr(settings, "CELERY_BEAT_SCHEDULE", {}), timezone.now())

    def loop() -> None:
        while not stop.is_set():
            wait = run_due(entries, _run_task, timezone.now)
            stop.wait(wait)

    thread = threading.Thread(target=loop, name="tongban-embedded-beat", daemon=True)
    thread.start()
    return thread
