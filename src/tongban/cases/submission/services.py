"""Case writes: submission (idempotent), transitions, resubmission, unmasked views.

Every function here is one transaction: it either does all its writes (case, history, audit)
or none.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from tongban.catalog.formschema import validate_form_data
from tongban.catalog.models import ServiceItem
from tongban.catalog.selectors import item_get
from tongban.core import clock, events
from tongban.core.audit import audit_record_append, refusal_record
from tongban.core.calendar import Calendar
from tongban.core.crypto import sha256_hex, sm3_hex
from tongban.core.errors import DomainError, InvalidInput
from tongban.exchange.prefill import PrefillResult, consent_ensure, prefill
from tongban.exchange.services import data_use_records_link_case
from tongban.identity.models import EnterpriseAgent, StaffRole
from tongban.identity.selectors import Actor

from .. import errors
from ..deadlines import warning_date
from ..events import CaseStatusChanged, CaseSubmitted
from ..models import (
    Application,
    Case,
    CaseNumberCounter,
    CaseTransition,
    MaterialSubmission,
    SharedDataEvidence,
)
from .selectors import case_for_staff

# Which staff role may take which action.
ACTION_ROLES: dict[str, set[str]] = {
    "accept": {StaffRole.INTAKE},
    "reject": {StaffRole.INTAKE},
    "request_correction": {StaffRole.INTAKE},
    "start_review": {StaffRole.REVIEW},
    "approve": {StaffRole.DECISION},
    "deny": {StaffRole.DECISION},
    "complete": {StaffRole.DECISION, StaffRole.INTAKE},
}
ACTION_LABELS = {
    "accept": "受理",
    "reject": "不予受理",
    "request_correction": "要求补正",
    "resubmit": "补正提交",
    "start_review": "开始审查",
    "approve": "准予许可",
    "deny": "不予许可",
    "complete": "办结",
    "submit": "提交申请",
    "release": "前序事项办结，开始办理",  # 一件事 (cases/bundles.py)
    # hand-offs (cases/collaboration.py): timeline steps that keep the status
    "assist_request": "发起协办",
    "assist_pick_up": "签收协办",
    "assist_answer": "答复协办",
    "transfer": "转办",
    "transfer_pick_up": "接收转办",
}
COMMENT_REQUIRED = {"reject", "request_correction", "deny"}


@dataclass(frozen=True)
class UploadedMaterial:
    material_code: str
    filename: str
    content: bytes


@dataclass(frozen=True)
class SubmissionResult:
    application: Application
    case: Case
    created: bool  # False when an idempotent retry returned the earlier submission
    # What a fresh submission wrote, so the answer needs no second read (empty on a replay).
    materials: tuple[MaterialSubmission, ...] = ()
    history: tuple[CaseTransition, ...] = ()


def _check_material(upload: UploadedMaterial, allowed_codes: dict[str, str]) -> str:
    """Return the sniffed content type or raise with a per-material message."""
    if upload.material_code not in allowed_codes:
        raise errors.MATERIAL_UNKNOWN.error(code=upload.material_code)
    name = allowed_codes[upload.material_code]
    limit = settings.TONGBAN["MATERIAL_MAX_BYTES"]
    if not upload.content:
        raise errors.MATERIAL_EMPTY.error(fields={upload.material_code: _("文件为空")}, name=name)
    if len(upload.content) > limit:
        kb = limit // 1024
        raise errors.MATERIAL_TOO_LARGE.error(
            fields={
                upload.material_code: errors.field_message(_("文件超过大小上限 %(kb)s KB"), kb=kb)
            },
            name=name,
            kb=kb,
        )
    kind = filetype.guess(upload.content)
    if kind is None or kind.mime not in settings.TONGBAN["MATERIAL_TYPES"]:
        raise errors.MATERIAL_TYPE_NOT_ALLOWED.error(
            fields={
                upload.material_code: _("文件类型不支持（仅接受 PDF、JPEG、PNG，按文件内容判断）")
            },
            name=name,
        )
    return str(kind.mime)


def _check_materials(
    version_materials: list[dict[str, Any]],
    uploads: list[UploadedMaterial],
    *,
    require_mandatory: bool,
    derived: frozenset[str] = frozenset(),
) -> list[str]:
    allowed = {m["code"]: m["name"] for m in version_materials}
    types = [_check_material(upload, allowed) for upload in uploads]
    if require_mandatory:
        # A material derived from shared data (零材料) needs no upload.
        provided = {upload.material_code for upload in uploads} | derived
        missing = {
            m["code"]: _("必要材料，请上传")
            for m in version_materials
            if m["is_mandatory"] and m["code"] not in provided
        }
        if missing:
            names = "、".join(allowed[code] for code in missing)
            raise errors.MATERIAL_MISSING.error(fields=missing, names=names)
    return types


def submission_validate(
    schema: dict[str, Any],
    form_data: dict[str, Any],
    version_materials: list[dict[str, Any]],
    uploads: list[UploadedMaterial],
    *,
    require_mandatory: bool,
    derived: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], list[str]]:
    """Check the form and the materials together, so every problem is told at once (一次性告知)."""
    problems: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    types: list[str] = []
    try:
        cleaned = validate_form_data(schema, form_data)
    except InvalidInput as error:
        problems.update(error.fields)
    try:
        types = _check_materials(
            version_materials, uploads, require_mandatory=require_mandatory, derived=derived
        )
    except InvalidInput as error:
        if not problems:
            raise
        problems.update(error.fields or {"materials": error.message})
    if problems:
        raise errors.FORM_INVALID.error(fields=problems)
    return cleaned, types


def materials_store(
    application: Application,
    uploads: list[UploadedMaterial],
    types: list[str],
    names: dict[str, str],
) -> list[MaterialSubmission]:
    now = clock.now()
    stored = []
    for upload, content_type in zip(uploads, types, strict=True):
        sha = sha256_hex(upload.content)
        submission = MaterialSubmission(
            application=application,
            material_code=upload.material_code,
            material_name=names[upload.material_code],
            original_name=upload.filename[:200] or "material",
            content_type=content_type,
            size=len(upload.content),
            sha256=sha,
            sm3=sm3_hex(upload.content),
            uploaded_at=now,
        )
        extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}[
            content_type
        ]
        submission.file.save(f"{sha}.{extension}", ContentFile(upload.content), save=False)
        submission.save()
        stored.append(submission)
    return stored


def _fingerprint(
    item_code: str,
    form_data: dict[str, Any],
    uploads: list[UploadedMaterial],
    enterprise: str | None,
    use_shared_data: bool = False,
) -> str:
    body = {
        "shared": use_shared_data,
        "item": item_code,
        "form": form_data,
        "materials": sorted((u.material_code, sha256_hex(u.content)) for u in uploads),
        "enterprise": enterprise,
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    # surrogatepass: a lone surrogate must not crash fingerprinting (validation refuses it later).
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def case_number_next(item: ServiceItem) -> str:
    """实施编码 + yyyyMMdd + 6-digit daily sequence (Guangdong's pattern, widened)."""
    prefix = f"{item.implementation_code}{clock.today():%Y%m%d}"
    table = connection.ops.quote_name(CaseNumberCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One round trip: UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35).
        sql = f"UPDATE {table} SET last = last + 1 WHERE prefix = %s RETURNING last"  # noqa: S608
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        # First case of the day for this item; a concurrent first raises IntegrityError and
        # application_submit draws again.
        CaseNumberCounter.objects.create(prefix=prefix, last=1)
        row = (1,)
    last = int(row[0])
    return f"{prefix}{last:06d}"


def _replay(actor: Actor, key: str, fingerprint: str) -> SubmissionResult | None:
    existing = Application.objects.filter(applicant=actor.user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise errors.IDEMPOTENCY_KEY_REUSED.error()
    return SubmissionResult(existing, existing.cases.get(), created=False)


def application_submit(
    *,
    actor: Actor,
    item_code: str,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
    idempotency_key: str | None = None,
    enterprise_uscc: str | None = None,
    use_shared_data: bool = False,
) -> SubmissionResult:
    """申报: validate, then create the application, its case and materials in one transaction.

    With an idempotency key, a retry of the same submission returns the first one; the same
    key with different content is refused. With `use_shared_data` the applicant consents to
    prefill: fields annotated with a data element are filled and verified from the registries
    (the registry's value wins) and derivable materials need no upload (零材料). A registry
    that is unavailable leaves its materials to be uploaded as usual.
    """
    if actor.citizen is None:
        raise errors.CITIZEN_REQUIRED.error(action=errors.TO_APPLY)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 100):
        raise errors.IDEMPOTENCY_KEY_INVALID.error()
    fingerprint = _fingerprint(item_code, form_data, materials, enterprise_uscc, use_shared_data)
    if idempotency_key and (replay := _replay(actor, idempotency_key, fingerprint)):
        return replay
    item = item_get(code=item_code)
    version = item.current_version
    assert version is not None  # item_get only returns published items
    enterprise = None
    if enterprise_uscc:
        agent = (
            EnterpriseAgent.objects.select_related("enterprise")
            .filter(citizen=actor.citizen, enterprise__uscc=enterprise_uscc, is_active=True)
            .first()
        )
        if agent is None:
            raise errors.NOT_ENTERPRISE_AGENT.error()
        enterprise = agent.enterprise
    objects = item.service_objects or ["citizen"]
    if (enterprise is None and "citizen" not in objects) or (
        enterprise is not None and "enterprise" not in objects
    ):
        raise errors.APPLICANT_TYPE_NOT_SERVED.error(
            item=item.name,
            applicant=errors.AS_ENTERPRISE if enterprise is None else errors.AS_CITIZEN,
        )
    shared: PrefillResult | None = None
    if use_shared_data:
        subject_enterprise = enterprise.uscc if enterprise is not None else None
        consent_ensure(actor=actor, item=item, enterprise_uscc=subject_enterprise)
        shared = prefill(actor=actor, item=item, enterprise_uscc=subject_enterprise)
        form_data = {**form_data, **shared.values}
    cleaned, types = submission_validate(
        version.form_schema,
        form_data,
        version.materials,
        materials,
        require_mandatory=True,
        derived=frozenset(shared.derived) if shared else frozenset(),
    )
    for attempt in range(5):
        try:
            with transaction.atomic():
                return _create_submission(
                    actor,
                    item,
                    cleaned,
                    materials,
                    types,
                    idempotency_key,
                    fingerprint,
                    enterprise,
                    shared,
                )
        except IntegrityError:
            # Either a concurrent retry with the same key won the race (answer with its result)
            # or two submissions drew the same case number (draw again).
            if idempotency_key and (replay := _replay(actor, idempotency_key, fingerprint)):
                return replay
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _create_submission(
    actor: Actor,
    item: ServiceItem,
    cleaned: dict[str, Any],
    materials: list[UploadedMaterial],
    types: list[str],
    idempotency_key: str | None,
    fingerprint: str,
    enterprise: Any,
    shared: PrefillResult | None = None,
) -> SubmissionResult:
    citizen = actor.citizen
    assert citizen is not None
    version = item.current_version
    assert version is not None
    now = clock.now()
    assert actor.user is not None
    application = Application.objects.create(
        applicant=actor.user,
        applicant_name=enterprise.name if enterprise else citizen.real_name,
        applicant_id_number=enterprise.uscc if enterprise else citizen.id_number,
        applicant_phone=citizen.phone,
        enterprise=enterprise,
        form_data=cleaned,
        submitted_at=now,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    stored = materials_store(
        application, materials, types, {m["code"]: m["name"] for m in version.materials}
    )
    case = Case.objects.create(
        case_number=case_number_next(item),
        application=application,
        item=item,
        item_version=version,
        department=item.department,
        division_code=item.division_id,
        submitted_at=now,
    )
    first_step = step_record(case, "submit", "", actor, "applicant", now)
    if shared is not None:
        shared_data_store(application, case, shared, version.form_schema, now)
    audit_record_append(
        actor=actor.label,
        action="case.submit",
        object_type="case",
        object_id=str(case.pk),
        detail={
            "item": item.implementation_code,
            "materials": len(materials),
            **({"shared_materials": sorted(shared.derived)} if shared else {}),
        },
    )
    events.publish(CaseSubmitted(str(case.pk), item.implementation_code, item.department.code))
    return SubmissionResult(application, case, True, tuple(stored), (first_step,))


def shared_data_store(
    application: Application,
    case: Case,
    shared: PrefillResult,
    schema: dict[str, Any],
    now: Any,
) -> None:
    """Keep what shared data stood in for, and tie the prefill lookups to the new case."""
    properties = schema.get("properties", {})
    rows = [
        SharedDataEvidence(
            application=application,
            material_code=derived.code,
            title=derived.name[:200],
            registry_name=derived.registry[:100],
            elements=list(derived.elements),
            data_use_records=list(derived.record_ids),
            verified_at=now,
        )
        for derived in shared.derived.values()
    ] + [
        SharedDataEvidence(
            application=application,
            field_name=name,
            title=properties.get(name, {}).get("title", name)[:200],
            registry_name=registry[:100],
            elements=[properties.get(name, {}).get("x-element", "")],
            data_use_records=[shared.field_records[name]],
            verified_at=now,
        )
        for name, registry in shared.verified_fields.items()
    ]
    SharedDataEvidence.objects.bulk_create(rows)
    data_use_records_link_case(
        record_ids=shared.record_ids, case_id=str(case.pk), case_number=case.case_number
    )


def step_record(
    case: Case, action: str, from_status: str, actor: Actor, role: str, when: Any, comment: str = ""
) -> CaseTransition:
    """Append one step to the case's history (办理过程)."""
    return CaseTransition.objects.create(
        case=case,
        action=action,
        from_status=from_status,
        to_status=case.status,
        actor=actor.user,
        actor_role=role,
        comment=comment,
        occurred_at=when,
    )


def case_transition(
    *,
    actor: Actor,
    case_id: Any,
    action: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Case:
    """Move a case by one staff action. A refused action changes nothing and is audited."""
    try:
        with transaction.atomic():
            if actor.staff is None:
                raise errors.CASE_NOT_FOUND.error()
            case = case_for_staff(staff=actor.staff, case_id=case_id, lock=True)
            role = _check_transition(case, actor, action, comment, expected_version)
            transition_apply(case, action, comment.strip(), actor, role)
            return case
    except DomainError as error:
        refusal_record(
            error,
            actor=actor.label,
            action=f"case.{action}",
            object_type="case",
            object_id=str(case_id),
        )
        raise


def _check_transition(
    case: Case, actor: Actor, action: str, comment: str, expected_version: int | None
) -> str:
    """Return the role the actor acts in, or raise why the action is refused."""
    assert actor.staff is not None
    if action not in ACTION_ROLES:
        raise errors.UNKNOWN_ACTION.error(action=action)
    roles = ACTION_ROLES[action] & set(actor.staff.roles)
    if not roles:
        needed = "、".join(StaffRole(r).label for r in ACTION_ROLES[action])
        raise errors.ROLE_REQUIRED.error(action=ACTION_LABELS[action], roles=needed)
    if not can_proceed(getattr(case, action)):
        raise errors.ILLEGAL_TRANSITION.error(
            status=case.get_status_display(), action=ACTION_LABELS[action]
        )
    if expected_version is not None and expected_version != case.version:
        raise errors.STALE_CASE.error()
    comment = comment.strip()
    if action in COMMENT_REQUIRED and not comment:
        raise errors.COMMENT_REQUIRED.error(
            fields={"comment": _("请填写理由")}, action=ACTION_LABELS[action]
        )
    if len(comment) > 2000:
        raise errors.COMMENT_TOO_LONG.error(fields={"comment": _("不能超过2000字")})
    return sorted(roles)[0]


def transition_apply(case: Case, action: str, comment: str, actor: Actor, role: str) -> None:
    from_status = case.status
    getattr(case, action)()
    now = clock.now()
    if action == "accept":
        calendar = Calendar.load()
        case.accepted_on = clock.today()
        committed = calendar.add_working_days(
            case.accepted_on, case.item_version.committed_limit_days
        )
        legal = calendar.add_working_days(case.accepted_on, case.item_version.legal_limit_days)
        case.committed_deadline, case.legal_deadline = committed.day, legal.day
        case.warning_on = warning_date(
            calendar, case.accepted_on, case.item_version.committed_limit_days
        )
        case.committed_deadline_is_estimated = committed.estimated
        case.legal_deadline_is_estimated = legal.estimated
    elif action == "request_correction":
        case.correction_note = comment
    elif action == "complete":
        case.completed_at = now
    case.version += 1
    case.save()
    step_record(case, action, from_status, actor, role, now, comment)
    audit_record_append(
        actor=actor.label,
        action=f"case.{action}",
        object_type="case",
        object_id=str(case.pk),
        detail={"from": from_status, "to": case.status},
    )
    events.publish(CaseStatusChanged(str(case.pk), action, from_status, case.status))


@transaction.atomic
def case_resubmit(
    *,
    actor: Actor,
    case_id: Any,
    form_data: dict[str, Any],
    materials: list[UploadedMaterial],
    comment: str = "",
) -> Case:
    """补正: the applicant answers a correction request once, with all changes together.
    `comment` goes into the case history (跨省通办: where the correction was handed in)."""
    case = (
        Case.objects.select_for_update()
        .select_related("item_version", "application")
        .filter(pk=case_id, application__applicant=actor.user)
        .first()
        if actor.user is not None
        else None
    )
    if case is None:
        raise errors.CASE_NOT_FOUND.error()
    if not can_proceed(case.resubmit):
        raise errors.ILLEGAL_TRANSITION.error(
            status=case.get_status_display(), action=ACTION_LABELS["resubmit"]
        )
    cleaned, types = submission_validate(
        case.item_version.form_schema,
        form_data,
        case.item_version.materials,
        materials,
        require_mandatory=False,
    )
    application = case.application
    application.form_data = cleaned
    application.save(update_fields=["form_data"])
    materials_store(
        application, materials, types, {m["code"]: m["name"] for m in case.item_version.materials}
    )
    transition_apply(case, "resubmit", comment, actor, "applicant")
    return case


def case_reveal_personal_data(*, actor: Actor, case: Case) -> None:
    """Record that a handler saw the unmasked applicant data of a case (查看明文)."""
    audit_record_append(
        actor=actor.label, action="case.view_unmasked", object_type="case", object_id=str(case.pk)
    )
