"""免证办: the licence library answers the exchange from the licences issued here."""

from __future__ import annotations

from typing import Any

import pytest

from tongban.exchange.models import Registry
from tongban.exchange.registries import adapter_for
from tongban.exchange.services import registries_seed
from tongban.licenses.library import license_library_answer
from tongban.licenses.models import License, LicenseIssuance, LicenseType
from tongban.licenses.seed import licenses_seed
from tongban.licenses.services import license_revoke

from . import factories as f
from .test_licenses import approve

pytestmark = pytest.mark.django_db

ELEMENT = "license.mandarin_certificate"


@pytest.fixture
def certificate(world: dict[str, Any], django_capture_on_commit_callbacks: Any) -> License:
    """The world's citizen holds a 普通话水平测试等级证书 issued by the world's item."""
    licenses_seed()
    LicenseIssuance.objects.create(
        implementation_code=world["item"].implementation_code,
        license_type=LicenseType.objects.get(name="普通话水平测试等级证书"),
        field_mapping={
            "holder_name": "@applicant_name",
            "grade": "reason",
            "test_center": "=广州市普通话测试站（合成数据）",
        },
    )
    case = approve(world, django_capture_on_commit_callbacks)
    return License.objects.get(case=case)


def test_the_holder_s_valid_licence_stands_in_for_the_material(
    world: dict[str, Any], certificate: License
) -> None:
    id_number = world["citizen"].citizen.id_number

    answer = license_library_answer(id_number, [ELEMENT, "license.unknown"])

    assert answer.found
    assert answer.values == {ELEMENT: certificate.identifier}
    assert answer.updated_at is not None


def test_nobody_else_and_no_revoked_licence(world: dict[str, Any], certificate: License) -> None:
    other = f.citizen("王芳").citizen.id_number
    assert not license_library_answer(other, [ELEMENT]).found

    license_revoke(actor=world["reviewer"], license_id=certificate.pk, reason="考试作弊")
    assert not license_library_answer(world["citizen"].citizen.id_number, [ELEMENT]).found


def test_the_exchange_asks_the_library_through_its_registry(
    world: dict[str, Any], certificate: License
) -> None:
    registries_seed(owners={"license_library": world["department"]})
    adapter = adapter_for(Registry.objects.get(code="license_library"))

    answer = adapter.fetch(world["citizen"].citizen.id_number, [ELEMENT])

    assert answer.values[ELEMENT] == certificate.identifier
