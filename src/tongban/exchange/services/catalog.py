"""The resource catalog and registry rows (seeded, put). What an item declares (minimum
necessary) is read in selectors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction

from tongban.core import clock
from tongban.core.ids import validate_resident_id, validate_uscc
from tongban.identity.models import Department

from ..cache import exchange_cache_clear
from ..elements import ELEMENTS, REGISTRIES
from ..models import (
    DataElement,
    LegalEntityRecord,
    PopulationRecord,
    Registry,
    SocialSecurityRecord,
)


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


def element_names(codes: Iterable[str]) -> str:
    """Element codes as a message lists them."""
    return "、".join(sorted(codes))
