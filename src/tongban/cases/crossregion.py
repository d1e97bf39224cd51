"""跨省通办: received in one region (异地代收), handled in another (代办), status synced back.

Receiving region R:
1. `received_application_submit` — an applicant of R applies for a cross-province item of the
   handling region H (at R's portal or window). The form and materials are checked against
   H's published item (read from H's catalog API, or locally for a region tenant).
2. `received_application_check` — a clerk of R checks identity and materials (代收审核): a
   refusal goes back to the applicant with the reason; an acceptance hands the application
   over to H as a signed interchange message (`crossregion.handoff`, core.interchange): in the
   same transaction as the status change, so the hand-off exists if and only if it committed,
   and the outbox retries it until H acknowledges. A duplicate is ignored by H's inbox.
Handling region H:
3. The hand-off handler finds or registers the applicant (identity verified by R), submits the
   application there (idempotent on R's id) and records its origin (`CrossRegionOrigin`).
4. Every status change of such a case is sent back (`crossregion.status`, numbered), so the
   applicant and both regions' staff see one timeline; R applies the updates in order and
   ignores stale or repeated ones.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction

from tongban.catalog.selectors import item_get
from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import sha256_hex, sm3_hex
from tongban.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from tongban.core.ids import uuid_or_not_found
from tongban.core.interchange import handler_register, local_regions, message_send
from tongban.core.masking import mask
from tongban.core.models import Peer
from tongban.identity.models import Citizen, StaffRole
from tongban.identity.selectors import Actor

from .events import CaseStatusChanged
from .models import Case, CaseStatus, CrossRegionOrigin, ReceivedApplication, ReceivedStage
from .services import ACTION_LABELS, UploadedMaterial, _validate_all, application_submit

HANDOFF = "crossregion.handoff"
STATUS = "crossregion.status"


class Unavailable(DomainError):
    status = 503


# ---------------------------------------------------------------- the item to be handled


def _item_definition(item_code: str, handling_region: str) -> dict[str, Any]:
    """The handling region's published item: name, cross-province flag, form, materials."""
    peer = Peer.objects.filter(code=handling_region, is_active=True).first()
    if peer is None:
        raise NotFound("unknown_region", f"未与办理地 {handling_region} 建立跨省通办连接")
    if peer.is_local:
        item = item_get(code=item_code)
        if not item.division.code.startswith(handling_region.rstrip("0")[:2]):
            raise InvalidInput("item_not_in_region", "该事项不属于所选办理地")
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
            raise NotFound("item_not_found", "办理地无此事项") from None
        raise Unavailable("handling_region_unavailable", "办理地系统暂不可用，请稍后再试") from None
    except (OSError, ValueError):
        raise Unavailable("handling_region_unavailable", "办理地系统暂不可用，请稍后再试") from None
    return {
        "name": data["name"],
        "cross_province": data["cross_province"],
        "form_schema": data["form_schema"],
        "materials": [
            {"code": m["code"], "name": m["name"], "is_mandatory": m["is_mandatory"]}
            for m in data["materials"]
        ],
    }


# ---------------------------------------------------------------- receiving region


def received_application_submit(
    *,
    actor: Actor,
    item_code: str,
    handling_region: str,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
    receiving_region: str | None = None,
    idempotency_key: str | None = None,
) -> ReceivedApplication:
    """异地代收: apply here for a cross-province item of another region."""
    if actor.citizen is None or actor.user is None:
        raise PermissionDenied("citizen_required", "只有实名注册的申请人可以提交申请")
    receiving = receiving_region or local_regions()[0]
    if receiving not in local_regions():
        raise InvalidInput("unknown_region", f"本平台不服务代收地 {receiving}")
    if handling_region == receiving:
        raise InvalidInput("same_region", "办理地与代收地相同，请直接申请")
    if idempotency_key:
        existing = ReceivedApplication.objects.filter(
            applicant=actor.user, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    item = _item_definition(item_code, handling_region)
    if not item["cross_province"]:
        raise InvalidInput("not_cross_province", "该事项未开通跨省通办，请向办理地申请")
    cleaned, types = _validate_all(
        item["form_schema"], form_data, item["materials"], materials, require_mandatory=True
    )
    names = {m["code"]: m["name"] for m in item["materials"]}
    with transaction.atomic():
        received = ReceivedApplication.objects.create(
            applicant=actor.user,
            receiving_region=receiving,
            handling_region=handling_region,
            item_code=item_code,
            item_name=item["name"],
            form_data=cleaned,
            materials=[
                {
                    "material_code": upload.material_code,
                    "material_name": names[upload.material_code],
                    "filename": upload.filename[:200],
                    "content_type": content_type,
                    "size": len(upload.content),
                    "sha256": sha256_hex(upload.content),
                    "sm3": sm3_hex(upload.content),
                    "content_base64": base64.b64encode(upload.content).decode(),
                }
                for upload, content_type in zip(materials, types, strict=True)
            ],
            idempotency_key=idempotency_key or None,
            created_at=clock.now(),
            timeline=[_entry("received", "代收地收件", receiving)],
        )
        audit_record_append(
            actor=actor.label,
            action="crossregion.receive",
            object_type="received_application",
            object_id=str(received.pk),
            detail={"item": item_code, "handling_region": handling_region},
        )
    return received


def _entry(action: str, label: str, region: str, comment: str = "") -> dict[str, Any]:
    return {
        "at": clock.now().isoformat(),
        "action": action,
        "label": label,
        "region": region,
        "comment": comment,
    }


def received_applications_for_staff(*, actor: Actor) -> models.QuerySet[ReceivedApplication]:
    """代收件 of the regions the staff member's scope covers."""
    staff = actor.staff
    if staff is None:
        return ReceivedApplication.objects.none()
    prefix = staff.scope.subtree_prefix
    regions = [code for code in local_regions() if code.startswith(prefix[:2])]
    return ReceivedApplication.objects.filter(receiving_region__in=regions)


def received_application_check(
    *, actor: Actor, received_id: Any, accept: bool, comment: str = ""
) -> ReceivedApplication:
    """代收审核: a clerk of the receiving region checks identity and materials, then hands the
    application over (signed message, in the same transaction) or returns it with a reason."""
    staff = actor.staff
    if staff is None or not staff.has_role(StaffRole.INTAKE):
        raise PermissionDenied("role_required", "需要收件（受理）岗位权限")
    comment = comment.strip()
    if not accept and not comment:
        raise InvalidInput("comment_required", "退回须说明理由", fields={"comment": "请填写理由"})
    with transaction.atomic():
        received = (
            received_applications_for_staff(actor=actor)
            .select_for_update(of=("self",))
            .filter(pk=_uuid(received_id))
            .select_related("applicant__citizen")
            .first()
        )
        if received is None:
            raise NotFound("received_not_found", "代收件不存在")
        if received.stage != ReceivedStage.RECEIVED:
            raise Conflict("already_checked", "该代收件已审核")
        received.checked_by = actor.label
        received.checked_at = clock.now()
        received.note = comment
        if accept:
            received.stage = ReceivedStage.HANDED_OVER
            received.timeline.append(
                _entry("handed_over", "代收审核通过，移交办理地", received.receiving_region)
            )
            citizen = received.applicant.citizen
            message_send(
                sender=received.receiving_region,
                recipient=received.handling_region,
                kind=HANDOFF,
                payload={
                    "received_id": str(received.pk),
                    "item_code": received.item_code,
                    "applicant": {
                        "real_name": citizen.real_name,
                        "id_number": citizen.id_number,
                        "phone": citizen.phone,
                    },
                    "form": received.form_data,
                    "materials": [
                        {k: m[k] for k in ("material_code", "filename", "content_base64")}
                        for m in received.materials
                    ],
                    "checked_by": actor.label,
                },
            )
        else:
            received.stage = ReceivedStage.REFUSED
            received.timeline.append(
                _entry("refused", "代收审核未通过", received.receiving_region, comment)
            )
        received.save()
        audit_record_append(
            actor=actor.label,
            action="crossregion.check",
            outcome=Outcome.SUCCESS,
            object_type="received_application",
            object_id=str(received.pk),
            detail={"accept": accept},
        )
    return received


def _uuid(value: Any) -> uuid.UUID:
    return uuid_or_not_found(value, "received_not_found", "代收件不存在")


def _on_status(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A status update from the handling region (in order; stale or repeated ones ignored)."""
    try:
        received_id, sequence = uuid.UUID(str(payload["received_id"])), int(payload["sequence"])
    except (KeyError, ValueError, TypeError):
        raise InvalidInput("bad_payload", "状态消息格式不正确") from None
    received = (
        ReceivedApplication.objects.select_for_update()
        .filter(pk=received_id, handling_region=sender, receiving_region=recipient)
        .first()
    )
    if received is None:
        raise NotFound("received_not_found", "代收件不存在")
    if sequence <= received.last_sequence:
        return {"applied": False, "sequence": received.last_sequence}
    received.last_sequence = sequence
    if payload.get("declined"):
        received.stage = ReceivedStage.DECLINED
        received.note = str(payload.get("message", ""))[:500]
        received.timeline.append(_entry("declined", "办理地未受理", sender, received.note))
    else:
        received.stage = ReceivedStage.IN_HANDLING
        received.remote_case_id = str(payload.get("case_id", ""))[:64]
        received.remote_case_number = str(payload.get("case_number", ""))[:50]
        received.remote_status = str(payload.get("status", ""))[:24]
        received.timeline.append(
            {
                "at": str(payload.get("at", "")),
                "action": str(payload.get("action", "")),
                "label": str(payload.get("label", "")),
                "region": sender,
                "comment": str(payload.get("comment", ""))[:500],
            }
        )
    received.save()
    return {"applied": True, "sequence": sequence}


# ---------------------------------------------------------------- handling region


def _applicant(details: dict[str, Any]) -> Citizen:
    """The applicant here, found by ID number or registered (identity verified by the
    receiving region; no password: they sign in here with an SMS code if ever needed)."""
    existing = Citizen.objects.select_related("user").filter(id_number=details["id_number"])
    citizen = existing.first()
    if citizen is not None:
        return citizen
    user_model = get_user_model()
    phone = str(details["phone"])
    username = phone if not user_model.objects.filter(username=phone).exists() else None
    user = user_model.objects.create_user(username=username or f"xr-{uuid.uuid4().hex[:12]}")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return Citizen.objects.create(
        user=user,
        real_name=str(details["real_name"])[:50],
        id_number=str(details["id_number"]),
        phone=phone if username else f"9{uuid.uuid4().int % 10**10:010d}",
    )


def _on_handoff(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    """代办: accept a hand-off from a receiving region; a refusal is answered, not raised, so the
    receiving region records it instead of retrying."""
    try:
        received_id = uuid.UUID(str(payload["received_id"]))
        materials = [
            UploadedMaterial(
                str(m["material_code"]),
                str(m["filename"]),
                base64.b64decode(str(m["content_base64"]), validate=True),
            )
            for m in payload["materials"]
        ]
        details, form, item_code = payload["applicant"], dict(payload["form"]), payload["item_code"]
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise InvalidInput("bad_payload", "移交消息格式不正确") from None
    try:
        with transaction.atomic():
            item = item_get(code=str(item_code))
            if not item.cross_province:
                raise InvalidInput("not_cross_province", "该事项未开通跨省通办")
            citizen = _applicant(details)
            actor = Actor(user=citizen.user, citizen=citizen, staff=None)
            result = application_submit(
                actor=actor,
                item_code=item.implementation_code,
                form_data=form,
                materials=materials,
                idempotency_key=f"xr:{sender}:{received_id}",
            )
            origin, _ = CrossRegionOrigin.objects.get_or_create(
                case=result.case,
                defaults={"receiving_region": sender, "received_id": received_id},
            )
            _send_status(origin, result.case, action="submit", comment="")
    except DomainError as error:
        _send_declined(sender, recipient, received_id, error)
        return {"accepted": False, "code": error.code, "message": error.message}
    return {
        "accepted": True,
        "case_id": str(result.case.pk),
        "case_number": result.case.case_number,
    }


def _send_declined(sender: str, recipient: str, received_id: uuid.UUID, error: DomainError) -> None:
    message_send(
        sender=recipient,
        recipient=sender,
        kind=STATUS,
        payload={
            "received_id": str(received_id),
            "sequence": 1,
            "declined": True,
            "code": error.code,
            "message": error.message,
        },
    )


def _send_status(origin: CrossRegionOrigin, case: Case, *, action: str, comment: str) -> None:
    origin.sequence += 1
    origin.save(update_fields=["sequence"])
    message_send(
        sender=case.division_code[:2] + "0000",
        recipient=origin.receiving_region,
        kind=STATUS,
        payload={
            "received_id": str(origin.received_id),
            "sequence": origin.sequence,
            "case_id": str(case.pk),
            "case_number": case.case_number,
            "status": case.status,
            "label": ACTION_LABELS.get(action, CaseStatus(case.status).label),
            "action": action,
            "comment": comment,
            "at": clock.now().isoformat(),
        },
    )


def on_case_status_changed(event: CaseStatusChanged) -> None:
    """After a case of cross-region origin moves, tell the receiving region (in order)."""
    with transaction.atomic():
        origin = (
            CrossRegionOrigin.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(case_id=event.case_id)
            .first()
        )
        if origin is None:
            return
        last = origin.case.transitions.order_by("-pk").first()
        comment = last.comment if last is not None else ""
        _send_status(origin, origin.case, action=event.action, comment=comment)


def received_for_applicant(*, user: Any) -> models.QuerySet[ReceivedApplication]:
    return ReceivedApplication.objects.filter(applicant=user)


def received_summary(received: ReceivedApplication) -> dict[str, Any]:
    """What the applicant and staff see (materials without content; applicant masked)."""
    citizen = getattr(received.applicant, "citizen", None)
    return {
        "id": str(received.pk),
        "item_code": received.item_code,
        "item_name": received.item_name,
        "receiving_region": received.receiving_region,
        "handling_region": received.handling_region,
        "stage": received.stage,
        "stage_label": ReceivedStage(received.stage).label,
        "remote_case_number": received.remote_case_number,
        "remote_status": received.remote_status,
        "remote_status_label": CaseStatus(received.remote_status).label
        if received.remote_status in CaseStatus.values
        else "",
        "note": received.note,
        "applicant": mask(citizen.real_name, "name") if citizen else "",
        "materials": [
            {k: m[k] for k in ("material_code", "material_name", "filename", "size", "sha256")}
            for m in received.materials
        ],
        "timeline": received.timeline,
        "created_at": received.created_at.isoformat(),
    }


handler_register(HANDOFF, _on_handoff)
handler_register(STATUS, _on_status)
