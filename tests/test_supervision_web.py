"""Workbench pages of collaboration and supervision."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tongban.cases.models import AssistTask, Case, Handoff, StuckAlert

from . import factories as f
from .test_supervision import at, submit, sv, sweep  # noqa: F401 — sv is a fixture
from .test_web import staff_client

pytestmark = pytest.mark.django_db


def test_supervision_page_lists_counts_and_escalates(sv: dict[str, Any]) -> None:  # noqa: F811
    case = submit(sv, "2026-09-30 10:00")
    sweep("2026-10-08 10:00")
    alert = StuckAlert.objects.get(case=case)
    client = staff_client(sv["city_supervisor"])
    page = client.get("/workbench/supervision/")
    assert page.status_code == 200
    html = page.content.decode()
    assert case.case_number in html and "已提交未受理" in html
    assert 'data-department="广州市公安局"' in html and "升级督办" in html
    filtered = client.get("/workbench/supervision/", {"kind": "deadline_red"}).content.decode()
    assert case.case_number not in filtered
    response = client.post(f"/workbench/supervision/alerts/{alert.pk}/escalate/", {"note": "快"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.level_id == "440000" and alert.escalation_count == 1
    # Department staff see their alert without an escalation button, and may not escalate.
    clerk = staff_client(sv["clerk"])
    html = clerk.get("/workbench/supervision/").content.decode()
    assert case.case_number in html and "升级督办" not in html
    denied = clerk.post(f"/workbench/supervision/alerts/{alert.pk}/escalate/")
    assert denied.status_code == 403
    alert.refresh_from_db()
    assert alert.escalation_count == 1


def test_assist_task_pages(sv: dict[str, Any]) -> None:  # noqa: F811
    case = submit(sv, "2026-09-30 10:00")
    lead = staff_client(sv["clerk"])
    page = lead.get(f"/workbench/cases/{case.pk}/collaboration/")
    assert page.status_code == 200 and "广州市民政局" in page.content.decode()
    created = lead.post(
        f"/workbench/cases/{case.pk}/collaboration/actions/",
        {
            "action": "assist",
            "department_code": sv["civil"].code,
            "request": "请核实婚姻状况",
            "due_days": "2",
            "shared_fields": ["reason"],
        },
    )
    assert created.status_code == 302
    task = AssistTask.objects.get(case=case)
    assert task.shared_fields == ["reason"]
    helper = staff_client(sv["assistant"])
    queue = helper.get("/workbench/assist-tasks/").content.decode()
    assert case.case_number in queue and "未签收" in queue
    detail = helper.get(f"/workbench/assist-tasks/{task.pk}/").content.decode()
    assert "请核实婚姻状况" in detail and "工作调动" in detail
    assert case.application.applicant_id_number not in detail
    assert helper.get(f"/workbench/cases/{case.pk}/").status_code == 404
    assert helper.get(f"/workbench/cases/{case.pk}/collaboration/").status_code == 404
    helper.post(f"/workbench/assist-tasks/{task.pk}/actions/", {"action": "pickup"})
    helper.post(
        f"/workbench/assist-tasks/{task.pk}/actions/", {"action": "done", "answer": "已核实"}
    )
    task.refresh_from_db()
    assert task.status == "done" and task.answer == "已核实"
    assert (
        staff_client(sv["other_region_staff"])
        .get(f"/workbench/assist-tasks/{task.pk}/")
        .status_code
        == 404
    )
    lead_page = lead.get(f"/workbench/cases/{case.pk}/collaboration/").content.decode()
    assert "已核实" in lead_page and 'data-kind="assist_answered"' in lead_page


def test_transfer_from_the_collaboration_page(sv: dict[str, Any]) -> None:  # noqa: F811
    case = submit(sv, "2026-09-30 10:00")
    lead = staff_client(sv["clerk"])
    moved = lead.post(
        f"/workbench/cases/{case.pk}/collaboration/actions/",
        {"action": "transfer", "department_code": sv["shenzhen"].code, "note": "属深圳管辖"},
    )
    assert moved.status_code == 302 and moved["Location"] == "/workbench/"
    assert Case.objects.get(pk=case.pk).department == sv["shenzhen"]
    receiver = staff_client(f.staff(sv["shenzhen"], ["intake"]))
    page = receiver.get(f"/workbench/cases/{case.pk}/collaboration/").content.decode()
    assert "接收转办" in page
    receiver.post(f"/workbench/cases/{case.pk}/collaboration/actions/", {"action": "pickup"})
    assert Handoff.objects.get(case=case, kind="case_transferred").picked_up_at is not None


def test_pages_need_a_staff_login(sv: dict[str, Any]) -> None:  # noqa: F811
    for path in ("/workbench/supervision/", "/workbench/assist-tasks/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/workbench/login/" in response["Location"]
