"""The licence library (电子证照库) as a registry of the exchange: 免证办.

An item whose material declares a licence element (e.g. `license.mandarin_certificate`) can
take it from here instead of an upload: the exchange asks this provider, with the applicant's
consent and under a grant like any registry, and records the lookup in the data-use record.
The answer is the identifier of the holder's valid licence of that type (the verifier can check
it online or against the transparency log); no licence, or only a suspended, revoked or expired
one, means "not found" and the applicant uploads as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from tongban.core import clock
from tongban.exchange.registries import RegistryAnswer, provider_register

from .models import HolderKind, License, LicenseStatus

REGISTRY_CODE = "license_library"

# Data element → licence type name (types are defined nationally: one name, one meaning).
ELEMENT_TYPES: dict[str, str] = {
    "license.mandarin_certificate": "普通话水平测试等级证书",
    "license.teacher_qualification": "教师资格证书",
}


def license_library_answer(subject: str, elements: Sequence[str]) -> RegistryAnswer:
    """Identifiers of the subject's valid licences for the requested elements."""
    today = clock.today()
    values: dict[str, str] = {}
    for element in elements:
        type_name = ELEMENT_TYPES.get(element)
        if type_name is None:
            continue
        license = (
            License.objects.filter(
                holder_kind=HolderKind.CITIZEN,
                holder_code=subject,
                license_type__name=type_name,
                status=LicenseStatus.VALID,
            )
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
            .order_by("-issued_on")
            .first()
        )
        if license is not None:
            values[element] = license.identifier
    # The library is current by construction (issuance and status changes write it), so an
    # answer is as fresh as now.
    return RegistryAnswer(
        found=bool(values), values=values, updated_at=clock.now() if values else None
    )


def register() -> None:
    provider_register(REGISTRY_CODE, license_library_answer)
