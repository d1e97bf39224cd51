"""一件事 pages: the bundle list and guide (critical path beside the separate limits), the
situation questions (情形引导) and the merged apply form of the items that apply, with
prefill from shared data and the enterprise-agent choice as on the single-item form, the
applicant's bundle with its children, and the one correction answer."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tongban.cases.bundles.presenters import bundle_case_view
from tongban.cases.bundles.selectors import bundle_case_for_applicant
from tongban.cases.bundles.services import (
    BundlePrefill,
    bundle_prefill_for,
    bundle_resubmit,
    bundle_submit,
)
from tongban.catalog.bundles import (
    SITUATION_FIELD_PREFIX,
    BundleForm,
    bundle_form,
    bundle_get,
    bundles_list,
    situation_answers,
)
from tongban.catalog.formschema import form_fields
from tongban.catalog.models import Bundle
from tongban.core import clock
from tongban.core.errors import DomainError, InvalidInput
from tongban.exchange.conf import exchange_setting
from tongban.exchange.prefill import prefill_elements_described
from tongban.identity.selectors import enterprises_for_agent

from .forms import posted_form_data, posted_materials
from .views import citizen_required


def _material_rows(
    form: BundleForm,
    derived: dict[str, str] | None = None,
    unavailable: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    positions = {part.bundle_item_id: part for part in form.parts}
    return [
        {
            "code": m.code,
            "name": m.name,
            "is_mandatory": m.is_mandatory,
            "used_by": [positions[item_id].name for item_id, _ in m.uses],
            "derived_from": (derived or {}).get(m.code, ""),
            "unavailable": (unavailable or {}).get(m.code, ""),
        }
        for m in form.materials
    ]


def _guide_context(form: BundleForm) -> dict[str, Any]:
    critical = set(form.critical.path)
    names = {part.bundle_item_id: part.name for part in form.parts}
    return {
        "form": form,
        "parts": [
            {
                "part": part,
                "needs": [names[n] for n in part.needs],
                "critical": part.bundle_item_id in critical,
            }
            for part in form.parts
        ],
        "material_rows": _material_rows(form),
    }


def _situation(bundle: Bundle, source: QueryDict) -> tuple[dict[str, str] | None, dict[str, str]]:
    """(answers, errors) from a GET or POST: answers is None while the questions are not
    answered yet (or not validly); a bundle without questions needs no answers."""
    questions = list(bundle.questions.all())
    if not questions:
        return {}, {}
    raw = {
        q.code: source.get(f"{SITUATION_FIELD_PREFIX}{q.code}", "")
        for q in questions
        if source.get(f"{SITUATION_FIELD_PREFIX}{q.code}")
    }
    if not raw:
        return None, {}
    try:
        return situation_answers(bundle, raw), {}
    except InvalidInput as error:
        return None, error.fields


def _situation_context(
    bundle: Bundle, answers: dict[str, str] | None, chosen: dict[str, str]
) -> dict[str, Any]:
    questions = list(bundle.questions.all())
    return {
        "questions": [
            {
                "code": q.code,
                "text": q.text,
                "field": f"{SITUATION_FIELD_PREFIX}{q.code}",
                "choices": q.choices,
                "chosen": chosen.get(q.code, ""),
            }
            for q in questions
        ],
        "answers": answers or {},
        "answer_rows": [
            (q.text, answers[q.code]) for q in questions if answers and q.code in answers
        ],
        "situation_query": urlencode(
            {f"{SITUATION_FIELD_PREFIX}{code}": value for code, value in (answers or {}).items()}
        ),
    }


def _chosen(bundle: Bundle, source: QueryDict) -> dict[str, str]:
    return {
        q.code: str(source.get(f"{SITUATION_FIELD_PREFIX}{q.code}", ""))
        for q in bundle.questions.all()
    }


@require_GET
def bundle_list(request: HttpRequest) -> HttpResponse:
    rows = [(bundle, bundle_form(bundle).critical) for bundle in bundles_list()]
    return render(request, "web/bundle_list.html", {"rows": rows})


@require_GET
def bundle_guide(request: HttpRequest, code: str) -> HttpResponse:
    """The guide; answering the questions (a GET on the same page, swapped in by htmx) shows
    the items and materials that apply and their promised time."""
    bundle = bundle_get(code=code)
    answers, errors = _situation(bundle, request.GET)
    form = bundle_form(bundle, answers=answers) if answers else bundle_form(bundle)
    return render(
        request,
        "web/bundle_guide.html",
        {
            "bundle": bundle,
            **_guide_context(form),
            **_situation_context(bundle, answers, _chosen(bundle, request.GET)),
            "situation_errors": errors,
        },
        status=422 if errors else 200,
    )


def _consent_rows(form: BundleForm) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for part in form.parts:
        for row in prefill_elements_described(part.version):
            if row not in rows:
                rows.append(row)
    return rows


@require_http_methods(["GET", "POST"])
@citizen_required
def bundle_apply(request: HttpRequest, actor: Any, code: str) -> HttpResponse:
    """First the situation questions (same URL, GET), then the merged form of the items that
    apply. The answers travel as hidden fields; the server recomputes the items from them."""
    bundle = bundle_get(code=code)
    source = request.POST if request.method == "POST" else request.GET
    answers, situation_errors = _situation(bundle, source)
    chosen = _chosen(bundle, source)
    if answers is None or (request.method == "GET" and request.GET.get("edit")):
        if situation_errors:
            messages.error(request, "请先回答情形引导问题")
        return render(
            request,
            "web/bundle_apply.html",
            {
                "bundle": bundle,
                "asking": True,
                **_situation_context(bundle, answers, chosen),
                "situation_errors": situation_errors,
            },
            status=422 if situation_errors else 200,
        )
    form = bundle_form(bundle, answers=answers)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    status = 200
    use_shared = request.POST.get("use_shared_data") == "1"
    # Display only: the service recomputes what shared data supplies when it submits.
    derived = {
        key.removeprefix("derived_"): str(value)[:100]
        for key, value in request.POST.items()
        if key.startswith("derived_") and use_shared
    }
    verified = {
        key.removeprefix("verified_"): str(value)[:100]
        for key, value in request.POST.items()
        if key.startswith("verified_") and use_shared
    }
    unavailable: dict[str, str] = {}
    enterprise = request.POST.get("enterprise") or None
    if request.method == "POST" and request.POST.get("action") == "prefill":
        values = posted_form_data(request, form.schema)
        try:
            form, shared = bundle_prefill_for(
                actor=actor, bundle_code=code, situation=answers, enterprise_uscc=enterprise
            )
        except DomainError as error:
            messages.error(request, error.message)
            status = error.status
        else:
            use_shared = True
            values.update(shared.values)
            derived, verified, unavailable = _shown(shared)
            messages.success(
                request,
                f"已按您的授权从共享数据填写 {len(shared.verified)} 项、"
                f"免交材料 {len(shared.derived)} 份",
            )
    elif request.method == "POST":
        values = posted_form_data(request, form.schema)
        try:
            result = bundle_submit(
                actor=actor,
                bundle_code=code,
                form_data=values,
                materials=posted_materials(request, [m.code for m in form.materials]),
                idempotency_key=request.POST.get("submission_token") or None,
                enterprise_uscc=enterprise,
                situation=answers,
                use_shared_data=use_shared,
            )
        except DomainError as error:
            errors = error.fields
            messages.error(request, error.message)
            status = 422
        else:
            messages.success(request, f"“{bundle.name}”已提交，各部门将并联办理")
            return redirect("web:my_bundle", bundle_case_id=result.bundle_case.pk)
    # The applicant choice of the single-item form: an enterprise agent may apply for their
    # enterprise when every applicable item serves enterprises.
    items = {row.pk: row.item for row in bundle.items.all()}
    objects = [items[part.bundle_item_id].service_objects or ["citizen"] for part in form.parts]
    return render(
        request,
        "web/bundle_apply.html",
        {
            "bundle": bundle,
            "asking": False,
            **_guide_context(form),
            **_situation_context(bundle, answers, chosen),
            "material_rows": _material_rows(form, derived, unavailable),
            "fields": form_fields(form.schema),
            "values": values,
            "errors": errors,
            "submission_token": request.POST.get("submission_token") or uuid.uuid4().hex,
            "enterprises": enterprises_for_agent(citizen=actor.citizen)
            if objects and all("enterprise" in o for o in objects)
            else [],
            "serves_citizens": all("citizen" in o for o in objects),
            "chosen_enterprise": request.POST.get("enterprise", ""),
            "consent_rows": _consent_rows(form),
            "consent_days": exchange_setting("CONSENT_DAYS"),
            "use_shared": use_shared,
            "verified": verified,
            "derived": derived,
        },
        status=status,
    )


def _shown(shared: BundlePrefill) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    return dict(shared.derived), dict(shared.verified), dict(shared.unavailable)


@require_GET
@citizen_required
def my_bundle(request: HttpRequest, actor: Any, bundle_case_id: str) -> HttpResponse:
    bundle_case = bundle_case_for_applicant(user=request.user, bundle_case_id=bundle_case_id)
    return render(
        request, "web/bundle_case.html", {"view": bundle_case_view(bundle_case, clock.today())}
    )


@require_http_methods(["GET", "POST"])
@citizen_required
def bundle_resubmit_view(request: HttpRequest, actor: Any, bundle_case_id: str) -> HttpResponse:
    bundle_case = bundle_case_for_applicant(user=request.user, bundle_case_id=bundle_case_id)
    form = bundle_form(
        bundle_get(code=bundle_case.bundle.code),
        included=set(bundle_case.children.values_list("bundle_item_id", flat=True)),
    )
    view = bundle_case_view(bundle_case, clock.today())
    values: dict[str, Any] = dict(view["form"])
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = posted_form_data(request, form.schema)
        try:
            bundle_resubmit(
                actor=actor,
                bundle_case_id=bundle_case.pk,
                form_data=values,
                materials=posted_materials(request, [m.code for m in form.materials]),
            )
        except DomainError as error:
            errors = error.fields or {"form": error.message}
            messages.error(request, error.message)
        else:
            messages.success(request, "补正已提交，已转给要求补正的部门")
            return redirect("web:my_bundle", bundle_case_id=bundle_case.pk)
    return render(
        request,
        "web/bundle_resubmit.html",
        {
            "view": view,
            "fields": form_fields(form.schema),
            "values": values,
            "errors": errors,
            "material_rows": _material_rows(form),
            "resubmission": True,
        },
        status=422 if errors else 200,
    )
