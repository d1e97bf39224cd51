"""Bundles in the back office: cycles refused when saved, scoped by region."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.forms import inlineformset_factory

from tongban.catalog.admin import BundleDependencyFormSet
from tongban.catalog.models import Bundle, BundleDependency, BundleItem, BundleQuestion
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


def _change_form(
    bundle: Bundle,
    questions: list[tuple[str, str, str, str]],
    conditions: list[str],
) -> dict[str, Any]:
    """The admin change form of the bundle as posted: its fields, the questions inline
    (code, text, kind, options JSON), the items inline with these conditions (JSON) and the
    dependencies inline unchanged."""
    items = list(BundleItem.objects.filter(bundle=bundle).order_by("order"))
    dependencies = list(BundleDependency.objects.filter(bundle=bundle))
    data: dict[str, Any] = {
        "code": bundle.code,
        "name": bundle.name,
        "description": bundle.description,
        "basis": bundle.basis,
        "division": bundle.division_id,
        "lead_department": bundle.lead_department_id,
        "status": bundle.status,
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": "0",
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(items)),
        "dependencies-TOTAL_FORMS": str(len(dependencies)),
        "dependencies-INITIAL_FORMS": str(len(dependencies)),
    }
    for index, (code, text, kind, options) in enumerate(questions):
        data.update(
            {
                f"questions-{index}-order": str(index + 1),
                f"questions-{index}-code": code,
                f"questions-{index}-text": text,
                f"questions-{index}-kind": kind,
                f"questions-{index}-options": options,
            }
        )
    for index, (row, condition) in enumerate(zip(items, conditions, strict=True)):
        data.update(
            {
                f"items-{index}-id": str(row.pk),
                f"items-{index}-bundle": str(bundle.pk),
                f"items-{index}-item": str(row.item_id),
                f"items-{index}-order": str(row.order),
                f"items-{index}-condition": condition,
            }
        )
    for index, dependency in enumerate(dependencies):
        data.update(
            {
                f"dependencies-{index}-id": str(dependency.pk),
                f"dependencies-{index}-bundle": str(bundle.pk),
                f"dependencies-{index}-upstream": str(dependency.upstream_id),
                f"dependencies-{index}-downstream": str(dependency.downstream_id),
                f"dependencies-{index}-outputs": json.dumps(dependency.outputs),
            }
        )
    return data


SETTLE = ("settle_here", "新生儿是否在本市落户？", "yes_no", "[]")


def test_situations_are_edited_and_checked_in_the_admin(newborn: dict[str, Any]) -> None:  # noqa: F811
    bundle = newborn["bundle"]
    client = staff_client(
        f.staff(f.department("440000", "广东省政务服务数据管理局"), [StaffRole.ADMIN])
    )
    url = f"/admin/catalog/bundle/{bundle.pk}/change/"
    page = client.get(url).content.decode()
    assert "情形引导问题" in page and "适用条件" in page

    refusals = {
        "不存在的情形问题：settle": [SETTLE], "不存在的选项：也许": [SETTLE],
        "依赖“出生户口登记”": [SETTLE], "至少需要两个互不相同的非空选项": [SETTLE],
    }  # fmt: skip
    conditions = {
        "不存在的情形问题：settle": ["{}", "{}", '{"settle": ["是"]}', '{"settle": ["是"]}'],
        "不存在的选项：也许": ["{}", "{}", '{"settle_here": ["也许"]}', "{}"],
        "依赖“出生户口登记”": ["{}", "{}", '{"settle_here": ["是"]}', "{}"],
        "至少需要两个互不相同的非空选项": ["{}", "{}", "{}", "{}"],
    }
    refusals["至少需要两个互不相同的非空选项"] = [("where", "在哪里接种？", "choice", '["本市"]')]
    for message, questions in refusals.items():
        response = client.post(url, _change_form(bundle, questions, conditions[message]))
        assert response.status_code == 200, message
        assert message in response.content.decode(), message
    assert not BundleQuestion.objects.exists()
    assert all(row.condition == {} for row in BundleItem.objects.filter(bundle=bundle))

    consistent = ["{}", "{}", '{"settle_here": ["是"]}', '{"settle_here": ["是"]}']
    response = client.post(url, _change_form(bundle, [SETTLE], consistent))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert list(BundleQuestion.objects.values_list("code", "kind")) == [("settle_here", "yes_no")]
    rows = list(BundleItem.objects.filter(bundle=bundle).order_by("order"))
    settled = {"settle_here": ["是"]}
    assert [row.condition for row in rows] == [{}, {}, settled, settled]
