"""The gateway lookup: authorise → fetch → mask → record → audit → monitor.

Every lookup, refused ones too, leaves one `DataUseRecord` and one audit record; a refusal
says why with a stable code and its message (errors.py), recorded in the platform's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.functional import lazy

from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.errors import DomainError, ErrorCode, InvalidInput
from tongban.core.ids import resident_id_checksum, validate_resident_id, validate_uscc
from tongban.core.masking import mask
from tongban.identity.models import StaffRole
from tongban.identity.selectors import Actor

from .. import errors, monitoring
from ..cache import cache_get, cache_put
from ..errors import RegistryUnavailable
from ..models import (
    ClassificationLevel,
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    GrantStatus,
    LookupKind,
    LookupOutcome,
    MaskKind,
    Registry,
    SubjectType,
)
from ..registries import adapter_for
from ..selectors import elements_by_code, purpose_elements
from ..subjects import subject_key, subject_masked
from .catalog import element_names
from .credentials import Caller

MAX_ELEMENTS = 20

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


class _Refusal(Exception):
    """Internal: a refusal to record in the lookup's DataUseRecord before it is raised as
    `error` (marked recorded)."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.code)
        self.error = error


def _refuse(code: ErrorCode, **params: Any) -> _Refusal:
    return _Refusal(code.error(**params))


def _message_of(error: DomainError) -> Any:
    """The error's message as a lazy string: rendered when read, in the reader's language."""
    return lazy(lambda: error.message, str)()


def _recorded_message(error: DomainError) -> str:
    """A refusal's message as its data-use record keeps it: in the platform's language (the
    data subject reads it later), whoever asked."""
    with translation.override(settings.LANGUAGE_CODE):
        return error.message[:300]


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
        raise _refuse(errors.SUBJECT_INVALID, reason=_message_of(error)) from None


def _active_grant(caller: Caller, purpose: str, registry: Registry, codes: set[str]) -> Grant:
    now = clock.now()
    cache_key = ("grant", caller.department.pk, purpose, registry.pk, frozenset(codes))
    cached = cache_get(cache_key)
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
            return cache_put(cache_key, grant)  # type: ignore[no-any-return]
    if covering:
        raise _refuse(errors.GRANT_EXPIRED)
    granted = set().union(*(set(grant.elements) for grant in grants)) if grants else set()
    missing = codes - granted
    raise _refuse(errors.NO_GRANT, elements=element_names(missing or codes))


def _active_consent(key: str, purpose: str, codes: set[str]) -> Consent:
    now = clock.now()
    for consent in Consent.objects.filter(
        subject_key=key, purpose=purpose, revoked_at__isnull=True, expires_at__gt=now
    ):
        if codes <= set(consent.elements):
            return consent
    raise _refuse(errors.NO_CONSENT)


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
        raise refusal.error.mark_recorded() from None  # its data-use record is the record
    except RegistryUnavailable as error:  # and RegistryTimeout, a kind of it
        _record(pending, LookupOutcome.FAILED, error, unmasked=False, fresh=False)
        error.mark_recorded()
        raise


def _lookup(pending: _Pending, *, plain: bool, questions: dict[str, Any] | None) -> LookupResult:
    codes = pending.elements
    if not codes:
        raise _refuse(errors.ELEMENTS_REQUIRED)
    if len(codes) > MAX_ELEMENTS:
        raise _refuse(errors.TOO_MANY_ELEMENTS, limit=MAX_ELEMENTS)
    known = elements_by_code(codes)
    unknown = set(codes) - set(known)
    if unknown:
        raise _refuse(errors.UNKNOWN_ELEMENT, elements=element_names(unknown))
    registries = {element.registry_id: element.registry for element in known.values()}
    if len(registries) != 1:
        raise _refuse(errors.MIXED_REGISTRIES)
    registry = pending.registry = next(iter(registries.values()))
    subject = pending.subject = _normalise_subject(pending.subject, registry.subject_type)
    if not registry.is_active:
        raise _refuse(errors.REGISTRY_INACTIVE, registry=registry.name)
    wanted = set(codes)
    try:
        declared = purpose_elements(pending.purpose)
    except InvalidInput as error:
        raise _Refusal(error) from None
    extra = wanted - declared
    if extra:
        raise _refuse(
            errors.NOT_MINIMUM_NECESSARY, purpose=pending.purpose, elements=element_names(extra)
        )
    grant = _active_grant(pending.caller, pending.purpose, registry, wanted)
    if pending.kind == LookupKind.PREFILL:
        _active_consent(subject_key(subject), pending.purpose, wanted)
    if pending.case_id:
        checker = _case_checker[0] if _case_checker else None
        state = checker(pending.case_id, pending.caller.department.pk) if checker else None
        if state is None:
            raise _refuse(errors.CASE_NOT_FOUND)
        pending.case_state = state
    core = [code for code in codes if known[code].level == ClassificationLevel.CORE]
    if core and questions is None:
        raise _refuse(errors.VERIFY_ONLY, elements=element_names(core))
    plain_wanted = plain or pending.kind == LookupKind.PREFILL
    if plain and pending.kind != LookupKind.PREFILL:
        not_plain = wanted - set(grant.plain_elements)
        if not_plain:
            raise _refuse(errors.PLAIN_NOT_GRANTED, elements=element_names(not_plain))
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
        refusal_message=_recorded_message(error) if error else "",
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
    from ..models import SecurityAlert

    staff = actor.staff
    if staff is None or not staff.has_role(StaffRole.SECURITY):
        raise errors.SECURITY_ROLE_REQUIRED.error()
    alert = (
        SecurityAlert.objects.select_for_update()
        .filter(pk=alert_id, department__division__code__startswith=staff.scope.subtree_prefix)
        .first()
    )
    if alert is None:
        raise errors.ALERT_NOT_FOUND.error()
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
