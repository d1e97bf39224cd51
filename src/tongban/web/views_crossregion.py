"""跨省通办 pages: apply here for another region's item (异地代收), the applicant's list with
the synced timeline and per-part status (多地联办), answering a correction here (补正), and the
receiving desk's queue (代收审核)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.cases import errors as case_errors
from tongban.cases.crossregion import services as crossregion
from tongban.cases.crossregion.presenters import received_summary
from tongban.cases.crossregion.selectors import (
    received_applications_for_staff,
    received_correction,
    received_for_applicant,
    received_item_rules,
    region_name,
)
from tongban.catalog.formschema import form_fields
from tongban.catalog.selectors import item_get
from tongban.core.errors import DomainError
from tongban.interchange.services import local_regions

from . import errors as web_errors
from .forms import posted_form_data, posted_materials
from .views import citizen_required, material_rows, staff_required


@require_http_methods(["GET", "POST"])
@citizen_required
def cross_region_apply(request: HttpRequest, actor: Any, code: str) -> HttpResponse:
    item = item_get(code=code)
    version = item.current_version
    assert version is not None
    if not version.cross_province:
        raise web_errors.NOT_CROSS_PROVINCE.error()
    handling = item.division_id[:2] + "0000"
    receiving_choices = [c for c in local_regions() if c != handling]
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = posted_form_data(request, version.form_schema)
        try:
            received = crossregion.received_application_submit(
                actor=actor,
                item_code=code,
                handling_region=handling,
                receiving_region=request.POST.get("receiving_region") or None,
                form_data=values,
                materials=posted_materials(request, [m["code"] for m in version.materials]),
                idempotency_key=request.POST.get("submission_token") or None,
            )
        except DomainError as error:
            errors = error.fields
            messages.error(request, error.message)
            status = 422 if error.status < 500 else error.status
        else:
            messages.success(
                request,
                f"已在{region_name(received.receiving_region)}代收，待代收审核后移交办理地",
            )
            return redirect("web:my_cross_region")
    return render(
        request,
        "web/crossregion_apply.html",
        {
            "item": item,
            "version": version,
            "fields": form_fields(version.form_schema),
            "values": values,
            "errors": errors,
            "verified": {},
            "material_rows": material_rows(version, {}, {}),
            "handling": (handling, region_name(handling)),
            "receiving_choices": [(c, region_name(c)) for c in receiving_choices],
            "submission_token": request.POST.get("submission_token") or uuid.uuid4().hex,
        },
        status=status,
    )


def _rows(received: Any) -> list[dict[str, Any]]:
    names: dict[str, str] = {}

    def name(code: str) -> str:
        if code not in names:
            names[code] = region_name(code)
        return names[code]

    rows = []
    for row in received:
        summary = received_summary(row)
        summary["receiving_name"] = name(row.receiving_region)
        summary["handling_name"] = name(row.handling_region)
        for part in summary["parts"]:
            part["handling_name"] = name(part["handling_region"])
        summary["timeline"] = [{**e, "region_name": name(e["region"])} for e in summary["timeline"]]
        rows.append(summary)
    return rows


@require_GET
@citizen_required
def my_cross_region(request: HttpRequest, actor: Any) -> HttpResponse:
    received = (
        received_for_applicant(user=actor.user)
        .select_related("applicant__citizen")
        .prefetch_related("parts")[:100]
    )
    return render(request, "web/crossregion_mine.html", {"rows": _rows(received)})


@require_http_methods(["GET", "POST"])
@citizen_required
def cross_region_resubmit(request: HttpRequest, actor: Any, received_id: str) -> HttpResponse:
    """补正 here: answer the handling region's correction request in the receiving region."""
    try:
        pk = uuid.UUID(received_id)
        part = int(request.POST.get("part") or request.GET.get("part") or 1)
    except ValueError:
        raise case_errors.RECEIVED_NOT_FOUND.error() from None
    received = received_for_applicant(user=actor.user).filter(pk=pk).first()
    if received is None:
        raise case_errors.RECEIVED_NOT_FOUND.error()
    correction = received_correction(received, part)
    target = correction["target"]
    values: dict[str, Any] = dict(correction["form_data"])
    errors: dict[str, str] = {}
    status = 200
    rules: dict[str, Any] = {"name": target.item_name, "form_schema": {}, "materials": []}
    try:
        if correction["awaiting_correction"] or request.method == "POST":
            rules = received_item_rules(target)
        if request.method == "POST":
            values = {**values, **posted_form_data(request, rules["form_schema"])}
            crossregion.received_resubmit(
                actor=actor,
                received_id=received.pk,
                part=part,
                form_data=values,
                materials=posted_materials(request, [m["code"] for m in rules["materials"]]),
            )
    except DomainError as error:
        if error.status == 404:
            raise
        if error.status == 409:  # nothing (more) to correct: back to the list, with the reason
            messages.error(request, error.message)
            return redirect("web:my_cross_region")
        errors = error.fields
        messages.error(request, error.message)
        status = 422 if error.status < 500 else error.status
    else:
        if request.method == "POST":
            messages.success(request, "补正已提交，已签名发送办理地")
            return redirect("web:my_cross_region")
    return render(
        request,
        "web/crossregion_resubmit.html",
        {
            "received": received,
            "part": part,
            "item_name": target.item_name,
            "handling_name": region_name(target.handling_region),
            "correction": correction,
            "fields": form_fields(rules["form_schema"]) if rules["form_schema"] else [],
            "values": values,
            "errors": errors,
            "verified": {},
            "material_rows": [
                {**m, "derived_from": "", "unavailable": ""} for m in rules["materials"]
            ],
        },
        status=status,
    )


@require_GET
@staff_required
def received_queue(request: HttpRequest, actor: Any) -> HttpResponse:
    received = (
        received_applications_for_staff(actor=actor)
        .select_related("applicant__citizen")
        .prefetch_related("parts")[:200]
    )
    return render(request, "web/crossregion_queue.html", {"rows": _rows(received)})


@require_POST
@staff_required
def received_check(request: HttpRequest, actor: Any, received_id: str) -> HttpResponse:
    accept = request.POST.get("decision") == "accept"
    try:
        crossregion.received_application_check(
            actor=actor,
            received_id=received_id,
            accept=accept,
            comment=request.POST.get("comment", ""),
        )
    except DomainError as error:
        if error.status == 404:
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, "已移交办理地" if accept else "已退回申请人")
    return redirect("web:received_queue")
