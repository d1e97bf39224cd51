"""Supervision (督办): stuck-case detection (中梗阻), deadline warnings, alerts and escalation.

A step "waits" from the moment the case entered it (or a hand-off was made) and is stuck once
more office time than its threshold (`StuckThreshold`, working hours or working days) has
passed. Office time counts only the office hours of working days (the `core.calendar`
holidays and 调休 apply), so nothing turns stuck during the National Day week.

Each sweep turns every threshold into one cut-off instant ("waiting since at or before this
is stuck") and asks the database once per step, so its cost does not grow with the calendar.
Alerts are deduplicated by a partial unique constraint (one open alert per case and step), and
close when the case moves on — at once through the `CaseStatusChanged` event, and in every
sweep for anything an event missed.

Who sees an alert: the staff of its lead department (within their region scope), and
supervisors — staff with the `supervise` role — for every department within their scope.
A supervisor escalates an alert one division level up (city → province → nation), which makes
it the business of the supervisors at that level (ADR 0013).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.calendar import Calendar
from tongban.core.models import Division
from tongban.identity.selectors import Actor

from .. import errors
from ..deadlines import CLOCK_STOPPED, DeadlineColour, filter_by_colour
from ..events import CaseStatusChanged
from ..models import (
    AlertEscalation,
    AlertKind,
    AssistTask,
    AssistTaskStatus,
    Case,
    CaseTransition,
    Handoff,
    HandoffKind,
    StuckAlert,
    StuckStep,
    StuckThreshold,
    ThresholdUnit,
)
from .selectors import alerts_for_staff, is_supervisor

# Office hours of a working day, settings.TONGBAN["SUPERVISION"]["OFFICE_OPENS"/"OFFICE_CLOSES"]
# ("HH:MM" or datetime.time); 1 working day = one office day (8 hours with the defaults).
DEFAULT_OFFICE_OPENS = time(9, 0)
DEFAULT_OFFICE_CLOSES = time(17, 0)

# The seeded defaults (migration 0004 writes the same rows); used when a row is missing.
DEFAULT_THRESHOLDS: dict[str, tuple[int, str]] = {
    StuckStep.SUBMITTED: (1, ThresholdUnit.WORKING_DAYS),
    StuckStep.RESUBMITTED: (1, ThresholdUnit.WORKING_DAYS),
    StuckStep.ACCEPTED: (1, ThresholdUnit.WORKING_DAYS),
    StuckStep.UNDER_REVIEW: (3, ThresholdUnit.WORKING_DAYS),
    StuckStep.APPROVED: (1, ThresholdUnit.WORKING_DAYS),
    StuckStep.DENIED: (1, ThresholdUnit.WORKING_DAYS),
    StuckStep.ASSIST_PICKUP: (4, ThresholdUnit.WORKING_HOURS),
    StuckStep.HANDOFF_PICKUP: (4, ThresholdUnit.WORKING_HOURS),
}
# Case statuses that wait on a department (correction_requested waits on the applicant).
STATUS_STEPS = (
    StuckStep.SUBMITTED,
    StuckStep.RESUBMITTED,
    StuckStep.ACCEPTED,
    StuckStep.UNDER_REVIEW,
    StuckStep.APPROVED,
    StuckStep.DENIED,
)
SYSTEM_ACTOR = "system:supervision"
MAX_NOTE = 2000


# ---------------------------------------------------------------- office time


def _clock_time(value: Any, default: time) -> time:
    if value is None or value == "":
        return default
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as error:
        raise ImproperlyConfigured(f"TONGBAN['SUPERVISION']: invalid time {value!r}") from error


def office_hours() -> tuple[time, time]:
    """(opens, closes) of a working day, from settings.TONGBAN["SUPERVISION"] (default
    09:00–17:00); read on every call so a changed setting applies at once."""
    config = settings.TONGBAN.get("SUPERVISION") or {}
    opens = _clock_time(config.get("OFFICE_OPENS"), DEFAULT_OFFICE_OPENS)
    closes = _clock_time(config.get("OFFICE_CLOSES"), DEFAULT_OFFICE_CLOSES)
    if closes <= opens:
        raise ImproperlyConfigured("TONGBAN['SUPERVISION']: OFFICE_CLOSES must follow OFFICE_OPENS")
    return opens, closes


def hours_per_working_day() -> float:
    """Office hours in one working day (8 with the default 09:00–17:00)."""
    opens, closes = office_hours()
    day = date(2000, 1, 3)
    return (datetime.combine(day, closes) - datetime.combine(day, opens)).total_seconds() / 3600


def threshold_hours(amount: int, unit: str) -> float:
    return amount * hours_per_working_day() if unit == ThresholdUnit.WORKING_DAYS else amount


def office_time_cutoff(calendar: Calendar, now: datetime, hours: float) -> datetime:
    """The latest instant from which `hours` office hours have passed by `now`.

    Something waiting since at or before the cut-off has waited at least `hours`.
    """
    local = timezone.localtime(now)
    zone = local.tzinfo
    office_opens, office_closes = office_hours()
    remaining = timedelta(hours=hours)
    cursor = local
    for _day in range(3660):  # ten years of days: far beyond any threshold
        day = cursor.date()
        if calendar.is_workday(day):
            opens = datetime.combine(day, office_opens, tzinfo=zone)
            closes = datetime.combine(day, office_closes, tzinfo=zone)
            end = min(cursor, closes)
            if end > opens:
                if end - opens >= remaining:
                    return end - remaining
                remaining -= end - opens
        cursor = datetime.combine(day, time(0), tzinfo=zone)
        # Step to the end of the previous day (its office hours all lie before midnight).
        cursor = cursor - timedelta(microseconds=1)
    raise ValueError("threshold too long")


def office_hours_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Office hours from `start` to `end` (for display: how long a step has waited)."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    if end <= start:
        return 0.0
    zone = end.tzinfo
    office_opens, office_closes = office_hours()
    total = timedelta()
    day = start.date()
    while day <= end.date():
        if calendar.is_workday(day):
            opens = max(datetime.combine(day, office_opens, tzinfo=zone), start)
            closes = min(datetime.combine(day, office_closes, tzinfo=zone), end)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total.total_seconds() / 3600


# ---------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Threshold:
    step: str
    hours: float


def thresholds_active() -> dict[str, Threshold]:
    """Every watched step with its threshold: table rows override the defaults; an inactive
    row switches a step off."""
    found: dict[str, Threshold] = {
        step: Threshold(step, threshold_hours(amount, unit))
        for step, (amount, unit) in DEFAULT_THRESHOLDS.items()
    }
    for row in StuckThreshold.objects.all():
        if not row.is_active or row.amount == 0:
            found.pop(row.step, None)
        else:
            found[row.step] = Threshold(row.step, threshold_hours(row.amount, row.unit))
    return found


@transaction.atomic
def thresholds_seed() -> int:
    """Write the default thresholds that have no row yet (idempotent); returns rows added."""
    added = 0
    for step, (amount, unit) in DEFAULT_THRESHOLDS.items():
        _row, created = StuckThreshold.objects.get_or_create(
            step=step, defaults={"amount": amount, "unit": unit}
        )
        added += int(created)
    return added


# ---------------------------------------------------------------- raising and closing


def _open_alert_exists(key: str) -> Exists:
    return Exists(StuckAlert.objects.filter(case=OuterRef("pk"), step_key=key, closed_at=None))


def _raise(alerts: list[StuckAlert]) -> int:
    """Insert new alerts; one that a concurrent sweep already raised is skipped (the partial
    unique constraint), so two sweeps never duplicate an alert."""
    raised = 0
    for alert in alerts:
        try:
            with transaction.atomic():
                alert.save(force_insert=True)
            raised += 1
        except IntegrityError:
            continue
    return raised


def _alert(
    case: Case,
    *,
    kind: str,
    step: str,
    key: str,
    label: str,
    since: datetime,
    now: datetime,
    department_id: int | None = None,
) -> StuckAlert:
    return StuckAlert(
        case=case,
        kind=kind,
        step=step,
        step_key=key,
        step_label=label[:100],
        department_id=department_id or case.department_id,
        division_code=case.division_code,
        waiting_since=since,
        raised_at=now,
        level_id=case.division_code,
    )


def _close(alerts: QuerySet[StuckAlert], reason: str, now: datetime) -> int:
    return alerts.filter(closed_at=None).update(closed_at=now, close_reason=reason[:100])


def _detect_status_steps(
    calendar: Calendar, thresholds: dict[str, Threshold], now: datetime
) -> int:
    raised = 0
    for step in STATUS_STEPS:
        if step not in thresholds:
            continue
        cutoff = office_time_cutoff(calendar, now, thresholds[step].hours)
        key = f"status:{step}"
        # When the case entered its current status: its last real status change (timeline
        # entries of hand-offs keep the status and do not restart the wait).
        entered = (
            CaseTransition.objects.filter(case=OuterRef("pk"), to_status=OuterRef("status"))
            .exclude(from_status=OuterRef("status"))
            .order_by("-occurred_at")
            .values("occurred_at")[:1]
        )
        stuck = (
            Case.objects.filter(status=step)
            .annotate(entered_at=Subquery(entered))
            .filter(entered_at__lte=cutoff)
            .exclude(_open_alert_exists(key))
        )
        raised += _raise(
            [
                _alert(
                    case,
                    kind=AlertKind.STUCK,
                    step=step,
                    key=key,
                    label=StuckStep(step).label,
                    since=case.entered_at,  # type: ignore[attr-defined]
                    now=now,
                )
                for case in stuck[:10_000]
            ]
        )
    return raised


def _detect_assist_tasks(
    calendar: Calendar, thresholds: dict[str, Threshold], now: datetime, today: date
) -> int:
    alerts: list[StuckAlert] = []
    open_tasks = AssistTask.objects.filter(status=AssistTaskStatus.OPEN).select_related(
        "case", "department"
    )
    if StuckStep.ASSIST_PICKUP in thresholds:
        cutoff = office_time_cutoff(calendar, now, thresholds[StuckStep.ASSIST_PICKUP].hours)
        waiting = open_tasks.filter(picked_up_at=None, created_at__lte=cutoff)
        for task in waiting[:10_000]:
            key = f"assist:{task.pk}:pickup"
            if not StuckAlert.objects.filter(step_key=key, closed_at=None).exists():
                alerts.append(
                    _alert(
                        task.case,
                        kind=AlertKind.STUCK,
                        step=StuckStep.ASSIST_PICKUP,
                        key=key,
                        label=f"协办任务未签收（{task.department.name}）",
                        since=task.created_at,
                        now=now,
                        department_id=task.lead_department_id,
                    )
                )
    for task in open_tasks.filter(due_on__lt=today)[:10_000]:
        key = f"assist:{task.pk}:overdue"
        if not StuckAlert.objects.filter(step_key=key, closed_at=None).exists():
            due_start = datetime.combine(
                task.due_on + timedelta(days=1), time(0), tzinfo=timezone.get_current_timezone()
            )
            alerts.append(
                _alert(
                    task.case,
                    kind=AlertKind.ASSIST_OVERDUE,
                    step=AlertKind.ASSIST_OVERDUE,
                    key=key,
                    label=f"协办超期（{task.department.name}，期限 {task.due_on:%Y-%m-%d}）",
                    since=due_start,
                    now=now,
                    department_id=task.lead_department_id,
                )
            )
    return _raise(alerts)


def _detect_handoffs(calendar: Calendar, thresholds: dict[str, Threshold], now: datetime) -> int:
    if StuckStep.HANDOFF_PICKUP not in thresholds:
        return 0
    cutoff = office_time_cutoff(calendar, now, thresholds[StuckStep.HANDOFF_PICKUP].hours)
    waiting = Handoff.objects.filter(
        kind=HandoffKind.CASE_TRANSFERRED, picked_up_at=None, occurred_at__lte=cutoff
    ).select_related("case", "to_department")
    alerts = [
        _alert(
            handoff.case,
            kind=AlertKind.STUCK,
            step=StuckStep.HANDOFF_PICKUP,
            key=f"handoff:{handoff.pk}",
            label=f"转办未接收（{handoff.to_department.name}）",
            since=handoff.occurred_at,
            now=now,
            department_id=handoff.to_department_id,
        )
        for handoff in waiting[:10_000]
        if not StuckAlert.objects.filter(step_key=f"handoff:{handoff.pk}", closed_at=None).exists()
    ]
    return _raise(alerts)


def _close_moved_on(now: datetime) -> int:
    """Close open alerts whose step is over (the sweep's safety net for missed events)."""
    open_alerts = StuckAlert.objects.filter(closed_at=None)
    closed = 0
    for step in STATUS_STEPS:
        closed += _close(
            open_alerts.filter(step_key=f"status:{step}").exclude(case__status=step),
            "办件已进入下一环节",
            now,
        )
    closed += _close(
        open_alerts.filter(
            kind__in=[AlertKind.DEADLINE_YELLOW, AlertKind.DEADLINE_RED],
            case__status__in=CLOCK_STOPPED,
        ),
        "办件已停止计时",
        now,
    )
    finished_tasks = AssistTask.objects.exclude(status=AssistTaskStatus.OPEN)
    picked_tasks = AssistTask.objects.exclude(picked_up_at=None)
    for alert in open_alerts.filter(step_key__startswith="assist:").only("id", "step_key"):
        task_id = alert.step_key.split(":")[1]
        done = finished_tasks.filter(pk=task_id).exists() or (
            alert.step_key.endswith(":pickup") and picked_tasks.filter(pk=task_id).exists()
        )
        if done:
            closed += _close(StuckAlert.objects.filter(pk=alert.pk), "协办任务已处理", now)
    picked = Handoff.objects.exclude(picked_up_at=None).values_list("pk", flat=True)
    closed += _close(
        open_alerts.filter(step_key__in=[f"handoff:{pk}" for pk in picked]),
        "转办已接收",
        now,
    )
    return closed


@dataclass(frozen=True)
class SweepResult:
    raised: int
    closed: int


def stuck_detect(*, now: datetime | None = None) -> SweepResult:
    """中梗阻 sweep: raise an alert for every step waiting past its threshold, close alerts of
    steps that are over. Idempotent: running it twice raises nothing new."""
    now = now or clock.now()
    today = timezone.localdate(now)
    calendar = Calendar.load()
    thresholds = thresholds_active()
    with transaction.atomic():
        closed = _close_moved_on(now)
        raised = _detect_status_steps(calendar, thresholds, now)
        raised += _detect_assist_tasks(calendar, thresholds, now, today)
        raised += _detect_handoffs(calendar, thresholds, now)
        if raised or closed:
            audit_record_append(
                actor=SYSTEM_ACTOR,
                action="supervision.stuck_detect",
                object_type="alert",
                detail={"raised": raised, "closed": closed},
            )
    return SweepResult(raised, closed)


def deadline_warn(*, now: datetime | None = None) -> SweepResult:
    """Deadline warnings: an alert when a running case turns yellow (黄灯) and another when it
    turns red (红灯, which closes the yellow one). Uses the colour rule of cases/deadlines.py,
    whose dates were fixed in working days at acceptance."""
    now = now or clock.now()
    today = timezone.localdate(now)
    zone = timezone.get_current_timezone()
    running = Case.objects.all()
    with transaction.atomic():
        red_cases = filter_by_colour(running, DeadlineColour.RED, today).exclude(
            _open_alert_exists("deadline:red")
        )
        alerts = []
        for case in red_cases[:10_000]:
            assert case.committed_deadline is not None
            since = datetime.combine(case.committed_deadline + timedelta(days=1), time(0), zone)
            alerts.append(
                _alert(
                    case,
                    kind=AlertKind.DEADLINE_RED,
                    step=AlertKind.DEADLINE_RED,
                    key="deadline:red",
                    label=f"已超过承诺期限 {case.committed_deadline:%Y-%m-%d}",
                    since=since,
                    now=now,
                )
            )
        raised = _raise(alerts)
        red_ids = filter_by_colour(running, DeadlineColour.RED, today).values("pk")
        closed = _close(
            StuckAlert.objects.filter(step_key="deadline:yellow", case__in=red_ids),
            "已转为红灯",
            now,
        )
        yellow_cases = (
            filter_by_colour(running, DeadlineColour.YELLOW, today)
            .exclude(_open_alert_exists("deadline:yellow"))
            .exclude(_open_alert_exists("deadline:red"))
        )
        alerts = []
        for case in yellow_cases[:10_000]:
            assert case.warning_on is not None and case.committed_deadline is not None
            alerts.append(
                _alert(
                    case,
                    kind=AlertKind.DEADLINE_YELLOW,
                    step=AlertKind.DEADLINE_YELLOW,
                    key="deadline:yellow",
                    label=f"临近承诺期限 {case.committed_deadline:%Y-%m-%d}",
                    since=datetime.combine(case.warning_on, time(0), zone),
                    now=now,
                )
            )
        raised += _raise(alerts)
        closed += _close(
            StuckAlert.objects.filter(
                kind__in=[AlertKind.DEADLINE_YELLOW, AlertKind.DEADLINE_RED],
                case__status__in=CLOCK_STOPPED,
            ),
            "办件已停止计时",
            now,
        )
        if raised or closed:
            audit_record_append(
                actor=SYSTEM_ACTOR,
                action="supervision.deadline_warn",
                object_type="alert",
                detail={"raised": raised, "closed": closed},
            )
    return SweepResult(raised, closed)


def alerts_close_for_case(*, case_id: Any, to_status: str, now: datetime | None = None) -> int:
    """A case moved on: close its status alerts, and its deadline alerts if the clock stopped.
    Also marks a transfer picked up when the receiving department acted on the case."""
    now = now or clock.now()
    with transaction.atomic():
        alerts = StuckAlert.objects.filter(case_id=case_id, closed_at=None)
        closed = _close(alerts.filter(step_key__startswith="status:"), "办件已进入下一环节", now)
        if to_status in CLOCK_STOPPED:
            closed += _close(
                alerts.filter(kind__in=[AlertKind.DEADLINE_YELLOW, AlertKind.DEADLINE_RED]),
                "办件已停止计时",
                now,
            )
        from .collaboration import transfers_pick_up_on_action

        transfers_pick_up_on_action(case_id=case_id, now=now)
    return closed


def on_case_status_changed(event: CaseStatusChanged) -> None:
    """Subscriber (config/events.py): close the alerts of a case that moved on."""
    alerts_close_for_case(case_id=event.case_id, to_status=event.to_status)


# ---------------------------------------------------------------- escalation


def alert_escalate(*, actor: Actor, alert_id: int, note: str = "") -> StuckAlert:
    """督办升级: a supervisor passes an open alert one division level up (recorded, audited)."""
    staff = actor.staff
    if not is_supervisor(staff):
        raise errors.SUPERVISE_ROLE_REQUIRED.error()
    assert staff is not None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise errors.NOTE_TOO_LONG.error(fields={"note": _("过长")}, label=errors.ESCALATION_NOTE)
    with transaction.atomic():
        alert = (
            alerts_for_staff(staff=staff)
            .select_for_update(of=("self",))
            .filter(pk=alert_id)
            .first()
        )
        if alert is None:
            raise errors.ALERT_NOT_FOUND.error()
        if alert.closed_at is not None:
            raise errors.ALERT_CLOSED.error()
        if not alert.level_id.startswith(staff.scope.subtree_prefix):
            raise errors.ALERT_ABOVE_SCOPE.error()
        current = Division.objects.get(pk=alert.level_id)
        if current.parent_id is None:
            raise errors.ALERT_AT_TOP.error()
        now = clock.now()
        AlertEscalation.objects.create(
            alert=alert,
            from_level_id=current.pk,
            to_level_id=current.parent_id,
            escalated_by=staff.user,
            note=note,
            escalated_at=now,
        )
        alert.level_id = current.parent_id
        alert.escalation_count += 1
        alert.save(update_fields=["level", "escalation_count"])
        audit_record_append(
            actor=actor.label,
            action="supervision.escalate",
            object_type="alert",
            object_id=str(alert.pk),
            detail={
                "case": str(alert.case_id),
                "from": current.pk,
                "to": current.parent_id,
                "step": alert.step_key,
            },
        )
    alert.refresh_from_db()
    return alert
