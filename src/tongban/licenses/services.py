"""Licence writes: issuance on approval, status changes, expiry, presentations, verification
(which is logged), export of the offline file, and trust-list import.

Every licence event — issue, verification, use, suspension, reinstatement, revocation,
expiry — is appended to the ledger log "licenses" in the same transaction as the change it
records, as canonical JSON: {format, license (identifier), event, at, actor (kind), digest
(SM3 of the licence data)}. No personal data goes into the log.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django_fsm import can_proceed

from tongban.cases.models import Case, CaseStatus
from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append, refusal_record
from tongban.core.crypto import sm2_public_key, sm2_sign, sm3_hex
from tongban.core.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from tongban.identity.models import Department, StaffRole
from tongban.identity.selectors import Actor
from tongban.ledger import merkle
from tongban.ledger import note as ledger_note
from tongban.ledger import selectors as ledger_selectors
from tongban.ledger import services as ledger_services

from . import keys
from .canonical import CanonicalError, canonical_json
from .identifiers import identifier_build
from .models import (
    HolderCodeType,
    HolderKind,
    IssuerKey,
    License,
    LicenseEvent,
    LicenseEventType,
    LicenseIssuance,
    LicenseStatus,
    TrustedRegion,
)
from .offline import (
    FAILURES,
    FILE_FORMAT,
    LOG_ENTRY_FORMAT,
    OK_MESSAGE,
    STATUS_LIST_FORMAT,
    TRUST_LIST_FORMAT,
    Check,
    VerificationResult,
    license_file_verify,
    signature_valid,
    trust_anchors,
)
from .selectors import license_by_identifier, license_for_holder, license_for_staff

logger = logging.getLogger(__name__)

LOG_NAME = "licenses"
DATA_FORMAT = "tongban-license/1"
PRESENTATION_FORMAT = "tongban-presentation/1"
# A presentation (亮证码) lives at most five minutes.
PRESENTATION_MAX_SECONDS = 300


class ActorKind:
    """Who caused a logged event (kinds only: the log holds no personal data)."""

    ISSUER = "issuer"
    HOLDER = "holder"
    STAFF = "staff"
    PUBLIC = "public"
    SYSTEM = "system"


def region() -> dict[str, str]:
    """This deployment's region, named in its trust list (TONGBAN["LICENSE_REGION"])."""
    configured = settings.TONGBAN.get("LICENSE_REGION") or {}
    return {"code": configured.get("code", "440000"), "name": configured.get("name", "广东省")}


# ---- keys -----------------------------------------------------------------------------------


def issuer_key(department: Department) -> tuple[IssuerKey, str]:
    """The department's current signing key (row, private hex); created on first use."""
    private_hex = keys.issuer_private_key(department.code)
    public_hex = sm2_public_key(private_hex)
    row, _ = IssuerKey.objects.get_or_create(
        key_id=keys.key_id(public_hex),
        defaults={"department": department, "public_key": public_hex},
    )
    return row, private_hex


def _platform_key_id() -> str:
    return keys.key_id(keys.platform_public_key())


# ---- the log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFacts:
    origin: str
    algorithm: str


def log_facts(log_name: str = LOG_NAME) -> LogFacts:
    """Origin and hash algorithm of the licence log (created empty if it does not exist)."""
    log = ledger_services.log_get_or_create(name=log_name)
    return LogFacts(log.origin, log.hash_algorithm)


def _log_event(
    license: License, event_type: str, actor_kind: str, reason: str = ""
) -> LicenseEvent:
    now = clock.now()
    entry = _log_entry(license.identifier, event_type, now, actor_kind, license.data_digest)
    leaf = ledger_services.log_append(log_name=LOG_NAME, entry=entry)
    return LicenseEvent.objects.create(
        license=license,
        event_type=event_type,
        occurred_at=now,
        actor_kind=actor_kind,
        reason=reason[:500],
        log_index=leaf.index,
    )


def _log_entry(identifier: str, event: str, at: datetime, actor: str, digest: str) -> bytes:
    return canonical_json(
        {
            "format": LOG_ENTRY_FORMAT,
            "license": identifier,
            "event": event,
            "at": at.isoformat(timespec="seconds"),
            "actor": actor,
            "digest": digest,
        }
    )


# ---- issuance -------------------------------------------------------------------------------


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
    entry = _log_entry(identifier, LicenseEventType.ISSUE, now, ActorKind.ISSUER, digest)
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


# ---- status changes by the issuing department -----------------------------------------------

# action → the log event it records (the transitions are on the model).
_EVENTS: dict[str, str] = {
    "suspend": LicenseEventType.SUSPENSION,
    "reinstate": LicenseEventType.REINSTATEMENT,
    "revoke": LicenseEventType.REVOCATION,
}
_ACTION_LABELS = {"suspend": "暂停使用", "reinstate": "恢复使用", "revoke": "吊销"}


def _license_status_change(*, actor: Actor, license_id: Any, action: str, reason: str) -> License:
    try:
        with transaction.atomic():
            license = license_for_staff(actor=actor, license_id=license_id, lock=True)
            assert actor.staff is not None
            if not actor.staff.has_role(StaffRole.DECISION):
                raise PermissionDenied(
                    "role_required", f"“{_ACTION_LABELS[action]}”需要决定岗位权限"
                )
            reason = reason.strip()
            if not reason:
                raise InvalidInput("reason_required", "请填写原因", fields={"reason": "必填"})
            if not can_proceed(getattr(license, action)):
                raise Conflict(
                    "illegal_status_change",
                    f"证照当前状态为“{license.get_status_display()}”，不能{_ACTION_LABELS[action]}",
                )
            getattr(license, action)()
            event_type = _EVENTS[action]
            license.status_reason = reason[:500]
            license.status_changed_at = clock.now()
            license.save(update_fields=["status", "status_reason", "status_changed_at"])
            _log_event(license, event_type, ActorKind.STAFF, reason)
            audit_record_append(
                actor=actor.label,
                action=f"license.{action}",
                object_type="license",
                object_id=str(license.pk),
                detail={"to": license.status},
            )
            return license
    except DomainError as error:
        refusal_record(
            error,
            actor=actor.label,
            action=f"license.{action}",
            object_type="license",
            object_id=str(license_id),
        )
        raise


def license_suspend(*, actor: Actor, license_id: Any, reason: str) -> License:
    """暂停使用 (staff of the issuing department with the decision role; reason required)."""
    return _license_status_change(
        actor=actor, license_id=license_id, action="suspend", reason=reason
    )


def license_reinstate(*, actor: Actor, license_id: Any, reason: str) -> License:
    """恢复使用 of a suspended licence."""
    return _license_status_change(
        actor=actor, license_id=license_id, action="reinstate", reason=reason
    )


def license_revoke(*, actor: Actor, license_id: Any, reason: str) -> License:
    """吊销 (废止): final."""
    return _license_status_change(
        actor=actor, license_id=license_id, action="revoke", reason=reason
    )


@transaction.atomic
def license_expire(*, license_id: Any) -> bool:
    """Mark one licence expired if its validity has ended (idempotent); True if it changed."""
    license = (
        License.objects.select_for_update()
        .filter(
            pk=license_id,
            status__in=[LicenseStatus.VALID, LicenseStatus.SUSPENDED],
            valid_until__lt=clock.today(),
        )
        .first()
    )
    if license is None:
        return False
    license.expire()
    license.status_changed_at = clock.now()
    license.save(update_fields=["status", "status_changed_at"])
    _log_event(license, LicenseEventType.EXPIRY, ActorKind.SYSTEM)
    return True


# ---- online verification --------------------------------------------------------------------


def _online_checks(license: License) -> tuple[str, list[Check]]:
    """The checks of a licence held here: signature, inclusion in the log, status, validity."""
    checks: list[Check] = []
    data_bytes = license.data.encode("utf-8")
    logged_digest = json.loads(license.log_entry).get("digest")
    if sm3_hex(data_bytes) != logged_digest:
        return "tampered", [Check("digest", False, "tampered")]
    checks.append(Check("digest", True, detail=license.data_digest[:16]))
    if not signature_valid(
        license.issuer_key.public_key, data_bytes, bytes.fromhex(license.signature)
    ):
        return "wrong_key", [*checks, Check("signature", False, "wrong_key")]
    checks.append(Check("signature", True, detail=license.issuer_key.key_id))
    facts = log_facts(LOG_NAME)
    head = ledger_selectors.tree_head(log_name=LOG_NAME)
    proof = ledger_selectors.inclusion_proof(
        log_name=LOG_NAME, index=license.log_index, size=head.size
    )
    leaf = merkle.leaf_hash(facts.algorithm, license.log_entry.encode("utf-8"))
    if not merkle.verify_inclusion(
        facts.algorithm, leaf, license.log_index, head.size, proof, head.root_hash
    ):
        return "bad_proof", [*checks, Check("inclusion", False, "bad_proof")]
    checks.append(Check("inclusion", True, detail=f"leaf {license.log_index} of {head.size}"))
    if license.status == LicenseStatus.REVOKED:
        return "revoked", [*checks, Check("status", False, "revoked")]
    if license.status == LicenseStatus.SUSPENDED:
        return "suspended", [*checks, Check("status", False, "suspended")]
    if license.status == LicenseStatus.EXPIRED or (
        license.valid_until is not None and license.valid_until < clock.today()
    ):
        return "expired", [*checks, Check("validity", False, "expired")]
    checks.append(Check("status", True))
    return "ok", checks


def _public_summary(license: License) -> dict[str, Any]:
    """What a verifier is shown: the licence without its holder's full identity."""
    from tongban.core.masking import mask

    masked_code = (
        mask(license.holder_code, "id_number")
        if license.holder_code_type == HolderCodeType.RESIDENT_ID
        else license.holder_code
    )
    holder_name = (
        mask(license.holder_name, "name")
        if license.holder_kind == HolderKind.CITIZEN
        else license.holder_name
    )
    return {
        "identifier": license.identifier,
        "type_name": license.license_type.name,
        "type_code": license.license_type.code,
        "holder_name": holder_name,
        "holder_code": masked_code,
        "issuer_name": license.issuer.name,
        "issuer_code": license.issuer.code,
        "issued_on": license.issued_on.isoformat(),
        "valid_until": license.valid_until.isoformat() if license.valid_until else "",
        "status": license.status,
        "status_label": license.get_status_display(),
    }


@transaction.atomic
def license_verify(*, license: License, actor_kind: str = ActorKind.PUBLIC) -> VerificationResult:
    """Online verification of a licence held here; the verification is a log event."""
    code, checks = _online_checks(license)
    _log_event(license, LicenseEventType.VERIFICATION, actor_kind)
    return VerificationResult(
        code == "ok",
        code,
        OK_MESSAGE if code == "ok" else FAILURES[code],
        tuple(checks),
        _public_summary(license),
    )


# ---- presentations (亮证) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Presentation:
    token: str
    expires_at: datetime
    nonce: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@transaction.atomic
def license_present(*, actor: Actor, license_id: Any) -> Presentation:
    """A short-lived presentation signed by the platform: licence identifier, expiry (at most
    five minutes), nonce. Only the holder (or an enterprise's agent) may present; using a
    licence is a log event."""
    license = license_for_holder(actor=actor, license_id=license_id)
    if license.status != LicenseStatus.VALID or (
        license.valid_until is not None and license.valid_until < clock.today()
    ):
        raise Conflict(
            "license_not_usable", f"证照状态为“{license.get_status_display()}”，不能出示"
        )
    now = clock.now()
    lifetime = min(
        int(settings.TONGBAN.get("LICENSE_PRESENTATION_SECONDS", PRESENTATION_MAX_SECONDS)),
        PRESENTATION_MAX_SECONDS,
    )
    issued_at = int(now.timestamp())
    nonce = secrets.token_hex(16)
    payload = canonical_json(
        {
            "format": PRESENTATION_FORMAT,
            "license": license.identifier,
            "issued_at": issued_at,
            "expires_at": issued_at + lifetime,
            "nonce": nonce,
            "key_id": _platform_key_id(),
        }
    )
    signature = sm2_sign(keys.platform_private_key(), payload)
    _log_event(license, LicenseEventType.USE, ActorKind.HOLDER)
    return Presentation(
        token=f"{_b64url(payload)}.{_b64url(signature)}",
        expires_at=now + timedelta(seconds=lifetime),
        nonce=nonce,
    )


def _presentation_failure(code: str, message: str) -> VerificationResult:
    return VerificationResult(False, code, message, (Check("presentation", False, code),))


def presentation_verify(*, token: str) -> VerificationResult:
    """Check a presentation token (signature, expiry), then the licence online."""
    try:
        payload_text, signature_text = token.strip().split(".")
        payload = _b64url_decode(payload_text)
        signature = _b64url_decode(signature_text)
        claims = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return _presentation_failure("bad_presentation", "亮证码无效：格式不正确")
    if not signature_valid(keys.platform_public_key(), payload, signature) or not isinstance(
        claims, dict
    ):
        return _presentation_failure("bad_presentation", "亮证码无效：签名不正确")
    expires_at = claims.get("expires_at")
    issued_at = claims.get("issued_at")
    if (
        claims.get("format") != PRESENTATION_FORMAT
        or not isinstance(expires_at, int)
        or not isinstance(issued_at, int)
        or expires_at - issued_at > PRESENTATION_MAX_SECONDS
    ):
        return _presentation_failure("bad_presentation", "亮证码无效：内容不正确")
    if clock.now().timestamp() > expires_at:
        return _presentation_failure("presentation_expired", "亮证码已过期，请持证人重新出示")
    identifier = claims.get("license")
    license = license_by_identifier(identifier) if isinstance(identifier, str) else None
    if license is None:
        return _presentation_failure("license_not_found", "证照不存在")
    return license_verify(license=license, actor_kind=ActorKind.PUBLIC)


# ---- the offline file and the trust list ----------------------------------------------------


def _latest_checkpoint_covering(index: int) -> tuple[str, Any]:
    """The latest signed checkpoint if it covers leaf `index`; else a freshly published one."""
    text = ledger_selectors.latest_checkpoint(log_name=LOG_NAME)
    if text is not None:
        body, _ = ledger_note.note_parse(text)
        checkpoint = ledger_note.checkpoint_parse(body)
        if checkpoint.size > index:
            return text, checkpoint
    text = ledger_services.checkpoint_publish(log_name=LOG_NAME)
    body, _ = ledger_note.note_parse(text)
    return text, ledger_note.checkpoint_parse(body)


def license_file(license: License) -> bytes:
    """The offline licence file (JSON): data, signature, issue event, inclusion proof, signed
    checkpoint. Verifiable with `tongban license verify FILE --trust TRUSTLIST`."""
    note_text, checkpoint = _latest_checkpoint_covering(license.log_index)
    proof = ledger_selectors.inclusion_proof(
        log_name=LOG_NAME, index=license.log_index, size=checkpoint.size
    )
    facts = log_facts(LOG_NAME)
    document = {
        "format": FILE_FORMAT,
        "license": json.loads(license.data),
        "signature": {
            "algorithm": "SM2-SM3",
            "key_id": license.issuer_key.key_id,
            "issuer_code": license.issuer.code,
            "value": base64.b64encode(bytes.fromhex(license.signature)).decode("ascii"),
        },
        "log": {
            "name": LOG_NAME,
            "origin": checkpoint.origin,
            "hash_algorithm": facts.algorithm,
            "entry": license.log_entry,
            "index": license.log_index,
            "tree_size": checkpoint.size,
            "proof": [base64.b64encode(item).decode("ascii") for item in proof],
            "checkpoint": note_text,
        },
        "exported_at": clock.now().isoformat(timespec="seconds"),
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


@transaction.atomic
def license_export(*, actor: Actor, license_id: Any) -> tuple[License, bytes]:
    """The holder's offline file (may publish a checkpoint, hence a write)."""
    license = license_for_holder(actor=actor, license_id=license_id)
    return license, license_file(license)


def status_list_sign() -> dict[str, Any]:
    """The signed status list of this deployment: every licence not valid for a reason an
    offline verifier cannot see itself (revoked, suspended). Expiry is in the data."""
    rows = (
        License.objects.filter(status__in=[LicenseStatus.REVOKED, LicenseStatus.SUSPENDED])
        .order_by("identifier")
        .values_list("identifier", "status", "status_changed_at")
    )
    body = canonical_json(
        {
            "format": STATUS_LIST_FORMAT,
            "region": region()["code"],
            "generated_at": clock.now().isoformat(timespec="seconds"),
            "entries": [
                {
                    "identifier": identifier,
                    "status": status,
                    "since": changed.isoformat(timespec="seconds") if changed else "",
                }
                for identifier, status, changed in rows
            ],
        }
    ).decode("utf-8")
    signature = sm2_sign(keys.platform_private_key(), body.encode("utf-8"))
    return {
        "body": body,
        "key_id": _platform_key_id(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


@transaction.atomic
def trust_list_export() -> dict[str, Any]:
    """This deployment's trust list: its region, the issuers' public keys, the licence log's
    origin and verifier keys, the status-list key, and a freshly signed status list."""
    facts = log_facts(LOG_NAME)
    vkeys = ledger_selectors.log_verifier_keys(log_name=LOG_NAME)
    if not vkeys:  # the log's keys are made when it first signs a checkpoint
        ledger_services.checkpoint_publish(log_name=LOG_NAME)
        vkeys = ledger_selectors.log_verifier_keys(log_name=LOG_NAME)
    issuers = [
        {
            "key_id": key.key_id,
            "department_code": key.department.code,
            "department_name": key.department.name,
            "algorithm": "SM2-SM3",
            "public_key": key.public_key,
        }
        for key in IssuerKey.objects.select_related("department").order_by("key_id")
    ]
    return {
        "format": TRUST_LIST_FORMAT,
        "region": region(),
        "generated_at": clock.now().isoformat(timespec="seconds"),
        "issuers": issuers,
        "logs": [
            {
                "name": LOG_NAME,
                "origin": facts.origin,
                "hash_algorithm": facts.algorithm,
                "region": region()["name"],
                "vkeys": vkeys,
            }
        ],
        "status_keys": [{"key_id": _platform_key_id(), "public_key": keys.platform_public_key()}],
        "status_list": status_list_sign(),
    }


def trust_lists_all() -> list[dict[str, Any]]:
    """This deployment's trust list followed by every imported region's."""
    imported = [row.trust_list for row in TrustedRegion.objects.order_by("region")]
    return [trust_list_export(), *imported]


@transaction.atomic
def trust_list_import(*, actor: str, document: dict[str, Any]) -> TrustedRegion:
    """Import (or replace) another region's trust list (跨区域互认)."""
    try:
        trust_anchors(document)
        code = str(document["region"]["code"])
        name = str(document["region"].get("name", code))
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("bad_trust_list", "不是有效的信任列表") from None
    if code == region()["code"]:
        raise InvalidInput("own_region", "不能导入本地区自己的信任列表")
    # Its logs join the ledger's trust list too, so this deployment can witness them.
    ledger_services.trust_list_load(data=document)
    row, _ = TrustedRegion.objects.update_or_create(
        region=code[:12],
        defaults={"name": name[:100], "trust_list": document, "imported_at": clock.now()},
    )
    audit_record_append(
        actor=actor, action="license.trust_list_import", object_type="region", object_id=code
    )
    return row


def license_file_check(*, file_bytes: bytes) -> VerificationResult:
    """Verify an uploaded licence file against this deployment's and the imported trust
    lists; a licence issued here also gets a verification event in the log."""
    result = license_file_verify(file_bytes, trust_lists_all())
    identifier = (result.license or {}).get("identifier")
    if result.code not in ("malformed_file", "bad_identifier") and isinstance(identifier, str):
        license = License.objects.filter(identifier=identifier).first()
        if license is not None:
            with transaction.atomic():
                _log_event(license, LicenseEventType.VERIFICATION, ActorKind.PUBLIC)
    return result


def parse_json_upload(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, CanonicalError):
        raise InvalidInput("bad_json", "文件不是有效的 JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("bad_json", "文件不是有效的 JSON 对象")
    return value
