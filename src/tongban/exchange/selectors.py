"""Exchange reads: the resource catalog and what an item declares (minimum necessary), grants,
consents, the citizen's data-use record, the security view and the sharing-availability
indicator. Always scoped to the reader."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from tongban.catalog.models import ServiceItemVersion
from tongban.catalog.selectors import item_declared_elements, version_declared_elements
from tongban.core import clock
from tongban.identity.models import Citizen, Department, StaffMember, StaffRole
from tongban.identity.selectors import Actor

from . import errors
from .cache import cache_get, cache_put, exchange_cache_clear
from .models import (
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    GrantStatus,
    LookupOutcome,
    SecurityAlert,
)
from .subjects import subject_key


def elements_catalog() -> QuerySet[DataElement]:
    """资源目录: every element with its registry, owner, level and freshness promise."""
    return DataElement.objects.select_related("registry__department").order_by(
        "registry__code", "code"
    )


def element_names() -> dict[str, str]:
    return dict(DataElement.objects.values_list("code", "name"))


# ---------------------------------------------------------------- minimum necessary (cached)


def element_catalog() -> dict[str, DataElement]:
    """Every element by code, with its registry (cached: the gateway's hot path)."""
    catalog = cache_get(("elements",))
    if catalog is None:
        catalog = cache_put(
            ("elements",),
            {element.code: element for element in DataElement.objects.select_related("registry")},
        )
    return catalog  # type: ignore[no-any-return]


def elements_by_code(codes: Iterable[str]) -> dict[str, DataElement]:
    catalog = element_catalog()
    found = {code: catalog[code] for code in set(codes) if code in catalog}
    if len(found) < len(set(codes)):  # maybe added since the catalog was cached
        exchange_cache_clear()
        catalog = element_catalog()
        found = {code: catalog[code] for code in set(codes) if code in catalog}
    return found


def purpose_elements(purpose: str) -> set[str]:
    """The elements a service item's form and materials declare (最小必要)."""
    declared = cache_get(("purpose", purpose))
    if declared is None:
        declared = item_declared_elements(code=purpose)
        if declared is None:
            raise errors.UNKNOWN_PURPOSE.error(purpose=purpose)
        cache_put(("purpose", purpose), declared)
    return declared  # type: ignore[no-any-return]


def declared_elements(version: ServiceItemVersion) -> list[DataElement]:
    """The version's declared elements that the resource catalog knows, in code order."""
    codes = version_declared_elements(version)
    return list(DataElement.objects.select_related("registry").filter(code__in=codes))


def prefill_elements_described(version: ServiceItemVersion) -> list[tuple[str, str, str]]:
    """(element name, registry name, owning department) rows for the consent box."""
    return [
        (element.name, element.registry.name, element.registry.department.name)
        for element in DataElement.objects.select_related("registry__department")
        .filter(code__in=version_declared_elements(version))
        .order_by("registry__code", "code")
    ]


def grants_for_staff(*, staff: StaffMember) -> QuerySet[Grant]:
    """Grants the staff member's department requested or must decide (as owner)."""
    return (
        Grant.objects.filter(
            Q(department_id=staff.department_id) | Q(registry__department_id=staff.department_id)
        )
        .select_related("department", "registry__department")
        .order_by("-requested_at")
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


def consents_for_user(*, user: Any) -> QuerySet[Consent]:
    return Consent.objects.filter(user=user).order_by("-given_at")


def consent_active(*, actor: Actor, purpose: str) -> list[Consent]:
    """The applicant's consents for the purpose in force now."""
    if actor.citizen is None or actor.user is None:
        return []
    return list(
        Consent.objects.filter(
            user=actor.user,
            purpose=purpose,
            revoked_at__isnull=True,
            expires_at__gt=clock.now(),
        )
    )


def data_use_for_citizen(*, citizen: Citizen) -> QuerySet[DataUseRecord]:
    """我的数据使用记录: every lookup about the citizen, refused ones too."""
    return (
        DataUseRecord.objects.filter(subject_key=subject_key(citizen.id_number))
        .select_related("department", "registry")
        .order_by("-occurred_at", "-id")
    )


def security_officer(staff: StaffMember | None) -> StaffMember:
    if staff is None or not staff.has_role(StaffRole.SECURITY):
        raise errors.SECURITY_ROLE_REQUIRED.error()
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
