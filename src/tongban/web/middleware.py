"""Security headers on every response: CSP without inline script, no caching of private pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
# The interactive API docs load Swagger UI's inline bootstrap; only there is it relaxed.
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = DOCS_POLICY if request.path.startswith("/api/docs") else CONTENT_SECURITY_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class DomainErrorMiddleware:
    """A DomainError escaping a page view becomes an error page with its status, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import InterfaceError, OperationalError
        from django.shortcuts import render
        from django.utils.translation import gettext as _

        from tongban.core.audit import refusal_record
        from tongban.core.errors import DomainError
        from tongban.identity.selectors import actor_for_user

        if isinstance(exception, OperationalError | InterfaceError):
            # Rendered without the request: context processors would query the database again.
            from django.template.loader import render_to_string

            page = render_to_string(
                "web/error.html",
                {
                    "title": _("服务暂时不可用"),
                    "message": _("系统繁忙或正在维护，请稍后重试。"),
                    "code": "dependency_unavailable",
                },
            )
            response = HttpResponse(page, status=503)
            response["Retry-After"] = "5"
            return response
        if not isinstance(exception, DomainError):
            return None
        if exception.is_refusal:
            actor = actor_for_user(getattr(request, "user", None)).label
            refusal_record(exception, actor=actor, object_id=request.path)
        return render(
            request,
            "web/error.html",
            {"title": _("无法完成"), "message": exception.message, "code": exception.code},
            status=exception.status,
        )


class LanguageMiddleware:
    """Chinese unless the person chose English (language cookie via /i18n/setlang/).

    Unlike Django's LocaleMiddleware the pages ignore the browser's Accept-Language: a citizen
    on an English-language phone still gets the Chinese service they came for, and a page's
    language never changes behind their back. The JSON API, whose clients are programs that
    ask deliberately, honours an Accept-Language naming a supported language (error messages).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils import translation

        supported = dict(settings.LANGUAGES)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen not in supported and request.path.startswith("/api/"):
            chosen = _accepted_language(request.headers.get("Accept-Language", ""), supported)
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        # For this request only: the thread's next request (or test) starts from the default.
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


def _accepted_language(header: str, supported: dict[str, str]) -> str:
    """The first language of an Accept-Language header that we serve ("en-US" → "en",
    "zh-CN" → "zh-hans"); "" when none is."""
    for part in header.split(",")[:10]:
        tag = part.split(";")[0].strip().lower()
        if tag in supported:
            return tag
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-hans"
        if primary in supported:
            return primary
    return ""


class AbsoluteSessionTimeoutMiddleware:
    """Sign out a session TONGBAN["SESSION_ABSOLUTE_SECONDS"] after sign-in, however active.

    The idle timeout is Django's own (SESSION_COOKIE_AGE renewed on every request); this adds
    the absolute limit that idle renewal alone never reaches.
    """

    KEY = "tongban_signed_in_at"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.contrib.auth import logout

        from tongban.core import clock

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = clock.now().timestamp()
            signed_in_at = request.session.setdefault(self.KEY, now)
            limit = int(settings.TONGBAN.get("SESSION_ABSOLUTE_SECONDS", 8 * 3600))
            if now - float(signed_in_at) > limit:
                logout(request)
        return self.get_response(request)


class RejectNulMiddleware:
    """Refuse any page request carrying a NUL character in its query or form fields (400).

    PostgreSQL cannot store NUL in text, so such input would otherwise surface as a 500 deep in
    a query; one check here covers every form and filter. The JSON API refuses NUL in its
    schemas (core.schemas.NO_NUL) and is skipped here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            fields = [*request.GET.lists()]
            if request.method == "POST" and request.content_type in {
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            }:
                fields += [*request.POST.lists()]
            if any(
                "\x00" in key or any("\x00" in value for value in values) for key, values in fields
            ):
                from django.shortcuts import render

                return render(
                    request,
                    "web/error.html",
                    {
                        "title": "请求有误",
                        "message": "请求中含有不允许的字符。",
                        "code": "invalid_characters",
                    },
                    status=400,
                )
        return self.get_response(request)
