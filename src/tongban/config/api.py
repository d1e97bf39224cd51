"""The one NinjaAPI: routers of every app, the error shape, OpenAPI at /api/openapi.json."""

from __future__ import annotations

import logging

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from tongban.cases.bundles.api import bundle_cases_router
from tongban.cases.crossregion.api import router as cross_region_router
from tongban.cases.submission.api import applications_router, cases_router
from tongban.cases.supervision.api import collaboration_router, supervision_router
from tongban.catalog.api import router as catalog_router
from tongban.core.audit import refusal_record
from tongban.core.errors import DomainError
from tongban.exchange.api import router as exchange_router
from tongban.identity.api import router as auth_router
from tongban.identity.auth import BearerToken
from tongban.identity.selectors import actor_for_user
from tongban.identity.services import api_token_user
from tongban.interchange.api import router as interchange_router
from tongban.ledger.api import router as ledger_router
from tongban.licenses.api import router as licenses_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="通办 Tongban API",
    version="1",
    description="一体化政务服务平台 JSON API。错误统一为 {code, message, fields}。",
    auth=BearerToken(),
    urls_namespace="api",
)
api.add_router("/v1/auth", auth_router)
api.add_router("/v1/catalog", catalog_router)
api.add_router("/v1/applications", applications_router)
api.add_router("/v1/cases", cases_router)
api.add_router("/v1/bundle-cases", bundle_cases_router)
api.add_router("/v1/cross-region", cross_region_router)
api.add_router("/v1/collaboration", collaboration_router)
api.add_router("/v1/supervision", supervision_router)
api.add_router("/v1/exchange", exchange_router)
api.add_router("/v1/interchange", interchange_router)
api.add_router("/v1/ledger", ledger_router)
api.add_router("/v1/licenses", licenses_router)


def _error(
    request: HttpRequest, status: int, code: str, message: str, fields: dict | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "fields": fields or {}}, status=status
    )


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    if error.is_refusal and not error.recorded:  # one refusal policy with the pages (ADR 0020)
        refusal_record(error, actor=_actor_label(request), object_id=request.path)
    return _error(request, error.status, error.code, error.message, error.field_messages())


def _actor_label(request: HttpRequest) -> str:
    """Who was refused: the authenticated account or system, or the bearer of a valid token
    on an endpoint that does not authenticate accounts (peers sign their messages instead)."""
    auth = getattr(request, "auth", None)
    if auth is not None and not hasattr(auth, "is_authenticated"):
        return str(getattr(auth, "label", "anonymous"))  # a department system (API key)
    if auth is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            auth = api_token_user(token.strip())
    return actor_for_user(auth).label


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    fields = {
        ".".join(str(part) for part in item.get("loc", [])[1:]) or "body": str(item.get("msg", ""))
        for item in error.errors
    }
    return _error(request, 422, "validation_error", "请求格式不正确", fields)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "not_authenticated", "请先登录（缺少或无效的访问令牌）")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def dependency_unavailable(request: HttpRequest, error: DatabaseError) -> HttpResponse:
    """The database is down, slow past its timeout, or reset: fail fast with 503, no internals."""
    logger.warning("database unavailable on %s: %s", request.path, type(error).__name__)
    response = _error(request, 503, "dependency_unavailable", "服务暂时不可用，请稍后重试")
    response["Retry-After"] = "5"
    response._has_been_logged = True  # type: ignore[attr-defined]  # logged once above, as a warning
    return response


@api.exception_handler(RequestDataTooBig)
def request_too_large(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    # Django's own limit on a request body (DATA_UPLOAD_MAX_MEMORY_SIZE), hit before parsing.
    return _error(request, 413, "request_too_large", "请求内容过大，请减小上传文件后重试")


@api.exception_handler(MultiPartParserError)
@api.exception_handler(BadRequest)
@api.exception_handler(SuspiciousOperation)
def bad_request(request: HttpRequest, error: Exception) -> HttpResponse:
    # What Django itself answers 400 to (e.g. a multipart Content-Type without a boundary,
    # read when django-axes records a failed login); ninja's catch-all would make it a 500.
    return _error(request, 400, "bad_request", "请求无法解析")


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, error: Exception) -> HttpResponse:
    # Logged with its stack trace on the server; the client sees no internals.
    logger.exception("unhandled API error on %s", request.path)
    return _error(request, 500, "internal_error", "服务器内部错误，请稍后重试")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return _error(request, error.status_code, "http_error", str(error))
