"""暂停、恢复、吊销、过期: status changes by the issuing department, and expiry."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_fsm import can_proceed

from tongban.core import clock
from tongban.core.audit import audit_record_append, refusal_record
from tongban.core.errors import DomainError
from tongban.identity.models import StaffRole
from tongban.identity.selectors import Actor

from .. import errors
from ..models import (
    License,
    LicenseEventType,
    LicenseStatus,
)
from ..selectors import license_for_staff
from .log import ActorKind, log_event

# action → the log event it records (the transitions are on the model).
_EVENTS: dict[str, str] = {
    "suspend": LicenseEventType.SUSPENSION,
    "reinstate": LicenseEventType.REINSTATEMENT,
    "revoke": LicenseEventType.REVOCATION,
}
_ACTION_LABELS = {
    "suspend": errors.ACTION_SUSPEND,
    "reinstate": errors.ACTION_REINSTATE,
    "revoke": errors.ACTION_REVOKE,
}


def _license_status_change(*, actor: Actor, license_id: Any, action: str, reason: str) -> License:
    try:
        with transaction.atomic():
            license = license_for_staff(actor=actor, license_id=license_id, lock=True)
            assert actor.staff is not None
            if not actor.staff.has_role(StaffRole.DECISION):
                raise errors.ROLE_REQUIRED.error(action=_ACTION_LABELS[action])
            reason = reason.strip()
            if not reason:
                raise errors.REASON_REQUIRED.error(fields={"reason": errors.FIELD_REQUIRED})
            if not can_proceed(getattr(license, action)):
                raise errors.ILLEGAL_STATUS_CHANGE.error(
                    status=license.get_status_display(), action=_ACTION_LABELS[action]
                )
            getattr(license, action)()
            event_type = _EVENTS[action]
            license.status_reason = reason[:500]
            license.status_changed_at = clock.now()
            license.save(update_fields=["status", "status_reason", "status_changed_at"])
            log_event(license, event_type, ActorKind.STAFF, reason)
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
    log_event(license, LicenseEventType.EXPIRY, ActorKind.SYSTEM)
    return True
