"""Catalog reads."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from tongban.core.models import Division

from . import errors
from .models import ServiceItem, ServiceItemVersion


def items_list(
    *,
    region: str | None = None,
    q: str | None = None,
    theme: str | None = None,
    department: str | None = None,
) -> QuerySet[ServiceItem]:
    """Published items; `region` limits to that division's subtree."""
    items = ServiceItem.objects.filter(
        is_published=True, current_version__isnull=False
    ).select_related("department", "division", "current_version")
    if region:
        division = Division.objects.filter(code=region).first()
        if division is None:
            raise errors.REGION_NOT_FOUND.error(region=region)
        items = items.filter(division__code__startswith=division.subtree_prefix)
    if q:
        for word in q.split():
            items = items.filter(
                Q(name__icontains=word)
                | Q(department__name__icontains=word)
                | Q(conditions__icontains=word)
            )
    if theme:
        items = items.filter(themes__icontains=theme)
    if department:
        items = items.filter(department__code=department)
    return items.order_by("division_id", "department__name", "name")


def item_get(*, code: str) -> ServiceItem:
    item = (
        ServiceItem.objects.filter(
            implementation_code=code, is_published=True, current_version__isnull=False
        )
        .select_related("department", "division", "current_version")
        .first()
    )
    if item is None:
        raise errors.ITEM_NOT_FOUND.error(code=code)
    return item


def themes_all() -> list[str]:
    themes: set[str] = set()
    for values in ServiceItem.objects.filter(is_published=True).values_list("themes", flat=True):
        themes.update(values)
    return sorted(themes)


def version_declared_elements(version: ServiceItemVersion) -> set[str]:
    """Data elements an item version declares: its form fields' x-element annotations and the
    elements its materials can be replaced by (the ceiling of 最小必要)."""
    declared = {
        spec["x-element"]
        for spec in version.form_schema.get("properties", {}).values()
        if spec.get("x-element")
    }
    for material in version.materials:
        declared.update(material.get("elements", []))
    return declared


def item_declared_elements(*, code: str) -> set[str] | None:
    """The declared elements of a published item's current version; None if no such item."""
    version = (
        ServiceItemVersion.objects.filter(
            item__implementation_code=code,
            item__is_published=True,
            item__current_version=F("pk"),
        )
        .only("form_schema", "materials")
        .first()
    )
    return None if version is None else version_declared_elements(version)


def item_department_code(*, code: str) -> str | None:
    return (
        ServiceItem.objects.filter(implementation_code=code)
        .values_list("department__code", flat=True)
        .first()
    )


def item_names(*, codes: set[str]) -> dict[str, str]:
    """implementation_code → item name, for labelling purposes recorded by code."""
    return dict(
        ServiceItem.objects.filter(implementation_code__in=codes).values_list(
            "implementation_code", "name"
        )
    )
