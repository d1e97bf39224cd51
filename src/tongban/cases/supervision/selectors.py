"""Supervision and collaboration reads, always scoped: alerts within the staff member's
region scope (their department's, or every department's for supervisors), assisting tasks
of their department, a case's tasks and hand-offs when the case is in their queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet

from tongban.identity.models import StaffMember, StaffRole

from .. import errors
from ..models import AlertKind, AssistTask, Handoff, StuckAlert
from ..submission.selectors import case_for_staff

# ---------------------------------------------------------------- alerts (督办)


def is_supervisor(staff: StaffMember | None) -> bool:
    return staff is not None and staff.has_role(StaffRole.SUPERVISE)


def alerts_for_staff(*, staff: StaffMember | None) -> QuerySet[StuckAlert]:
    """Supervisors: every alert within their region scope. Other staff: their department's
    alerts within their scope. Anyone else: refused."""
    if staff is None:
        raise errors.STAFF_REQUIRED.error(what=errors.ALERTS)
    alerts = StuckAlert.objects.filter(division_code__startswith=staff.scope.subtree_prefix)
    if not is_supervisor(staff):
        alerts = alerts.filter(department_id=staff.department_id)
    return alerts.select_related("case", "case__item_version", "department", "level")


@dataclass(frozen=True)
class AlertFilters:
    state: str = "open"  # open | closed | all
    kind: str | None = None
    step: str | None = None
    department_id: int | None = None
    min_age_days: int | None = None
    escalated: bool | None = None
    q: str | None = None


def alerts_filter(
    alerts: QuerySet[StuckAlert], filters: AlertFilters, *, now: datetime
) -> QuerySet[StuckAlert]:
    if filters.state == "open":
        alerts = alerts.filter(closed_at=None)
    elif filters.state == "closed":
        alerts = alerts.exclude(closed_at=None)
    if filters.kind:
        alerts = alerts.filter(kind=filters.kind)
    if filters.step:
        alerts = alerts.filter(step=filters.step)
    if filters.department_id is not None:
        alerts = alerts.filter(department_id=filters.department_id)
    if filters.min_age_days:
        alerts = alerts.filter(waiting_since__lte=now - timedelta(days=filters.min_age_days))
    if filters.escalated is True:
        alerts = alerts.filter(escalation_count__gt=0)
    elif filters.escalated is False:
        alerts = alerts.filter(escalation_count=0)
    if filters.q:
        alerts = alerts.filter(case__case_number__icontains=filters.q.strip()[:50])
    return alerts.order_by("waiting_since", "id")


def alert_counts_by_department(alerts: QuerySet[StuckAlert]) -> list[dict[str, Any]]:
    """Open alerts per department: stuck steps, red, yellow, overdue assist tasks."""
    rows = (
        alerts.filter(closed_at=None)
        .values("department_id", "department__name")
        .annotate(
            stuck=Count("id", filter=Q(kind=AlertKind.STUCK)),
            red=Count("id", filter=Q(kind=AlertKind.DEADLINE_RED)),
            yellow=Count("id", filter=Q(kind=AlertKind.DEADLINE_YELLOW)),
            assist_overdue=Count("id", filter=Q(kind=AlertKind.ASSIST_OVERDUE)),
            escalated=Count("id", filter=Q(escalation_count__gt=0)),
            total=Count("id"),
        )
        .order_by("-total", "department__name")
    )
    return [
        {
            "department_id": row["department_id"],
            "department": row["department__name"],
            **{
                name: row[name]
                for name in ("stuck", "red", "yellow", "assist_overdue", "escalated", "total")
            },
        }
        for row in rows
    ]


def can_escalate(alert: StuckAlert, staff: StaffMember | None) -> bool:
    return (
        is_supervisor(staff)
        and alert.closed_at is None
        and staff is not None
        and alert.level_id.startswith(staff.scope.subtree_prefix)
        and alert.level.parent_id is not None
    )


# ---------------------------------------------------------------- assisting tasks, hand-offs


def assist_tasks_for_staff(*, staff: StaffMember | None) -> QuerySet[AssistTask]:
    """The assisting department's queue: tasks for the staff's department, cases within the
    staff's region scope."""
    if staff is None:
        raise errors.STAFF_REQUIRED.error(what=errors.ASSIST_TASKS)
    return AssistTask.objects.filter(
        department_id=staff.department_id,
        case__division_code__startswith=staff.scope.subtree_prefix,
    ).select_related(
        "case", "case__item_version", "case__application", "lead_department", "department"
    )


def assist_task_for_staff(
    *, staff: StaffMember | None, task_id: Any, lock: bool = False
) -> AssistTask:
    if staff is None:
        raise errors.ASSIST_TASK_NOT_FOUND.error()
    tasks = assist_tasks_for_staff(staff=staff)
    if lock:
        tasks = tasks.select_for_update(of=("self",))
    try:
        key = int(task_id)
    except (TypeError, ValueError):
        key = -1
    task = tasks.filter(pk=key).first()
    if task is None:
        raise errors.ASSIST_TASK_NOT_FOUND.error()
    return task


def assist_tasks_for_case(*, staff: StaffMember | None, case_id: Any) -> QuerySet[AssistTask]:
    """The lead's view of a case's assisting tasks (the case must be in the staff's queue)."""
    if staff is None:
        raise errors.CASE_NOT_FOUND.error()
    case = case_for_staff(staff=staff, case_id=case_id)
    return case.assist_tasks.select_related("department", "lead_department").order_by(
        "created_at", "id"
    )


def handoffs_for_case(*, staff: StaffMember | None, case_id: Any) -> QuerySet[Handoff]:
    if staff is None:
        raise errors.CASE_NOT_FOUND.error()
    case = case_for_staff(staff=staff, case_id=case_id)
    return case.handoffs.select_related("from_department", "to_department").order_by(
        "occurred_at", "id"
    )
