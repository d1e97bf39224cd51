"""The whole 申请 → 受理 → 审查 → 决定 → 办结 flow, driven through the real system Chromium.

A citizen applies online (every form field, every mandatory material), the department's clerk
accepts, its reviewer reviews, approves and completes, and the citizen sees the completed case
with its full timeline. The database is checked at the end: status, history, audit chain.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import pytest
from django_otp.oath import totp
from playwright.sync_api import FilePayload, Page, expect

from tongban.cases.models import Case, CaseStatus
from tongban.catalog.formschema import FieldSpec, form_fields
from tongban.catalog.models import ServiceItem
from tongban.core.audit import audit_verify
from tongban.core.ids import synthetic_id_number, synthetic_uscc
from tongban.demo.seed import (
    CITIZEN_PASSWORD,
    DEMO_CITIZEN_PHONE,
    DEMO_TOTP_KEY,
    STAFF_PASSWORD,
    seed_demo,
)
from tongban.identity.models import StaffMember, StaffRole

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots for a human to judge that the pages also *look* right.
QUEUE_SCREENSHOT = "/tmp/queue.png"  # noqa: S108
COMPLETED_SCREENSHOT = "/tmp/completed.png"  # noqa: S108
TIMELINE = ["提交申请", "受理", "开始审查", "准予许可", "办结"]


def minimal_pdf(tag: str) -> bytes:
    """A tiny but well-formed one-page PDF (content sniffing needs the %PDF magic)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    body = b"%PDF-1.4\n% " + tag.encode() + b"\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return body


# ---------------------------------------------------------------- choosing the item and values


def field_value(spec: FieldSpec) -> Any:
    """A valid value for one form field, or None when the test cannot make one up."""
    if spec.type == "boolean":
        return True
    if spec.choices:
        return spec.choices[0]
    if spec.type in {"integer", "number"}:
        low = spec.minimum if spec.minimum is not None else 1
        if low <= 0:
            low = 1 if spec.maximum is None or spec.maximum >= 1 else spec.maximum
        value: float = math.ceil(low) if spec.type == "integer" else low
        if spec.maximum is not None:
            value = min(value, spec.maximum)
        return str(int(value)) if spec.type == "integer" else f"{value:g}"
    if spec.pattern:
        return None  # free-form patterns (licence plates, VINs...) are not generated
    by_format = {
        "date": "2026-12-01",
        "id_number": synthetic_id_number("440106", date(1992, 5, 17), 35),
        "phone": "13912345678",
        "email": "li.ming@example.com",
        "uscc": synthetic_uscc("440101", "MA59DEMX1"),
    }
    if spec.format:
        return by_format.get(spec.format)
    text = "浏览器测试填写内容" * 4
    length = min(len(text), spec.max_length or len(text))
    length = max(length, spec.min_length or 0)
    return (text * (length // len(text) + 1))[:length]


def handlers_for(item: ServiceItem) -> tuple[str, str] | None:
    """(clerk username, reviewer username) of the item's department whose scope covers it."""
    staff = list(
        StaffMember.objects.filter(department=item.department).select_related("user", "scope")
    )
    covering = [s for s in staff if item.division_id.startswith(s.scope.subtree_prefix)]
    clerk = next(
        (s for s in covering if StaffRole.INTAKE in s.roles and s.user.username.endswith("-clerk")),
        None,
    )
    reviewer = next(
        (
            s
            for s in covering
            if {StaffRole.REVIEW, StaffRole.DECISION} <= set(s.roles)
            and s.user.username.endswith("-reviewer")
        ),
        None,
    )
    if clerk is None or reviewer is None:
        return None
    return clerk.user.username, reviewer.user.username


def choose_item() -> tuple[ServiceItem, list[tuple[FieldSpec, Any]], tuple[str, str]]:
    """A published citizen item the test can fill in completely; prefer the richest form."""
    candidates = []
    for item in ServiceItem.objects.filter(
        is_published=True, current_version__isnull=False
    ).select_related("current_version", "department"):
        if "citizen" not in (item.service_objects or ["citizen"]):
            continue
        specs = form_fields(item.current_version.form_schema)
        values = [(spec, field_value(spec)) for spec in specs]
        if any(value is None and spec.required for spec, value in values):
            continue
        handlers = handlers_for(item)
        if handlers is None:
            continue
        filled = [(spec, value) for spec, value in values if value is not None]
        kinds = {spec.format or ("enum" if spec.choices else spec.type) for spec, _ in filled}
        # Formats (date, id_number...) count twice: they exercise the server-side validators.
        score = len(kinds) + len({spec.format for spec, _ in filled if spec.format})
        candidates.append((-score, item.implementation_code, item, filled, handlers))
    assert candidates, "no demo item served to citizens can be filled in by this test"
    _, _, item, filled, handlers = min(candidates, key=lambda c: (c[0], c[1]))
    return item, filled, handlers


# ---------------------------------------------------------------- page helpers


def label(text: str, *, suffix: str) -> re.Pattern[str]:
    """A field's label: its title, then optionally the '*' and the '（必填）'/'（必要）' hint."""
    return re.compile(rf"^\s*{re.escape(text)}\s*(\*\s*)?({re.escape(suffix)})?\s*$")


def citizen_login(page: Page, base: str) -> None:
    page.goto(f"{base}/login/")
    card = page.locator(".card").filter(has=page.get_by_role("heading", name="密码登录"))
    card.get_by_label("手机号码").fill(DEMO_CITIZEN_PHONE)
    card.get_by_label("密码").fill(CITIZEN_PASSWORD)
    card.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base}/me/cases/")
    expect(page.get_by_role("heading", name="我的办件", level=1)).to_be_visible()


def staff_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/workbench/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(STAFF_PASSWORD)
    page.get_by_label("动态验证码").fill(f"{totp(bytes.fromhex(DEMO_TOTP_KEY)):06d}")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base}/workbench/")
    expect(page.get_by_role("heading", name="工作台 · 待办办件")).to_be_visible()


def logout(page: Page, base: str) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_role("link", name="登录")).to_be_visible()


def open_from_queue(page: Page, case_number: str) -> None:
    page.get_by_role("row").filter(has_text=case_number).get_by_role(
        "link", name=case_number
    ).click()
    expect(page.get_by_text(f"办件编号：{case_number}")).to_be_visible()


def act(page: Page, label_text: str, status: str) -> None:
    """Click one action button on the staff case page and wait for the new status."""
    page.get_by_role("button", name=label_text, exact=True).click()
    expect(page.locator("#case-status")).to_have_attribute("data-status", status)
    expect(page.get_by_role("status")).to_contain_text(f"已{label_text}")


# ---------------------------------------------------------------- the flow


def test_full_flow_apply_accept_review_approve_complete(
    live_server: Any, chromium_page: Page
) -> None:
    page = chromium_page
    base = live_server.url
    seed_demo(synthetic_people=0)
    item, filled, (clerk, reviewer) = choose_item()
    version = item.current_version
    mandatory = [m for m in version.materials if m["is_mandatory"]]

    # 1. The citizen signs in with a password, reads the guide and applies online.
    citizen_login(page, base)
    page.goto(f"{base}/items/{item.implementation_code}/")
    expect(page.get_by_role("heading", name=version.name, level=1)).to_be_visible()
    page.get_by_role("link", name="在线申请").click()
    expect(page).to_have_url(f"{base}/items/{item.implementation_code}/apply/")
    for spec, value in filled:
        field = page.get_by_label(label(spec.title, suffix="（必填）"))
        if spec.type == "boolean":
            field.check()
        elif spec.choices:
            field.select_option(str(value))
        else:
            field.fill(str(value))
    assert mandatory, f"{item.implementation_code} has no mandatory material"
    for material in mandatory:
        pdf = FilePayload(
            name=f"{material['code']}.pdf",
            mimeType="application/pdf",
            buffer=minimal_pdf(material["code"]),
        )
        page.get_by_label(label(material["name"], suffix="（必要）")).set_input_files(files=[pdf])
    page.get_by_role("button", name="提交申请").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/me/cases/[0-9a-f-]{{36}}/$"))
    expect(page.locator("#case-status")).to_have_text("已提交")
    expect(page.locator("#case-status")).to_have_attribute("data-status", CaseStatus.SUBMITTED)
    case = Case.objects.get(application__applicant__username=DEMO_CITIZEN_PHONE)
    expect(page.get_by_role("status")).to_contain_text(f"申请已提交，办件编号 {case.case_number}")
    logout(page, base)

    # 2. The clerk sees the case, masked, in the queue; the detail page shows the full name.
    staff_login(page, base, clerk)
    row = page.locator(f'tr[data-case="{case.case_number}"]')
    expect(row).to_contain_text("李*")
    expect(row).not_to_contain_text("李明")
    expect(row).to_contain_text("已提交")
    page.screenshot(path=QUEUE_SCREENSHOT, full_page=True)
    open_from_queue(page, case.case_number)
    expect(page.get_by_role("cell", name="李明", exact=True)).to_be_visible()
    act(page, "受理", CaseStatus.ACCEPTED)
    logout(page, base)

    # 3. The reviewer reviews, approves and completes.
    staff_login(page, base, reviewer)
    expect(page.locator(f'tr[data-case="{case.case_number}"]')).to_contain_text("已受理")
    open_from_queue(page, case.case_number)
    act(page, "开始审查", CaseStatus.UNDER_REVIEW)
    act(page, "准予许可", CaseStatus.APPROVED)
    act(page, "办结", CaseStatus.COMPLETED)
    # Nothing is left to do: the action form (its heading "办理") is gone.
    expect(page.get_by_role("heading", name="办理", exact=True)).to_have_count(0)
    logout(page, base)

    # 4. The citizen finds the case completed, with the whole history.
    citizen_login(page, base)
    card = page.locator(".card").filter(has_text=case.case_number)
    expect(card.locator("[data-status]")).to_have_text("已办结")
    card.get_by_role("link", name=version.name).click()
    expect(page).to_have_url(f"{base}/me/cases/{case.pk}/")
    expect(page.locator("#case-status")).to_have_attribute("data-status", CaseStatus.COMPLETED)
    expect(page.locator("#case-status")).to_have_text("已办结")
    expect(page.get_by_role("list", name="办理进度").locator("li > strong")).to_have_text(TIMELINE)
    page.screenshot(path=COMPLETED_SCREENSHOT, full_page=True)

    # 5. The database agrees, and the audit chain is intact.
    case = Case.objects.get(pk=case.pk)  # status is a protected FSMField: no refresh_from_db()
    assert case.status == CaseStatus.COMPLETED
    assert case.transitions.count() == len(TIMELINE)
    assert list(
        case.transitions.order_by("occurred_at", "id").values_list("action", flat=True)
    ) == ["submit", "accept", "start_review", "approve", "complete"]
    assert case.application.materials.count() == len(mandatory)
    assert audit_verify().ok
