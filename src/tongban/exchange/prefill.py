"""Prefill and zero-material applications (零材料), with the applicant's consent.

For an item version, every form field annotated with "x-element" is filled from its registry
and every material whose elements can all be answered is derived (no upload needed). Lookups
go through the gateway as kind `prefill`, so they need the department's grant and the
applicant's consent, and they are recorded like any other lookup. A registry that is down or
refuses only marks its fields and materials unavailable: the applicant types and uploads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tongban.catalog.models import ServiceItem
from tongban.core.errors import DomainError
from tongban.identity.selectors import Actor

from .models import Consent, DataElement, LookupKind, SubjectType
from .selectors import consent_active, declared_elements, granted_elements
from .selectors import prefill_elements_described as prefill_elements_described
from .services import Caller, consent_give, lookup
from .subjects import subject_key


@dataclass(frozen=True)
class DerivedMaterial:
    code: str
    name: str
    registry: str
    elements: tuple[str, ...]
    record_ids: tuple[int, ...]


@dataclass
class PrefillResult:
    values: dict[str, Any] = field(default_factory=dict)
    verified_fields: dict[str, str] = field(default_factory=dict)  # field → registry name
    field_records: dict[str, int] = field(default_factory=dict)
    derived: dict[str, DerivedMaterial] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # field / material code → why
    record_ids: list[int] = field(default_factory=list)


@transaction.atomic
def consent_ensure(
    *, actor: Actor, item: ServiceItem, enterprise_uscc: str | None = None
) -> list[Consent]:
    """The applicant's active consents for the item, giving a new one when none covers all
    the item's declared elements for the subjects involved."""
    version = item.current_version
    assert version is not None
    codes = {element.code for element in declared_elements(version)}
    assert actor.citizen is not None
    keys = {subject_key(actor.citizen.id_number)}
    if enterprise_uscc:
        keys.add(subject_key(enterprise_uscc))
    active = consent_active(actor=actor, purpose=item.implementation_code)
    covered = (
        set().union(*(set(c.elements) for c in active if c.subject_key in keys))
        if active
        else set()
    )
    if codes and not codes <= covered:
        active += consent_give(
            actor=actor,
            purpose=item.implementation_code,
            elements=sorted(codes),
            enterprise_uscc=enterprise_uscc,
        )
    return active


def prefill(
    *, actor: Actor, item: ServiceItem, enterprise_uscc: str | None = None
) -> PrefillResult:
    """Fill and verify what the registries can supply for this applicant and item."""
    version = item.current_version
    assert version is not None and actor.citizen is not None
    result = PrefillResult()
    elements = {element.code: element for element in declared_elements(version)}
    if not elements:
        return result
    granted = granted_elements(department=item.department, purpose=item.implementation_code)
    groups: dict[int, list[DataElement]] = {}
    failures: dict[str, str] = {}
    for element in elements.values():
        if element.code in granted:
            groups.setdefault(element.registry_id, []).append(element)
        else:
            failures[element.code] = _("办理部门尚未获得%(registry)s的共享授权") % {
                "registry": element.registry.name
            }
    caller = Caller(item.department, f"prefill:{actor.label}")
    answered: dict[str, Any] = {}
    sources: dict[str, tuple[str, int]] = {}
    for group in groups.values():
        registry = group[0].registry
        codes = [element.code for element in sorted(group, key=lambda e: e.code)]
        if registry.subject_type == SubjectType.ENTERPRISE:
            subject = enterprise_uscc
            if not subject:
                failures.update(dict.fromkeys(codes, _("以企业经办人身份申请时可由法人库提供")))
                continue
        else:
            subject = actor.citizen.id_number
        try:
            answer = lookup(
                caller=caller,
                subject=subject,
                elements=codes,
                purpose=item.implementation_code,
                kind=LookupKind.PREFILL,
            )
        except DomainError as error:
            failures.update(dict.fromkeys(codes, error.message))
            continue
        result.record_ids.append(answer.record_id)
        if not answer.found:
            why = _("未在%(registry)s查到相关数据") % {"registry": registry.name}
            failures.update(dict.fromkeys(codes, why))
            continue
        for code in codes:
            if answer.values.get(code) not in (None, ""):
                answered[code] = answer.values[code]
                sources[code] = (registry.name, answer.record_id)
            else:
                failures[code] = _("%(registry)s暂无该项数据") % {"registry": registry.name}
    for name, spec in version.form_schema.get("properties", {}).items():
        code = spec.get("x-element")
        if not code:
            continue
        if code in answered:
            result.values[name] = answered[code]
            result.verified_fields[name] = sources[code][0]
            result.field_records[name] = sources[code][1]
        elif code in failures:
            result.unavailable[name] = failures[code]
    for material in version.materials:
        codes = material.get("elements") or []
        if not codes:
            continue
        if all(code in answered for code in codes):
            registries = sorted({sources[code][0] for code in codes})
            result.derived[material["code"]] = DerivedMaterial(
                code=material["code"],
                name=material["name"],
                registry="、".join(registries),
                elements=tuple(codes),
                record_ids=tuple(sorted({sources[code][1] for code in codes})),
            )
        else:
            why = next(
                (failures[code] for code in codes if code in failures),
                _("资源目录中暂无可替代该材料的数据"),
            )
            result.unavailable[material["code"]] = why
    return result
