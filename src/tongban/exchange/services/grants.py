"""共享授权: a department asks the owning department for elements for a purpose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django_fsm import can_proceed

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.identity.models import StaffRole
from tongban.identity.selectors import Actor

from .. import errors
from ..cache import exchange_cache_clear
from ..conf import exchange_setting
from ..models import Grant
from ..selectors import elements_by_code, purpose_elements
from .catalog import element_names

GRANT_ROLES: set[str] = {StaffRole.ADMIN, StaffRole.DECISION}


def staff_with_role(actor: Actor, roles: set[str], action: Any) -> Any:
    """The actor's staff record if they hold one of `roles`; `action` names what they do."""
    staff = actor.staff
    if staff is None or not (set(staff.roles) & roles):
        raise errors.GRANT_ROLE_REQUIRED.error(action=action)
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
    staff = staff_with_role(actor, GRANT_ROLES, errors.GRANT_ACTION_REQUEST)
    reason = reason.strip()
    if not reason:
        raise errors.REASON_REQUIRED.error(fields={"reason": errors.REASON_FIELD})
    wanted = list(dict.fromkeys(elements))
    if not wanted:
        raise errors.ELEMENTS_REQUIRED.error()
    known = elements_by_code(wanted)
    unknown = set(wanted) - set(known)
    if unknown:
        raise errors.UNKNOWN_ELEMENT.error(elements=element_names(unknown))
    registries = {element.registry_id for element in known.values()}
    if len(registries) != 1:
        raise errors.MIXED_REGISTRIES.error()
    from tongban.catalog.selectors import item_department_code

    if item_department_code(code=purpose) != staff.department.code:
        raise errors.PURPOSE_NOT_OWN.error()
    extra = set(wanted) - purpose_elements(purpose)
    if extra:
        raise errors.NOT_MINIMUM_NECESSARY.error(purpose=purpose, elements=element_names(extra))
    plain = [code for code in dict.fromkeys(plain_elements)]
    if set(plain) - set(wanted):
        raise errors.PLAIN_NOT_REQUESTED.error()
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
    staff = staff_with_role(actor, GRANT_ROLES, errors.GRANT_ACTION_DECIDE)
    grant = (
        Grant.objects.select_for_update()
        .select_related("registry")
        .filter(pk=grant_id, registry__department=staff.department)
        .first()
    )
    if grant is None:
        raise errors.GRANT_NOT_FOUND.error()
    if not can_proceed(grant.approve):
        raise errors.GRANT_DECIDED.error(status=grant.get_status_display())
    note = note.strip()
    now = clock.now()
    if approve:
        expires_at = expires_at or now + timedelta(days=int(exchange_setting("GRANT_DAYS")))
        if expires_at <= now:
            raise errors.EXPIRY_IN_PAST.error()
        grant.approve()
        grant.expires_at = expires_at
    else:
        if not note:
            raise errors.NOTE_REQUIRED.error(fields={"note": errors.NOTE_FIELD})
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
