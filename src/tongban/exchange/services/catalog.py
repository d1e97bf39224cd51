"""The resource catalog and registry rows (seeded, put), and minimum necessary: what an
item declares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction

from tongban.catalog.selectors import item_declared_elements
from tongban.core import clock
from tongban.core.errors import InvalidInput
from tongban.core.ids import validate_resident_id, validate_uscc
from tongban.identity.models import Department

from ..elements import ELEMENTS, REGISTRIES
from ..models import (
    DataElement,
    LegalEntityRecord,
    PopulationRecord,
    Registry,
    SocialSecurityRecord,
)
from .cache import cache_get, cache_put, exchange_cache_clear


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


def element_catalog() -> dict[str, DataElement]:
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
            raise InvalidInput("unknown_purpose", f"用途 {purpose} 不是已发布的政务服务事项")
        cache_put(("purpose", purpose), declared)
    return declared  # type: ignore[no-any-return]


def element_names(codes: Iterable[str]) -> str:
    return "、".join(sorted(codes))
