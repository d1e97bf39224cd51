"""免证办: the licence library answers the exchange from the licences issued here."""

from __future__ import annotations

from typing import Any

import pytest

from tongban.cases.submission.services import UploadedMaterial, application_submit
from tongban.catalog.models import Material
from tongban.catalog.services import item_publish
from tongban.core.errors import DomainError
from tongban.exchange.models import DataUseRecord, Registry
from tongban.exchange.registries import adapter_for
from tongban.exchange.services import grant_decide, grant_request, registries_seed
from tongban.licenses.library import license_library_answer
from tongban.licenses.models import License, LicenseIssuance, LicenseType
from tongban.licenses.seed import licenses_seed
from tongban.licenses.services import license_revoke

from . import factories as f
from .test_exchange import exchange  # noqa: F401 — the fixture
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


def test_an_application_takes_the_licence_from_the_library_instead_of_an_upload(
    exchange: dict[str, Any],  # noqa: F811 — the imported fixture
    django_capture_on_commit_callbacks: Any,
) -> None:
    """免证办 end to end: the applicant holds a 普通话水平测试等级证书; an item whose material
    can be replaced by it is applied for without uploading it."""
    licenses_seed()
    LicenseIssuance.objects.create(
        implementation_code=exchange["item"].implementation_code,
        license_type=LicenseType.objects.get(name="普通话水平测试等级证书"),
        field_mapping={
            "holder_name": "@applicant_name",
            "grade": "reason",
            "test_center": "=测试站",
        },
    )
    certificate = License.objects.get(case=approve(exchange, django_capture_on_commit_callbacks))
    teacher = f.item(exchange["department"], name="教师资格认定")
    Material.objects.filter(item=teacher, code="M02").update(
        name="普通话水平测试等级证书", is_mandatory=True, elements=[ELEMENT]
    )
    item_publish(item=teacher, actor="test")
    grant = grant_request(
        actor=exchange["reviewer"],
        purpose=teacher.implementation_code,
        elements=[ELEMENT],
        reason="免证办：核验普通话证书",
    )
    grant_decide(actor=exchange["market_steward"], grant_id=grant.pk, approve=True)

    result = application_submit(
        actor=exchange["citizen"],
        item_code=teacher.implementation_code,
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
        use_shared_data=True,
    )

    application = result.application
    assert set(application.materials.values_list("material_code", flat=True)) == {"M01"}
    evidence = application.shared_data.get(material_code="M02")
    assert evidence.registry_name == "电子证照库"
    record = DataUseRecord.objects.get(pk=evidence.data_use_records[0])
    assert record.registry.code == "license_library" and ELEMENT in record.elements

    # Revoked: the library no longer stands in, so the material must be uploaded again.
    license_revoke(actor=exchange["reviewer"], license_id=certificate.pk, reason="考试作弊")
    with pytest.raises(DomainError) as refused:
        application_submit(
            actor=exchange["citizen"],
            item_code=teacher.implementation_code,
            form_data=dict(f.VALID_FORM),
            materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
            use_shared_data=True,
        )
    assert "M02" in refused.value.fields
