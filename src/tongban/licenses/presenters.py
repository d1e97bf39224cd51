"""How licences are shown (API and pages alike): the holder's ID number masked, 照面信息 as
(title, value) rows, presentations as a QR code, a verdict in the reader's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import segno
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext

from tongban.core.masking import mask

from .models import HolderCodeType, HolderKind, License, LicenseEvent
from .offline import VerificationResult

if TYPE_CHECKING:  # services build presentations and use license_public
    from .services import Presentation


def license_row(license: License) -> dict[str, Any]:
    holder_code = (
        mask(license.holder_code, "id_number")
        if license.holder_code_type == HolderCodeType.RESIDENT_ID
        else license.holder_code
    )
    return {
        "id": license.pk,
        "identifier": license.identifier,
        "type_code": license.license_type.code,
        "type_name": license.license_type.name,
        "holder_kind": license.holder_kind,
        "holder_name": license.holder_name,
        "holder_code": holder_code,
        "holder_code_type": license.holder_code_type,
        "issuer_name": license.issuer.name,
        "issuer_code": license.issuer.code,
        "issued_on": license.issued_on,
        "valid_until": license.valid_until,
        "status": license.status,
        "status_label": license.get_status_display(),
    }


def license_public(license: License) -> dict[str, Any]:
    """What a verifier is shown: the licence without its holder's full identity."""
    holder_code = (
        mask(license.holder_code, "id_number")
        if license.holder_code_type == HolderCodeType.RESIDENT_ID
        else license.holder_code
    )
    holder_name = (
        mask(license.holder_name, "name")
        if license.holder_kind == HolderKind.CITIZEN
        else license.holder_name
    )
    return {
        "identifier": license.identifier,
        "type_name": license.license_type.name,
        "type_code": license.license_type.code,
        "holder_name": holder_name,
        "holder_code": holder_code,
        "issuer_name": license.issuer.name,
        "issuer_code": license.issuer.code,
        "issued_on": license.issued_on.isoformat(),
        "valid_until": license.valid_until.isoformat() if license.valid_until else "",
        "status": license.status,
        "status_label": license.get_status_display(),
    }


def face_rows(license: License) -> list[dict[str, Any]]:
    import json

    face = json.loads(license.data).get("face", {})
    return [
        {
            "name": spec["name"],
            "title": spec.get("title", spec["name"]),
            "value": face.get(spec["name"], ""),
        }
        for spec in license.license_type.face_schema
    ]


def events(license: License) -> list[dict[str, Any]]:
    return [
        {
            "event_type": event.event_type,
            "event_label": event.get_event_type_display(),
            "occurred_at": event.occurred_at,
            "log_index": event.log_index,
        }
        for event in LicenseEvent.objects.filter(license=license).order_by("occurred_at", "id")
    ]


def license_detail(license: License) -> dict[str, Any]:
    return {
        **license_row(license),
        "face": face_rows(license),
        "data_digest": license.data_digest,
        "issuer_key_id": license.issuer_key.key_id,
        "log_index": license.log_index,
        "events": events(license),
    }


def verify_url(request: HttpRequest, token: str) -> str:
    return (
        request.build_absolute_uri(reverse("licenses:verify")) + "?" + urlencode({"token": token})
    )


def presentation(request: HttpRequest, presented: Presentation) -> dict[str, Any]:
    url = verify_url(request, presented.token)
    qr = segno.make(url, error="m")
    return {
        "token": presented.token,
        "expires_at": presented.expires_at,
        "verify_url": url,
        "qr_svg": qr.svg_inline(scale=4, border=2),
        "qr_data_uri": qr.svg_data_uri(scale=5, border=2),
    }


def _translated(text: str) -> str:
    """A verdict's message or note (marked for the catalog in offline.py and verification.py,
    kept untranslated there) in the active language."""
    return gettext(text) if text else text


def verification(result: VerificationResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "code": result.code,
        "message": _translated(result.message),
        "checks": [
            {"name": c.name, "ok": c.ok, "code": c.code, "detail": c.detail} for c in result.checks
        ],
        "license": result.license,
        "notes": [_translated(note) for note in result.notes],
    }
