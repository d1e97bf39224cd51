import base64
import binascii
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Header, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from tongban.core import clock
from tongban.core.pagination import MappedQuerySet
from tongban.core.schemas import NO_NUL, Pagination, error_responses, text
from tongban.identity.auth import request_actor

from .. import errors
from ..deadlines import DeadlineColour
from ..models import Application, CaseStatus
from ..schemas import (
    ApplicationIn,
    ApplicationOut,
    CaseOut,
    MaterialIn,
    QueueEntryOut,
    ResubmissionIn,
    StaffCaseOut,
    TransitionIn,
)
from . import presenters
from .selectors import case_for_staff, cases_for_applicant, cases_for_staff, queue_filter
from .services import (
    SubmissionResult,
    UploadedMaterial,
    application_submit,
    case_resubmit,
    case_reveal_personal_data,
    case_transition,
)

applications_router = Router(tags=["applications"])
cases_router = Router(tags=["cases"])


def materials_decode(materials: list[MaterialIn]) -> list[UploadedMaterial]:
    uploads = []
    for material in materials:
        try:
            content = base64.b64decode(material.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise errors.MATERIAL_ENCODING.error(
                fields={material.material_code: _("base64 无效")}, code=material.material_code
            ) from None
        uploads.append(UploadedMaterial(material.material_code, material.filename, content))
    return uploads


def _applicant_case(case: Any, fresh: SubmissionResult | None = None) -> dict[str, Any]:
    return {
        **presenters.case_summary(case, clock.today()),
        "form": case.application.form_data,
        "materials": presenters.materials(case, fresh.materials if fresh else None),
        "shared_data": presenters.shared_data(case),
        "timeline": presenters.timeline(case, fresh.history if fresh else None),
    }


def _application_out(
    application: Application, fresh: SubmissionResult | None = None
) -> dict[str, Any]:
    if fresh is not None:
        cases = [_applicant_case(fresh.case, fresh)]
    else:
        found = cases_for_applicant(user=application.applicant).filter(application=application)
        cases = [_applicant_case(case) for case in found]
    return {"id": application.id, "submitted_at": application.submitted_at, "cases": cases}


@applications_router.post(
    "",
    response={
        201: ApplicationOut,
        200: ApplicationOut,
        **error_responses(400, 401, 403, 404, 409, 413, 422),
    },
)
def application_create(
    request: HttpRequest,
    payload: ApplicationIn,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=100, pattern=NO_NUL
    ),
) -> Status[dict[str, Any]]:
    """提交申请。带 Idempotency-Key 时，重试同一申请返回首次结果 (200)，不会重复立案。"""
    result = application_submit(
        actor=request_actor(request),
        item_code=payload.item_code,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
        idempotency_key=idempotency_key,
        enterprise_uscc=payload.enterprise_uscc,
        use_shared_data=payload.use_shared_data,
    )
    if result.created:
        return Status(201, _application_out(result.application, result))
    return Status(200, _application_out(result.application))


@applications_router.get("", response={200: list[CaseOut], **error_responses(401, 422)})
@paginate(Pagination)
def application_list(request: HttpRequest) -> list[dict[str, Any]]:
    """我的办件。"""
    today = clock.today()
    return [
        presenters.case_summary(case, today)
        for case in cases_for_applicant(user=request.auth)  # type: ignore[attr-defined]
    ]


@applications_router.get(
    "/{application_id}", response={200: ApplicationOut, **error_responses(401, 404, 422)}
)
def application_detail(request: HttpRequest, application_id: UUID) -> dict[str, Any]:
    """申请详情与办理进度（仅申请人本人可见）。"""
    owner = request.auth  # type: ignore[attr-defined]
    application = Application.objects.filter(pk=application_id, applicant=owner).first()
    if application is None:
        raise errors.APPLICATION_NOT_FOUND.error()
    return _application_out(application)


@applications_router.post(
    "/{application_id}/cases/{case_id}/resubmission",
    response={200: ApplicationOut, **error_responses(400, 401, 404, 409, 413, 422)},
)
def application_resubmit(
    request: HttpRequest, application_id: UUID, case_id: UUID, payload: ResubmissionIn
) -> dict[str, Any]:
    """补正：按一次性告知的内容修改申请表并补交材料。"""
    case = case_resubmit(
        actor=request_actor(request),
        case_id=case_id,
        form_data=payload.form,
        materials=materials_decode(payload.materials),
    )
    if case.application_id != application_id:
        raise errors.APPLICATION_NOT_FOUND.error()
    return _application_out(case.application)


class QueueFilters(Schema):
    status: CaseStatus | None = None
    colour: DeadlineColour | None = None
    q: str | None = text(50, None, description="按办件编号查找")


def _staff(request: HttpRequest) -> Any:
    actor = request_actor(request)
    if actor.staff is None:
        raise errors.CASE_NOT_FOUND.error()
    return actor


@cases_router.get("", response={200: list[QueueEntryOut], **error_responses(401, 403, 422)})
@paginate(Pagination)
def case_queue(request: HttpRequest, filters: Query[QueueFilters]) -> list[dict[str, Any]]:
    """工作台待办：本部门、本辖区的办件（个人信息脱敏）。"""
    actor = request_actor(request)
    if actor.staff is None:
        raise errors.STAFF_REQUIRED.error(what=errors.CASE_QUEUE)
    today = clock.today()
    cases = queue_filter(
        cases_for_staff(staff=actor.staff),
        status=filters.status,
        colour=filters.colour,
        q=filters.q,
        today=today,
    )
    return MappedQuerySet(cases, lambda case: presenters.queue_row(case, today))  # type: ignore[return-value]


def _staff_case(case: Any, actor: Any) -> dict[str, Any]:
    application = case.application
    return {
        **presenters.case_summary(case, clock.today()),
        "applicant_name": application.applicant_name,
        "applicant_id_number": application.applicant_id_number,
        "applicant_phone": application.applicant_phone,
        "form": application.form_data,
        "materials": presenters.materials(case),
        "shared_data": presenters.shared_data(case),
        "timeline": presenters.timeline(case),
        "allowed_actions": presenters.allowed_actions(case, actor.staff),
    }


@cases_router.get("/{case_id}", response={200: StaffCaseOut, **error_responses(401, 404, 422)})
def case_detail(request: HttpRequest, case_id: UUID) -> dict[str, Any]:
    """办件详情（明文个人信息，查看即记入审计日志）。"""
    actor = _staff(request)
    case = case_for_staff(staff=actor.staff, case_id=case_id)
    case_reveal_personal_data(actor=actor, case=case)
    return _staff_case(case, actor)


@cases_router.post(
    "/{case_id}/transitions",
    response={200: StaffCaseOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def case_transition_create(
    request: HttpRequest, case_id: UUID, payload: TransitionIn
) -> dict[str, Any]:
    """办理操作：受理、不予受理、要求补正、开始审查、准予、不予许可、办结。"""
    actor = request_actor(request)
    case = case_transition(
        actor=actor,
        case_id=case_id,
        action=payload.action,
        comment=payload.comment,
        expected_version=payload.expected_version,
    )
    assert actor.staff is not None  # case_transition answers 404 to anyone else
    return _staff_case(case_for_staff(staff=actor.staff, case_id=case.pk), actor)
