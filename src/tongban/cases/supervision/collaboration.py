"""Collaboration (主办 / 协办): assisting tasks and hand-offs between departments.

The lead (主办) department of a case is the department that handles it (`Case.department`).
Its staff may ask another department to assist (`AssistTask`): the assisting (协办) department
sees the task in its queue, picks it up and answers (done, or declined with a reason). The
lead may also pass a case not yet accepted to another department of the same province (转办);
the receiving department picks it up explicitly or by acting on the case.

Every hand-off is a `Handoff` row, a step in the case timeline (the status does not change) and
an audit record, all in one transaction. Assisting staff see only what the task needs: the
case summary, the applicant masked, and the form fields the lead chose to share.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.calendar import Calendar
from tongban.core.errors import ErrorCode, NotFound
from tongban.identity.models import Department, StaffMember, StaffRole
from tongban.identity.selectors import Actor

from .. import errors
from ..models import (
    AssistTask,
    AssistTaskStatus,
    Case,
    CaseStatus,
    CaseTransition,
    Handoff,
    HandoffKind,
    StuckAlert,
)
from ..submission.selectors import case_for_staff, case_uuid
from ..submission.services import ACTION_LABELS
from .selectors import assist_task_for_staff

HANDLER_ROLES = {StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION}
CLOSED = {CaseStatus.REJECTED, CaseStatus.COMPLETED}
TRANSFERABLE = {CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED}
MAX_TEXT = 2000
MAX_DUE_DAYS = 60

# Timeline labels of the hand-off steps live in submission.services.ACTION_LABELS.


def _staff(actor: Actor) -> StaffMember:
    if actor.staff is None:
        raise errors.CASE_NOT_FOUND.error()
    return actor.staff


def _require_handler(staff: StaffMember) -> None:
    """Checked after the object was found in scope: outside it the answer is 404, never 403."""
    if not HANDLER_ROLES & set(staff.roles):
        raise errors.HANDLER_ROLE_REQUIRED.error()


def _text(value: str, name: str, missing: ErrorCode, too_long: ErrorCode, **params: Any) -> str:
    """The stripped text of field `name`, refused with `missing` when empty and with
    `too_long` past MAX_TEXT characters (`params` fill in the too-long message)."""
    value = value.strip()
    if not value:
        raise missing.error(fields={name: _("必填")})
    if len(value) > MAX_TEXT:
        raise too_long.error(fields={name: _("不能超过2000字")}, **params)
    return value


def _department(code: str) -> Department:
    department = Department.objects.select_related("division").filter(code=code).first()
    if department is None:
        raise errors.DEPARTMENT_UNKNOWN.error(
            fields={"department_code": _("没有该统一社会信用代码的部门")}
        )
    return department


def _step(case: Case, action: str, actor: Actor, role: str, comment: str, now: datetime) -> None:
    """The hand-off in the case timeline: a step that keeps the status."""
    CaseTransition.objects.create(
        case=case,
        action=action,
        from_status=case.status,
        to_status=case.status,
        actor=actor.user,
        actor_role=role,
        comment=comment,
        occurred_at=now,
    )


def _handoff(
    case: Case,
    kind: str,
    from_department: Department | int,
    to_department: Department | int,
    actor: Actor,
    now: datetime,
    *,
    task: AssistTask | None = None,
    note: str = "",
) -> Handoff:
    assert actor.user is not None  # staff only reach here
    return Handoff.objects.create(
        case=case,
        kind=kind,
        from_department_id=getattr(from_department, "pk", from_department),
        to_department_id=getattr(to_department, "pk", to_department),
        assist_task=task,
        actor=actor.user,
        note=note,
        occurred_at=now,
    )


def _close_alerts(keys: list[str], reason: str, now: datetime) -> None:
    StuckAlert.objects.filter(step_key__in=keys, closed_at=None).update(
        closed_at=now, close_reason=reason
    )


# ---------------------------------------------------------------- assisting tasks


def assist_task_create(
    *,
    actor: Actor,
    case_id: Any,
    department_code: str,
    request: str,
    due_days: int,
    shared_fields: list[str] | None = None,
) -> AssistTask:
    """发起协办: the lead department asks another department to assist on a case."""
    with transaction.atomic():
        staff = _staff(actor)
        case = case_for_staff(staff=staff, case_id=case_id, lock=True)
        _require_handler(staff)
        if case.status in CLOSED:
            raise errors.CASE_CLOSED.error()
        department = _department(department_code)
        if department.pk == case.department_id:
            raise errors.ASSIST_OWN_DEPARTMENT.error(
                fields={"department_code": _("请选择其他部门")}
            )
        request = _text(request, "request", errors.REQUEST_REQUIRED, errors.REQUEST_TOO_LONG)
        if not 1 <= due_days <= MAX_DUE_DAYS:
            raise errors.DUE_DAYS_INVALID.error(fields={"due_days": _("1–60")})
        fields = list(dict.fromkeys(shared_fields or []))
        known = set(case.item_version.form_schema.get("properties", {}))
        unknown = [name for name in fields if name not in known]
        if unknown:
            raise errors.SHARED_FIELD_UNKNOWN.error(
                fields={"shared_fields": _("字段不存在")}, names="、".join(unknown)[:200]
            )
        if AssistTask.objects.filter(
            case=case, department=department, status=AssistTaskStatus.OPEN
        ).exists():
            raise errors.ASSIST_TASK_OPEN.error(department=department.name)
        now = clock.now()
        task = AssistTask.objects.create(
            case=case,
            lead_department_id=case.department_id,
            department=department,
            request=request,
            shared_fields=fields,
            due_days=due_days,
            due_on=Calendar.load().add_working_days(clock.today(), due_days).day,
            created_by=staff.user,
            created_at=now,
        )
        _handoff(
            case,
            HandoffKind.ASSIST_REQUESTED,
            case.department_id,
            department,
            actor,
            now,
            task=task,
        )
        _step(case, "assist_request", actor, "lead", f"请{department.name}协办", now)
        audit_record_append(
            actor=actor.label,
            action="case.assist_request",
            object_type="case",
            object_id=str(case.pk),
            detail={"task": task.pk, "department": department.code, "due_on": str(task.due_on)},
        )
    return task


def _pick_up(task: AssistTask, actor: Actor, now: datetime) -> None:
    task.picked_up_by = actor.user
    task.picked_up_at = now
    task.save(update_fields=["picked_up_by", "picked_up_at"])
    _handoff(
        task.case,
        HandoffKind.ASSIST_PICKED_UP,
        task.lead_department_id,
        task.department_id,
        actor,
        now,
        task=task,
    )
    _step(task.case, "assist_pick_up", actor, "assisting", f"{task.department.name}已签收", now)
    _close_alerts([f"assist:{task.pk}:pickup"], "协办任务已签收", now)
    audit_record_append(
        actor=actor.label,
        action="case.assist_pick_up",
        object_type="case",
        object_id=str(task.case_id),
        detail={"task": task.pk},
    )


def assist_task_pick_up(*, actor: Actor, task_id: Any) -> AssistTask:
    """签收: the assisting department takes the task (a second pick-up changes nothing)."""
    with transaction.atomic():
        staff = _staff(actor)
        task = assist_task_for_staff(staff=staff, task_id=task_id, lock=True)
        _require_handler(staff)
        if task.status != AssistTaskStatus.OPEN:
            raise errors.ASSIST_TASK_CLOSED.error()
        if task.picked_up_at is None:
            _pick_up(task, actor, clock.now())
    return task


def assist_task_answer(*, actor: Actor, task_id: Any, outcome: str, answer: str) -> AssistTask:
    """答复协办: done with the assisting department's answer, or declined with the reason."""
    with transaction.atomic():
        staff = _staff(actor)
        task = assist_task_for_staff(staff=staff, task_id=task_id, lock=True)
        _require_handler(staff)
        if outcome not in (AssistTaskStatus.DONE, AssistTaskStatus.DECLINED):
            raise errors.OUTCOME_INVALID.error(fields={"outcome": _("done | declined")})
        answer = _text(answer, "answer", errors.ANSWER_REQUIRED, errors.ANSWER_TOO_LONG)
        if task.status != AssistTaskStatus.OPEN:
            raise errors.ASSIST_TASK_CLOSED.error()
        now = clock.now()
        if task.picked_up_at is None:
            _pick_up(task, actor, now)
        task.complete() if outcome == AssistTaskStatus.DONE else task.decline()
        task.answer = answer
        task.answered_by = actor.user
        task.answered_at = now
        task.save(update_fields=["status", "answer", "answered_by", "answered_at"])
        _handoff(
            task.case,
            HandoffKind.ASSIST_ANSWERED,
            task.department_id,
            task.lead_department_id,
            actor,
            now,
            task=task,
        )
        verb = "已答复" if outcome == AssistTaskStatus.DONE else "已退回"
        _step(task.case, "assist_answer", actor, "assisting", f"{task.department.name}{verb}", now)
        _close_alerts(
            [f"assist:{task.pk}:pickup", f"assist:{task.pk}:overdue"], "协办任务已答复", now
        )
        audit_record_append(
            actor=actor.label,
            action="case.assist_answer",
            object_type="case",
            object_id=str(task.case_id),
            detail={"task": task.pk, "outcome": outcome},
        )
    return task


# ---------------------------------------------------------------- transfers (转办)


def case_transfer(*, actor: Actor, case_id: Any, department_code: str, note: str) -> Handoff:
    """转办: pass a case not yet accepted to another department of the same province; it moves
    to that department's queue and waits to be picked up."""
    with transaction.atomic():
        staff = _staff(actor)
        case = case_for_staff(staff=staff, case_id=case_id, lock=True)
        if not staff.has_role(StaffRole.INTAKE):
            raise errors.ROLE_REQUIRED.error(
                action=ACTION_LABELS["transfer"], roles=StaffRole.INTAKE.label
            )
        if case.status not in TRANSFERABLE:
            raise errors.ILLEGAL_TRANSITION.error(
                status=case.get_status_display(), action=ACTION_LABELS["transfer"]
            )
        note = _text(
            note, "note", errors.NOTE_REQUIRED, errors.NOTE_TOO_LONG, label=errors.TRANSFER_NOTE
        )
        target = _department(department_code)
        if target.pk == case.department_id:
            raise errors.TRANSFER_SAME_DEPARTMENT.error(
                fields={"department_code": _("请选择其他部门")}
            )
        if target.division_id[:2] != case.division_code[:2]:
            raise errors.TRANSFER_OTHER_PROVINCE.error(fields={"department_code": _("非本省部门")})
        now = clock.now()
        source = case.department_id
        case.department = target
        case.division_code = target.division_id
        case.version += 1
        case.save(update_fields=["department", "division_code", "version"])
        handoff = _handoff(
            case, HandoffKind.CASE_TRANSFERRED, source, target, actor, now, note=note
        )
        _step(case, "transfer", actor, "lead", f"转至{target.name}", now)
        # The old department's waiting steps are no longer its business.
        StuckAlert.objects.filter(case=case, closed_at=None, step_key__startswith="status:").update(
            closed_at=now, close_reason="已转办"
        )
        audit_record_append(
            actor=actor.label,
            action="case.transfer",
            object_type="case",
            object_id=str(case.pk),
            detail={"from": source, "to": target.code},
        )
    return handoff


def _pick_up_transfers(case: Case, actor_user: Any, now: datetime, label: str) -> int:
    waiting = list(
        Handoff.objects.select_for_update().filter(
            case=case,
            kind=HandoffKind.CASE_TRANSFERRED,
            to_department_id=case.department_id,
            picked_up_at=None,
        )
    )
    for handoff in waiting:
        handoff.picked_up_at = now
        handoff.save(update_fields=["picked_up_at"])
        Handoff.objects.create(
            case=case,
            kind=HandoffKind.TRANSFER_PICKED_UP,
            from_department_id=handoff.from_department_id,
            to_department_id=handoff.to_department_id,
            actor=actor_user,
            note=label,
            occurred_at=now,
        )
        _close_alerts([f"handoff:{handoff.pk}"], "转办已接收", now)
    return len(waiting)


def transfer_pick_up(*, actor: Actor, case_id: Any) -> Case:
    """接收转办: the receiving department takes a case transferred to it."""
    with transaction.atomic():
        staff = _staff(actor)
        case = case_for_staff(staff=staff, case_id=case_id, lock=True)
        _require_handler(staff)
        now = clock.now()
        if not _pick_up_transfers(case, actor.user, now, "签收"):
            raise errors.NOTHING_TO_PICK_UP.error()
        _step(case, "transfer_pick_up", actor, "lead", f"{case.department.name}已接收", now)
        audit_record_append(
            actor=actor.label,
            action="case.transfer_pick_up",
            object_type="case",
            object_id=str(case.pk),
        )
    return case


def transfers_pick_up_on_action(*, case_id: Any, now: datetime) -> int:
    """Acting on a transferred case (e.g. accepting it) picks the transfer up implicitly."""
    try:
        key = case_uuid(case_id)
    except NotFound:
        return 0
    case = Case.objects.filter(pk=key).select_related("department").first()
    if case is None:
        return 0
    last = case.transitions.order_by("-occurred_at", "-id").first()
    if last is None or last.actor_id is None or last.actor_role == "applicant":
        return 0
    return _pick_up_transfers(case, last.actor, now, "办理即接收")
