"""Exchange reads: the resource catalog, grants, consents, the citizen's data-use record, the
security view and the sharing-availability indicator. Always scoped to the reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from tongban.core.errors import PermissionDenied
from tongban.identity.models import Citizen, StaffMember, StaffRole

from .models import (
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    LookupOutcome,
    SecurityAlert,
)
from .services import subject_key


def elements_catalog() -> QuerySet[DataElement]:
    """资源目录: every element with its registry, owner, level and freshness promise."""
    return DataElement.objects.select_related("registry__department").order_by(
        "registry__code", "code"
    )


def element_names() -> dict[str, str]:
    return dict(DataElement.objects.values_list("code", "name"))


def grants_for_staff(*, staff: StaffMember) -> QuerySet[Grant]:
    """Grants the staff member's department requested or must decide (as owner)."""
    return (
        Grant.objects.filter(
            Q(department_id=staff.department_id) | Q(registry__department_id=staff.department_id)
        )
        .select_related("department", "registry__department")
        .order_by("-requested_at")
    )


def consents_for_user(*, user: Any) -> QuerySet[Consent]:
    return Consent.objects.filter(user=user).order_by("-given_at")


def data_use_for_citizen(*, citizen: Citizen) -> QuerySet[DataUseRecord]:
    """我的数据使用记录: every lookup about the citizen, refused ones too."""
    return (
        DataUseRecord.objects.filter(subject_key=subject_key(citizen.id_number))
        .select_related("department", "registry")
        .order_by("-occurred_at", "-id")
    )


def security_officer(staff: StaffMember | None) -> StaffMember:
    if staff is None or not staff.has_role(StaffRole.SECURITY):
        raise PermissionDenied("security_role_required", "需要安全审计岗位权限")
    return staff


def alerts_for_officer(*, staff: StaffMember) -> QuerySet[SecurityAlert]:
    """Alerts about callers of departments within the officer's region scope."""
    security_officer(staff)
    return (
        SecurityAlert.objects.filter(
            department__division__code__startswith=staff.scope.subtree_prefix
        )
        .select_related("department")
        .order_by("-raised_at", "-id")
    )


@dataclass(frozen=True)
class Availability:
    registry: str
    department: str
    lookups: int
    fresh_answers: int

    @property
    def share(self) -> float:
        return self.fresh_answers / self.lookups if self.lookups else 0.0


def sharing_availability(*, division_prefix: str = "") -> list[Availability]:
    """共享数据可用率: of the lookups that passed authorisation (answered, not found or failed
    registry), the share answered from data within its freshness promise, by registry and
    calling department. Refusals are excluded: they measure permissions, not availability."""
    rows = (
        DataUseRecord.objects.filter(
            registry__isnull=False,
            department__division__code__startswith=division_prefix,
        )
        .exclude(outcome=LookupOutcome.REFUSED)
        .values("registry__name", "department__name")
        .annotate(
            lookups=Count("id"),
            fresh=Count("id", filter=Q(outcome=LookupOutcome.ANSWERED, is_fresh=True)),
        )
        .order_by("registry__name", "department__name")
    )
    return [
        Availability(row["registry__name"], row["department__name"], row["lookups"], row["fresh"])
        for row in rows
    ]
