"""跨省通办 for display: a received application with its parts, materials (without content)
and the synced timeline, the applicant masked."""

from __future__ import annotations

from typing import Any

from tongban.core.masking import mask

from ..models import CaseStatus, ReceivedApplication, ReceivedStage
from .selectors import RESUBMISSION_SENT, Handling, received_overall


def _status_label(status: str) -> str:
    return CaseStatus(status).label if status in CaseStatus.values else ""


def received_summary(received: ReceivedApplication) -> dict[str, Any]:
    """What the applicant and staff see (materials without content; applicant masked): one
    application with its parts (one, implicit, when handled in one region) and the
    aggregated overall status."""
    citizen = getattr(received.applicant, "citizen", None)
    parts = list(received.parts.all())
    overall = received_overall(received, parts)
    handlings: list[tuple[int, Handling]] = (
        [(part.position, part) for part in parts] if parts else [(1, received)]
    )
    part_rows = []
    for position, handling in handlings:
        entries = [e for e in received.timeline if e.get("part") == (position if parts else None)]
        pending = bool(entries) and entries[-1].get("action") == RESUBMISSION_SENT
        part_rows.append(
            {
                "position": position,
                "item_code": handling.item_code,
                "item_name": handling.item_name,
                "handling_region": handling.handling_region,
                "stage": handling.stage,
                "stage_label": ReceivedStage(handling.stage).label,
                "remote_case_number": handling.remote_case_number,
                "remote_status": handling.remote_status,
                "remote_status_label": _status_label(handling.remote_status),
                "note": handling.note,
                "awaiting_correction": handling.remote_status == CaseStatus.CORRECTION_REQUESTED
                and not pending,
                "resubmission_pending": pending,
            }
        )
    return {
        "overall_status": overall.value,
        "overall_status_label": overall.label,
        "parts": part_rows,
        "id": str(received.pk),
        "item_code": received.item_code,
        "item_name": received.item_name,
        "receiving_region": received.receiving_region,
        "handling_region": received.handling_region,
        "stage": received.stage,
        "stage_label": ReceivedStage(received.stage).label,
        "remote_case_number": received.remote_case_number,
        "remote_status": received.remote_status,
        "remote_status_label": _status_label(received.remote_status),
        "note": received.note,
        "applicant": mask(citizen.real_name, "name") if citizen else "",
        "materials": [
            {
                **{
                    k: m[k]
                    for k in ("material_code", "material_name", "filename", "size", "sha256")
                },
                "part": m.get("part", 1),
            }
            for m in received.materials
        ],
        "timeline": received.timeline,
        "created_at": received.created_at.isoformat(),
    }
