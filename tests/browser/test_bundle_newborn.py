"""新生儿出生一件事 in the real system Chromium: one form, one set of materials; three
departments (health, disease control, medical insurance) handle their parts in parallel in the
workbench; the household registration waits for the birth certificate and then starts with its
number filled in; the applicant sees one completed bundle."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import FilePayload, Page, expect

from tongban.cases.models import BundleCase, BundleCaseStatus, Case, CaseStatus
from tongban.cases.submission.services import case_transition
from tongban.demo.bundles import seed_bundles
from tongban.demo.seed import DEMO_CITIZEN_PHONE, seed_demo
from tongban.identity.models import Citizen, StaffMember
from tongban.identity.selectors import actor_for_user

from .test_full_flow import act, citizen_login, label, logout, minimal_pdf, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/bundle_completed.png"  # noqa: S108

PARALLEL = {  # item → the department's demo accounts
    "出生医学证明签发": ("bd-health-clerk", "bd-health-reviewer"),
    "预防接种证办理": ("bd-cdc-clerk", "bd-cdc-reviewer"),
    "生育医疗费用报销": ("bd-medical-clerk", "bd-medical-reviewer"),
}


def handle(page: Page, base: str, clerk: str, reviewer: str, case_number: str) -> None:
    """Accept as the clerk; review, approve and complete as the reviewer (the workbench)."""
    staff_login(page, base, clerk)
    row = page.locator(f'tr[data-case="{case_number}"]')
    expect(row).to_contain_text("一件事：新生儿出生一件事")
    row.get_by_role("link", name=case_number).click()
    expect(page.get_by_text("本办件属于一件事")).to_be_visible()
    act(page, "受理", CaseStatus.ACCEPTED)
    logout(page, base)
    staff_login(page, base, reviewer)
    page.locator(f'tr[data-case="{case_number}"]').get_by_role("link", name=case_number).click()
    act(page, "开始审查", CaseStatus.UNDER_REVIEW)
    act(page, "准予许可", CaseStatus.APPROVED)
    act(page, "办结", CaseStatus.COMPLETED)
    logout(page, base)


def by_service(username: str, case: Case, actions: list[str]) -> None:
    actor = actor_for_user(get_user_model().objects.get(username=username))
    for action in actions:
        case_transition(actor=actor, case_id=case.pk, action=action)


def test_newborn_bundle_one_form_parallel_departments(
    live_server: Any, chromium_page: Page
) -> None:
    page = chromium_page
    base = live_server.url
    seed_demo(synthetic_people=0)
    seed_bundles()
    guardian = Citizen.objects.get(phone=DEMO_CITIZEN_PHONE)

    # The guide shows the critical path beside the sum of the separate limits.
    page.goto(f"{base}/bundles/")
    page.get_by_role("link", name="新生儿出生一件事").click()
    expect(page.locator("#critical-path")).to_contain_text(
        "分别办理 9 个工作日 → 一件事 4 个工作日"
    )

    # 情形引导 on the guide: not settling here leaves out the household registration and the
    # two items that need its number, and the promised time shrinks with them.
    for code, answer in (("settle_here", "否"), ("social_card", "否"), ("maternity_claim", "是")):
        page.locator(f"#q-{code}").get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="看看需要办哪些").click()
    expect(page.locator("#bundle-not-applicable")).to_contain_text("出生户口登记")
    expect(page.locator("#critical-path")).to_contain_text(
        "分别办理 5 个工作日 → 一件事 3 个工作日"
    )

    citizen_login(page, base)
    page.goto(f"{base}/bundles/newborn/apply/")
    # First the situation questions (same page), then the form of the items that apply.
    for code in ("settle_here", "social_card", "maternity_claim"):
        page.locator(f"#q-{code}").get_by_label("是", exact=True).check()
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#critical-path")).to_contain_text(
        "分别办理 9 个工作日 → 一件事 4 个工作日"
    )
    values = {
        "新生儿姓名": "李小宝",
        "出生日期": "2026-11-20",
        "出生地点（医疗机构）": "广州市妇女儿童医疗中心",
        "监护人姓名": guardian.real_name,
        "监护人公民身份号码": guardian.id_number,
        "联系电话": DEMO_CITIZEN_PHONE,
        "联系地址": "广州市天河区体育西路1号",
        "收款银行账号（生育医疗费用报销）": "6222020200112233445",
    }
    for title, value in values.items():
        page.get_by_label(label(title, suffix="（必填）")).fill(value)
    for title, choice in (
        ("新生儿性别", "男"),
        ("与新生儿关系", "父亲"),
        ("领卡方式（社会保障卡申领（新生儿））", "邮寄"),
    ):
        page.get_by_label(label(title, suffix="（必填）")).select_option(choice)
    # One set of materials: each asked once although several items need it.
    expect(page.locator('input[type="file"]')).to_have_count(6)
    for name in ("监护人居民身份证", "住院分娩记录", "医疗费用票据", "居民户口簿"):
        pdf = FilePayload(name=f"{name}.pdf", mimeType="application/pdf", buffer=minimal_pdf(name))
        page.get_by_label(label(name, suffix="（必要）")).set_input_files(files=[pdf])
    page.get_by_role("button", name="提交申请").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/me/bundles/[0-9a-f-]{{36}}/$"))
    expect(page.locator("#bundle-status")).to_have_attribute(
        "data-status", BundleCaseStatus.IN_PROGRESS
    )
    bundle_case = BundleCase.objects.get(applicant=guardian.user)
    cases = {
        child.case.item_version.name: child.case
        for child in bundle_case.children.select_related("case__item_version")
    }
    assert len(cases) == 6
    household = cases["出生户口登记"]
    expect(page.locator('tr[data-item="出生户口登记"] [data-status]')).to_have_attribute(
        "data-status", CaseStatus.WAITING
    )
    logout(page, base)

    # The police see the household registration waiting, with nothing to do yet (another
    # clerk of theirs: a TOTP code is accepted once per user and time step).
    other_clerk = (
        StaffMember.objects.filter(department=household.department, user__username__startswith="gz")
        .values_list("user__username", flat=True)
        .order_by("user__username")
        .first()
    )
    assert other_clerk is not None
    staff_login(page, base, other_clerk)
    row = page.locator(f'tr[data-case="{household.case_number}"]')
    expect(row).to_contain_text("待前序事项办结")
    row.get_by_role("link", name=household.case_number).click()
    expect(page.get_by_role("button", name="受理", exact=True)).to_have_count(0)
    logout(page, base)

    # Three departments handle their parts in parallel (all three started at submission).
    assert all(cases[name].status == CaseStatus.SUBMITTED for name in PARALLEL)
    for name, (clerk, reviewer) in PARALLEL.items():
        handle(page, base, clerk, reviewer, cases[name].case_number)

    # The birth certificate is done: the household registration started, its number filled.
    household = Case.objects.get(pk=household.pk)
    assert household.status == CaseStatus.SUBMITTED
    certificate = cases["出生医学证明签发"].case_number
    assert household.application.form_data["birth_certificate_number"] == certificate
    handle(page, base, "bd-police-clerk", "bd-police-reviewer", household.case_number)
    for name, department in (
        ("城乡居民医保参保登记（新生儿）", "medical"),
        ("社会保障卡申领（新生儿）", "hrss"),
    ):
        case = Case.objects.get(pk=cases[name].pk)
        assert case.status == CaseStatus.SUBMITTED
        by_service(f"bd-{department}-clerk", case, ["accept"])
        by_service(f"bd-{department}-reviewer", case, ["start_review", "approve", "complete"])

    # The applicant sees one completed bundle.
    citizen_login(page, base)
    card = page.locator(".bundle-case").filter(has_text="新生儿出生一件事")
    expect(card.locator("[data-status]")).to_have_text("已办结")
    card.get_by_role("link", name="新生儿出生一件事").click()
    expect(page.locator("#bundle-status")).to_have_attribute(
        "data-status", BundleCaseStatus.COMPLETED
    )
    expect(page.locator("#bundle-children [data-status]")).to_have_count(6)
    for cell in page.locator("#bundle-children [data-status]").all():
        expect(cell).to_have_attribute("data-status", CaseStatus.COMPLETED)
    page.screenshot(path=SCREENSHOT, full_page=True)
    bundle_case.refresh_from_db()
    assert bundle_case.status == BundleCaseStatus.COMPLETED
