"""用户授权: the data subject lets an item's department fill and verify from the registries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.identity.selectors import Actor

from .. import errors
from ..conf import exchange_setting
from ..models import (
    Consent,
    SubjectType,
)
from ..selectors import elements_by_code, purpose_elements
from ..subjects import subject_key
from .catalog import element_names


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
        raise errors.CITIZEN_REQUIRED.error()
    declared = purpose_elements(purpose)
    scope = set(elements) if elements is not None else declared
    extra = scope - declared
    if extra:
        raise errors.NOT_MINIMUM_NECESSARY.error(purpose=purpose, elements=element_names(extra))
    if not scope:
        raise errors.NOTHING_TO_CONSENT.error()
    known = elements_by_code(scope)
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
            raise errors.NOT_ENTERPRISE_AGENT.error()
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
        raise errors.CONSENT_NOT_FOUND.error()
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
