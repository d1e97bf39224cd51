"""Portal pages: 我的证照, licence detail, offline file download, 亮证 (QR presentation), and
the public verification page (亮证码 or licence file → a verdict in plain Chinese)."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tongban.identity.selectors import actor_for_user

from . import presenters
from .offline import VerificationResult
from .selectors import license_for_holder, licenses_for_holder
from .services import (
    license_export,
    license_file_check,
    license_present,
    presentation_verify,
)

MAX_UPLOAD_BYTES = 256 * 1024


def holder_required(view: Any) -> Any:
    """A signed-in citizen (holder or enterprise agent); others go to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        actor = actor_for_user(request.user)
        if actor.citizen is None:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return view(request, actor, *args, **kwargs)

    return wrapper


@require_GET
@holder_required
def my_licenses(request: HttpRequest, actor: Any) -> HttpResponse:
    page = Paginator(licenses_for_holder(actor=actor), 20).get_page(request.GET.get("page"))
    rows = [presenters.license_row(license) for license in page]
    return render(request, "licenses/my_licenses.html", {"page": page, "rows": rows})


@require_GET
@holder_required
def license_detail(request: HttpRequest, actor: Any, license_id: str) -> HttpResponse:
    license = license_for_holder(actor=actor, license_id=license_id)
    return render(
        request, "licenses/license_detail.html", {"license": presenters.license_detail(license)}
    )


@require_GET
@holder_required
def license_download(request: HttpRequest, actor: Any, license_id: str) -> HttpResponse:
    license, content = license_export(actor=actor, license_id=license_id)
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="license-{license.pk}.json"'
    return response


@require_http_methods(["GET", "POST"])
@holder_required
def license_present_page(request: HttpRequest, actor: Any, license_id: str) -> HttpResponse:
    """出示: GET explains, POST makes a fresh five-minute presentation and shows its QR code."""
    license = license_for_holder(actor=actor, license_id=license_id)
    context: dict[str, Any] = {"license": presenters.license_row(license)}
    if request.method == "POST":
        presented = license_present(actor=actor, license_id=license.pk)
        context["presentation"] = presenters.presentation(request, presented)
    return render(request, "licenses/present.html", context)


def _verdict(result: VerificationResult) -> dict[str, Any]:
    return presenters.verification(result)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """公开验证: a presentation token (GET ?token= from a scanned QR code, or pasted) or an
    uploaded licence file. Anyone may verify; nothing personal beyond the masked holder."""
    result: VerificationResult | None = None
    error = ""
    token = request.GET.get("token", "") if request.method == "GET" else ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip()
        upload = request.FILES.get("license_file")
        if upload is not None:
            if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
                error = _("文件过大，不是电子证照文件")
            else:
                result = license_file_check(file_bytes=upload.read())
        elif not token:
            error = _("请粘贴亮证码或上传证照文件")
    if token and result is None and not error:
        if len(token) > 2000:
            error = _("亮证码过长")
        else:
            result = presentation_verify(token=token)
    status = 200 if not error else 422
    return render(
        request,
        "licenses/verify.html",
        {"result": _verdict(result) if result else None, "error": error},
        status=status,
    )
