"""JSON API of the licenses app (mounted in tongban.config.api at /api/v1/licenses)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from tongban.core.pagination import MappedQuerySet
from tongban.core.schemas import Pagination, error_responses
from tongban.identity.auth import request_actor

from . import errors, presenters
from .schemas import (
    LicenseDetailOut,
    LicenseOut,
    LicenseVerificationIn,
    LicenseVerificationOut,
    PresentationOut,
    StatusChangeIn,
)
from .selectors import license_for_holder, licenses_for_holder
from .services import (
    license_export,
    license_file_check,
    license_present,
    license_reinstate,
    license_revoke,
    license_suspend,
    presentation_verify,
    trust_list_export,
)

router = Router(tags=["licenses"])

# A licence file is a few kilobytes; anything much larger is not one.
MAX_LICENSE_FILE_BYTES = 256 * 1024


@router.get("/trust-list", auth=None, response={200: dict[str, Any], **error_responses()})
def trust_list(request: HttpRequest) -> dict[str, Any]:
    """本地区信任列表：签发机关公钥、存证日志 origin 与公钥、证照状态清单（已签名）。"""
    return trust_list_export()


@router.post(
    "/verifications",
    auth=None,
    response={200: LicenseVerificationOut, **error_responses(400, 422, 429)},
)
def verification_create(request: HttpRequest, payload: LicenseVerificationIn) -> dict[str, Any]:
    """公开验证：亮证码（presentation）或离线证照文件（license_file），二选一。"""
    if (payload.presentation is None) == (payload.license_file is None):
        raise errors.ONE_OF_REQUIRED.error(
            fields={"presentation": errors.FIELD_ONE_OF, "license_file": errors.FIELD_ONE_OF}
        )
    if payload.presentation is not None:
        return presenters.verification(presentation_verify(token=payload.presentation))
    try:
        content = json.dumps(payload.license_file, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate sent as a JSON \ud800 escape
        raise errors.BAD_TEXT.error(fields={"license_file": errors.FIELD_BAD_TEXT}) from None
    if len(content) > MAX_LICENSE_FILE_BYTES:
        raise errors.FILE_TOO_LARGE.error(fields={"license_file": errors.FIELD_TOO_LARGE})
    return presenters.verification(license_file_check(file_bytes=content))


@router.get("", response={200: list[LicenseOut], **error_responses(401, 422)})
@paginate(Pagination)
def license_list(request: HttpRequest) -> Any:
    """我的证照：本人的证照，以及本人作为经办人的企业的证照。"""
    licenses = licenses_for_holder(actor=request_actor(request))
    return MappedQuerySet(licenses, presenters.license_row)


@router.get("/{license_id}", response={200: LicenseDetailOut, **error_responses(401, 404, 422)})
def license_detail(request: HttpRequest, license_id: UUID) -> dict[str, Any]:
    """证照详情（仅持证人及企业经办人可见）。"""
    license = license_for_holder(actor=request_actor(request), license_id=license_id)
    return presenters.license_detail(license)


@router.get(
    "/{license_id}/file",
    response={200: dict[str, Any], **error_responses(401, 404, 422)},
)
def license_file_download(request: HttpRequest, license_id: UUID) -> HttpResponse:
    """下载离线证照文件（可用 `tongban license verify` 离线验证）。"""
    license, content = license_export(actor=request_actor(request), license_id=license_id)
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="license-{license.pk}.json"'
    return response


@router.post(
    "/{license_id}/presentations",
    response={201: PresentationOut, **error_responses(401, 404, 409, 422)},
)
def presentation_create(request: HttpRequest, license_id: UUID) -> Status[dict[str, Any]]:
    """亮证：生成 5 分钟内有效、平台签名的亮证码及其二维码。"""
    presented = license_present(actor=request_actor(request), license_id=license_id)
    return Status(201, presenters.presentation(request, presented))


def _staff_license(request: HttpRequest) -> Any:
    actor = request_actor(request)
    if actor.staff is None:
        raise errors.LICENSE_NOT_FOUND.error()
    return actor


@router.post(
    "/{license_id}/suspension",
    response={200: LicenseOut, **error_responses(400, 401, 403, 404, 409, 422)},
)
def license_suspension(
    request: HttpRequest, license_id: UUID, payload: StatusChangeIn
) -> dict[str, Any]:
    """暂停使用（签发部门、决定岗位；须填原因）。"""
    license = license_suspend(
        actor=_staff_license(request), license_id=license_id, reason=payload.reason
    )
    return presenters.license_row(license)


@router.post(
    "/{license_id}/reinstatement",
    response={200: LicenseOut, **error_responses(400, 401, 403, 404, 409, 422)},
)
def license_reinstatement(
    request: HttpRequest, license_id: UUID, payload: StatusChangeIn
) -> dict[str, Any]:
    """恢复使用（签发部门、决定岗位；须填原因）。"""
    license = license_reinstate(
        actor=_staff_license(request), license_id=license_id, reason=payload.reason
    )
    return presenters.license_row(license)


@router.post(
    "/{license_id}/revocation",
    response={200: LicenseOut, **error_responses(400, 401, 403, 404, 409, 422)},
)
def license_revocation(
    request: HttpRequest, license_id: UUID, payload: StatusChangeIn
) -> dict[str, Any]:
    """吊销（签发部门、决定岗位；须填原因；不可恢复）。"""
    license = license_revoke(
        actor=_staff_license(request), license_id=license_id, reason=payload.reason
    )
    return presenters.license_row(license)
