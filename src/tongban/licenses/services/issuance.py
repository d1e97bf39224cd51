"""签发: the licence an approved case produces, signed with the department's SM2 key, once."""

from __future__ import annotations

import logging
import secrets
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from tongban.cases.models import Case, CaseStatus
from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import sm2_sign, sm3_hex
from tongban.ledger import services as ledger_services

from ..canonical import canonical_json
from ..identifiers import identifier_build
from ..models import (
    HolderCodeType,
    HolderKind,
    License,
    LicenseEvent,
    LicenseEventType,
    LicenseIssuance,
)
from .log import DATA_FORMAT, LOG_NAME, ActorKind, issuer_key, log_entry

logger = logging.getLogger(__name__)


def _face_value(value: Any) -> str | int:
    """照面信息 values are strings or integers only (canonical JSON without floats)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    return str(value)


def _face(issuance: LicenseIssuance, case: Case, issued_on: date) -> dict[str, str | int]:
    """照面信息 from the case: each face field's source is a form field, a case fact
    ("@applicant_name"…) or a literal ("=有限责任公司"); see seed.ISSUANCES."""
    application = case.application
    form = application.form_data or {}
    enterprise = application.enterprise
    facts: dict[str, str] = {
        "@applicant_name": application.applicant_name,
        "@case_number": case.case_number,
        "@item_name": case.item.name,
        "@department_name": case.department.name,
        "@issued_on": issued_on.isoformat(),
        "@enterprise_name": enterprise.name if enterprise else "",
        "@enterprise_legal_representative": enterprise.legal_representative if enterprise else "",
    }
    face: dict[str, str | int] = {}
    for spec in issuance.license_type.face_schema:
        name = spec["name"]
        source = str(issuance.field_mapping.get(name, name))
        if source.startswith("="):
            value: Any = source[1:]
        elif source.startswith("@"):
            value = facts.get(source, "")
        else:
            value = form.get(source)
        face[name] = _face_value(value)
    return face


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February
        return day.replace(year=day.year + years, day=28)


def license_issue(*, case_id: Any) -> License | None:
    """Issue the licence an approved case produces, once. Returns None when the case's item
    produces no licence (or the case is not approved); the existing licence when one was
    already issued for the case."""
    try:
        with transaction.atomic():
            return _license_issue(case_id)
    except IntegrityError:
        # A concurrent delivery of the same event won the unique constraint on `case`.
        return License.objects.filter(case_id=case_id).first()


def _license_issue(case_id: Any) -> License | None:
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("application", "application__enterprise", "item", "department")
        .filter(pk=case_id)
        .first()
    )
    if case is None or case.status not in (CaseStatus.APPROVED, CaseStatus.COMPLETED):
        return None
    existing = License.objects.filter(case=case).first()
    if existing is not None:
        return existing
    issuance = (
        LicenseIssuance.objects.select_related("license_type")
        .filter(implementation_code=case.item.implementation_code)
        .first()
    )
    if issuance is None:
        return None
    license_type = issuance.license_type
    application = case.application
    if license_type.holder_kind == HolderKind.ENTERPRISE:
        enterprise = application.enterprise
        if enterprise is None:
            logger.warning("case %s: %s needs an enterprise applicant", case.pk, license_type)
            audit_record_append(
                actor="system",
                action="license.issue",
                outcome=Outcome.FAILURE,
                object_type="case",
                object_id=str(case.pk),
                detail={"code": "holder_kind_mismatch", "type": license_type.code},
            )
            return None
        holder: dict[str, Any] = {
            "holder_enterprise": enterprise,
            "holder_name": enterprise.name,
            "holder_code": enterprise.uscc,
            "holder_code_type": HolderCodeType.USCC,
        }
    else:
        holder = {
            "holder_user": application.applicant,
            "holder_name": application.applicant_name,
            "holder_code": application.applicant_id_number,
            "holder_code_type": HolderCodeType.RESIDENT_ID,
        }
    issued_on = clock.today()
    valid_until = (
        _years_later(issued_on, license_type.validity_years) - timedelta(days=1)
        if license_type.validity_years
        else None
    )
    department = case.department
    identifier = identifier_build(
        type_code=license_type.code,
        issuer_code=department.code,
        serial=f"{issued_on:%Y}{secrets.token_hex(6).upper()}",
    )
    data = {
        "format": DATA_FORMAT,
        "identifier": identifier,
        "type_code": license_type.code,
        "type_name": license_type.name,
        "holder_name": holder["holder_name"],
        "holder_code": holder["holder_code"],
        "holder_code_type": str(holder["holder_code_type"]),
        "issuer_name": department.name,
        "issuer_code": department.code,
        "issued_on": issued_on.isoformat(),
        "valid_from": issued_on.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else "",
        "jurisdiction": case.division_code,
        "face": _face(issuance, case, issued_on),
        "related_identifier": "",
    }
    data_bytes = canonical_json(data)
    key, private_hex = issuer_key(department)
    digest = sm3_hex(data_bytes)
    now = clock.now()
    entry = log_entry(identifier, LicenseEventType.ISSUE, now, ActorKind.ISSUER, digest)
    leaf = ledger_services.log_append(log_name=LOG_NAME, entry=entry)
    license = License.objects.create(
        identifier=identifier,
        license_type=license_type,
        case=case,
        issuer=department,
        issuer_key=key,
        holder_kind=license_type.holder_kind,
        issued_on=issued_on,
        valid_until=valid_until,
        data=data_bytes.decode("utf-8"),
        data_digest=digest,
        signature=sm2_sign(private_hex, data_bytes).hex(),
        log_index=leaf.index,
        log_entry=entry.decode("utf-8"),
        **holder,
    )
    LicenseEvent.objects.create(
        license=license,
        event_type=LicenseEventType.ISSUE,
        occurred_at=now,
        actor_kind=ActorKind.ISSUER,
        log_index=leaf.index,
    )
    audit_record_append(
        actor="system",
        action="license.issue",
        object_type="license",
        object_id=str(license.pk),
        detail={"case": str(case.pk), "type": license_type.code, "log_index": leaf.index},
    )
    return license


def on_case_status_changed(event: Any) -> None:
    """Subscriber of cases.events.CaseStatusChanged (wired in config/events.py)."""
    if event.to_status != CaseStatus.APPROVED:
        return
    license_issue(case_id=event.case_id)
