"""跨省通办: received in one region (异地代收), handled in another (代办), status synced back.

Receiving region R:
1. `received_application_submit` — an applicant of R applies for a cross-province item of the
   handling region H (at R's portal or window). The form and materials are checked against
   H's published item (read from H's catalog API, or locally for a region tenant).
2. `received_application_check` — a clerk of R checks identity and materials (代收审核): a
   refusal goes back to the applicant with the reason; an acceptance hands the application
   over to H as a signed interchange message (`crossregion.handoff`, tongban.interchange): in the
   same transaction as the status change, so the hand-off exists if and only if it committed,
   and the outbox retries it until H acknowledges. A duplicate is ignored by H's inbox.
Handling region H:
3. The hand-off handler finds or registers the applicant (identity verified by R), submits the
   application there (idempotent on R's id) and records its origin (`CrossRegionOrigin`).
4. Every status change of such a case is sent back (`crossregion.status`, numbered), so the
   applicant and both regions' staff see one timeline; R applies the updates in order and
   ignores stale or repeated ones.
补正 across regions:
5. When H requests a correction, the applicant answers it in R (`received_resubmit`): R checks
   the corrected form and materials against H's item, records them and sends
   `crossregion.resubmission` (same transaction, same outbox). H applies it with the ordinary
   case resubmission, once per resubmission id; a case no longer awaiting correction answers
   with a refusal (a status message) that R records and shows.
多地联办:
6. `received_joint_submit` — one application whose handling is split into parts
   (`ReceivedPart`), each an item of one region. The receiving check hands every part over
   (one message per part, idempotency key per part); each part's status comes back on its own
   and the application shows an aggregated overall status (`received_overall`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from tongban.catalog.formschema import form_fields
from tongban.catalog.selectors import item_get
from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import sha256_hex, sm3_hex
from tongban.core.errors import DomainError, InvalidInput
from tongban.identity.models import Citizen, StaffRole
from tongban.identity.selectors import Actor
from tongban.interchange.services import handler_register, local_regions, message_send

from .. import errors
from ..events import CaseStatusChanged
from ..models import (
    Case,
    CaseStatus,
    CrossRegionOrigin,
    ReceivedApplication,
    ReceivedPart,
    ReceivedStage,
)
from ..submission.services import (
    ACTION_LABELS,
    ACTION_ROLES,
    UploadedMaterial,
    application_submit,
    case_resubmit,
    submission_validate,
)
from .selectors import (
    RESUBMISSION_SENT,
    Handling,
    handling_at,
    item_definition,
    received_applications_for_staff,
    received_correction,
    received_for_applicant,
    received_item_rules,
    received_uuid,
    region_name,
)

HANDOFF = "crossregion.handoff"
STATUS = "crossregion.status"
RESUBMISSION = "crossregion.resubmission"

RESUBMISSION_REFUSED = "resubmission_refused"
LABELS = {
    RESUBMISSION_SENT: "申请人在代收地补正，已发送办理地",
    RESUBMISSION_REFUSED: "办理地未接受补正",
}
MAX_PARTS = 10


@dataclass(frozen=True)
class PartRequest:
    """多地联办: one part asked for — an item and the region that handles it."""

    item_code: str
    handling_region: str


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
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_APPLY)
    receiving = receiving_region or local_regions()[0]
    if receiving not in local_regions():
        raise errors.RECEIVING_REGION_UNKNOWN.error(region=receiving)
    if handling_region == receiving:
        raise errors.SAME_REGION.error()
    if idempotency_key:
        existing = ReceivedApplication.objects.filter(
            applicant=actor.user, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    item = item_definition(item_code, handling_region)
    if not item["cross_province"]:
        raise errors.NOT_CROSS_PROVINCE.error(item=item["name"])
    cleaned, types = submission_validate(
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
                _material_entry(upload, content_type, names)
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


def _material_entry(
    upload: UploadedMaterial, content_type: str, names: dict[str, str], part: int | None = None
) -> dict[str, Any]:
    entry = {
        "material_code": upload.material_code,
        "material_name": names[upload.material_code],
        "filename": upload.filename[:200],
        "content_type": content_type,
        "size": len(upload.content),
        "sha256": sha256_hex(upload.content),
        "sm3": sm3_hex(upload.content),
        "content_base64": base64.b64encode(upload.content).decode(),
    }
    if part is not None:
        entry["part"] = part
    return entry


def received_joint_submit(
    *,
    actor: Actor,
    parts: list[PartRequest],
    form_data: dict[str, Any],
    materials: dict[int, list[UploadedMaterial]],
    receiving_region: str | None = None,
    idempotency_key: str | None = None,
) -> ReceivedApplication:
    """多地联办: one application here whose handling is split into parts, each an item handled
    by one region (the receiving region may handle a part too). One form serves all parts
    (each part receives the fields its item asks for); materials are given per part (1-based)."""
    if actor.citizen is None or actor.user is None:
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_APPLY)
    receiving = receiving_region or local_regions()[0]
    if receiving not in local_regions():
        raise errors.RECEIVING_REGION_UNKNOWN.error(region=receiving)
    if not 2 <= len(parts) <= MAX_PARTS:
        raise errors.PARTS_INVALID.error(max=MAX_PARTS)
    if len({(p.item_code, p.handling_region) for p in parts}) != len(parts):
        raise errors.PARTS_DUPLICATE.error()
    unknown = sorted(set(materials) - set(range(1, len(parts) + 1)))
    if unknown:
        raise errors.MATERIAL_PART_UNKNOWN.error(part=unknown[0])
    if idempotency_key:
        existing = ReceivedApplication.objects.filter(
            applicant=actor.user, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    items = [item_definition(p.item_code, p.handling_region) for p in parts]
    for item in items:
        if not item["cross_province"]:
            raise errors.NOT_CROSS_PROVINCE.error(item=item["name"])
    names_of_fields = [{spec.name for spec in form_fields(item["form_schema"])} for item in items]
    problems: dict[str, Any] = {
        name: _("申请表中没有此字段")
        for name in form_data
        if not any(name in known for known in names_of_fields)
    }
    cleaned_parts: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for position, (item, known) in enumerate(zip(items, names_of_fields, strict=True), 1):
        uploads = materials.get(position, [])
        codes = {m["code"] for m in item["materials"]}
        try:
            cleaned, types = submission_validate(
                item["form_schema"],
                {k: v for k, v in form_data.items() if k in known},
                item["materials"],
                uploads,
                require_mandatory=True,
            )
        except InvalidInput as error:
            for key, message in (error.fields or {"materials": error.message}).items():
                label = f"{position}.{key}" if key in codes or key == "materials" else key
                problems[label] = (
                    errors.field_message(
                        _("第%(part)s部分（%(item)s）：%(message)s"),
                        part=position,
                        item=item["name"],
                        message=message,
                    )
                    if label != key
                    else message
                )
            continue
        cleaned_parts.append(cleaned)
        names = {m["code"]: m["name"] for m in item["materials"]}
        entries += [
            _material_entry(upload, content_type, names, position)
            for upload, content_type in zip(uploads, types, strict=True)
        ]
    if problems:
        raise errors.FORM_INVALID.error(fields=problems)
    merged = {k: v for cleaned in cleaned_parts for k, v in cleaned.items()}
    with transaction.atomic():
        received = ReceivedApplication.objects.create(
            applicant=actor.user,
            receiving_region=receiving,
            handling_region=parts[0].handling_region,
            item_code=parts[0].item_code,
            item_name=" + ".join(item["name"] for item in items)[:200],
            form_data=merged,
            materials=entries,
            idempotency_key=idempotency_key or None,
            created_at=clock.now(),
            timeline=[_entry("received", f"代收地收件（多地联办，{len(parts)}个部分）", receiving)],
        )
        ReceivedPart.objects.bulk_create(
            ReceivedPart(
                received=received,
                position=position,
                handling_region=part.handling_region,
                item_code=part.item_code,
                item_name=item["name"][:200],
                form_data=cleaned,
            )
            for position, (part, item, cleaned) in enumerate(
                zip(parts, items, cleaned_parts, strict=True), 1
            )
        )
        audit_record_append(
            actor=actor.label,
            action="crossregion.receive",
            object_type="received_application",
            object_id=str(received.pk),
            detail={"parts": [[p.item_code, p.handling_region] for p in parts]},
        )
    return received


def _entry(
    action: str, label: str, region: str, comment: str = "", part: int | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "at": clock.now().isoformat(),
        "action": action,
        "label": label,
        "region": region,
        "comment": comment,
    }
    if part is not None:
        entry["part"] = part
    return entry


def received_application_check(
    *, actor: Actor, received_id: Any, accept: bool, comment: str = ""
) -> ReceivedApplication:
    """代收审核: a clerk of the receiving region checks identity and materials, then hands the
    application over (signed message, in the same transaction) or returns it with a reason."""
    staff = actor.staff
    if staff is None or not staff.has_role(StaffRole.INTAKE):
        raise errors.ROLE_REQUIRED.error(
            action=errors.TO_CHECK_RECEIVED, roles=StaffRole.INTAKE.label
        )
    comment = comment.strip()
    if not accept and not comment:
        raise errors.COMMENT_REQUIRED.error(
            fields={"comment": _("请填写理由")}, action=errors.TO_RETURN
        )
    with transaction.atomic():
        received = (
            received_applications_for_staff(actor=actor)
            .select_for_update(of=("self",))
            .filter(pk=received_uuid(received_id))
            .select_related("applicant__citizen")
            .first()
        )
        if received is None:
            raise errors.RECEIVED_NOT_FOUND.error()
        if received.stage != ReceivedStage.RECEIVED:
            raise errors.ALREADY_CHECKED.error()
        received.checked_by = actor.label
        received.checked_at = clock.now()
        received.note = comment
        if accept:
            received.hand_over()
            parts = list(received.parts.all())
            received.timeline.append(
                _entry(
                    "handed_over",
                    f"代收审核通过，分{len(parts)}个部分移交各办理地"
                    if parts
                    else "代收审核通过，移交办理地",
                    received.receiving_region,
                )
            )
            for part in parts:
                part.hand_over()
                part.save(update_fields=["stage"])
                _hand_over(received, part, actor)
            if not parts:
                _hand_over(received, None, actor)
        else:
            received.refuse()
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


def _hand_over(received: ReceivedApplication, part: ReceivedPart | None, actor: Actor) -> None:
    """One signed hand-off: the whole application, or one part of a 多地联办 application."""
    citizen = received.applicant.citizen
    payload: dict[str, Any] = {
        "received_id": str(received.pk),
        "item_code": received.item_code if part is None else part.item_code,
        "applicant": {
            "real_name": citizen.real_name,
            "id_number": citizen.id_number,
            "phone": citizen.phone,
        },
        "form": received.form_data if part is None else part.form_data,
        "materials": [
            {k: m[k] for k in ("material_code", "filename", "content_base64")}
            for m in received.materials
            if part is None or m.get("part") == part.position
        ],
        "checked_by": actor.label,
    }
    if part is not None:
        payload["part"] = part.position
    message_send(
        sender=received.receiving_region,
        recipient=received.handling_region if part is None else part.handling_region,
        kind=HANDOFF,
        payload=payload,
    )


def _on_status(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A status update from the handling region, for the whole application or for one part.

    The handling region numbers its messages in order, but they travel one by one through the
    outbox: two workers may deliver two at once, and a message whose delivery was cut off is
    sent again later. So each number is applied once whatever order it arrives in: a late one
    takes its place in the timeline by number, and only the latest number decides the status
    and the stage."""
    try:
        received_id, sequence = uuid.UUID(str(payload["received_id"])), int(payload["sequence"])
        position = int(payload.get("part", 1))
    except (KeyError, ValueError, TypeError):
        raise errors.BAD_PAYLOAD.error(kind=STATUS) from None
    received = (
        ReceivedApplication.objects.select_for_update()
        .filter(pk=received_id, receiving_region=recipient)
        .first()
    )
    parts = list(received.parts.all()) if received is not None else []
    target = handling_at(received, parts, position) if received is not None else None
    if received is None or target is None or target.handling_region != sender:
        raise errors.RECEIVED_NOT_FOUND.error()
    if sequence in target.sequences_applied:
        return {"applied": False, "sequence": target.last_sequence}
    part = position if parts else None
    latest = sequence > target.last_sequence
    if latest and not can_proceed(target.decline if payload.get("declined") else target.report):
        # A status for a part already declined (or never handed over): recorded, not applied.
        return {"applied": False, "code": "unexpected_stage", "stage": target.stage}
    if payload.get("declined"):
        entry = _entry(
            "declined", "办理地未受理", sender, str(payload.get("message", ""))[:500], part
        )
        if latest:
            target.decline()
            target.note = entry["comment"]
    else:
        entry = {
            "at": str(payload.get("at", "")),
            "action": str(payload.get("action", "")),
            "label": str(payload.get("label", "")),
            "region": sender,
            "comment": str(payload.get("comment", ""))[:500],
        }
        if part is not None:
            entry["part"] = part
        if latest:
            target.report()
            target.remote_case_id = str(payload.get("case_id", ""))[:64]
            target.remote_case_number = str(payload.get("case_number", ""))[:50]
            target.remote_status = str(payload.get("status", ""))[:24]
            if payload.get("refused"):
                target.note = str(entry["comment"])
    entry["sequence"] = sequence
    _timeline_insert(received.timeline, entry)
    target.sequences_applied = sorted([*target.sequences_applied, sequence])
    target.last_sequence = max(target.last_sequence, sequence)
    if isinstance(target, ReceivedPart):
        target.save()
        if latest:
            received.derive(_joint_stage(parts))
    received.save()
    return {"applied": True, "sequence": sequence}


def _timeline_insert(timeline: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """Put a numbered step before the first later-numbered step of the same part (a step that
    arrived late), else at the end."""
    for index, other in enumerate(timeline):
        same_part = other.get("part") == entry.get("part")
        if same_part and other.get("sequence", 0) > entry["sequence"]:
            timeline.insert(index, entry)
            return
    timeline.append(entry)


def _joint_stage(parts: list[ReceivedPart]) -> str:
    """The application's own stage once its parts have been handed over."""
    if all(part.stage == ReceivedStage.DECLINED for part in parts):
        return ReceivedStage.DECLINED
    if any(part.stage in {ReceivedStage.IN_HANDLING, ReceivedStage.DECLINED} for part in parts):
        return ReceivedStage.IN_HANDLING
    return ReceivedStage.HANDED_OVER


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
        position = int(payload.get("part", 1))
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise errors.BAD_PAYLOAD.error(kind=HANDOFF) from None
    # One key per part (a single-region application keeps the key it always had).
    key = f"xr:{sender}:{received_id}" + (f":{position}" if position != 1 else "")
    try:
        with transaction.atomic():
            item = item_get(code=str(item_code))
            if not item.cross_province:
                raise errors.NOT_CROSS_PROVINCE.error(item=item.name)
            citizen = _applicant(details)
            actor = Actor(user=citizen.user, citizen=citizen, staff=None)
            result = application_submit(
                actor=actor,
                item_code=item.implementation_code,
                form_data=form,
                materials=materials,
                idempotency_key=key,
            )
            submitted = result.case.transitions.order_by("pk").first()
            origin, _created = CrossRegionOrigin.objects.get_or_create(
                case=result.case,
                defaults={
                    "receiving_region": sender,
                    "received_id": received_id,
                    "part": position,
                    "reported_through": submitted.pk if submitted is not None else None,
                },
            )
            _send_status(origin, result.case, action="submit", comment="")
    except DomainError as error:
        _send_declined(sender, recipient, received_id, error, position)
        return {"accepted": False, "code": error.code, "message": error.message}
    return {
        "accepted": True,
        "case_id": str(result.case.pk),
        "case_number": result.case.case_number,
    }


def _send_declined(
    sender: str, recipient: str, received_id: uuid.UUID, error: DomainError, position: int
) -> None:
    payload: dict[str, Any] = {
        "received_id": str(received_id),
        "sequence": 1,
        "declined": True,
        "code": error.code,
        "message": error.message,
    }
    if position != 1:
        payload["part"] = position
    message_send(sender=recipient, recipient=sender, kind=STATUS, payload=payload)


def _send_status(
    origin: CrossRegionOrigin,
    case: Case,
    *,
    action: str,
    comment: str,
    status: str | None = None,
    at: Any = None,
    refused: bool = False,
) -> None:
    """Send one status message (numbered: the receiving region ignores stale and repeated
    ones). `status` and `at` default to the case's current status and now."""
    origin.sequence += 1
    origin.save(update_fields=["sequence"])
    status = status or case.status
    payload: dict[str, Any] = {
        "received_id": str(origin.received_id),
        "sequence": origin.sequence,
        "case_id": str(case.pk),
        "case_number": case.case_number,
        "status": status,
        "label": LABELS.get(action) or ACTION_LABELS.get(action, CaseStatus(status).label),
        "action": action,
        "comment": comment,
        "at": (at or clock.now()).isoformat(),
    }
    if origin.part != 1:
        payload["part"] = origin.part
    if refused:
        payload["refused"] = True
    message_send(
        sender=case.division_code[:2] + "0000",
        recipient=origin.receiving_region,
        kind=STATUS,
        payload=payload,
    )


# The steps of a case that move its status, reported to the receiving region (hand-offs such
# as 协办 and 转办 keep the status and stay in the handling region).
REPORTED_ACTIONS = frozenset(ACTION_ROLES) | {"resubmit", "release"}


def on_case_status_changed(event: CaseStatusChanged) -> None:
    """After a case of cross-region origin moves, tell the receiving region every step it has
    not been told yet, in order (event subscriber, ADR 0019). Idempotent and order-proof: the
    origin records the last step reported, so a repeated or late delivery sends nothing again
    and a retried earlier event never overtakes a later one."""
    with transaction.atomic():
        origin = (
            CrossRegionOrigin.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(case_id=event.case_id)
            .first()
        )
        if origin is None:
            return
        steps = list(
            origin.case.transitions.filter(
                pk__gt=origin.reported_through or 0, action__in=REPORTED_ACTIONS
            ).order_by("pk")
        )
        for step in steps:
            _send_status(
                origin,
                origin.case,
                action=step.action,
                comment=step.comment,
                status=step.to_status,
                at=step.occurred_at,
            )
        if steps:
            origin.reported_through = steps[-1].pk
            origin.save(update_fields=["reported_through"])


# ---------------------------------------------------------------- 补正 across regions


def received_resubmit(
    *,
    actor: Actor,
    received_id: Any,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
    part: int = 1,
) -> ReceivedApplication:
    """补正 in the receiving region: the applicant answers the handling region's correction
    request here. The corrected fields are merged onto what was submitted, the whole is checked
    against the handling region's item, recorded, and sent (`crossregion.resubmission`) in the
    same transaction."""
    if actor.citizen is None or actor.user is None:
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_CORRECT)
    received = received_for_applicant(user=actor.user).filter(pk=received_uuid(received_id)).first()
    if received is None:
        raise errors.RECEIVED_NOT_FOUND.error()
    correction = received_correction(received, part)
    target: Handling = correction["target"]
    _check_awaiting(correction)
    item = received_item_rules(target)
    merged = {**target.form_data, **form_data}
    cleaned, types = submission_validate(
        item["form_schema"], merged, item["materials"], materials, require_mandatory=False
    )
    names = {m["code"]: m["name"] for m in item["materials"]}
    titles = {spec.name: spec.title for spec in form_fields(item["form_schema"])}
    with transaction.atomic():
        received = received_for_applicant(user=actor.user).select_for_update().get(pk=received.pk)
        correction = received_correction(received, part)  # again, under the lock
        _check_awaiting(correction)
        target = correction["target"]
        position = part if isinstance(target, ReceivedPart) else None
        changed = [
            k
            for k in sorted(set(cleaned) | set(target.form_data))
            if target.form_data.get(k) != cleaned.get(k)
        ]
        replaced = {u.material_code for u in materials}
        received.materials = [
            m
            for m in received.materials
            if m.get("part") != position or m["material_code"] not in replaced
        ] + [
            _material_entry(upload, content_type, names, position)
            for upload, content_type in zip(materials, types, strict=True)
        ]
        if isinstance(target, ReceivedPart):
            target.form_data = cleaned
            target.save(update_fields=["form_data"])
            received.form_data = {**received.form_data, **cleaned}
        else:
            received.form_data = cleaned
        summary = "；".join(
            text
            for text in (
                "更正：" + "、".join(titles.get(k, k) for k in changed) if changed else "",
                "补交材料：" + "、".join(names[code] for code in sorted(replaced))
                if replaced
                else "",
            )
            if text
        )
        received.timeline.append(
            _entry(
                RESUBMISSION_SENT,
                LABELS[RESUBMISSION_SENT],
                received.receiving_region,
                summary or "确认原申请内容",
                position,
            )
        )
        received.save()
        message_send(
            sender=received.receiving_region,
            recipient=target.handling_region,
            kind=RESUBMISSION,
            payload={
                "received_id": str(received.pk),
                "part": part,
                "resubmission_id": str(uuid.uuid4()),
                "form": cleaned,
                "materials": [
                    {
                        "material_code": upload.material_code,
                        "filename": upload.filename[:200],
                        "content_base64": base64.b64encode(upload.content).decode(),
                    }
                    for upload in materials
                ],
            },
        )
        audit_record_append(
            actor=actor.label,
            action="crossregion.resubmit",
            object_type="received_application",
            object_id=str(received.pk),
            detail={"part": part, "fields": changed, "materials": sorted(replaced)},
        )
    return received


def _check_awaiting(correction: dict[str, Any]) -> None:
    if correction["pending"]:
        raise errors.RESUBMISSION_PENDING.error()
    if not correction["awaiting_correction"]:
        raise errors.NOT_AWAITING_CORRECTION.error()


def _on_resubmission(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    """补正 from the receiving region, applied with the ordinary case resubmission, once per
    resubmission id. A case no longer awaiting correction (or an invalid form under the case's
    rules) is answered with a refusal — a status message the receiving region records and
    shows — not raised, so the message is not retried forever."""
    try:
        received_id = uuid.UUID(str(payload["received_id"]))
        resubmission_id = uuid.UUID(str(payload["resubmission_id"]))
        position = int(payload.get("part", 1))
        form = dict(payload["form"])
        materials = [
            UploadedMaterial(
                str(m["material_code"]),
                str(m["filename"]),
                base64.b64decode(str(m["content_base64"]), validate=True),
            )
            for m in payload["materials"]
        ]
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise errors.BAD_PAYLOAD.error(kind=RESUBMISSION) from None
    origin = (
        CrossRegionOrigin.objects.select_for_update(of=("self",))
        .select_related("case__application__applicant__citizen")
        .filter(receiving_region=sender, received_id=received_id, part=position)
        .first()
    )
    if origin is None:
        missing = errors.CASE_NOT_FOUND.error()
        return {"applied": False, "code": missing.code, "message": missing.message}
    if origin.last_resubmission_id == resubmission_id:
        return {"applied": False, "duplicate": True}
    case = origin.case
    applicant = case.application.applicant
    actor = Actor(user=applicant, citizen=getattr(applicant, "citizen", None), staff=None)
    origin.last_resubmission_id = resubmission_id
    origin.save(update_fields=["last_resubmission_id"])
    try:
        case_resubmit(
            actor=actor,
            case_id=case.pk,
            form_data=form,
            materials=materials,
            comment=f"申请人在受理地（{region_name(sender)}）提交补正，经跨省通办转来",
        )
    except DomainError as error:
        case = Case.objects.get(pk=case.pk)  # FSM-protected: read it again
        audit_record_append(
            actor=f"peer:{sender}",
            action="crossregion.resubmission",
            outcome=Outcome.DENIED,
            object_type="case",
            object_id=str(case.pk),
            detail={"code": error.code},
        )
        _send_status(origin, case, action=RESUBMISSION_REFUSED, comment=error.message, refused=True)
        return {"applied": False, "code": error.code, "message": error.message}
    return {"applied": True, "case_number": case.case_number}


handler_register(HANDOFF, _on_handoff)
handler_register(STATUS, _on_status)
handler_register(RESUBMISSION, _on_resubmission)
