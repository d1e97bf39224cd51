"""Supervision and collaboration for display: alert rows (no personal data), assisting tasks
as the assisting department may see them (applicant masked, only the shared form fields),
hand-off rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tongban.core.masking import mask
from tongban.identity.models import StaffMember

from ..models import (
    AlertKind,
    AssistTask,
    AssistTaskStatus,
    CaseStatus,
    Handoff,
    HandoffKind,
    StuckAlert,
)
from ..submission.presenters import masked_applicant
from .selectors import can_escalate

# Form-schema formats whose values are personal data, masked for the assisting department.
MASKED_FORMATS = {"id_number": "id_number", "phone": "phone"}


def alert_row(alert: StuckAlert, now: datetime, staff: StaffMember | None) -> dict[str, Any]:
    """An alert for a list (no personal data: the case number, item, step and age)."""
    age = now - alert.waiting_since
    return {
        "id": alert.pk,
        "case_id": alert.case_id,
        "case_number": alert.case.case_number,
        "item_name": alert.case.item_version.name,
        "department_id": alert.department_id,
        "department": alert.department.name,
        "kind": alert.kind,
        "kind_label": AlertKind(alert.kind).label,
        "step": alert.step,
        "step_label": alert.step_label,
        "case_status": alert.case.status,
        "waiting_since": alert.waiting_since,
        "age_hours": max(int(age.total_seconds() // 3600), 0),
        "raised_at": alert.raised_at,
        "level_code": alert.level_id,
        "level_name": alert.level.name,
        "escalation_count": alert.escalation_count,
        "closed_at": alert.closed_at,
        "close_reason": alert.close_reason,
        "can_escalate": can_escalate(alert, staff),
    }


def assist_task_view(task: AssistTask) -> dict[str, Any]:
    """What the assisting department may see: the task, the case summary with the applicant
    masked, and only the form fields the lead shared (personal formats masked)."""
    case = task.case
    properties = case.item_version.form_schema.get("properties", {})
    form = case.application.form_data
    shared = []
    for name in task.shared_fields:
        spec = properties.get(name, {})
        value = form.get(name)
        kind = MASKED_FORMATS.get(spec.get("format", ""))
        shown = mask(str(value), kind) if kind and value else value
        shared.append({"name": name, "title": spec.get("title", name), "value": shown})
    return {
        **assist_task_row(task),
        "case": {
            "case_number": case.case_number,
            "item_name": case.item_version.name,
            "lead_department": task.lead_department.name,
            "status": case.status,
            "status_label": CaseStatus(case.status).label,
            "submitted_at": case.submitted_at,
            "committed_deadline": case.committed_deadline,
            **masked_applicant(case),
        },
        "shared_form": shared,
    }


def assist_task_row(task: AssistTask) -> dict[str, Any]:
    return {
        "id": task.pk,
        "case_id": task.case_id,
        "case_number": task.case.case_number,
        "lead_department": task.lead_department.name,
        "department": task.department.name,
        "request": task.request,
        "shared_fields": task.shared_fields,
        "due_days": task.due_days,
        "due_on": task.due_on,
        "status": task.status,
        "status_label": AssistTaskStatus(task.status).label,
        "created_at": task.created_at,
        "picked_up_at": task.picked_up_at,
        "answered_at": task.answered_at,
        "answer": task.answer,
    }


def handoff_row(handoff: Handoff) -> dict[str, Any]:
    return {
        "id": handoff.pk,
        "kind": handoff.kind,
        "kind_label": HandoffKind(handoff.kind).label,
        "from_department": handoff.from_department.name,
        "to_department": handoff.to_department.name,
        "assist_task_id": handoff.assist_task_id,
        "note": handoff.note,
        "occurred_at": handoff.occurred_at,
        "picked_up_at": handoff.picked_up_at,
    }
