"""Security monitoring of lookups: rules that raise alerts to security officers.

Rules, evaluated as each lookup is recorded (`alerts_due` reads before the record is written;
`alerts_raise` writes in the record's transaction):
- rate: more than RATE_LIMIT lookups by one calling account within RATE_WINDOW_SECONDS
  (counted in the database on every RATE_CHECK_EVERY-th lookup a process records);
- off_hours: a lookup on a non-working day (core.calendar) or outside WORKING_HOURS;
- no_open_case: a department lookup or verification not tied to an open case;
- bulk_unmasking: more than UNMASKED_LIMIT plain-value lookups within the window.
Prefill lookups are initiated by the data subject with consent and only count towards `rate`.
Each alert is deduplicated (one per rule, account and window/hour/record) and audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tongban.core.audit import audit_record_append
from tongban.core.calendar import Calendar

from .conf import exchange_setting
from .models import AlertRule, DataUseRecord, LookupKind, SecurityAlert

_CALENDAR_SECONDS = 300
# Lookups per caller seen by this process: the rate rule counts in the database on every
# RATE_CHECK_EVERY-th of them (the count is exact when taken; detection lags by at most that
# many lookups per process).
_seen: dict[str, int] = {}
_calendar_cache: dict[str, Any] = {}


def _calendar() -> Calendar:
    """The working-day calendar, reloaded every few minutes (it changes once a year)."""
    loaded = _calendar_cache.get("at", 0.0)
    if time.monotonic() - loaded > _CALENDAR_SECONDS or "calendar" not in _calendar_cache:
        _calendar_cache["calendar"] = Calendar.load()
        _calendar_cache["at"] = time.monotonic()
    return _calendar_cache["calendar"]  # type: ignore[no-any-return]


def calendar_cache_clear() -> None:
    _calendar_cache.clear()


@dataclass(frozen=True)
class DueAlert:
    """An alert a lookup's record will raise: found before the record is written, raised in
    the record's transaction."""

    rule: str
    dedupe: str | None  # None: one alert per record, keyed by the record's id
    evidence: dict[str, Any]
    record_as: str  # the evidence key that names the record once it has an id

    def key(self, record: DataUseRecord) -> str:
        dedupe = str(record.pk) if self.dedupe is None else self.dedupe
        return f"{self.rule}:{record.caller}:{dedupe}"[:200]


def _raise(record: DataUseRecord, due: DueAlert) -> None:
    key = due.key(record)
    try:
        with transaction.atomic():
            alert = SecurityAlert.objects.create(
                rule=due.rule,
                caller=record.caller,
                department=record.department,
                raised_at=record.occurred_at,
                evidence={**due.evidence, due.record_as: record.pk},
                dedupe_key=key,
            )
    except IntegrityError:
        return  # raised meanwhile by another process for this window
    audit_record_append(
        actor="system:monitor",
        action="exchange.alert.raise",
        object_type="security_alert",
        object_id=str(alert.pk),
        detail={"rule": due.rule, "caller": record.caller, "record": record.pk},
    )


def _recent_count(caller: str, since: datetime) -> int:
    """Lookups by `caller` after `since`: on every lookup, so plain SQL on the
    (caller, occurred_at) index rather than a freshly compiled ORM query."""
    table = connection.ops.quote_name(DataUseRecord._meta.db_table)
    value = connection.ops.adapt_datetimefield_value(since)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} WHERE caller = %s AND occurred_at > %s",  # noqa: S608
            [caller, value],
        )
        row = cursor.fetchone()
    return int(row[0])


def alerts_due(record: DataUseRecord, *, case_state: str | None) -> list[DueAlert]:
    """The rules, evaluated before `record` is written (the counts include it). Only reads:
    a lookup that raises nothing is then recorded in one statement (core.audit)."""
    window = int(exchange_setting("RATE_WINDOW_SECONDS"))
    since = record.occurred_at - timedelta(seconds=window)
    bucket = int(record.occurred_at.timestamp()) // window
    limit = int(exchange_setting("RATE_LIMIT"))
    every = max(int(exchange_setting("RATE_CHECK_EVERY")), 1)
    _seen[record.caller] = seen = _seen.get(record.caller, 0) + 1
    if len(_seen) > 10_000:
        _seen.clear()
    due: list[DueAlert] = []
    count = _recent_count(record.caller, since) + 1 if seen % every == 0 else 0
    if count > limit:
        due.append(
            DueAlert(
                AlertRule.RATE,
                str(bucket),
                {"lookups": count, "limit": limit, "window_seconds": window},
                "last_record",
            )
        )
    if record.kind != LookupKind.PREFILL:
        local = timezone.localtime(record.occurred_at)
        start, end = exchange_setting("WORKING_HOURS")
        if not _calendar().is_workday(local.date()) or not (start <= local.hour < end):
            due.append(
                DueAlert(
                    AlertRule.OFF_HOURS,
                    f"{local:%Y%m%d%H}",
                    {"local_time": local.isoformat(timespec="minutes")},
                    "record",
                )
            )
        if case_state != "open":
            due.append(
                DueAlert(
                    AlertRule.NO_OPEN_CASE,
                    None,
                    {"case": record.case_id, "case_state": case_state or "none"},
                    "record",
                )
            )
        if record.unmasked:
            unmasked_limit = int(exchange_setting("UNMASKED_LIMIT"))
            unmasked = 1 + (
                DataUseRecord.objects.filter(
                    caller=record.caller, occurred_at__gt=since, unmasked=True
                )
                .exclude(kind=LookupKind.PREFILL)
                .count()
            )
            if unmasked > unmasked_limit:
                due.append(
                    DueAlert(
                        AlertRule.BULK_UNMASKING,
                        str(bucket),
                        {"unmasked_lookups": unmasked, "limit": unmasked_limit},
                        "last_record",
                    )
                )
    windowed = [alert.key(record) for alert in due if alert.dedupe is not None]
    if windowed:  # already raised for this window: the common case under a sustained burst
        raised = set(
            SecurityAlert.objects.filter(dedupe_key__in=windowed).values_list(
                "dedupe_key", flat=True
            )
        )
        due = [alert for alert in due if alert.dedupe is None or alert.key(record) not in raised]
    return due


def alerts_raise(record: DataUseRecord, due: list[DueAlert]) -> None:
    """Raise `due` for the written `record`, in its transaction; each alert is audited."""
    for alert in due:
        _raise(record, alert)
