"""一件事 pages: the bundle list and guide (critical path beside the separate limits), the
merged apply form, the applicant's bundle with its children, and the one correction answer."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tongban.cases.bundles import (
    bundle_case_for_applicant,
    bundle_case_view,
    bundle_resubmit,
    bundle_submit,
)
from tongban.catalog.bundles import BundleForm, bundle_form, bundle_get, bundles_list
from tongban.catalog.formschema import form_fields
from tongban.core import clock
from tongban.core.errors import DomainError

from .forms import posted_form_data, posted_materials
from .views import citizen_required


def _material_rows(form: BundleForm) -> list[dict[str, Any]]:
    positions = {part.bundle_item_id: part for part in form.parts}
    return [
        {
            "code": m.code,
            "name": m.name,
            "is_mandatory": m.is_mandatory,
            "used_by": [positions[item_id].name for item_id, _ in m.uses],
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


@require_GET
def bundle_list(request: HttpRequest) -> HttpResponse:
    rows = [(bundle, bundle_form(bundle).critical) for bundle in bundles_list()]
    return render(request, "web/bundle_list.html", {"rows": rows})


@require_GET
def bundle_guide(request: HttpRequest, code: str) -> HttpResponse:
    bundle = bundle_get(code=code)
    return render(
        request, "web/bundle_guide.html", {"bundle": bundle, **_guide_context(bundle_form(bundle))}
    )


@require_http_methods(["GET", "POST"])
@citizen_required
def bundle_apply(request: HttpRequest, actor: Any, code: str) -> HttpResponse:
    bundle = bundle_get(code=code)
    form = bundle_form(bundle)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = posted_form_data(request, form.schema)
        try:
            result = bundle_submit(
                actor=actor,
                bundle_code=code,
                form_data=values,
                materials=posted_materials(request, [m.code for m in form.materials]),
                idempotency_key=request.POST.get("submission_token") or None,
            )
        except DomainError as error:
            errors = error.fields
            messages.error(request, error.message)
            status = 422
        else:
            messages.success(request, f"“{bundle.name}”已提交，各部门将并联办理")
            return redirect("web:my_bundle", bundle_case_id=result.bundle_case.pk)
    return render(
        request,
        "web/bundle_apply.html",
        {
            "bundle": bundle,
            **_guide_context(form),
            "fields": form_fields(form.schema),
            "values": values,
            "errors": errors,
            "submission_token": request.POST.get("submission_token") or uuid.uuid4().hex,
        },
        status=status,
    )


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
    form = bundle_form(bundle_get(code=bundle_case.bundle.code))
    view = bundle_case_view(bundle_case, clock.today())
    values: dict[str, Any] = dict(bundle_case.form_data)
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
