"""Catalog writes: publishing versions and loading the demo catalog."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

from django.db import transaction

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.models import Division
from tongban.identity.models import Department

from . import errors
from .formschema import ELEMENT_CODE_PATTERN, schema_check
from .models import Material, ServiceItem, ServiceItemVersion

VERSIONED_FIELDS = (
    "name",
    "item_type",
    "legal_basis",
    "conditions",
    "legal_limit_days",
    "committed_limit_days",
    "fee",
    "online_depth",
    "visits_required",
    "cross_province",
    "form_schema",
)


def _material_snapshot(item: ServiceItem) -> list[dict[str, Any]]:
    return [
        {
            "code": material.code,
            "name": material.name,
            "material_type": material.material_type,
            "is_mandatory": material.is_mandatory,
            "replaceable_by_shared_data": material.replaceable_by_shared_data,
            "elements": list(material.elements),
        }
        for material in item.materials.order_by("order", "id")
    ]


def _check_material_elements(item: ServiceItem) -> None:
    for material in item.materials.all():
        elements = material.elements
        if not isinstance(elements, list) or not all(
            isinstance(code, str) and re.match(ELEMENT_CODE_PATTERN, code) for code in elements
        ):
            raise errors.MATERIAL_ELEMENTS_INVALID.error(material=material.name)


@transaction.atomic
def item_publish(*, item: ServiceItem, actor: str) -> ServiceItemVersion:
    """Snapshot the working copy into a new immutable version and make it current.

    Publishing an unchanged item returns the current version (no empty versions).
    """
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    schema_check(item.form_schema)
    _check_material_elements(item)
    if item.committed_limit_days > item.legal_limit_days:
        raise errors.COMMITTED_OVER_LEGAL.error()
    snapshot = {name: getattr(item, name) for name in VERSIONED_FIELDS}
    materials = _material_snapshot(item)
    current = item.current_version
    if (
        current is not None
        and materials == current.materials
        and all(getattr(current, name) == value for name, value in snapshot.items())
    ):
        return current
    number = (current.number if current else 0) + 1
    version = ServiceItemVersion.objects.create(
        item=item,
        number=number,
        published_at=clock.now(),
        published_by=actor,
        materials=materials,
        **snapshot,
    )
    item.current_version = version
    item.save(update_fields=["current_version"])
    audit_record_append(
        actor=actor,
        action="catalog.item.publish",
        object_type="service_item",
        object_id=item.implementation_code,
        detail={"version": number},
    )
    return version


def load_demo_catalog_document() -> dict[str, Any]:
    text = resources.files("tongban.catalog").joinpath("seed/demo_catalog.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@transaction.atomic
def catalog_seed(*, document: dict[str, Any] | None = None, actor: str = "system:seed") -> int:
    """Load departments and items from the demo catalog document; idempotent."""
    document = document or load_demo_catalog_document()
    departments: dict[str, Department] = {}
    for entry in document["departments"]:
        division = Division.objects.get(code=entry["division"])
        departments[entry["code"]], _ = Department.objects.update_or_create(
            code=entry["code"], defaults={"name": entry["name"], "division": division}
        )
    created = 0
    for entry in document["items"]:
        if ServiceItem.objects.filter(implementation_code=entry["implementation_code"]).exists():
            continue
        item = ServiceItem.objects.create(
            implementation_code=entry["implementation_code"],
            catalog_code=entry["catalog_code"],
            name=entry["name"],
            item_type=entry["item_type"],
            department=departments[entry["department"]],
            division_id=entry["division"],
            legal_basis=entry.get("legal_basis", ""),
            conditions=entry.get("conditions", ""),
            legal_limit_days=entry["legal_limit_days"],
            committed_limit_days=entry["committed_limit_days"],
            fee=entry.get("fee", "不收费")[:300],
            online_depth=entry["online_depth"],
            visits_required=entry["visits_required"],
            cross_province=entry["cross_province"],
            service_objects=entry["service_objects"],
            themes=entry.get("themes", []),
            consult_phone=entry.get("consult_phone", "")[:100],
            handle_location=entry.get("handle_location", "")[:300],
            form_schema=entry["form_schema"],
            source_url=entry.get("source_url", "")[:500],
        )
        Material.objects.bulk_create(
            Material(
                item=item,
                code=f"M{index:02d}",
                name=material["name"][:200],
                material_type=material.get("material_type", "3"),
                is_mandatory=material["mandatory"],
                replaceable_by_shared_data=material["replaceable_by_shared_data"],
                elements=list(material.get("elements", [])),
                order=index,
            )
            for index, material in enumerate(entry["materials"], start=1)
        )
        item_publish(item=item, actor=actor)
        created += 1
    shared_data_annotate(actor=actor)
    return created


def load_shared_data_document() -> dict[str, Any]:
    text = resources.files("tongban.catalog").joinpath("seed/shared_data.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@transaction.atomic
def shared_data_annotate(*, document: dict[str, Any] | None = None, actor: str) -> int:
    """Lay the shared-data annotations (x-element on fields, elements on materials) over the
    seeded items and publish the items that changed; idempotent. Returns items changed."""
    document = document or load_shared_data_document()
    changed = 0
    for code, entry in document["items"].items():
        item = ServiceItem.objects.filter(implementation_code=code).first()
        if item is None:
            continue
        schema = copy.deepcopy(item.form_schema)
        for name, spec in entry.get("fields", {}).items():
            schema["properties"].setdefault(name, spec)
        for name, element in entry.get("annotate", {}).items():
            if name in schema["properties"]:
                schema["properties"][name]["x-element"] = element
        touched = schema != item.form_schema
        if touched:
            item.form_schema = schema
            item.save(update_fields=["form_schema"])
        for material in item.materials.all():
            elements = entry.get("materials", {}).get(material.name)
            if elements is not None and material.elements != elements:
                material.elements = elements
                material.replaceable_by_shared_data = True
                material.save(update_fields=["elements", "replaceable_by_shared_data"])
                touched = True
        if touched:
            item_publish(item=item, actor=actor)
            changed += 1
    return changed
