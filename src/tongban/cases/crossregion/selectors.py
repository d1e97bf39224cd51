"""跨省通办 reads: the applicant's and the receiving desk's received applications (scoped:
anything outside is 'not found'), what a correction asks for, the aggregated status, and the
handling region's published item."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from django.db import models

from tongban.catalog.selectors import item_get
from tongban.core.ids import uuid_or_not_found
from tongban.core.models import Division
from tongban.identity.selectors import Actor
from tongban.interchange.models import Peer
from tongban.interchange.services import local_regions

from .. import errors
from ..models import CaseStatus, ReceivedApplication, ReceivedPart, ReceivedStage

# The timeline step of a correction answered here and sent to the handling region.
RESUBMISSION_SENT = "resubmission_sent"

# Where a received application's handling is recorded: on the application itself (one
# region) or on each of its parts (多地联办). Both carry the same handling fields.
Handling = ReceivedApplication | ReceivedPart


class OverallStatus(models.TextChoices):
    """What the applicant and the receiving desk see for the whole application."""

    RECEIVED = "received", "待代收审核"
    REFUSED = "refused", "代收未通过"
    HANDED_OVER = "handed_over", "已移交办理地"
    IN_HANDLING = "in_handling", "办理中"
    CORRECTION_REQUESTED = "correction_requested", "待补正"
    PARTLY_DECLINED = "partly_declined", "部分未受理"
    DECLINED = "declined", "办理地未受理"
    COMPLETED = "completed", "已办结"


# ---------------------------------------------------------------- the item to be handled


def item_definition(item_code: str, handling_region: str) -> dict[str, Any]:
    """The handling region's published item: name, cross-province flag, form, materials."""
    peer = Peer.objects.filter(code=handling_region, is_active=True).first()
    if peer is None:
        raise errors.UNKNOWN_REGION.error(region=handling_region)
    if peer.is_local:
        item = item_get(code=item_code)
        if not item.division.code.startswith(handling_region.rstrip("0")[:2]):
            raise errors.ITEM_NOT_IN_REGION.error()
        version = item.current_version
        assert version is not None
        return {
            "name": item.name,
            "cross_province": version.cross_province,
            "form_schema": version.form_schema,
            "materials": version.materials,
        }
    url = f"{peer.base_url.rstrip('/')}/api/v1/catalog/items/{item_code}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - peer config
            data = json.loads(response.read(2 * 1024 * 1024))
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise errors.ITEM_NOT_FOUND.error() from None
        raise errors.HANDLING_REGION_UNAVAILABLE.error() from None
    except (OSError, ValueError):
        raise errors.HANDLING_REGION_UNAVAILABLE.error() from None
    return {
        "name": data["name"],
        "cross_province": data["cross_province"],
        "form_schema": data["form_schema"],
        "materials": [
            {"code": m["code"], "name": m["name"], "is_mandatory": m["is_mandatory"]}
            for m in data["materials"]
        ],
    }


def received_item_rules(handling: Handling) -> dict[str, Any]:
    """The handling region's published item for the application or one of its parts (name,
    form schema, materials), as the applicant's answer to a correction is checked against."""
    return item_definition(handling.item_code, handling.handling_region)


# ---------------------------------------------------------------- received applications


def received_uuid(value: Any) -> uuid.UUID:
    return uuid_or_not_found(value, errors.RECEIVED_NOT_FOUND)


def received_for_applicant(*, user: Any) -> models.QuerySet[ReceivedApplication]:
    return ReceivedApplication.objects.filter(applicant=user)


def received_applications_for_staff(*, actor: Actor) -> models.QuerySet[ReceivedApplication]:
    """代收件 of the regions the staff member's scope covers."""
    staff = actor.staff
    if staff is None:
        return ReceivedApplication.objects.none()
    prefix = staff.scope.subtree_prefix
    regions = [code for code in local_regions() if code.startswith(prefix[:2])]
    return ReceivedApplication.objects.filter(receiving_region__in=regions)


def handling_at(
    received: ReceivedApplication, parts: list[ReceivedPart], position: int
) -> Handling | None:
    """Where the handling of `position` is recorded (the application when it has no parts)."""
    if not parts:
        return received if position == 1 else None
    return next((part for part in parts if part.position == position), None)


def received_correction(received: ReceivedApplication, position: int = 1) -> dict[str, Any]:
    """What the handling region asked to correct (一次性告知) and whether it may be answered."""
    parts = list(received.parts.all())
    target = handling_at(received, parts, position)
    if target is None:
        raise errors.PART_NOT_FOUND.error()
    part = position if parts else None
    entries = [e for e in received.timeline if e.get("part") == part]
    requests = [e for e in entries if e.get("action") == "request_correction"]
    pending = bool(entries) and entries[-1].get("action") == RESUBMISSION_SENT
    return {
        "target": target,
        "note": requests[-1]["comment"] if requests else "",
        "awaiting_correction": target.remote_status == CaseStatus.CORRECTION_REQUESTED
        and not pending,
        "pending": pending,
        "form_data": target.form_data,
    }


def received_overall(
    received: ReceivedApplication, parts: list[ReceivedPart] | None = None
) -> OverallStatus:
    """The aggregated status: 办理中 until every part is done, 部分未受理 when a part was
    declined or rejected, 已办结 when every part is completed."""
    if received.stage in {ReceivedStage.RECEIVED, ReceivedStage.REFUSED}:
        return OverallStatus(received.stage)
    states: list[Handling] = list(parts) if parts else [received]
    declined = [
        s
        for s in states
        if s.stage == ReceivedStage.DECLINED or s.remote_status == CaseStatus.REJECTED
    ]
    if declined:
        return (
            OverallStatus.DECLINED
            if len(declined) == len(states)
            else OverallStatus.PARTLY_DECLINED
        )
    if all(s.remote_status == CaseStatus.COMPLETED for s in states):
        return OverallStatus.COMPLETED
    if any(s.remote_status == CaseStatus.CORRECTION_REQUESTED for s in states):
        return OverallStatus.CORRECTION_REQUESTED
    if all(s.stage == ReceivedStage.HANDED_OVER for s in states):
        return OverallStatus.HANDED_OVER
    return OverallStatus.IN_HANDLING


def region_name(code: str) -> str:
    """A region's name from the division list (GB/T 2260), its code if unknown."""
    division = Division.objects.filter(code=code).only("name").first()
    return division.name if division is not None else code
