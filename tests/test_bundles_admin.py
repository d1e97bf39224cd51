"""Bundles in the back office: cycles refused when saved, scoped by region."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms import inlineformset_factory

from tongban.catalog.admin import BundleDependencyFormSet
from tongban.catalog.models import Bundle, BundleDependency, BundleItem
from tongban.identity.models import StaffRole

from . import factories as f
from .test_bundles import newborn  # noqa: F401 — the fixture
from .test_web import staff_client

pytestmark = pytest.mark.django_db

FormSet = inlineformset_factory(
    Bundle,
    BundleDependency,
    formset=BundleDependencyFormSet,
    fk_name="bundle",
    fields=["upstream", "downstream", "outputs"],
    extra=0,
)


def _data(pairs: list[tuple[BundleItem, BundleItem]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dependencies-TOTAL_FORMS": str(len(pairs)),
        "dependencies-INITIAL_FORMS": "0",
        "dependencies-MIN_NUM_FORMS": "0",
        "dependencies-MAX_NUM_FORMS": "1000",
    }
    for index, (upstream, downstream) in enumerate(pairs):
        data[f"dependencies-{index}-upstream"] = upstream.pk
        data[f"dependencies-{index}-downstream"] = downstream.pk
        data[f"dependencies-{index}-outputs"] = "[]"
    return data


def test_a_cycle_is_refused_and_names_its_items(newborn: dict[str, Any]) -> None:  # noqa: F811
    bundle = newborn["bundle"]
    first, second, third = list(BundleItem.objects.filter(bundle=bundle).order_by("order"))[:3]

    cyclic = FormSet(
        _data([(first, second), (second, third), (third, first)]),
        instance=bundle,
        prefix="dependencies",
    )
    assert not cyclic.is_valid()
    assert "事项依赖存在循环" in str(cyclic.non_form_errors())
    assert first.item.name in str(cyclic.non_form_errors())

    itself = FormSet(_data([(first, first)]), instance=bundle, prefix="dependencies")
    assert not itself.is_valid()

    chain = FormSet(
        _data([(first, second), (second, third)]), instance=bundle, prefix="dependencies"
    )
    assert chain.is_valid(), chain.errors


def test_administrators_see_the_bundles_of_their_region(newborn: dict[str, Any]) -> None:  # noqa: F811
    guangdong = f.staff(f.department("440000", "广东省政务服务数据管理局"), [StaffRole.ADMIN])
    zhejiang = f.staff(f.department("330000", "浙江省大数据发展管理局"), [StaffRole.ADMIN])

    guangdong_client, zhejiang_client = staff_client(guangdong), staff_client(zhejiang)

    listing = guangdong_client.get("/admin/catalog/bundle/")
    assert listing.status_code == 200 and "新生儿出生一件事" in listing.content.decode()
    other = zhejiang_client.get("/admin/catalog/bundle/").content.decode()
    assert "新生儿出生一件事" not in other
    url = f"/admin/catalog/bundle/{newborn['bundle'].pk}/change/"
    assert zhejiang_client.get(url).status_code in (302, 404)
    assert guangdong_client.get(url).status_code == 200
