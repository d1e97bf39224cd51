"""跨省通办 API: applicants apply here for another region's item (or several regions' items:
多地联办) and answer corrections here; clerks check and hand over."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema
from ninja.responses import Status

from tongban.core.schemas import NO_NUL, error_responses, text
from tongban.identity.auth import request_actor

from .. import errors
from ..schemas import MAX_FORM_FIELDS, FormData, MaterialIn
from ..submission.api import materials_decode
from . import services as crossregion
from .presenters import received_summary
from .selectors import received_applications_for_staff, received_for_applicant

router = Router(tags=["cross-region"])


class ReceivedIn(Schema):
    item_code: str = text(31, description="办理地事项实施编码")
    handling_region: str = text(12, description="办理地区划代码（省级），如 330000")
    receiving_region: str | None = text(12, None, description="代收地；缺省为本平台的首个区域")
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[MaterialIn] = Field(default=[], max_length=50)


class PartIn(Schema):
    item_code: str = text(31, description="该部分事项的实施编码")
    handling_region: str = text(12, description="该部分的办理地区划代码（省级）")


class JointMaterialIn(MaterialIn):
    part: int = Field(ge=1, le=crossregion.MAX_PARTS, description="材料所属部分的序号（从 1 起）")


class JointIn(Schema):
    parts: list[PartIn] = Field(min_length=2, max_length=crossregion.MAX_PARTS)
    receiving_region: str | None = text(12, None, description="代收地；缺省为本平台的首个区域")
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[JointMaterialIn] = Field(default=[], max_length=50)


class CrossRegionResubmissionIn(Schema):
    part: int = Field(default=1, ge=1, le=crossregion.MAX_PARTS, description="补正的部分序号")
    form: FormData = Field(
        default={}, max_length=MAX_FORM_FIELDS, description="更正的字段（未列出的保持原值）"
    )
    materials: list[MaterialIn] = Field(default=[], max_length=50)


class ReceivedMaterialOut(Schema):
    material_code: str
    material_name: str
    filename: str
    size: int
    sha256: str
    part: int


class CrossRegionTimelineEntryOut(Schema):
    at: str
    action: str
    label: str
    region: str
    comment: str
    part: int | None = None


class ReceivedPartOut(Schema):
    position: int
    item_code: str
    item_name: str
    handling_region: str
    stage: str
    stage_label: str
    remote_case_number: str
    remote_status: str
    remote_status_label: str
    note: str
    awaiting_correction: bool
    resubmission_pending: bool


class ReceivedOut(Schema):
    id: UUID
    item_code: str
    item_name: str
    receiving_region: str
    handling_region: str
    stage: str
    stage_label: str
    remote_case_number: str
    remote_status: str
    remote_status_label: str
    note: str
    overall_status: str
    overall_status_label: str
    parts: list[ReceivedPartOut]
    applicant: str
    materials: list[ReceivedMaterialOut]
    timeline: list[CrossRegionTimelineEntryOut]
    created_at: str


class ReceivedCheckIn(Schema):
    accept: bool
    comment: str = text(500, "")


def _replayed(actor: Any, idempotency_key: str | None) -> bool:
    """Whether this submission repeats one already received (answered 200, not 201)."""
    return bool(
        idempotency_key
        and actor.user is not None
        and crossregion.ReceivedApplication.objects.filter(
            applicant=actor.user, idempotency_key=idempotency_key
        ).exists()
    )


@router.post(
    "/applications",
    response={
        201: ReceivedOut,
        200: ReceivedOut,
        **error_responses(400, 401, 403, 404, 409, 413, 422, 503),
    },
)
def received_create(
    request: HttpRequest,
    payload: ReceivedIn,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=100, pattern=NO_NUL
    ),
) -> Status[dict[str, Any]]:
    """异地代收：向本地提交外省（办理地）开通跨省通办的事项，经代收审核后移交办理地。"""
    actor = request_actor(request)
    existing = _replayed(actor, idempotency_key)
    received = crossregion.received_application_submit(
        actor=actor,
        item_code=payload.item_code,
        handling_region=payload.handling_region,
        receiving_region=payload.receiving_region,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
        idempotency_key=idempotency_key,
    )
    return Status(200 if existing else 201, received_summary(received))


@router.post(
    "/joint-applications",
    response={
        201: ReceivedOut,
        200: ReceivedOut,
        **error_responses(400, 401, 403, 404, 409, 413, 422, 503),
    },
)
def received_joint_create(
    request: HttpRequest,
    payload: JointIn,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=100, pattern=NO_NUL
    ),
) -> Status[dict[str, Any]]:
    """多地联办：一次提交，分为由不同办理地办理的若干部分；代收审核后逐部分签名移交。"""
    actor = request_actor(request)
    existing = _replayed(actor, idempotency_key)
    materials: dict[int, list[Any]] = {}
    for material, upload in zip(
        payload.materials, materials_decode(list(payload.materials)), strict=True
    ):
        materials.setdefault(material.part, []).append(upload)
    received = crossregion.received_joint_submit(
        actor=actor,
        parts=[crossregion.PartRequest(p.item_code, p.handling_region) for p in payload.parts],
        receiving_region=payload.receiving_region,
        form_data=payload.form,
        materials=materials,
        idempotency_key=idempotency_key,
    )
    return Status(200 if existing else 201, received_summary(received))


@router.get("/applications", response={200: list[ReceivedOut], **error_responses(401)})
def received_mine(request: HttpRequest) -> list[dict[str, Any]]:
    """我的跨省通办申请（含办理地同步的办理过程，多地联办逐部分显示）。"""
    rows = (
        received_for_applicant(user=request_actor(request).user)
        .select_related("applicant")
        .prefetch_related("parts")
    )
    return [received_summary(row) for row in rows[:100]]


@router.get(
    "/applications/{received_id}", response={200: ReceivedOut, **error_responses(401, 404, 422)}
)
def received_detail(request: HttpRequest, received_id: UUID) -> dict[str, Any]:
    """跨省通办申请详情（仅申请人本人）。"""
    row = received_for_applicant(user=request_actor(request).user).filter(pk=received_id).first()
    if row is None:
        raise errors.RECEIVED_NOT_FOUND.error()
    return received_summary(row)


@router.post(
    "/applications/{received_id}/resubmission",
    response={200: ReceivedOut, **error_responses(400, 401, 403, 404, 409, 413, 422, 503)},
)
def received_resubmit(
    request: HttpRequest, received_id: UUID, payload: CrossRegionResubmissionIn
) -> dict[str, Any]:
    """跨省补正：在代收地答复办理地的补正要求（更正字段、补交材料），签名发送办理地。"""
    received = crossregion.received_resubmit(
        actor=request_actor(request),
        received_id=received_id,
        part=payload.part,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
    )
    return received_summary(received)


@router.get("/received", response={200: list[ReceivedOut], **error_responses(401, 403)})
def received_queue(request: HttpRequest) -> list[dict[str, Any]]:
    """代收件（本区域工作人员）：待审核与已移交的异地申请。"""
    actor = request_actor(request)
    if actor.staff is None:
        raise errors.STAFF_REQUIRED.error(what=errors.RECEIVED_QUEUE)
    rows = (
        received_applications_for_staff(actor=actor)
        .select_related("applicant__citizen")
        .prefetch_related("parts")
    )
    return [received_summary(row) for row in rows[:200]]


@router.post(
    "/received/{received_id}/check",
    response={200: ReceivedOut, **error_responses(400, 401, 403, 404, 409, 422)},
)
def received_check(
    request: HttpRequest, received_id: UUID, payload: ReceivedCheckIn
) -> dict[str, Any]:
    """代收审核：核验身份与材料，通过后签名移交办理地，或说明理由退回。"""
    received = crossregion.received_application_check(
        actor=request_actor(request),
        received_id=received_id,
        accept=payload.accept,
        comment=payload.comment,
    )
    return received_summary(received)
