"""Exchange writes: the resource catalog, registry rows, grants, consents, system keys and the
gateway lookup (authorise → fetch → mask → record → audit → monitor).

Every lookup, refused ones too, leaves one `DataUseRecord` and one audit record; a refusal
says why with a stable code and a Chinese message.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django_fsm import can_proceed

from tongban.catalog.selectors import item_declared_elements
from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import keyed_sm3_hex
from tongban.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from tongban.core.ids import resident_id_checksum, validate_resident_id, validate_uscc
from tongban.core.masking import mask
from tongban.identity.models import Department, StaffRole
from tongban.identity.selectors import Actor

from . import monitoring
from .conf import exchange_setting
from .elements import ELEMENTS, REGISTRIES
from .models import (
    ClassificationLevel,
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    GrantStatus,
    LegalEntityRecord,
    LookupKind,
    LookupOutcome,
    MaskKind,
    PopulationRecord,
    Registry,
    SocialSecurityRecord,
    SubjectType,
    SystemCredential,
)
from .registries import RegistryUnavailable, adapter_for

MAX_ELEMENTS = 20
GRANT_ROLES: set[str] = {StaffRole.ADMIN, StaffRole.DECISION}

# ---------------------------------------------------------------- per-process read caches
# The gateway's hot path reads things that change rarely: the resource catalog, an item's
# declared elements, a system key, an approved grant. Each is kept here for CACHE_SECONDS
# (only positive answers: a new key, grant or element is seen at once). Writes in this process
# clear the cache; other processes see a change within CACHE_SECONDS — which bounds how long a
# deactivated key or an edited catalog entry may still be honoured.
CACHE_SECONDS = 60.0
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}


def _cached(key: tuple[Any, ...]) -> Any:
    hit = _cache.get(key)
    if hit is None or time.monotonic() - hit[0] > CACHE_SECONDS:
        return None
    return hit[1]


def _remember(key: tuple[Any, ...], value: Any) -> Any:
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (time.monotonic(), value)
    return value


def exchange_cache_clear() -> None:
    _cache.clear()


# ---------------------------------------------------------------- pseudonyms


def subject_key(subject: str) -> str:
    """Keyed SM3 pseudonym of a subject's ID number or USCC: matchable, not readable."""
    return keyed_sm3_hex(settings.SECRET_KEY.encode() + b":exchange-subject", subject.encode())


def subject_masked(subject: str) -> str:
    if len(subject) == 18 and subject[:17].isdigit():
        return mask(subject, "id_number")
    return mask(subject, "uscc")


# ---------------------------------------------------------------- catalog and registry rows


@transaction.atomic
def registries_seed(*, owners: dict[str, Department]) -> int:
    """Create the built-in registries and their elements (idempotent). `owners` maps registry
    code → owning department (一数一源); registries without an owner are skipped."""
    created = 0
    for entry in REGISTRIES:
        owner = owners.get(entry["code"])
        if owner is None:
            continue
        registry, made = Registry.objects.get_or_create(
            code=entry["code"],
            defaults={
                "name": entry["name"],
                "department": owner,
                "kind": entry["kind"],
                "subject_type": entry["subject_type"],
            },
        )
        created += int(made)
        for code, name, registry_code, level, mask_kind, hours in ELEMENTS:
            if registry_code != registry.code:
                continue
            _, made = DataElement.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "registry": registry,
                    "level": level,
                    "mask_kind": mask_kind,
                    "freshness_hours": hours,
                },
            )
            created += int(made)
    exchange_cache_clear()
    return created


@transaction.atomic
def population_record_put(
    *,
    id_number: str,
    name: str,
    birth_date: date,
    gender: str,
    household_address: str,
    marital_status: str,
    updated_at: datetime | None = None,
) -> PopulationRecord:
    record, _ = PopulationRecord.objects.update_or_create(
        id_number=validate_resident_id(id_number),
        defaults={
            "name": name,
            "birth_date": birth_date,
            "gender": gender,
            "household_address": household_address,
            "marital_status": marital_status,
            "updated_at": updated_at or clock.now(),
        },
    )
    return record


@transaction.atomic
def legal_entity_record_put(
    *,
    uscc: str,
    name: str,
    legal_representative: str,
    registered_capital: Decimal,
    industry_code: str,
    status: str,
    updated_at: datetime | None = None,
) -> LegalEntityRecord:
    record, _ = LegalEntityRecord.objects.update_or_create(
        uscc=validate_uscc(uscc),
        defaults={
            "name": name,
            "legal_representative": legal_representative,
            "registered_capital": registered_capital,
            "industry_code": industry_code,
            "status": status,
            "updated_at": updated_at or clock.now(),
        },
    )
    return record


@transaction.atomic
def social_security_record_put(
    *,
    id_number: str,
    status: str,
    insured_since: date | None,
    updated_at: datetime | None = None,
) -> SocialSecurityRecord:
    record, _ = SocialSecurityRecord.objects.update_or_create(
        id_number=validate_resident_id(id_number),
        defaults={
            "status": status,
            "insured_since": insured_since,
            "updated_at": updated_at or clock.now(),
        },
    )
    return record


# ---------------------------------------------------------------- minimum necessary


def _element_catalog() -> dict[str, DataElement]:
    catalog = _cached(("elements",))
    if catalog is None:
        catalog = _remember(
            ("elements",),
            {element.code: element for element in DataElement.objects.select_related("registry")},
        )
    return catalog  # type: ignore[no-any-return]


def _elements_by_code(codes: Iterable[str]) -> dict[str, DataElement]:
    catalog = _element_catalog()
    found = {code: catalog[code] for code in set(codes) if code in catalog}
    if len(found) < len(set(codes)):  # maybe added since the catalog was cached
        exchange_cache_clear()
        catalog = _element_catalog()
        found = {code: catalog[code] for code in set(codes) if code in catalog}
    return found


def purpose_elements(purpose: str) -> set[str]:
    """The elements a service item's form and materials declare (最小必要)."""
    declared = _cached(("purpose", purpose))
    if declared is None:
        declared = item_declared_elements(code=purpose)
        if declared is None:
            raise InvalidInput("unknown_purpose", f"用途 {purpose} 不是已发布的政务服务事项")
        _remember(("purpose", purpose), declared)
    return declared  # type: ignore[no-any-return]


def _names(codes: Iterable[str]) -> str:
    return "、".join(sorted(codes))


# ---------------------------------------------------------------- grants


def _staff_of(actor: Actor, roles: set[str], what: str) -> Any:
    staff = actor.staff
    if staff is None or not (set(staff.roles) & roles):
        raise PermissionDenied("grant_role_required", f"{what}需要管理或决定岗位权限")
    return staff


@transaction.atomic
def grant_request(
    *,
    actor: Actor,
    purpose: str,
    elements: Sequence[str],
    reason: str,
    plain_elements: Sequence[str] = (),
) -> Grant:
    """共享申请: the actor's department asks an owner for elements, for one of its own items."""
    staff = _staff_of(actor, GRANT_ROLES, "申请共享授权")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason_required", "请填写申请理由", fields={"reason": "请填写理由"})
    wanted = list(dict.fromkeys(elements))
    if not wanted:
        raise InvalidInput("elements_required", "请至少选择一个数据元")
    known = _elements_by_code(wanted)
    unknown = set(wanted) - set(known)
    if unknown:
        raise InvalidInput("unknown_element", f"资源目录中没有这些数据元：{_names(unknown)}")
    registries = {element.registry_id for element in known.values()}
    if len(registries) != 1:
        raise InvalidInput("mixed_registries", "一次申请只能针对一个基础库的数据元")
    from tongban.catalog.selectors import item_department_code

    if item_department_code(code=purpose) != staff.department.code:
        raise PermissionDenied("purpose_not_own", "只能为本部门实施的事项申请共享授权")
    extra = set(wanted) - purpose_elements(purpose)
    if extra:
        raise PermissionDenied(
            "not_minimum_necessary",
            f"超出最小必要范围：事项的申请表和材料未声明 {_names(extra)}",
        )
    plain = [code for code in dict.fromkeys(plain_elements)]
    if set(plain) - set(wanted):
        raise InvalidInput("plain_not_requested", "需明文的数据元必须在申请的数据元之内")
    grant = Grant.objects.create(
        department=staff.department,
        registry_id=registries.pop(),
        purpose=purpose,
        elements=wanted,
        plain_elements=plain,
        reason=reason[:2000],
        requested_by=actor.label,
        requested_at=clock.now(),
    )
    audit_record_append(
        actor=actor.label,
        action="exchange.grant.request",
        object_type="grant",
        object_id=str(grant.pk),
        detail={"purpose": purpose, "elements": wanted},
    )
    return grant


@transaction.atomic
def grant_decide(
    *,
    actor: Actor,
    grant_id: int,
    approve: bool,
    note: str = "",
    expires_at: datetime | None = None,
) -> Grant:
    """The owning department approves (with an expiry) or refuses (with a reason)."""
    staff = _staff_of(actor, GRANT_ROLES, "审批共享授权")
    grant = (
        Grant.objects.select_for_update()
        .select_related("registry")
        .filter(pk=grant_id, registry__department=staff.department)
        .first()
    )
    if grant is None:
        raise NotFound("grant_not_found", "共享申请不存在")
    if not can_proceed(grant.approve):
        from tongban.core.errors import Conflict

        raise Conflict("grant_decided", f"该申请已{grant.get_status_display()}，不能重复审批")
    note = note.strip()
    now = clock.now()
    if approve:
        expires_at = expires_at or now + timedelta(days=int(exchange_setting("GRANT_DAYS")))
        if expires_at <= now:
            raise InvalidInput("expiry_in_past", "有效期必须晚于当前时间")
        grant.approve()
        grant.expires_at = expires_at
    else:
        if not note:
            raise InvalidInput("note_required", "拒绝须填写理由", fields={"note": "请填写拒绝理由"})
        grant.refuse()
    grant.decided_by, grant.decided_at, grant.decision_note = actor.label, now, note[:2000]
    transaction.on_commit(exchange_cache_clear)
    grant.save(update_fields=["status", "expires_at", "decided_by", "decided_at", "decision_note"])
    audit_record_append(
        actor=actor.label,
        action="exchange.grant.approve" if approve else "exchange.grant.refuse",
        object_type="grant",
        object_id=str(grant.pk),
        detail={"purpose": grant.purpose},
    )
    return grant


# ---------------------------------------------------------------- consents


@transaction.atomic
def consent_give(
    *,
    actor: Actor,
    purpose: str,
    elements: Sequence[str] | None = None,
    enterprise_uscc: str | None = None,
    days: int | None = None,
) -> list[Consent]:
    """用户授权: the applicant lets the item's department fill and verify from the registries.
    One consent per data subject (the person, and the enterprise an agent applies for)."""
    citizen = actor.citizen
    if citizen is None or actor.user is None:
        raise PermissionDenied("citizen_required", "只有实名注册的申请人可以授权")
    declared = purpose_elements(purpose)
    scope = set(elements) if elements is not None else declared
    extra = scope - declared
    if extra:
        raise InvalidInput("not_minimum_necessary", f"事项未声明这些数据元：{_names(extra)}")
    if not scope:
        raise InvalidInput("nothing_to_consent", "该事项没有可由共享数据提供的内容")
    known = _elements_by_code(scope)
    by_subject: dict[str, list[str]] = {}
    for code in sorted(scope):
        element = known.get(code)
        if element is None:
            continue  # declared in the catalog but not (yet) in the resource catalog
        if element.registry.subject_type == SubjectType.ENTERPRISE:
            if enterprise_uscc:
                by_subject.setdefault(enterprise_uscc, []).append(code)
        else:
            by_subject.setdefault(citizen.id_number, []).append(code)
    if enterprise_uscc and enterprise_uscc in by_subject:
        from tongban.identity.selectors import enterprises_for_agent

        if enterprise_uscc not in {e.uscc for e in enterprises_for_agent(citizen=citizen)}:
            raise PermissionDenied("not_enterprise_agent", "您不是该企业的经办人")
    now = clock.now()
    expires = now + timedelta(days=days or int(exchange_setting("CONSENT_DAYS")))
    consents = [
        Consent.objects.create(
            user=actor.user,
            subject_key=subject_key(subject),
            purpose=purpose,
            elements=codes,
            given_at=now,
            expires_at=expires,
        )
        for subject, codes in by_subject.items()
    ]
    for consent in consents:
        audit_record_append(
            actor=actor.label,
            action="exchange.consent.give",
            object_type="consent",
            object_id=str(consent.pk),
            detail={"purpose": purpose, "elements": consent.elements},
        )
    return consents


@transaction.atomic
def consent_revoke(*, actor: Actor, consent_id: int) -> Consent:
    consent = (
        Consent.objects.select_for_update().filter(pk=consent_id, user=actor.user).first()
        if actor.user is not None
        else None
    )
    if consent is None:
        raise NotFound("consent_not_found", "授权不存在")
    if consent.revoked_at is None:
        consent.revoked_at = clock.now()
        consent.save(update_fields=["revoked_at"])
        audit_record_append(
            actor=actor.label,
            action="exchange.consent.revoke",
            object_type="consent",
            object_id=str(consent.pk),
        )
    return consent


# ---------------------------------------------------------------- system credentials


def _key_digest(raw: str) -> str:
    return keyed_sm3_hex(settings.SECRET_KEY.encode() + b":exchange-key", raw.encode())


@transaction.atomic
def system_credential_issue(
    *, department: Department, name: str, actor: str
) -> tuple[str, SystemCredential]:
    """A new API key for a department's system; the raw key is shown once, only its digest kept."""
    raw = "tbx_" + secrets.token_urlsafe(32)
    now = clock.now()
    credential = SystemCredential.objects.create(
        department=department,
        name=name[:100],
        key_hash=_key_digest(raw),
        created_at=now,
        expires_at=now + timedelta(days=int(exchange_setting("CREDENTIAL_DAYS"))),
    )
    audit_record_append(
        actor=actor,
        action="exchange.credential.issue",
        object_type="system_credential",
        object_id=str(credential.pk),
        detail={"department": department.code},
    )
    return raw, credential


@dataclass(frozen=True)
class Caller:
    """Who calls the gateway: a department's system (API key) or the platform on behalf of an
    applicant (prefill)."""

    department: Department
    label: str


def system_caller(raw_key: str) -> Caller | None:
    cache_key = ("key", hashlib.sha256(raw_key.encode()).hexdigest())
    hit = _cached(cache_key)
    if hit is None:
        credential = (
            SystemCredential.objects.select_related("department")
            .filter(key_hash=_key_digest(raw_key), is_active=True)
            .first()
        )
        if credential is None:
            return None
        hit = _remember(
            cache_key,
            (Caller(credential.department, f"system:{credential.pk}"), credential.expires_at),
        )
    caller, expires_at = hit
    return caller if expires_at >= clock.now() else None


# ---------------------------------------------------------------- the gateway

# Cases live in an outer app: it registers a checker answering whether a case id is an open
# case of a department ("open", "closed"), or None when the department has no such case.
CaseChecker = Callable[[str, int], str | None]
_case_checker: list[CaseChecker] = []


def case_checker_register(checker: CaseChecker) -> None:
    _case_checker[:] = [checker]


@dataclass(frozen=True)
class LookupResult:
    record_id: int
    registry: str
    found: bool
    values: dict[str, Any] = field(default_factory=dict)
    masked: dict[str, bool] = field(default_factory=dict)
    matches: dict[str, bool] = field(default_factory=dict)
    updated_at: datetime | None = None
    is_fresh: bool = False


class _Refusal(DomainError):
    """Internal: a refusal to record before it is raised as `error`."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.code, error.message)
        self.error = error


def _refuse(status: type[DomainError], code: str, message: str) -> _Refusal:
    return _Refusal(status(code, message))


def _quick_resident_id(subject: str) -> bool:
    """The common case without python-stdnum's place-name table lookup (the slowest step of a
    lookup): 18 characters, a valid birth date and the right check character — the same
    rule validate_resident_id applies, which unknown address codes do not fail either."""
    if len(subject) != 18 or not subject[:17].isdigit():
        return False
    try:
        date(int(subject[6:10]), int(subject[10:12]), int(subject[12:14]))
    except ValueError:
        return False
    return resident_id_checksum(subject[:17]) == subject[17]


def _normalise_subject(subject: str, subject_type: str) -> str:
    if subject_type != SubjectType.ENTERPRISE and _quick_resident_id(subject):
        return subject
    try:
        if subject_type == SubjectType.ENTERPRISE:
            return validate_uscc(subject)
        return validate_resident_id(subject)
    except DomainError as error:
        raise _refuse(InvalidInput, "subject_invalid", error.message) from None


def _active_grant(caller: Caller, purpose: str, registry: Registry, codes: set[str]) -> Grant:
    now = clock.now()
    cache_key = ("grant", caller.department.pk, purpose, registry.pk, frozenset(codes))
    cached = _cached(cache_key)
    if cached is not None and cached.expires_at > now:
        return cached  # type: ignore[no-any-return]
    grants = list(
        Grant.objects.filter(
            department=caller.department,
            purpose=purpose,
            registry=registry,
            status=GrantStatus.APPROVED,
        ).order_by("-decided_at")
    )
    covering = [grant for grant in grants if codes <= set(grant.elements)]
    for grant in covering:
        if grant.expires_at is not None and grant.expires_at > now:
            return _remember(cache_key, grant)  # type: ignore[no-any-return]
    if covering:
        raise _refuse(PermissionDenied, "grant_expired", "共享授权已过期，请向数据责任部门重新申请")
    granted = set().union(*(set(grant.elements) for grant in grants)) if grants else set()
    missing = codes - granted
    raise _refuse(
        PermissionDenied,
        "no_grant",
        f"本部门未获得该用途下这些数据元的共享授权：{_names(missing or codes)}",
    )


def granted_elements(*, department: Department, purpose: str) -> set[str]:
    """Elements the department may use for the purpose now (approved, unexpired grants)."""
    granted: set[str] = set()
    for elements in Grant.objects.filter(
        department=department,
        purpose=purpose,
        status=GrantStatus.APPROVED,
        expires_at__gt=clock.now(),
    ).values_list("elements", flat=True):
        granted.update(elements)
    return granted


def _active_consent(key: str, purpose: str, codes: set[str]) -> Consent:
    now = clock.now()
    for consent in Consent.objects.filter(
        subject_key=key, purpose=purpose, revoked_at__isnull=True, expires_at__gt=now
    ):
        if codes <= set(consent.elements):
            return consent
    raise _refuse(PermissionDenied, "no_consent", "申请人未授权（或已撤回授权）使用这些数据")


def _answer(
    element: DataElement,
    value: Any,
    *,
    plain: bool,
) -> tuple[Any, bool]:
    """The value the caller gets for one element, and whether it was masked."""
    if value is None or element.level == ClassificationLevel.GENERAL or plain:
        return value, False
    if element.mask_kind in {MaskKind.NONE, ""}:
        return value, False
    if element.mask_kind == MaskKind.WITHHOLD:
        return None, True
    return mask(str(value), element.mask_kind), True


@dataclass
class _Pending:
    """What is known about a lookup so far, so a refusal can be recorded with it."""

    caller: Caller
    kind: str
    subject: str
    elements: list[str]
    purpose: str
    case_id: str
    registry: Registry | None = None
    case_state: str | None = None
    case_number: str = ""


def lookup(
    *,
    caller: Caller,
    subject: str,
    elements: Sequence[str],
    purpose: str,
    case_id: str = "",
    plain: bool = False,
    questions: dict[str, Any] | None = None,
    kind: str = LookupKind.LOOKUP,
) -> LookupResult:
    """The exchange gateway. `questions` makes it a verification (yes/no per element, no
    values). Raises DomainError (recorded, audited) when refused or the registry fails."""
    if questions is not None:
        kind, elements = LookupKind.VERIFY, list(questions)
    pending = _Pending(
        caller, kind, subject.strip().upper(), list(dict.fromkeys(elements)), purpose, case_id
    )
    try:
        return _lookup(pending, plain=plain, questions=questions)
    except _Refusal as refusal:
        _record(pending, LookupOutcome.REFUSED, refusal.error, unmasked=False, fresh=False)
        refusal.error.audited = True  # type: ignore[attr-defined]
        raise refusal.error from None
    except RegistryUnavailable as error:  # and RegistryTimeout
        _record(pending, LookupOutcome.FAILED, error, unmasked=False, fresh=False)
        error.audited = True  # type: ignore[attr-defined]
        raise


def _lookup(pending: _Pending, *, plain: bool, questions: dict[str, Any] | None) -> LookupResult:
    codes = pending.elements
    if not codes:
        raise _refuse(InvalidInput, "elements_required", "请至少指定一个数据元")
    if len(codes) > MAX_ELEMENTS:
        raise _refuse(InvalidInput, "too_many_elements", f"一次最多查询{MAX_ELEMENTS}个数据元")
    known = _elements_by_code(codes)
    unknown = set(codes) - set(known)
    if unknown:
        raise _refuse(InvalidInput, "unknown_element", f"资源目录中没有：{_names(unknown)}")
    registries = {element.registry_id: element.registry for element in known.values()}
    if len(registries) != 1:
        raise _refuse(InvalidInput, "mixed_registries", "一次查询只能针对一个基础库的数据元")
    registry = pending.registry = next(iter(registries.values()))
    subject = pending.subject = _normalise_subject(pending.subject, registry.subject_type)
    if not registry.is_active:
        raise _refuse(RegistryUnavailable, "registry_inactive", f"{registry.name}已停用")
    wanted = set(codes)
    try:
        declared = purpose_elements(pending.purpose)
    except InvalidInput as error:
        raise _Refusal(error) from None
    extra = wanted - declared
    if extra:
        raise _refuse(
            PermissionDenied,
            "not_minimum_necessary",
            f"超出最小必要范围：事项 {pending.purpose} 未声明 {_names(extra)}",
        )
    grant = _active_grant(pending.caller, pending.purpose, registry, wanted)
    if pending.kind == LookupKind.PREFILL:
        _active_consent(subject_key(subject), pending.purpose, wanted)
    if pending.case_id:
        checker = _case_checker[0] if _case_checker else None
        state = checker(pending.case_id, pending.caller.department.pk) if checker else None
        if state is None:
            raise _refuse(PermissionDenied, "case_not_found", "关联的办件不存在或不属于本部门")
        pending.case_state = state
    core = [code for code in codes if known[code].level == ClassificationLevel.CORE]
    if core and questions is None:
        raise _refuse(
            PermissionDenied, "verify_only", f"核心数据只能核验、不能查询：{_names(core)}"
        )
    plain_wanted = plain or pending.kind == LookupKind.PREFILL
    if plain and pending.kind != LookupKind.PREFILL:
        not_plain = wanted - set(grant.plain_elements)
        if not_plain:
            raise _refuse(
                PermissionDenied,
                "plain_not_granted",
                f"授权未包含明文使用：{_names(not_plain)}（将返回脱敏值，请去掉 plain）",
            )
    answer = adapter_for(registry).fetch(subject, codes)
    now = clock.now()
    freshness = min(known[code].freshness_hours for code in codes)
    fresh = answer.found and (
        answer.updated_at is not None and answer.updated_at + timedelta(hours=freshness) >= now
    )
    values: dict[str, Any] = {}
    masked: dict[str, bool] = {}
    matches: dict[str, bool] = {}
    unmasked = False
    if answer.found and questions is not None:
        matches = {
            code: str(answer.values.get(code)) == str(questions[code]).strip() for code in codes
        }
    elif answer.found:
        for code in codes:
            values[code], masked[code] = _answer(
                known[code], answer.values.get(code), plain=plain_wanted
            )
            unmasked = unmasked or (
                known[code].level != ClassificationLevel.GENERAL and not masked[code]
            )
    outcome = LookupOutcome.ANSWERED if answer.found else LookupOutcome.NOT_FOUND
    record = _record(pending, outcome, None, unmasked=unmasked, fresh=fresh)
    return LookupResult(
        record_id=record.pk,
        registry=registry.name,
        found=answer.found,
        values=values,
        masked=masked,
        matches=matches,
        updated_at=answer.updated_at,
        is_fresh=fresh,
    )


def _record(
    pending: _Pending,
    outcome: str,
    error: DomainError | None,
    *,
    unmasked: bool,
    fresh: bool,
) -> DataUseRecord:
    record = DataUseRecord(
        occurred_at=clock.now(),
        kind=pending.kind,
        caller=pending.caller.label,
        department=pending.caller.department,
        registry=pending.registry,
        subject_key=subject_key(pending.subject),
        subject_masked=subject_masked(pending.subject)[:32],
        elements=pending.elements[:MAX_ELEMENTS],
        purpose=pending.purpose[:40],
        case_id=pending.case_id[:64],
        outcome=outcome,
        refusal_code=error.code[:40] if error else "",
        refusal_message=error.message[:300] if error else "",
        unmasked=unmasked,
        is_fresh=fresh,
    )
    due = monitoring.alerts_due(record, case_state=pending.case_state)
    if not due:  # the record and its audit record: one statement on PostgreSQL (core.audit)
        _record_write(record, pending, outcome, error)
        return record
    with transaction.atomic():
        _record_write(record, pending, outcome, error)
        monitoring.alerts_raise(record, due)
    return record


def _record_write(
    record: DataUseRecord, pending: _Pending, outcome: str, error: DomainError | None
) -> None:
    audit_record_append(
        new_row=record,
        actor=pending.caller.label,
        action=f"exchange.{pending.kind}",
        outcome=Outcome.SUCCESS
        if outcome in {LookupOutcome.ANSWERED, LookupOutcome.NOT_FOUND}
        else Outcome.DENIED
        if outcome == LookupOutcome.REFUSED
        else Outcome.FAILURE,
        object_type="data_use_record",
        detail={
            "subject": record.subject_masked,
            "elements": record.elements,
            "purpose": record.purpose,
            "case": record.case_id,
            "outcome": outcome,
            **({"code": error.code} if error else {}),
        },
    )


@transaction.atomic
def data_use_records_link_case(*, record_ids: Sequence[int], case_id: str, case_number: str) -> int:
    """Tie prefill lookups made before the case existed to the case they served."""
    return DataUseRecord.objects.filter(pk__in=list(record_ids), case_id="").update(
        case_id=case_id[:64], case_number=case_number[:50]
    )


@transaction.atomic
def alert_acknowledge(*, actor: Actor, alert_id: int) -> Any:
    """A security officer marks an alert handled (audited)."""
    from .models import SecurityAlert

    staff = actor.staff
    if staff is None or not staff.has_role(StaffRole.SECURITY):
        raise PermissionDenied("security_role_required", "需要安全审计岗位权限")
    alert = (
        SecurityAlert.objects.select_for_update()
        .filter(pk=alert_id, department__division__code__startswith=staff.scope.subtree_prefix)
        .first()
    )
    if alert is None:
        raise NotFound("alert_not_found", "告警不存在")
    if not alert.acknowledged_at:
        alert.acknowledged_by, alert.acknowledged_at = actor.label, clock.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit_record_append(
            actor=actor.label,
            action="exchange.alert.acknowledge",
            object_type="security_alert",
            object_id=str(alert.pk),
            detail={"rule": alert.rule},
        )
    return alert
