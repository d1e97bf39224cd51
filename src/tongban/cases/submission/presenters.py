"""Turn cases into plain dicts for the API and templates (masked unless told otherwise)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django_fsm import can_proceed

from tongban.core.masking import mask
from tongban.identity.models import StaffMember

from ..deadlines import deadline_colour
from ..models import Case, CaseStatus, CaseTransition, MaterialSubmission
from .services import ACTION_LABELS, ACTION_ROLES


def case_summary(case: Case, today: date) -> dict[str, Any]:
    return {
        "id": case.pk,
        "case_number": case.case_number,
        "item_code": case.item.implementation_code,
        "item_name": case.item_version.name,
        "item_version": case.item_version.number,
        "department": case.department.name,
        "status": case.status,
        "status_label": CaseStatus(case.status).label,
        "submitted_at": case.submitted_at,
        "accepted_on": case.accepted_on,
        "committed_deadline": case.committed_deadline,
        "legal_deadline": case.legal_deadline,
        "committed_deadline_is_estimated": case.committed_deadline_is_estimated,
        "legal_deadline_is_estimated": case.legal_deadline_is_estimated,
        "deadline_colour": deadline_colour(case, today).value,
        "completed_at": case.completed_at,
        "correction_note": case.correction_note,
        "version": case.version,
    }


def masked_applicant(case: Case) -> dict[str, str]:
    application = case.application
    kind = "uscc" if application.enterprise_id else "id_number"
    return {
        "applicant_name": application.applicant_name
        if application.enterprise_id
        else mask(application.applicant_name, "name"),
        "applicant_id_number": mask(application.applicant_id_number, kind),
    }


def queue_row(case: Case, today: date) -> dict[str, Any]:
    """A staff queue row: the case summary with the applicant masked."""
    return {**case_summary(case, today), **masked_applicant(case)}


def timeline(case: Case, steps: Iterable[CaseTransition] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "action": step.action,
            "label": ACTION_LABELS.get(step.action, step.action),
            "to_status": step.to_status,
            "actor_role": step.actor_role,
            "comment": step.comment,
            "occurred_at": step.occurred_at,
        }
        for step in (steps if steps is not None else case.transitions.order_by("occurred_at", "id"))
    ]


MATERIAL_FIELDS = ("id", "material_code", "material_name", "content_type", "size", "sha256", "sm3")


def materials(case: Case, rows: Iterable[MaterialSubmission] | None = None) -> list[dict[str, Any]]:
    if rows is not None:
        return [{name: getattr(row, name) for name in MATERIAL_FIELDS} for row in rows]
    return [dict(row) for row in case.application.materials.values(*MATERIAL_FIELDS)]


def allowed_actions(case: Case, staff: StaffMember) -> list[str]:
    return [
        action
        for action, roles in ACTION_ROLES.items()
        if roles & set(staff.roles) and can_proceed(getattr(case, action))
    ]


def shared_data(case: Case) -> list[dict[str, Any]]:
    """What registries supplied instead of documents: “已通过<基础库>核验”."""
    return [
        {
            "material_code": row.material_code,
            "field_name": row.field_name,
            "title": row.title,
            "registry": row.registry_name,
            "label": f"已通过{row.registry_name}核验",
            "elements": row.elements,
            "verified_at": row.verified_at,
        }
        for row in case.application.shared_data.all()
    ]
