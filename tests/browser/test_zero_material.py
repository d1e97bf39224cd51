"""零材料 through the real system Chromium: the demo citizen applies for a demo item whose
materials are all derivable, consents to prefill, uploads nothing, and then finds the lookup
in 我的数据使用记录; the clerk sees "已通过人口库核验" instead of a document."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tongban.cases.models import Case
from tongban.catalog.models import ServiceItem
from tongban.core.audit import audit_verify
from tongban.demo.seed import DEMO_CITIZEN_PHONE, seed_demo
from tongban.exchange.models import DataUseRecord, LookupKind, LookupOutcome

from .test_full_flow import citizen_login, logout, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZERO_MATERIAL_ITEM = "11330000MB990006432442124127000"  # 开具个人所得税纳税记录
SCREENSHOT = "/tmp/zero_material.png"  # noqa: S108


def test_zero_upload_application_via_prefill_and_data_use_record(
    live_server: Any, chromium_page: Page
) -> None:
    page = chromium_page
    base = live_server.url
    seed_demo(synthetic_people=0)
    item = ServiceItem.objects.select_related("current_version", "department").get(
        implementation_code=ZERO_MATERIAL_ITEM
    )
    mandatory = [m for m in item.current_version.materials if m["is_mandatory"]]
    assert mandatory and all(m["elements"] for m in mandatory)

    # 1. Consent and prefill: fields filled from the population registry, no upload needed.
    citizen_login(page, base)
    page.goto(f"{base}/items/{ZERO_MATERIAL_ITEM}/apply/")
    shared = page.locator("#shared-data")
    expect(shared).to_contain_text("人口库")
    expect(shared).to_contain_text("广州市公安局")  # the owner of the data (一数一源)
    expect(shared).to_contain_text(f"授权“{item.current_version.name}”的办理部门")
    expect(shared).to_contain_text("仅用于本事项的申请")
    page.get_by_role("button", name="同意授权并自动填写").click()
    expect(page.locator("#shared-data-status")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^\s*纳税人姓名"))).to_have_value("李明")
    expect(page.locator("#v_taxpayer_name")).to_have_text("已通过人口库核验")
    for material in mandatory:
        block = page.locator(f"#material-{material['code']}")
        expect(block).to_contain_text("已通过人口库核验，无需上传")
        expect(block.locator("input[type=file]")).to_have_count(0)
    page.get_by_label(re.compile(r"^\s*税款所属期起")).fill("2026-01-01")
    page.get_by_label(re.compile(r"^\s*税款所属期止")).fill("2026-06-30")
    page.get_by_role("button", name="提交申请").click()

    # 2. Submitted with zero uploads; the case page says what the registry verified.
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/me/cases/[0-9a-f-]{{36}}/$"))
    case = Case.objects.select_related("application").get(
        application__applicant__username=DEMO_CITIZEN_PHONE
    )
    expect(page.get_by_role("status")).to_contain_text(case.case_number)
    expect(page.locator("li.shared-data").first).to_contain_text("居民身份证：已通过人口库核验")
    assert case.application.materials.count() == 0
    assert case.application.form_data["taxpayer_name"] == "李明"

    # 3. The lookup is in the citizen's data-use record, tied to the case.
    page.get_by_role("link", name="我的数据使用记录").click()
    expect(page).to_have_url(f"{base}/me/data-use/")
    row = page.locator("tr.data-use-row").filter(has_text=case.case_number)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(item.department.name)
    expect(row).to_contain_text("人口库")
    expect(row).to_contain_text("公民身份号码")
    expect(row).to_contain_text("已返回")
    page.screenshot(path=SCREENSHOT, full_page=True)
    logout(page, base)

    # 4. The department's clerk sees the verification instead of a document.
    staff_login(page, base, _clerk_for(item))
    page.goto(f"{base}/workbench/cases/{case.pk}/")
    expect(page.locator("li.shared-data")).to_contain_text("已通过人口库核验")

    records = DataUseRecord.objects.filter(case_id=str(case.pk))
    assert {(r.kind, r.outcome) for r in records} == {(LookupKind.PREFILL, LookupOutcome.ANSWERED)}
    assert audit_verify().ok


def _clerk_for(item: ServiceItem) -> str:
    from tongban.identity.models import StaffMember, StaffRole

    for member in StaffMember.objects.filter(department=item.department).select_related("user"):
        if member.has_role(StaffRole.INTAKE):
            return str(member.user.username)
    raise AssertionError("the item's department has no clerk")
