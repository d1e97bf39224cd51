"""一件事 pages: guide with the critical path, the merged apply form, my bundle, staff marks."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tongban.cases.models import BundleCase, CaseStatus
from tongban.exchange.models import DataUseRecord

from . import factories as f
from .test_bundles import (  # noqa: F401 — the fixtures
    _form,
    newborn,
    shared_bundle,
    situated,
)


def _login(client: Client, actor: Any) -> None:
    client.force_login(actor.user)


def test_guide_shows_critical_path_beside_separate_limits(newborn: dict[str, Any]) -> None:  # noqa: F811
    page = Client().get("/bundles/newborn/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "分别办理 5 个工作日 → 一件事 4 个工作日" in text
    assert "无，立即并联办理" in text
    listing = Client().get("/bundles/").content.decode()
    assert "新生儿出生一件事" in listing and "→ 一件事 4 个工作日" in listing
    assert Client().get("/bundles/nothing/").status_code == 404


def test_apply_once_then_see_bundle_and_children(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    form_page = client.get("/bundles/newborn/apply/").content.decode()
    assert form_page.count('name="child.name"') == 1
    assert form_page.count('name="material_B01"') == 1
    response = client.post(
        "/bundles/newborn/apply/",
        {
            **_form(newborn),
            "submission_token": "web-1",
            "material_B01": SimpleUploadedFile("id.pdf", f.PDF, "application/pdf"),
        },
    )
    bundle_case = BundleCase.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/me/bundles/{bundle_case.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert page.count('data-status="waiting"') == 2 and page.count('data-status="submitted"') == 2
    assert "等待" in page and "出生医学证明签发" in page
    mine = client.get("/me/cases/").content.decode()
    assert "新生儿出生一件事" in mine
    other = Client()
    _login(other, newborn["other_citizen"])
    assert other.get(f"/me/bundles/{bundle_case.pk}/").status_code == 404


def test_invalid_apply_is_422_and_creates_nothing(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    response = client.post("/bundles/newborn/apply/", {"child.name": "张小宝"})
    assert response.status_code == 422
    assert not BundleCase.objects.exists()


def test_staff_queue_marks_bundle_children(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    client.post(
        "/bundles/newborn/apply/",
        {
            **_form(newborn),
            "material_B01": SimpleUploadedFile("id.pdf", f.PDF, "application/pdf"),
        },
    )
    clerk, _ = newborn["staff"]["police"]
    staff_client = Client()
    staff_client.post(
        "/workbench/login/",
        {"username": clerk.user.username, "password": f.PASSWORD, "otp": f.otp_now()},
    )
    queue = staff_client.get("/workbench/").content.decode()
    assert "一件事：新生儿出生一件事" in queue
    assert CaseStatus.WAITING.label in queue


def test_situation_questions_first_then_only_the_applicable_items(
    situated: dict[str, Any],  # noqa: F811
) -> None:
    client = Client()
    _login(client, situated["guardian"])
    first = client.get("/bundles/newborn/apply/").content.decode()
    assert "新生儿是否在本市落户？" in first and 'name="situation__vaccinate_at"' in first
    assert 'name="child.name"' not in first  # the form comes after the answers
    bad = client.get("/bundles/newborn/apply/?situation__settle_here=也许")
    assert bad.status_code == 422 and "的回答应为：是、否" in bad.content.decode()

    query = "situation__settle_here=否&situation__vaccinate_at=外地"
    page = client.get(f"/bundles/newborn/apply/?{query}").content.decode()
    assert 'name="item1__hospital"' in page and 'name="item3__hospital"' not in page
    assert "分别办理 1 个工作日 → 一件事 1 个工作日" in page
    assert "按您的情形无需办理" in page and "出生户口登记" in page
    assert 'name="situation__settle_here" value="否"' in page
    assert "/bundles/newborn/apply/?edit=1&amp;situation__settle_here=%E5%90%A6" in page  # 否
    again = client.get(f"/bundles/newborn/apply/?edit=1&{query}").content.decode()
    assert 'value="否" required checked' in again and 'name="child.name"' not in again

    every_item = [str(pk) for pk in situated["bundle"].items.values_list("pk", flat=True)]
    response = client.post(
        "/bundles/newborn/apply/",
        {
            **{k: v for k, v in _form(situated).items() if k != "item3__hospital"},
            "situation__settle_here": "否",
            "situation__vaccinate_at": "外地",
            "items": every_item,  # a client-sent item list is never used
            "submission_token": "web-s",
            "material_B01": SimpleUploadedFile("id.pdf", f.PDF, "application/pdf"),
        },
    )
    assert response.status_code == 302
    bundle_case = BundleCase.objects.get()
    assert [c.case.item.name for c in bundle_case.children.select_related("case__item")] == [
        "出生医学证明签发"
    ]
    mine = client.get(response["Location"]).content.decode()
    assert "新生儿是否在本市落户？否" in mine and "预防接种证办理" in mine


def test_guide_recomputes_the_promised_time_for_the_answers(
    situated: dict[str, Any],  # noqa: F811
) -> None:
    full = Client().get("/bundles/newborn/").content.decode()
    assert "分别办理 5 个工作日 → 一件事 4 个工作日" in full and "情形引导" in full
    answered = Client().get(
        "/bundles/newborn/?situation__settle_here=否&situation__vaccinate_at=本市",
        HTTP_HX_REQUEST="true",
    )
    text = answered.content.decode()
    assert answered.status_code == 200
    assert "分别办理 2 个工作日 → 一件事 1 个工作日" in text
    assert 'id="bundle-not-applicable"' in text and "城乡居民医保参保登记" in text
    assert "/bundles/newborn/apply/?situation__settle_here=" in text


def test_prefill_on_the_bundle_form(shared_bundle: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, shared_bundle["citizen"])
    page = client.get("/bundles/shared/apply/").content.decode()
    assert "同意授权并自动填写" in page and "人口库" in page
    assert "各事项的办理部门" in page and "仅用于本次一件事所含事项的申请" in page
    filled = client.post(
        "/bundles/shared/apply/", {"action": "prefill", "submission_token": "web-p"}
    ).content.decode()
    assert 'value="李明"' in filled and "已通过人口库核验" in filled
    assert "已通过人口库核验，无需上传" in filled  # 居民身份证: 零材料
    assert 'name="use_shared_data" value="1"' in filled
    response = client.post(
        "/bundles/shared/apply/",
        {
            "use_shared_data": "1",
            "submission_token": "web-p",
            "item1__reason": "开店",
            "item2__reason": "开店",
            "person.name": "李明",
        },
    )
    assert response.status_code == 302, response.content.decode()
    bundle_case = BundleCase.objects.get()
    for child in bundle_case.children.select_related("case"):
        records = DataUseRecord.objects.filter(case_id=str(child.case.pk))
        # the lookup made on submission is tied to the child case (as on the single-item
        # form; the lookup that only filled the page stays in the applicant's record)
        assert records.count() == 1
        assert records.get().purpose == child.case.item.implementation_code
        assert set(records.values_list("case_number", flat=True)) == {child.case.case_number}
        assert not child.case.application.materials.exists()


def test_enterprise_agent_applies_on_the_bundle_form(
    shared_bundle: dict[str, Any],  # noqa: F811
) -> None:
    client = Client()
    _login(client, shared_bundle["agent"])
    uscc = shared_bundle["uscc"]
    page = client.get("/bundles/company_exit/apply/").content.decode()
    assert "企业经办人：示例科技有限公司" in page and f'value="{uscc}" checked' in page
    response = client.post(
        "/bundles/company_exit/apply/",
        {"enterprise": uscc, "action": "prefill", "submission_token": "web-e"},
    )
    assert 'value="示例科技有限公司"' in response.content.decode()
    response = client.post(
        "/bundles/company_exit/apply/",
        {
            "enterprise": uscc,
            "use_shared_data": "1",
            "submission_token": "web-e",
            "enterprise.name": "示例科技有限公司",
            "enterprise.uscc": uscc,
        },
    )
    assert response.status_code == 302, response.content.decode()
    bundle_case = BundleCase.objects.get()
    assert bundle_case.enterprise is not None and bundle_case.enterprise.uscc == uscc
    assert {c.case.application.applicant_id_number for c in bundle_case.children.all()} == {uscc}
    outsider = Client()
    _login(outsider, shared_bundle["citizen"])
    refused = outsider.post(
        "/bundles/company_exit/apply/",
        {"enterprise": uscc, "submission_token": "web-x", "enterprise.name": "x"},
    )
    assert refused.status_code == 422 and BundleCase.objects.count() == 1
