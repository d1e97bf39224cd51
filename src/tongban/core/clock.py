"""The one place that reads the time, so tests can freeze it (time-machine)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def today() -> date:
    """Today in the platform's time zone (deadlines are local dates)."""
    return timezone.localdate()
