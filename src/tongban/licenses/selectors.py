"""Licence reads, always scoped: a holder sees their own licences and those of the
enterprises they are an active agent for; staff see their own department's. Anything else is
'not found' (404), never 'forbidden'."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from tongban.core.ids import uuid_or_not_found
from tongban.identity.selectors import Actor, enterprises_for_agent

from . import errors
from .models import IssuerKey, License, LicenseStatus, TrustedRegion


def _uuid(value: Any) -> UUID:
    return uuid_or_not_found(value, errors.LICENSE_NOT_FOUND)


def licenses_for_holder(*, actor: Actor) -> QuerySet[License]:
    """我的证照: the citizen's own, plus those of enterprises they act for."""
    if actor.user is None or actor.citizen is None:
        return License.objects.none()
    enterprises = [e.pk for e in enterprises_for_agent(citizen=actor.citizen)]
    return (
        License.objects.filter(Q(holder_user=actor.user) | Q(holder_enterprise_id__in=enterprises))
        .select_related("license_type", "issuer", "issuer_key", "holder_enterprise")
        .order_by("-issued_on", "identifier")
    )


def license_for_holder(*, actor: Actor, license_id: Any) -> License:
    license = licenses_for_holder(actor=actor).filter(pk=_uuid(license_id)).first()
    if license is None:
        raise errors.LICENSE_NOT_FOUND.error()
    return license


def licenses_for_staff(*, actor: Actor) -> QuerySet[License]:
    """Licences the staff member's department issued."""
    if actor.staff is None:
        return License.objects.none()
    return License.objects.filter(issuer_id=actor.staff.department_id).select_related(
        "license_type", "issuer", "issuer_key"
    )


def license_for_staff(*, actor: Actor, license_id: Any, lock: bool = False) -> License:
    licenses = licenses_for_staff(actor=actor)
    if lock:
        licenses = licenses.select_for_update(of=("self",))
    license = licenses.filter(pk=_uuid(license_id)).first()
    if license is None:
        raise errors.LICENSE_NOT_FOUND.error()
    return license


def license_by_identifier(identifier: str) -> License | None:
    return (
        License.objects.select_related("license_type", "issuer", "issuer_key")
        .filter(identifier=identifier[:120])
        .first()
    )


def licenses_withdrawn() -> QuerySet[License, tuple[str, str, Any]]:
    """(identifier, status, since) of every licence revoked or suspended, for the signed
    status list."""
    return (
        License.objects.filter(status__in=[LicenseStatus.REVOKED, LicenseStatus.SUSPENDED])
        .order_by("identifier")
        .values_list("identifier", "status", "status_changed_at")
    )


def issuer_keys() -> QuerySet[IssuerKey]:
    """Every issuing department's public key, for the trust list."""
    return IssuerKey.objects.select_related("department").order_by("key_id")


def trusted_region_lists() -> list[dict[str, Any]]:
    """The trust lists imported from other regions (跨区域互认), by region code."""
    return [row.trust_list for row in TrustedRegion.objects.order_by("region")]


def licenses_expired_due(*, today: Any) -> QuerySet[License]:
    return License.objects.filter(
        status__in=["valid", "suspended"], valid_until__lt=today
    ).order_by("valid_until")
