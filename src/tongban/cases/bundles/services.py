"""一件事一次办: one submission → a bundle case and one child case per item (ADR 0012).

Children whose dependencies are met start at once (parallel approval) in their own
departments' queues; the others are created `waiting`. When a child's result exists (its case
is approved), `bundle_on_case_status_changed` — subscribed to CaseStatusChanged, so it runs
after the approving transaction commits — lets the upstream outputs flow into the waiting
children's form data and releases those whose dependencies are all met. The bundle's status is
derived from its children's. Validation and material storage are application_submit's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from tongban.catalog.bundles import (
    RESULT_ELEMENTS,
    BundleForm,
    Part,
    bundle_form,
    bundle_get,
    situation_answers,
)
from tongban.catalog.formschema import validate_form_data
from tongban.catalog.models import Bundle, ServiceItem
from tongban.core import clock, events
from tongban.core.audit import audit_record_append
from tongban.core.crypto import sha256_hex
from tongban.core.errors import InvalidInput
from tongban.exchange.prefill import PrefillResult, consent_ensure, prefill
from tongban.identity.models import EnterpriseAgent
from tongban.identity.selectors import Actor

from .. import errors
from ..events import CaseStatusChanged, CaseSubmitted
from ..models import (
    Application,
    BundleCase,
    BundleCaseChild,
    BundleCaseStatus,
    Case,
    CaseStatus,
    MaterialSubmission,
)
from ..submission.services import (
    ACTION_LABELS,
    UploadedMaterial,
    case_number_next,
    materials_store,
    shared_data_store,
    step_record,
    submission_validate,
    transition_apply,
)
from .selectors import (
    SITUATION_KEY,
    bundle_case_uuid,
    case_outcomes,
    child_items,
    form_only,
    situation_of,
)

logger = logging.getLogger(__name__)
SYSTEM = Actor(user=None)
SYSTEM_LABEL = "system:bundle"


@dataclass(frozen=True)
class BundleSubmissionResult:
    bundle_case: BundleCase
    created: bool  # False when an idempotent retry returned the earlier submission


# ---------------------------------------------------------------- submission


def _fingerprint(
    code: str,
    form_data: dict[str, Any],
    uploads: list[UploadedMaterial],
    enterprise: str | None,
    situation: Any = None,
    use_shared_data: bool = False,
) -> str:
    body = {
        "bundle": code,
        "form": form_data,
        "materials": sorted((u.material_code, sha256_hex(u.content)) for u in uploads),
        "enterprise": enterprise,
        "situation": situation or {},
        "shared": use_shared_data,
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _replay(actor: Actor, key: str, fingerprint: str) -> BundleSubmissionResult | None:
    existing = BundleCase.objects.filter(applicant=actor.user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise errors.IDEMPOTENCY_KEY_REUSED.error()
    return BundleSubmissionResult(existing, created=False)


def _merged_materials(form: BundleForm) -> list[dict[str, Any]]:
    """The bundle's materials in the shape application_submit validates."""
    return [
        {"code": m.code, "name": m.name, "is_mandatory": m.is_mandatory} for m in form.materials
    ]


def _project(
    form: BundleForm, part: Part, cleaned: dict[str, Any], base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The part's own form data from the merged form (fields its upstream supplies left out)."""
    data = dict(base or {})
    properties = part.version.form_schema["properties"]
    for name, merged in form.field_map[part.bundle_item_id].items():
        if properties[name].get("x-element", "") in part.supplied:
            continue
        if merged in cleaned:
            data[name] = cleaned[merged]
    return data


def _relaxed(part: Part) -> dict[str, Any]:
    """The part's schema with the fields its upstream supplies not yet required."""
    schema = part.version.form_schema
    supplied = {
        name
        for name, spec in schema["properties"].items()
        if spec.get("x-element") in part.supplied
    }
    return {**schema, "required": [n for n in schema.get("required", []) if n not in supplied]}


def _validate_parts(form: BundleForm, cleaned: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each item's own validation of its share; errors reported under the merged names."""
    projected: dict[int, dict[str, Any]] = {}
    problems: dict[str, Any] = {}
    for part in form.parts:
        try:
            projected[part.bundle_item_id] = validate_form_data(
                _relaxed(part), _project(form, part, cleaned)
            )
        except InvalidInput as error:
            mapping = form.field_map[part.bundle_item_id]
            for name, message in error.fields.items():
                problems.setdefault(mapping.get(name, name), _of_part(message, part.name))
    if problems:
        raise errors.FORM_INVALID.error(fields=problems)
    return projected


def _of_part(message: Any, part_name: str) -> Any:
    """A field message of one item's share of the merged form, naming the item."""
    return errors.field_message(_("%(message)s（%(item)s）"), message=message, item=part_name)


def _check_applicant_type(form: BundleForm, items: dict[int, ServiceItem], enterprise: Any) -> None:
    for part in form.parts:
        objects = items[part.bundle_item_id].service_objects or ["citizen"]
        if (enterprise is None and "citizen" not in objects) or (
            enterprise is not None and "enterprise" not in objects
        ):
            raise errors.APPLICANT_TYPE_NOT_SERVED.error(
                item=part.name,
                applicant=errors.AS_ENTERPRISE if enterprise is None else errors.AS_CITIZEN,
            )


def _enterprise_for(actor: Actor, enterprise_uscc: str | None) -> Any:
    """The enterprise the applicant acts for as its agent (经办人), or None for themself."""
    if not enterprise_uscc:
        return None
    agent = (
        EnterpriseAgent.objects.select_related("enterprise")
        .filter(citizen=actor.citizen, enterprise__uscc=enterprise_uscc, is_active=True)
        .first()
    )
    if agent is None:
        raise errors.NOT_ENTERPRISE_AGENT.error()
    return agent.enterprise


@dataclass
class BundlePrefill:
    """Prefill of the merged form: each applicable item's own prefill (its department's
    grants, its purpose, its data-use records), shown under the merged names."""

    by_item: dict[int, PrefillResult]
    values: dict[str, Any]  # merged field → value
    verified: dict[str, str]  # merged field → registry name
    derived: dict[str, str]  # merged material code (B01…) → registry name(s)
    unavailable: dict[str, str]  # merged field / material code → why


def bundle_prefill(
    *, actor: Actor, form: BundleForm, items: dict[int, ServiceItem], enterprise_uscc: str | None
) -> BundlePrefill:
    """With the applicant's consent (given or reused per item, as for one item), fill what
    the registries hold: `exchange.prefill` runs once per applicable item, for that item's
    department and purpose. A merged material is derived (零材料) when every applicable item
    that needs it can derive it; otherwise it is uploaded once for all of them."""
    by_item: dict[int, PrefillResult] = {}
    for part in form.parts:
        item = items[part.bundle_item_id]
        consent_ensure(actor=actor, item=item, enterprise_uscc=enterprise_uscc)
        by_item[part.bundle_item_id] = prefill(
            actor=actor, item=item, enterprise_uscc=enterprise_uscc
        )
    properties = form.schema["properties"]
    values: dict[str, Any] = {}
    verified: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for part in form.parts:
        shared = by_item[part.bundle_item_id]
        mapping = form.field_map[part.bundle_item_id]
        for name, value in shared.values.items():
            if mapping.get(name) in properties:
                values[mapping[name]] = value
                verified[mapping[name]] = shared.verified_fields.get(name, "")
        for name, why in shared.unavailable.items():
            if mapping.get(name) in properties:
                unavailable.setdefault(mapping[name], why)
    derived: dict[str, str] = {}
    for material in form.materials:
        sources = [by_item[item_id].derived.get(own) for item_id, own in material.uses]
        if sources and all(sources):
            derived[material.code] = "、".join(
                sorted({source.registry for source in sources if source})
            )
        else:
            why = next(
                (
                    by_item[item_id].unavailable[own]
                    for item_id, own in material.uses
                    if own in by_item[item_id].unavailable
                ),
                "",
            )
            if why:
                unavailable[material.code] = why
    for name in verified:
        unavailable.pop(name, None)
    return BundlePrefill(by_item, values, verified, derived, unavailable)


def bundle_prefill_for(
    *,
    actor: Actor,
    bundle_code: str,
    situation: dict[str, Any] | None,
    enterprise_uscc: str | None = None,
) -> tuple[BundleForm, BundlePrefill]:
    """The web form's 同意授权并自动填写 on a bundle: the applicable items' prefill, for the
    applicant or for an enterprise they are an agent of (checked, as on submission)."""
    if actor.citizen is None:
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_APPLY)
    bundle = bundle_get(code=bundle_code)
    form = bundle_form(bundle, answers=situation_answers(bundle, situation))
    items = {row.pk: row.item for row in bundle.items.all()}
    enterprise = _enterprise_for(actor, enterprise_uscc)
    _check_applicant_type(form, items, enterprise)
    shared = bundle_prefill(
        actor=actor,
        form=form,
        items=items,
        enterprise_uscc=enterprise.uscc if enterprise is not None else None,
    )
    return form, shared


def bundle_submit(
    *,
    actor: Actor,
    bundle_code: str,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
    idempotency_key: str | None = None,
    enterprise_uscc: str | None = None,
    situation: dict[str, Any] | None = None,
    use_shared_data: bool = False,
) -> BundleSubmissionResult:
    """一件事申报: situation answers, one form, one set of materials → a bundle case and one
    child case per applicable item.

    The applicable items are recomputed here from the answers (情形引导); nothing the client
    says about items is used. With `use_shared_data` the applicant consents to prefill, as
    on the single-item form: registry values win, derivable materials need no upload, and
    each item's data-use records are tied to its child case. Idempotent like
    application_submit: a retry with the same key and content returns the first bundle
    case; the same key with other content is refused.
    """
    if actor.citizen is None:
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_APPLY)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 100):
        raise errors.IDEMPOTENCY_KEY_INVALID.error()
    fingerprint = _fingerprint(
        bundle_code, form_data, materials, enterprise_uscc, situation, use_shared_data
    )
    if idempotency_key and (replay := _replay(actor, idempotency_key, fingerprint)):
        return replay
    bundle = bundle_get(code=bundle_code)
    answers = situation_answers(bundle, situation)
    form = bundle_form(bundle, answers=answers)
    if not form.parts:
        raise errors.BUNDLE_NOTHING_APPLIES.error()
    items = {row.pk: row.item for row in bundle.items.all()}
    enterprise = _enterprise_for(actor, enterprise_uscc)
    _check_applicant_type(form, items, enterprise)
    shared: BundlePrefill | None = None
    if use_shared_data:
        shared = bundle_prefill(
            actor=actor,
            form=form,
            items=items,
            enterprise_uscc=enterprise.uscc if enterprise is not None else None,
        )
        form_data = {**form_data, **shared.values}
    cleaned, types = submission_validate(
        form.schema,
        form_data,
        _merged_materials(form),
        materials,
        require_mandatory=True,
        derived=frozenset(shared.derived) if shared else frozenset(),
    )
    projected = _validate_parts(form, cleaned)
    for attempt in range(5):
        try:
            with transaction.atomic():
                bundle_case = _create(
                    actor,
                    bundle,
                    form,
                    items,
                    {**cleaned, SITUATION_KEY: answers},
                    projected,
                    materials,
                    types,
                    idempotency_key,
                    fingerprint,
                    enterprise,
                    shared,
                )
                return BundleSubmissionResult(bundle_case, created=True)
        except IntegrityError:
            if idempotency_key and (replay := _replay(actor, idempotency_key, fingerprint)):
                return replay
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _store_shared(
    form: BundleForm,
    applications: dict[int, Application],
    uploads: list[UploadedMaterial],
    types: list[str],
) -> None:
    """Store each uploaded file once and give every item that needs it its own record of it
    (under the item's own material code), all pointing at the one stored file."""
    by_code = {m.code: m for m in form.materials}
    for upload, content_type in zip(uploads, types, strict=True):
        uses = [use for use in by_code[upload.material_code].uses if use[0] in applications]
        if not uses:
            continue
        first_item, first_code = uses[0]
        names = {
            own: m["name"]
            for item_id, own in uses
            for m in form.part(item_id).version.materials
            if m["code"] == own
        }
        [stored] = materials_store(
            applications[first_item],
            [UploadedMaterial(first_code, upload.filename, upload.content)],
            [content_type],
            names,
        )
        MaterialSubmission.objects.bulk_create(
            MaterialSubmission(
                application=applications[item_id],
                material_code=own,
                material_name=names[own],
                original_name=stored.original_name,
                content_type=stored.content_type,
                size=stored.size,
                sha256=stored.sha256,
                sm3=stored.sm3,
                file=stored.file.name,
                uploaded_at=stored.uploaded_at,
            )
            for item_id, own in uses[1:]
        )


def _create(
    actor: Actor,
    bundle: Bundle,
    form: BundleForm,
    items: dict[int, ServiceItem],
    cleaned: dict[str, Any],
    projected: dict[int, dict[str, Any]],
    uploads: list[UploadedMaterial],
    types: list[str],
    idempotency_key: str | None,
    fingerprint: str,
    enterprise: Any,
    shared: BundlePrefill | None = None,
) -> BundleCase:
    citizen = actor.citizen
    assert citizen is not None and actor.user is not None
    now = clock.now()
    bundle_case = BundleCase.objects.create(
        bundle=bundle,
        applicant=actor.user,
        enterprise=enterprise,
        form_data=cleaned,
        submitted_at=now,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    applications: dict[int, Application] = {}
    cases: list[Case] = []
    for part in form.parts:
        item = items[part.bundle_item_id]
        application = Application.objects.create(
            applicant=actor.user,
            applicant_name=enterprise.name if enterprise else citizen.real_name,
            applicant_id_number=enterprise.uscc if enterprise else citizen.id_number,
            applicant_phone=citizen.phone,
            enterprise=enterprise,
            form_data=projected[part.bundle_item_id],
            submitted_at=now,
        )
        applications[part.bundle_item_id] = application
        case = Case.objects.create(
            case_number=case_number_next(item),
            application=application,
            item=item,
            item_version=part.version,
            department=item.department,
            division_code=item.division_id,
            submitted_at=now,
            status=CaseStatus.WAITING if part.needs else CaseStatus.SUBMITTED,
        )
        waiting_for = "、".join(form.part(n).name for n in part.needs)
        step_record(
            case,
            "submit",
            "",
            actor,
            "applicant",
            now,
            f"一件事“{bundle.name}”；等待前序事项办结：{waiting_for}" if part.needs else "",
        )
        BundleCaseChild.objects.create(
            bundle_case=bundle_case,
            case=case,
            bundle_item_id=part.bundle_item_id,
            position=part.position,
            needs=list(part.needs),
        )
        if shared is not None:
            shared_data_store(
                application,
                case,
                shared.by_item[part.bundle_item_id],
                part.version.form_schema,
                now,
            )
        cases.append(case)
    _store_shared(form, applications, uploads, types)
    audit_record_append(
        actor=actor.label,
        action="bundle.submit",
        object_type="bundle_case",
        object_id=str(bundle_case.pk),
        detail={
            "bundle": bundle.code,
            "cases": [case.case_number for case in cases],
            "materials": len(uploads),
            "situation": cleaned.get(SITUATION_KEY, {}),
            **({"shared_materials": sorted(shared.derived)} if shared else {}),
        },
    )
    for case in cases:
        if case.status == CaseStatus.SUBMITTED:
            events.publish(
                CaseSubmitted(str(case.pk), case.item.implementation_code, case.department.code)
            )
    return bundle_case


# ---------------------------------------------------------------- orchestration


def bundle_on_case_status_changed(event: CaseStatusChanged) -> None:
    """Subscriber: a child of a bundle moved — flow outputs, release dependants, re-derive."""
    bundle_case_id = (
        BundleCaseChild.objects.filter(case_id=event.case_id)
        .values_list("bundle_case_id", flat=True)
        .first()
    )
    if bundle_case_id is not None:
        bundle_case_progress(bundle_case_id=bundle_case_id)


def derived_status(children: list[BundleCaseChild], outcomes: dict[Any, set[str]]) -> str:
    """The bundle's status from its children's: a denial shows first, then a correction."""
    if any(outcomes[c.case_id] & {"deny", "reject"} for c in children):
        return BundleCaseStatus.DENIED
    if any(c.case.status == CaseStatus.CORRECTION_REQUESTED for c in children):
        return BundleCaseStatus.CORRECTION_REQUESTED
    if all(c.case.status == CaseStatus.COMPLETED for c in children):
        return BundleCaseStatus.COMPLETED
    return BundleCaseStatus.IN_PROGRESS


def _output_values(upstream: Case, outputs: list[str]) -> dict[str, Any]:
    """What an approved upstream case supplies: a result element is the number of the document
    the case produced (its case number); any other element is the upstream form's value."""
    schema = upstream.item_version.form_schema["properties"]
    by_element = {spec["x-element"]: name for name, spec in schema.items() if spec.get("x-element")}
    values: dict[str, Any] = {}
    for element in outputs:
        if element in RESULT_ELEMENTS:
            values[element] = upstream.case_number
        elif element in by_element and by_element[element] in upstream.application.form_data:
            values[element] = upstream.application.form_data[by_element[element]]
    return values


@transaction.atomic
def bundle_case_progress(*, bundle_case_id: Any) -> BundleCase:
    """Release the waiting children whose upstream items are all approved (their outputs
    written into the child's form data first) and re-derive the bundle's status. Idempotent."""
    bundle_case = BundleCase.objects.select_for_update().get(pk=bundle_case_id)
    children = list(
        BundleCaseChild.objects.filter(bundle_case=bundle_case).select_related(
            "case__item_version", "case__application", "case__item", "case__department"
        )
    )
    cases = [child.case for child in children]
    outcomes = case_outcomes(cases)
    by_item = {child.bundle_item_id: child for child in children}
    done = {
        child.bundle_item_id
        for child in children
        if "approve" in outcomes[child.case_id]
        and child.case.status in {CaseStatus.APPROVED, CaseStatus.COMPLETED}
    }
    dependencies = list(bundle_case.bundle.dependencies.all())
    now = clock.now()
    for child in children:
        case = child.case
        if case.status != CaseStatus.WAITING or not set(child.needs) <= done:
            continue
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if not can_proceed(case.release):
            continue
        application = child.case.application
        schema = child.case.item_version.form_schema["properties"]
        field_of = {spec["x-element"]: n for n, spec in schema.items() if spec.get("x-element")}
        received: list[str] = []
        data = dict(application.form_data)
        for dependency in dependencies:
            if dependency.downstream_id != child.bundle_item_id:
                continue
            upstream = by_item[dependency.upstream_id].case
            for element, value in _output_values(upstream, dependency.outputs).items():
                if element in field_of:
                    data[field_of[element]] = value
            received.append(f"{upstream.item_version.name}（{upstream.case_number}）")
        application.form_data = data
        application.save(update_fields=["form_data"])
        case.release()
        case.version += 1
        case.save()
        step_record(
            case, "release", CaseStatus.WAITING, SYSTEM, "system", now,
            "前序事项已办结：" + "、".join(received),
        )  # fmt: skip
        audit_record_append(
            actor=SYSTEM_LABEL,
            action="case.release",
            object_type="case",
            object_id=str(case.pk),
            detail={"bundle_case": str(bundle_case.pk)},
        )
        events.publish(CaseStatusChanged(str(case.pk), "release", CaseStatus.WAITING, case.status))
        events.publish(
            CaseSubmitted(
                str(case.pk), child.case.item.implementation_code, child.case.department.code
            )
        )
        child.case = case
    status = derived_status(children, outcomes)
    if status != bundle_case.status:
        bundle_case.status = status
        bundle_case.completed_at = now if status == BundleCaseStatus.COMPLETED else None
        bundle_case.save(update_fields=["status", "completed_at"])
        audit_record_append(
            actor=SYSTEM_LABEL,
            action="bundle.status",
            object_type="bundle_case",
            object_id=str(bundle_case.pk),
            detail={"to": status},
        )
    return bundle_case


# ---------------------------------------------------------------- correction, answered once


@transaction.atomic
def bundle_resubmit(
    *,
    actor: Actor,
    bundle_case_id: Any,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
) -> BundleCase:
    """补正 on the bundle: one answer (the merged form and materials) goes to every child that
    asked for a correction; each of them is resubmitted."""
    bundle_case = (
        BundleCase.objects.select_for_update()
        .filter(pk=bundle_case_uuid(bundle_case_id), applicant=actor.user)
        .first()
        if actor.user is not None
        else None
    )
    if bundle_case is None:
        raise errors.BUNDLE_CASE_NOT_FOUND.error()
    children = [
        child
        for child in BundleCaseChild.objects.filter(bundle_case=bundle_case).select_related(
            "case__application", "case__item_version"
        )
        if child.case.status == CaseStatus.CORRECTION_REQUESTED
    ]
    if not children:
        raise errors.ILLEGAL_TRANSITION.error(
            status=bundle_case.get_status_display(), action=ACTION_LABELS["resubmit"]
        )
    bundle = bundle_get(code=bundle_case.bundle.code)
    form = bundle_form(bundle, included=child_items(bundle_case))
    merged = {**form_only(bundle_case.form_data), **form_data}
    cleaned, types = submission_validate(
        form.schema, merged, _merged_materials(form), materials, require_mandatory=False
    )
    applications: dict[int, Application] = {}
    for child in children:
        part = form.part(child.bundle_item_id)
        case = Case.objects.select_for_update(of=("self",)).get(pk=child.case_id)
        application = child.case.application
        try:
            application.form_data = validate_form_data(
                case.item_version.form_schema,
                _project(form, part, cleaned, base=application.form_data),
            )
        except InvalidInput as error:
            mapping = form.field_map[part.bundle_item_id]
            raise errors.FORM_INVALID.error(
                fields={mapping.get(k, k): _of_part(v, part.name) for k, v in error.fields.items()}
            ) from error
        application.save(update_fields=["form_data"])
        applications[child.bundle_item_id] = application
        transition_apply(case, "resubmit", "", actor, "applicant")
    bundle_case.form_data = {**cleaned, SITUATION_KEY: situation_of(bundle_case)}
    bundle_case.save(update_fields=["form_data"])
    # Materials go to the children that answer now (the others keep what they have).
    _store_shared(form, applications, materials, types)
    audit_record_append(
        actor=actor.label,
        action="bundle.resubmit",
        object_type="bundle_case",
        object_id=str(bundle_case.pk),
        detail={"cases": [child.case.case_number for child in children]},
    )
    return bundle_case
