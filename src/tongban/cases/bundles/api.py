"""一件事 API for the applicant: submit once, follow the bundle and its child cases, answer a
correction once. Mounted at /api/v1/bundle-cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from tongban.core import clock
from tongban.core.schemas import NO_NUL, Pagination, error_responses, text
from tongban.identity.auth import request_actor

from ..models import BundleCaseStatus
from ..schemas import MAX_FORM_FIELDS, CaseOut, FormData, MaterialIn, TimelineEntryOut
from ..submission.api import materials_decode
from .presenters import bundle_case_view
from .selectors import bundle_case_for_applicant, bundle_cases_for_applicant
from .services import bundle_resubmit, bundle_submit

bundle_cases_router = Router(tags=["bundles"])


class BundleCaseIn(Schema):
    bundle_code: str = text(40, description="一件事编码，如 newborn")
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[MaterialIn] = Field(
        default=[], max_length=50, description="material_code 用一件事的材料编码 (B01…)"
    )
    enterprise_uscc: str | None = text(18, None, description="以企业经办人身份申请时填写")
    situation: dict[str, str] = Field(
        default={},
        max_length=50,
        description='情形引导的回答 {问题编码: 选项}，如 {"social_card": "是"}；'
        "办理哪些事项由服务端按回答计算",
    )
    use_shared_data: bool = Field(
        default=False, description="同意授权各事项的办理部门查询共享数据，免填免交（零材料）"
    )


class BundleResubmissionIn(Schema):
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[MaterialIn] = Field(default=[], max_length=50)


class BundleChildOut(CaseOut):
    position: int
    waiting_for: list[str] = Field(description="尚未办结的前序事项")
    blocked: bool = Field(description="前序事项未获准予，本事项无法开始")
    denial_reason: str


class BundleAttentionOut(Schema):
    kind: str = Field(description="correction | denial")
    item_name: str
    note: str


class BundleTimelineEntryOut(TimelineEntryOut):
    item_name: str
    case_number: str


class SituationAnswerOut(Schema):
    code: str
    question: str
    answer: str


class BundleCaseSummaryOut(Schema):
    id: UUID
    bundle_code: str
    bundle_name: str
    status: str
    status_label: str
    submitted_at: datetime
    completed_at: datetime | None


class BundleCaseOut(BundleCaseSummaryOut):
    form: dict[str, Any]
    situation: list[SituationAnswerOut] = Field(description="情形引导的回答")
    not_applicable: list[str] = Field(description="按申请人情形无需办理的事项")
    children: list[BundleChildOut]
    attention: list[BundleAttentionOut]
    timeline: list[BundleTimelineEntryOut]


def _today() -> date:
    return clock.today()


@bundle_cases_router.post(
    "",
    response={
        201: BundleCaseOut,
        200: BundleCaseOut,
        **error_responses(400, 401, 403, 404, 409, 413, 422),
    },
)
def bundle_case_create(
    request: HttpRequest,
    payload: BundleCaseIn,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=100, pattern=NO_NUL
    ),
) -> Status[dict[str, Any]]:
    """一件事一次办：先答情形引导问题，再一张表、一套材料，为适用的每个事项生成子办件
    （依赖满足的并联办理）。"""
    result = bundle_submit(
        actor=request_actor(request),
        bundle_code=payload.bundle_code,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
        idempotency_key=idempotency_key,
        enterprise_uscc=payload.enterprise_uscc,
        situation=payload.situation,
        use_shared_data=payload.use_shared_data,
    )
    return Status(201 if result.created else 200, bundle_case_view(result.bundle_case, _today()))


@bundle_cases_router.get(
    "", response={200: list[BundleCaseSummaryOut], **error_responses(401, 422)}
)
@paginate(Pagination)
def bundle_case_list(request: HttpRequest) -> list[dict[str, Any]]:
    """我的一件事。"""
    return [
        {
            "id": b.pk,
            "bundle_code": b.bundle.code,
            "bundle_name": b.bundle.name,
            "status": b.status,
            "status_label": BundleCaseStatus(b.status).label,
            "submitted_at": b.submitted_at,
            "completed_at": b.completed_at,
        }
        for b in bundle_cases_for_applicant(user=request.auth)  # type: ignore[attr-defined]
    ]


@bundle_cases_router.get(
    "/{bundle_case_id}", response={200: BundleCaseOut, **error_responses(401, 404, 422)}
)
def bundle_case_detail(request: HttpRequest, bundle_case_id: UUID) -> dict[str, Any]:
    """一件事办理进度：各子办件状态与合并的办理过程（仅申请人本人可见）。"""
    bundle_case = bundle_case_for_applicant(
        user=request.auth,  # type: ignore[attr-defined]
        bundle_case_id=bundle_case_id,
    )
    return bundle_case_view(bundle_case, _today())


@bundle_cases_router.post(
    "/{bundle_case_id}/resubmission",
    response={200: BundleCaseOut, **error_responses(400, 401, 404, 409, 413, 422)},
)
def bundle_case_resubmit(
    request: HttpRequest, bundle_case_id: UUID, payload: BundleResubmissionIn
) -> dict[str, Any]:
    """补正（一次答复）：修改合并申请表、补交材料，转给所有要求补正的子办件。"""
    bundle_case = bundle_resubmit(
        actor=request_actor(request),
        bundle_case_id=bundle_case_id,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
    )
    return bundle_case_view(bundle_case, _today())
