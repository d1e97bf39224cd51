"""Turn a posted HTML form into the data and uploads the services expect."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tongban.cases.submission.services import UploadedMaterial
from tongban.catalog.formschema import form_fields


def posted_form_data(request: HttpRequest, schema: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in form_fields(schema):
        if spec.type == "boolean":
            data[spec.name] = request.POST.get(spec.name, "") or ""
        elif spec.name in request.POST:
            data[spec.name] = request.POST.get(spec.name, "")
    return data


def posted_materials(request: HttpRequest, material_codes: list[str]) -> list[UploadedMaterial]:
    # Read one byte past the limit at most: enough for the service to refuse it by size.
    budget = int(settings.TONGBAN["MATERIAL_MAX_BYTES"]) + 1
    return [
        UploadedMaterial(code, upload.name or "material", upload.read(budget))
        for code in material_codes
        for upload in request.FILES.getlist(f"material_{code}")
    ]
