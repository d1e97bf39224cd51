"""Portal (申请人) and workbench (工作人员) views: thin, calling services and selectors."""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.cases.bundles.selectors import bundle_cases_for_applicant, bundle_labels
from tongban.cases.deadlines import DeadlineColour
from tongban.cases.models import CaseStatus, MaterialSubmission
from tongban.cases.submission import presenters
from tongban.cases.submission.selectors import (
    case_for_applicant,
    case_for_staff,
    cases_for_applicant,
    cases_for_staff,
    queue_filter,
)
from tongban.cases.submission.services import (
    ACTION_LABELS,
    application_submit,
    case_resubmit,
    case_reveal_personal_data,
    case_transition,
)
from tongban.catalog.formschema import form_fields
from tongban.catalog.selectors import item_get, item_names, items_list, themes_all
from tongban.core import clock
from tongban.core.calendar import missing_official_years
from tongban.core.errors import DomainError, NotFound
from tongban.exchange.conf import exchange_setting
from tongban.exchange.prefill import (
    PrefillResult,
    consent_ensure,
    prefill,
    prefill_elements_described,
)
from tongban.exchange.selectors import (
    alerts_for_officer,
    consents_for_user,
    data_use_for_citizen,
    element_names,
    security_officer,
    sharing_availability,
)
from tongban.exchange.services import alert_acknowledge, consent_revoke
from tongban.identity.models import Department
from tongban.identity.selectors import actor_for_user, enterprises_for_agent
from tongban.identity.services import (
    CodePurpose,
    citizen_sign_up,
    password_login,
    sms_code_login,
    sms_code_send,
)

from . import errors as web_errors
from .forms import posted_form_data, posted_materials

# ---------------------------------------------------------------- infrastructure


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means not ready
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _error_page(request: HttpRequest, status: int, title: Any, message: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": f"http_{status}", "message": str(message), "fields": {}}, status=status
        )
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 400, _("请求有误"), _("请求格式不正确。"))


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request, 403, _("无权访问"), _("您没有权限执行此操作，或页面已过期，请刷新后重试。")
    )


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, _("页面不存在"), _("您访问的页面或办件不存在。"))


def error_500(request: HttpRequest) -> HttpResponse:
    return _error_page(request, 500, _("系统繁忙"), _("服务器内部错误，请稍后重试。"))


def lockout_response(
    request: HttpRequest, credentials: Any, *args: Any, **kwargs: Any
) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "code": "account_locked",
                "message": "登录失败次数过多，账号已临时锁定，请稍后再试",
                "fields": {},
            },
            status=429,
        )
    return render(
        request,
        "web/error.html",
        {"title": "账号已锁定", "message": "登录失败次数过多，账号已临时锁定，请15分钟后再试。"},
        status=429,
    )


def citizen_required(view: Any) -> Any:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        actor = actor_for_user(request.user)
        if actor.citizen is None:
            return redirect(f"{reverse('web:login')}?next={request.path}")
        return view(request, actor, *args, **kwargs)

    return wrapper


def staff_required(view: Any) -> Any:
    """Staff pages need a password login *and* a verified second factor (django-otp)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        actor = actor_for_user(request.user)
        if actor.staff is None or not request.user.is_verified():  # type: ignore[union-attr]
            return redirect(f"{reverse('web:staff_login')}?next={request.path}")
        return view(request, actor, *args, **kwargs)

    return wrapper


def _safe_next(request: HttpRequest, default: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# ---------------------------------------------------------------- portal


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/home.html",
        {
            "themes": themes_all()[:24],
            "departments": Department.objects.filter(items__isnull=False)
            .distinct()
            .order_by("division_id", "name"),
        },
    )


@require_GET
def item_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    theme = request.GET.get("theme", "").strip()[:50]
    department = request.GET.get("department", "").strip()[:18]
    region = request.GET.get("region", "").strip()[:12]
    try:
        items = items_list(
            q=q or None, theme=theme or None, department=department or None, region=region or None
        )
    except NotFound as error:
        messages.error(request, error.message)
        items = items_list()
    page = Paginator(items, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "web/item_list.html",
        {"page": page, "q": q, "theme": theme, "department": department, "region": region},
    )


@require_GET
def item_guide(request: HttpRequest, code: str) -> HttpResponse:
    item = item_get(code=code)
    return render(request, "web/item_guide.html", {"item": item, "version": item.current_version})


def material_rows(
    version: Any, derived: dict[str, str], unavailable: dict[str, str]
) -> list[dict[str, Any]]:
    """Materials with what shared data can do for each: derived (no upload) or unavailable."""
    return [
        {
            **material,
            "derived_from": derived.get(material["code"], ""),
            "unavailable": unavailable.get(material["code"], ""),
        }
        for material in version.materials
    ]


@require_http_methods(["GET", "POST"])
@citizen_required
def apply(request: HttpRequest, actor: Any, code: str) -> HttpResponse:
    item = item_get(code=code)
    version = item.current_version
    assert version is not None
    fields = form_fields(version.form_schema)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    use_shared = request.POST.get("use_shared_data") == "1"
    # Display only: the service recomputes what shared data supplies when it submits.
    derived: dict[str, str] = {
        key.removeprefix("derived_"): str(value)[:100]
        for key, value in request.POST.items()
        if key.startswith("derived_") and use_shared
    }
    verified: dict[str, str] = {
        key.removeprefix("verified_"): str(value)[:100]
        for key, value in request.POST.items()
        if key.startswith("verified_") and use_shared
    }
    unavailable: dict[str, str] = {}
    enterprise = request.POST.get("enterprise") or None
    status = 200
    if request.method == "POST" and request.POST.get("action") == "prefill":
        values = posted_form_data(request, version.form_schema)
        try:
            consent_ensure(actor=actor, item=item, enterprise_uscc=enterprise)
            shared: PrefillResult = prefill(actor=actor, item=item, enterprise_uscc=enterprise)
        except DomainError as error:
            messages.error(request, error.message)
            status = error.status
        else:
            use_shared = True
            values.update(shared.values)
            derived = {code: m.registry for code, m in shared.derived.items()}
            verified = dict(shared.verified_fields)
            unavailable = shared.unavailable
            messages.success(
                request,
                f"已按您的授权从共享数据填写 {len(shared.verified_fields)} 项、"
                f"免交材料 {len(shared.derived)} 份",
            )
    elif request.method == "POST":
        values = posted_form_data(request, version.form_schema)
        try:
            result = application_submit(
                actor=actor,
                item_code=code,
                form_data=values,
                materials=posted_materials(request, [m["code"] for m in version.materials]),
                idempotency_key=request.POST.get("submission_token") or None,
                enterprise_uscc=enterprise,
                use_shared_data=use_shared,
            )
        except DomainError as error:
            errors = error.fields
            messages.error(request, error.message)
            status = 422
        else:
            messages.success(request, f"申请已提交，办件编号 {result.case.case_number}")
            return redirect("web:my_case", case_id=result.case.pk)
    return render(
        request,
        "web/apply.html",
        {
            "item": item,
            "version": version,
            "fields": fields,
            "values": values,
            "errors": errors,
            "submission_token": request.POST.get("submission_token") or uuid.uuid4().hex,
            "enterprises": enterprises_for_agent(citizen=actor.citizen)
            if "enterprise" in item.service_objects
            else [],
            "serves_citizens": "citizen" in (item.service_objects or ["citizen"]),
            "chosen_enterprise": request.POST.get("enterprise", ""),
            "consent_rows": prefill_elements_described(version),
            "consent_days": exchange_setting("CONSENT_DAYS"),
            "use_shared": use_shared,
            "verified": verified,
            "derived": derived,
            "material_rows": material_rows(version, derived, unavailable),
        },
        status=status,
    )


@require_GET
@citizen_required
def my_cases(request: HttpRequest, actor: Any) -> HttpResponse:
    today = clock.today()
    page = Paginator(cases_for_applicant(user=request.user), 20).get_page(request.GET.get("page"))
    rows = [presenters.case_summary(case, today) for case in page]
    marks = bundle_labels(case_ids=[row["id"] for row in rows])  # 一件事
    rows = [{**row, "bundle": marks.get(row["id"])} for row in rows]
    bundles = bundle_cases_for_applicant(user=request.user)[:20]
    return render(request, "web/my_cases.html", {"page": page, "rows": rows, "bundles": bundles})


@require_GET
@citizen_required
def my_case(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    case = case_for_applicant(user=request.user, case_id=case_id)
    return render(
        request,
        "web/my_case.html",
        {
            "case": case,
            "summary": presenters.case_summary(case, clock.today()),
            "timeline": presenters.timeline(case),
            "materials": presenters.materials(case),
            "shared_data": presenters.shared_data(case),
            "form_rows": _form_rows(case),
        },
    )


@require_http_methods(["GET", "POST"])
@citizen_required
def resubmit(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    case = case_for_applicant(user=request.user, case_id=case_id)
    version = case.item_version
    values: dict[str, Any] = dict(case.application.form_data)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = posted_form_data(request, version.form_schema)
        try:
            case_resubmit(
                actor=actor,
                case_id=case.pk,
                form_data=values,
                materials=posted_materials(request, [m["code"] for m in version.materials]),
            )
        except DomainError as error:
            errors = error.fields
            messages.error(request, error.message)
        else:
            messages.success(request, "补正材料已提交")
            return redirect("web:my_case", case_id=case.pk)
    return render(
        request,
        "web/resubmit.html",
        {
            "case": case,
            "version": version,
            "fields": form_fields(version.form_schema),
            "values": values,
            "errors": errors,
            "material_rows": material_rows(version, {}, {}),
            "resubmission": True,
        },
        status=422 if errors else 200,
    )


@require_GET
def material_download(request: HttpRequest, material_id: int) -> HttpResponseBase:
    """A material is served only to its applicant or to staff who may handle its case."""
    actor = actor_for_user(request.user)
    material = (
        MaterialSubmission.objects.select_related("application").filter(pk=material_id).first()
    )
    if material is None:
        raise web_errors.MATERIAL_NOT_FOUND.error()
    case = material.application.cases.get()
    if actor.staff is not None and request.user.is_verified():  # type: ignore[union-attr]
        case_for_staff(staff=actor.staff, case_id=case.pk)  # 404 outside the staff member's scope
    elif actor.user is None or material.application.applicant_id != actor.user.pk:
        raise web_errors.MATERIAL_NOT_FOUND.error()
    response = FileResponse(material.file.open("rb"), content_type=material.content_type)
    response["Content-Disposition"] = f'inline; filename="{material.sha256[:16]}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@citizen_required
def my_data_use(request: HttpRequest, actor: Any) -> HttpResponse:
    """我的数据使用记录 (Data Tracker): who used my data, when, why — and my consents."""
    page = Paginator(data_use_for_citizen(citizen=actor.citizen), 30).get_page(
        request.GET.get("page")
    )
    names = element_names()
    consent_list = list(consents_for_user(user=request.user)[:50])
    purposes = item_names(codes={r.purpose for r in page} | {c.purpose for c in consent_list})
    rows = [
        {
            "record": record,
            "element_names": [names.get(c, c) for c in record.elements],
            "purpose_name": purposes.get(record.purpose, record.purpose),
        }
        for record in page
    ]
    now = clock.now()
    consents = [
        {
            "consent": c,
            "purpose_name": purposes.get(c.purpose, c.purpose),
            "is_active": c.revoked_at is None and c.expires_at > now,
        }
        for c in consent_list
    ]
    return render(
        request, "web/my_data_use.html", {"page": page, "rows": rows, "consents": consents}
    )


@require_POST
@citizen_required
def consent_revoke_view(request: HttpRequest, actor: Any, consent_id: int) -> HttpResponse:
    consent_revoke(actor=actor, consent_id=consent_id)
    messages.success(request, "授权已撤回")
    return redirect("web:my_data_use")


def _form_rows(case: Any) -> list[tuple[str, Any, str]]:
    """(title, value, “已通过<基础库>核验” when a registry filled and verified the field)."""
    data = case.application.form_data
    verified = {
        row.field_name: f"已通过{row.registry_name}核验"
        for row in case.application.shared_data.all()
        if row.field_name
    }
    return [
        (spec.title, data.get(spec.name, ""), verified.get(spec.name, ""))
        for spec in form_fields(case.item_version.form_schema)
    ]


# ---------------------------------------------------------------- sign-in


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """申请人登录：手机号 + 短信验证码，或手机号 + 密码。"""
    if request.method == "POST":
        method = request.POST.get("method", "password")
        phone = request.POST.get("phone", "").strip()
        try:
            if method == "send_code":
                sms_code_send(phone=phone)
                messages.info(request, "验证码已发送（演示环境：见控制台或后台“短信发件箱”）")
                return render(
                    request,
                    "web/login.html",
                    {"phone": phone, "code_sent": True, "next": _safe_next(request, "")},
                )
            if method == "sms":
                user = sms_code_login(phone=phone, code=request.POST.get("code", ""))
            else:
                user = password_login(
                    request=request, username=phone, password=request.POST.get("password", "")
                )
        except DomainError as error:
            messages.error(request, error.message)
            return render(
                request,
                "web/login.html",
                {"phone": phone, "next": _safe_next(request, "")},
                status=error.status,
            )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_safe_next(request, reverse("web:my_cases")))
    return render(request, "web/login.html", {"next": _safe_next(request, "")})


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """实名注册：姓名 + 身份证号码 + 手机号（短信验证）+ 密码。"""
    fields = ("real_name", "id_number", "phone")
    values = {name: request.POST.get(name, "").strip()[:50] for name in fields}
    errors: dict[str, str] = {}
    code_sent = False
    if request.method == "POST":
        try:
            if request.POST.get("step") == "send_code":
                sms_code_send(phone=values["phone"], purpose=CodePurpose.REGISTER)
                messages.info(request, "验证码已发送（演示环境：见控制台或后台“短信发件箱”）")
                code_sent = True
            else:
                citizen = citizen_sign_up(
                    real_name=values["real_name"],
                    id_number=values["id_number"],
                    phone=values["phone"],
                    password=request.POST.get("password", ""),
                    code=request.POST.get("code", ""),
                )
                login(request, citizen.user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, "注册成功")
                return redirect("web:my_cases")
        except DomainError as error:
            errors = error.fields or {"form": error.message}
            messages.error(request, error.message)
            code_sent = request.POST.get("step") != "send_code"
            return render(
                request,
                "web/register.html",
                {"values": values, "errors": errors, "code_sent": code_sent},
                status=error.status,
            )
    return render(
        request, "web/register.html", {"values": values, "errors": errors, "code_sent": code_sent}
    )


@require_http_methods(["GET", "POST"])
def staff_login(request: HttpRequest) -> HttpResponse:
    """工作人员登录：用户名 + 密码 + 动态验证码 (TOTP)。"""
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        try:
            user = password_login(
                request=request,
                username=username,
                password=request.POST.get("password", ""),
                otp_token=request.POST.get("otp", ""),
            )
        except DomainError as error:
            messages.error(request, error.message)
            return render(
                request,
                "web/staff_login.html",
                {"username": username, "next": _safe_next(request, "")},
                status=error.status,
            )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is not None:
            otp_login(request, device)
        return redirect(_safe_next(request, reverse("web:queue")))
    return render(request, "web/staff_login.html", {"next": _safe_next(request, "")})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:home")


# ---------------------------------------------------------------- workbench


@require_GET
@staff_required
def queue(request: HttpRequest, actor: Any) -> HttpResponse:
    status = request.GET.get("status", "")
    colour = request.GET.get("colour", "")
    today = clock.today()
    cases = queue_filter(
        cases_for_staff(staff=actor.staff),
        status=status if status in CaseStatus.values else None,
        colour=colour if colour in DeadlineColour.__members__.values() else None,
        today=today,
    )
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    rows = [presenters.queue_row(case, today) for case in page]
    marks = bundle_labels(case_ids=[row["id"] for row in rows])  # 一件事
    rows = [{**row, "bundle": marks.get(row["id"])} for row in rows]
    year = today.year
    template = "web/_queue_rows.html" if request.headers.get("HX-Request") else "web/queue.html"
    return render(
        request,
        template,
        {
            "rows": rows,
            "page": page,
            "status": status,
            "colour": colour,
            "statuses": CaseStatus.choices,
            "calendar_missing": missing_official_years(year, year + 1),
        },
    )


@require_GET
@staff_required
def case_detail(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    case = case_for_staff(staff=actor.staff, case_id=case_id)
    case_reveal_personal_data(actor=actor, case=case)
    return render(request, "web/case_detail.html", _case_context(case, actor))


def _case_context(case: Any, actor: Any) -> dict[str, Any]:
    return {
        "case": case,
        "summary": presenters.case_summary(case, clock.today()),
        "timeline": presenters.timeline(case),
        "materials": presenters.materials(case),
        "shared_data": presenters.shared_data(case),
        "form_rows": _form_rows(case),
        "bundle": bundle_labels(case_ids=[case.pk]).get(case.pk),  # 一件事
        "actions": [
            (action, ACTION_LABELS[action])
            for action in presenters.allowed_actions(case, actor.staff)
        ],
    }


@require_POST
@staff_required
def case_action(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        case_transition(
            actor=actor,
            case_id=case_id,
            action=action,
            comment=request.POST.get("comment", ""),
            expected_version=version,
        )
    except NotFound:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已{ACTION_LABELS.get(action, action)}")
    return redirect("web:case_detail", case_id=case_id)


@require_GET
@staff_required
def security(request: HttpRequest, actor: Any) -> HttpResponse:
    """安全监测: alerts with evidence, and the sharing-availability indicator."""
    staff = security_officer(actor.staff)
    page = Paginator(alerts_for_officer(staff=staff), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/security.html",
        {
            "page": page,
            "availability": sharing_availability(division_prefix=staff.scope.subtree_prefix),
        },
    )


@require_POST
@staff_required
def alert_acknowledge_view(request: HttpRequest, actor: Any, alert_id: int) -> HttpResponse:
    alert_acknowledge(actor=actor, alert_id=alert_id)
    messages.success(request, "告警已标记为已处理")
    return redirect("web:security")
