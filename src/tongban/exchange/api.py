"""JSON API of the exchange app (mounted at /api/v1/exchange in tongban.config.api).

The gateway operations (lookups, verifications) authenticate a department's *system* by its
API key (header X-Api-Key); the others authenticate people by bearer token like the rest of
the API: staff for grants, citizens for consents, prefill and their data-use record, security
officers for alerts and the availability indicator.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from ninja.security import APIKeyHeader

from tongban.catalog.selectors import item_get
from tongban.core import clock
from tongban.core.pagination import MappedQuerySet
from tongban.core.schemas import Pagination, error_responses, text
from tongban.identity.auth import request_actor
from tongban.identity.selectors import Actor

from . import errors, presenters
from .models import ClassificationLevel
from .prefill import consent_ensure, prefill
from .schemas import (
    AlertOut,
    AvailabilityOut,
    ConsentIn,
    ConsentOut,
    DataUseOut,
    ElementOut,
    GrantDecisionIn,
    GrantIn,
    GrantOut,
    LookupIn,
    LookupOut,
    PrefillIn,
    PrefillOut,
    RegistryVerificationIn,
    RegistryVerificationOut,
)
from .selectors import (
    alerts_for_officer,
    consents_for_user,
    data_use_for_citizen,
    element_names,
    elements_catalog,
    grants_for_staff,
    security_officer,
    sharing_availability,
)
from .services import (
    Caller,
    alert_acknowledge,
    consent_give,
    consent_revoke,
    grant_decide,
    grant_request,
    lookup,
    system_caller,
)

router = Router(tags=["exchange"])


class SystemKey(APIKeyHeader):
    """A department system's API key (接入系统密钥), sent as X-Api-Key."""

    param_name = "X-Api-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        return system_caller(key) if key else None


def _citizen(request: HttpRequest) -> Actor:
    actor = request_actor(request)
    if actor.citizen is None:
        raise errors.CITIZEN_REQUIRED.error()
    return actor


def _staff(request: HttpRequest) -> Actor:
    actor = request_actor(request)
    if actor.staff is None:
        raise errors.STAFF_REQUIRED.error()
    return actor


# ---------------------------------------------------------------- resource catalog


class ElementFilters(Schema):
    registry: str | None = text(40, None, description="基础库编码，如 population")
    level: ClassificationLevel | None = None
    q: str | None = text(50, None, description="按编码或名称查找")


@router.get("/elements", auth=None, response={200: list[ElementOut], **error_responses(422)})
def element_list(request: HttpRequest, filters: Query[ElementFilters]) -> list[dict[str, Any]]:
    """资源目录：每个数据元的责任部门（一数一源）、分级和更新频率承诺。"""
    elements = elements_catalog()
    if filters.registry:
        elements = elements.filter(registry__code=filters.registry)
    if filters.level:
        elements = elements.filter(level=filters.level)
    if filters.q:
        elements = elements.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    return [presenters.element(element) for element in elements]


# ---------------------------------------------------------------- gateway (systems)


@router.post(
    "/lookups",
    auth=SystemKey(),
    response={200: LookupOut, **error_responses(400, 401, 403, 404, 422, 504)},
)
def lookup_create(request: HttpRequest, payload: LookupIn) -> dict[str, Any]:
    """数据查询：只返回已授权的数据元，按分级脱敏（授权批准明文且 plain=true 时除外）。"""
    result = lookup(
        caller=request.auth,  # type: ignore[attr-defined]
        subject=payload.subject,
        elements=payload.elements,
        purpose=payload.purpose,
        case_id=payload.case_id,
        plain=payload.plain,
    )
    return {
        "record_id": result.record_id,
        "registry": result.registry,
        "found": result.found,
        "values": result.values,
        "masked": result.masked,
        "updated_at": result.updated_at,
        "is_fresh": result.is_fresh,
    }


@router.post(
    "/verifications",
    auth=SystemKey(),
    response={200: RegistryVerificationOut, **error_responses(400, 401, 403, 404, 422, 504)},
)
def verification_create(request: HttpRequest, payload: RegistryVerificationIn) -> dict[str, Any]:
    """数据核验：回答“是/否”，不返回数据本身。"""
    result = lookup(
        caller=request.auth,  # type: ignore[attr-defined]
        subject=payload.subject,
        elements=list(payload.questions),
        purpose=payload.purpose,
        case_id=payload.case_id,
        questions=dict(payload.questions),
    )
    return {
        "record_id": result.record_id,
        "registry": result.registry,
        "found": result.found,
        "matches": result.matches,
    }


# ---------------------------------------------------------------- grants (staff)


@router.get("/grants", response={200: list[GrantOut], **error_responses(401, 403, 422)})
@paginate(Pagination)
def grant_list(request: HttpRequest) -> Any:
    """本部门申请的和待本部门（数据责任部门）审批的共享授权。"""
    actor = _staff(request)
    assert actor.staff is not None
    return MappedQuerySet(grants_for_staff(staff=actor.staff), presenters.grant)


@router.post("/grants", response={201: GrantOut, **error_responses(400, 401, 403, 404, 422)})
def grant_create(request: HttpRequest, payload: GrantIn) -> Status[dict[str, Any]]:
    """共享申请：为本部门实施的事项申请数据元（不得超出事项声明的最小必要范围）。"""
    grant = grant_request(
        actor=_staff(request),
        purpose=payload.purpose,
        elements=payload.elements,
        reason=payload.reason,
        plain_elements=payload.plain_elements,
    )
    return Status(201, presenters.grant(grant))


@router.post(
    "/grants/{grant_id}/decision",
    response={200: GrantOut, **error_responses(400, 401, 403, 404, 409, 422)},
)
def grant_decision(request: HttpRequest, grant_id: int, payload: GrantDecisionIn) -> dict[str, Any]:
    """数据责任部门审批共享申请：批准（设有效期）或拒绝（须说明理由）。"""
    grant = grant_decide(
        actor=_staff(request),
        grant_id=grant_id,
        approve=payload.approve,
        note=payload.note,
        expires_at=payload.expires_at,
    )
    return presenters.grant(grant)


# ---------------------------------------------------------------- consents and record (citizens)


@router.get("/consents", response={200: list[ConsentOut], **error_responses(401, 403, 422)})
@paginate(Pagination)
def consent_list(request: HttpRequest) -> Any:
    """我的数据授权。"""
    actor = _citizen(request)
    now = clock.now()
    return MappedQuerySet(consents_for_user(user=actor.user), lambda c: presenters.consent(c, now))


@router.post("/consents", response={201: list[ConsentOut], **error_responses(400, 401, 403, 422)})
def consent_create(request: HttpRequest, payload: ConsentIn) -> Status[list[dict[str, Any]]]:
    """授权某事项使用我的共享数据预填和核验（范围、用途、期限）。"""
    consents = consent_give(
        actor=_citizen(request),
        purpose=payload.purpose,
        elements=payload.elements,
        enterprise_uscc=payload.enterprise_uscc,
    )
    now = clock.now()
    return Status(201, [presenters.consent(c, now) for c in consents])


@router.post(
    "/consents/{consent_id}/revocation",
    response={200: ConsentOut, **error_responses(401, 403, 404, 422)},
)
def consent_revocation(request: HttpRequest, consent_id: int) -> dict[str, Any]:
    """撤回授权：此后不再以该授权查询我的数据。"""
    consent = consent_revoke(actor=_citizen(request), consent_id=consent_id)
    return presenters.consent(consent, clock.now())


@router.get("/data-use", response={200: list[DataUseOut], **error_responses(401, 403, 422)})
@paginate(Pagination)
def data_use_list(request: HttpRequest) -> Any:
    """我的数据使用记录：谁、何时、为何用途查询了我的哪些数据（含被拒绝的查询）。"""
    actor = _citizen(request)
    assert actor.citizen is not None
    names = element_names()
    return MappedQuerySet(
        data_use_for_citizen(citizen=actor.citizen), lambda r: presenters.data_use(r, names)
    )


@router.post("/prefill", response={200: PrefillOut, **error_responses(400, 401, 403, 404, 422)})
def prefill_create(request: HttpRequest, payload: PrefillIn) -> dict[str, Any]:
    """授权并预填：按事项声明的数据元从基础库填写和核验，可替代的材料免于上传。"""
    actor = _citizen(request)
    item = item_get(code=payload.item_code)
    consent_ensure(actor=actor, item=item, enterprise_uscc=payload.enterprise_uscc)
    result = prefill(actor=actor, item=item, enterprise_uscc=payload.enterprise_uscc)
    return presenters.prefill(result)


# ---------------------------------------------------------------- security officers


@router.get("/alerts", response={200: list[AlertOut], **error_responses(401, 403, 422)})
@paginate(Pagination)
def alert_list(request: HttpRequest) -> Any:
    """安全告警（本辖区），附证据。"""
    actor = _staff(request)
    assert actor.staff is not None
    return MappedQuerySet(alerts_for_officer(staff=actor.staff), presenters.alert)


@router.post(
    "/alerts/{alert_id}/acknowledgement",
    response={200: AlertOut, **error_responses(401, 403, 404, 422)},
)
def alert_acknowledgement(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    """标记告警已处理（记入审计日志）。"""
    return presenters.alert(alert_acknowledge(actor=_staff(request), alert_id=alert_id))


class AvailabilityFilters(Schema):
    registry: str | None = text(100, None, description="基础库名称")


@router.get(
    "/availability", response={200: list[AvailabilityOut], **error_responses(401, 403, 422)}
)
def availability(request: HttpRequest, filters: Query[AvailabilityFilters]) -> list[dict[str, Any]]:
    """共享数据可用率：在更新承诺期内成功返回的查询占比，按基础库和调用部门。"""
    staff = security_officer(_staff(request).staff)
    return [
        {
            "registry": row.registry,
            "department": row.department,
            "lookups": row.lookups,
            "fresh_answers": row.fresh_answers,
            "share": round(row.share, 4),
        }
        for row in sharing_availability(division_prefix=staff.scope.subtree_prefix)
        if not filters.registry or row.registry == filters.registry
    ]
