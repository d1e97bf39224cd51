"""Collaboration (协办, 转办) and supervision (中梗阻, deadline warnings, escalation), with a
frozen clock across the 2026 National Day and Spring Festival holidays."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from tongban.cases.models import (
    AlertEscalation,
    AlertKind,
    AssistTask,
    Case,
    CaseStatus,
    Handoff,
    HandoffKind,
    StuckAlert,
    StuckThreshold,
)
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.cases.supervision import services as supervision
from tongban.cases.supervision.collaboration import (
    assist_task_answer,
    assist_task_create,
    assist_task_pick_up,
    case_transfer,
)
from tongban.cases.supervision.services import (
    alert_escalate,
    deadline_warn,
    office_hours_between,
    office_time_cutoff,
    stuck_detect,
)
from tongban.core.audit import audit_verify
from tongban.core.calendar import Calendar
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import AuditRecord
from tongban.identity.models import StaffRole

from . import factories as f
from .conftest import bearer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def submit(world: dict[str, Any], when: str, item: Any = None) -> Case:
    with time_machine.travel(at(when), tick=False):
        return application_submit(
            actor=world["citizen"],
            item_code=(item or world["item"]).implementation_code,
            form_data={**f.VALID_FORM, "spouse_id_number": world["spouse_id"]},
            materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
        ).case


def act(actor: Any, case: Case, action: str, when: str, capture: Any) -> Case:
    with time_machine.travel(at(when), tick=False), capture(execute=True):
        return case_transition(actor=actor, case_id=case.pk, action=action, comment="理由")


def sweep(when: str) -> supervision.SweepResult:
    with time_machine.travel(at(when), tick=False):
        return stuck_detect()


def warn(when: str) -> supervision.SweepResult:
    with time_machine.travel(at(when), tick=False):
        return deadline_warn()


def open_alerts(case: Case) -> list[str]:
    return sorted(
        StuckAlert.objects.filter(case=case, closed_at=None).values_list("step_key", flat=True)
    )


@pytest.fixture
def sv(world: dict[str, Any]) -> dict[str, Any]:
    """The world plus supervisors (province and city of Guangdong, Zhejiang) and the
    department that assists (民政局, same city)."""
    from tongban.identity.models import Department

    civil = Department.objects.get(name="广州市民政局")
    gd_office = f.department("440000", "广东省政务服务和数据管理局")
    zj_office = f.department("330000", "浙江省大数据发展管理局")
    city_office = f.department("440100", "广州市政务服务和数据管理局")
    spouse = f.citizen("张三").citizen
    assert spouse is not None
    return {
        **world,
        "spouse_id": spouse.id_number,
        "civil": civil,
        "assistant": world["other_department_staff"],
        "province_supervisor": f.staff(gd_office, [StaffRole.SUPERVISE]),
        "city_supervisor": f.staff(city_office, [StaffRole.SUPERVISE]),
        "zj_supervisor": f.staff(zj_office, [StaffRole.SUPERVISE]),
        "shenzhen": f.department("440300", "深圳市公安局"),
    }


# ---------------------------------------------------------------- office time


class TestOfficeTime:
    def test_cutoff_skips_the_national_day_week(self, world: dict[str, Any]) -> None:
        calendar = Calendar.load()
        # 8 office hours back from Thursday 8 Oct 10:00: 1 h that morning, then the holiday
        # week (1–7 Oct) counts nothing, then 7 h on Wednesday 30 Sep back to 10:00.
        assert office_time_cutoff(calendar, at("2026-10-08 10:00"), 8) == at("2026-09-30 10:00")
        # During the holiday the cut-off does not move past the last working afternoon.
        assert office_time_cutoff(calendar, at("2026-10-05 12:00"), 4) == at("2026-09-30 13:00")

    def test_cutoff_counts_a_makeup_saturday(self, world: dict[str, Any]) -> None:
        calendar = Calendar.load()
        # Saturday 10 Oct 2026 is a 调休 working day; Sunday 11 Oct is not.
        assert office_time_cutoff(calendar, at("2026-10-11 20:00"), 2) == at("2026-10-10 15:00")

    def test_hours_between_matches_cutoff(self, world: dict[str, Any]) -> None:
        calendar = Calendar.load()
        start = at("2026-09-30 10:00")
        assert office_hours_between(calendar, start, at("2026-10-08 10:00")) == 8.0
        assert office_hours_between(calendar, start, at("2026-10-07 23:00")) == 7.0


# ---------------------------------------------------------------- stuck detection


class TestStuckDetection:
    def test_submitted_case_turns_stuck_on_the_right_working_day(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        assert sweep("2026-09-30 16:59").raised == 0
        assert sweep("2026-10-05 12:00").raised == 0  # National Day: no office time passes
        assert sweep("2026-10-08 09:59").raised == 0  # 7 h 59 min of office time
        assert sweep("2026-10-08 10:00").raised == 1
        alert = StuckAlert.objects.get(case=case)
        assert alert.kind == AlertKind.STUCK
        assert alert.step_key == "status:submitted"
        assert alert.step_label == "已提交未受理"
        assert alert.department == sv["department"]
        assert alert.level_id == "440100"
        assert alert.waiting_since == at("2026-09-30 10:00")

    def test_office_hours_setting_changes_when_a_step_becomes_stuck(
        self, sv: dict[str, Any], settings: Any
    ) -> None:
        # Submitted before the office opens on Tuesday 10 Nov 2026 (an ordinary working day).
        case = submit(sv, "2026-11-10 08:00")
        # Default office hours 09:00–17:00: one working day = 8 h, all of them on Tuesday.
        assert sweep("2026-11-10 16:59").raised == 0
        assert sweep("2026-11-10 17:00").raised == 1
        StuckAlert.objects.filter(case=case).delete()

        # An office open 07:00–15:00: Tuesday gives 7 h after 08:00, the 8th is Wednesday's.
        settings.TONGBAN = {
            **settings.TONGBAN,
            "SUPERVISION": {"OFFICE_OPENS": "07:00", "OFFICE_CLOSES": "15:00"},
        }
        assert supervision.office_hours() == (time(7, 0), time(15, 0))
        assert sweep("2026-11-10 17:00").raised == 0
        assert sweep("2026-11-11 07:59").raised == 0
        assert sweep("2026-11-11 08:00").raised == 1
        assert StuckAlert.objects.get(case=case).waiting_since == at("2026-11-10 08:00")

    def test_a_longer_office_day_is_one_working_day(self, settings: Any) -> None:
        settings.TONGBAN = {
            **settings.TONGBAN,
            "SUPERVISION": {"OFFICE_OPENS": "08:30", "OFFICE_CLOSES": "17:30"},
        }
        assert supervision.hours_per_working_day() == 9.0
        assert supervision.threshold_hours(2, "working_days") == 18.0
        settings.TONGBAN = {**settings.TONGBAN, "SUPERVISION": {"OFFICE_OPENS": "18:00"}}
        with pytest.raises(ImproperlyConfigured):
            supervision.office_hours()

    def test_detection_is_deduplicated(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        assert sweep("2026-10-08 10:00").raised == 1
        assert sweep("2026-10-08 11:00").raised == 0
        assert sweep("2026-10-09 10:00").raised == 0
        assert StuckAlert.objects.filter(case=case).count() == 1

    def test_alert_closes_when_the_case_moves_on_and_next_step_is_watched(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        case = submit(sv, "2026-09-30 10:00")
        sweep("2026-10-08 10:00")
        act(sv["clerk"], case, "accept", "2026-10-08 11:00", django_capture_on_commit_callbacks)
        alert = StuckAlert.objects.get(case=case, step_key="status:submitted")
        assert alert.closed_at == at("2026-10-08 11:00")
        assert alert.close_reason == "办件已进入下一环节"
        # accepted waits 1 working day for review to start: stuck from Friday 9 Oct 11:00.
        assert sweep("2026-10-09 10:59").raised == 0
        assert sweep("2026-10-09 11:00").raised == 1
        assert open_alerts(case) == ["status:accepted"]

    def test_alert_closes_in_the_transaction_of_the_step(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        sweep("2026-10-08 10:00")
        # No on-commit capture here: nothing waits for commit, the close is part of the step.
        with time_machine.travel(at("2026-10-08 11:00"), tick=False):
            case_transition(actor=sv["clerk"], case_id=case.pk, action="accept")
        assert open_alerts(case) == []

    def test_sweep_closes_alerts_left_open(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        sweep("2026-10-08 10:00")
        with time_machine.travel(at("2026-10-08 11:00"), tick=False):
            case_transition(actor=sv["clerk"], case_id=case.pk, action="accept")
        # An alert still open on a case that moved on (closed after commit before ADR 0019).
        StuckAlert.objects.filter(case=case).update(closed_at=None, close_reason="")
        assert open_alerts(case) == ["status:submitted"]
        result = sweep("2026-10-08 12:00")
        assert result.closed == 1
        assert open_alerts(case) == []

    def test_threshold_is_configurable(self, sv: dict[str, Any]) -> None:
        StuckThreshold.objects.filter(step="submitted").update(amount=2, unit="working_hours")
        case = submit(sv, "2026-09-30 10:00")
        assert sweep("2026-09-30 11:59").raised == 0
        assert sweep("2026-09-30 12:00").raised == 1
        StuckThreshold.objects.filter(step="under_review").update(is_active=False)
        assert "under_review" not in supervision.thresholds_active()
        assert open_alerts(case) == ["status:submitted"]

    def test_under_review_threshold_is_three_working_days_across_spring_festival(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        case = submit(sv, "2026-02-12 09:00")
        act(sv["clerk"], case, "accept", "2026-02-12 09:30", django_capture_on_commit_callbacks)
        reviewer = sv["reviewer"]
        act(reviewer, case, "start_review", "2026-02-13 10:00", django_capture_on_commit_callbacks)
        # Office time: Fri 13 Feb 10–17 (7 h), Sat 14 Feb 调休 (8 h), then 15–23 Feb off,
        # Tue 24 Feb 8 h → 23 h; the 24th hour passes on Wed 25 Feb at 10:00.
        assert sweep("2026-02-20 12:00").raised == 0
        assert sweep("2026-02-25 09:59").raised == 0
        assert sweep("2026-02-25 10:00").raised == 1
        assert open_alerts(case) == ["status:under_review"]

    def test_correction_requested_waits_on_the_applicant_not_the_department(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        case = submit(sv, "2026-09-30 10:00")
        act(
            sv["clerk"],
            case,
            "request_correction",
            "2026-09-30 11:00",
            django_capture_on_commit_callbacks,
        )
        assert sweep("2026-10-20 10:00").raised == 0


# ---------------------------------------------------------------- deadline warnings


class TestDeadlineWarnings:
    def test_colours_across_national_day(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        # Committed limit 5 working days from Wed 30 Sep: 8, 9, 10 (调休 Sat), 12, 13 Oct.
        case = submit(sv, "2026-09-30 09:00")
        case = act(
            sv["clerk"], case, "accept", "2026-09-30 09:30", django_capture_on_commit_callbacks
        )
        assert case.committed_deadline == date(2026, 10, 13)
        assert case.warning_on == date(2026, 10, 12)  # ⌈0.8 × 5⌉ = 4 working days
        for day in ("2026-10-01", "2026-10-07", "2026-10-10", "2026-10-11"):
            assert warn(f"{day} 08:00").raised == 0, day
        assert warn("2026-10-12 00:30").raised == 1
        yellow = StuckAlert.objects.get(case=case, kind=AlertKind.DEADLINE_YELLOW)
        assert yellow.waiting_since == at("2026-10-12 00:00")
        assert warn("2026-10-13 12:00").raised == 0  # still yellow, not raised twice
        assert warn("2026-10-14 00:30").raised == 1
        yellow.refresh_from_db()
        assert yellow.closed_at is not None and yellow.close_reason == "已转为红灯"
        assert open_alerts(case) == ["deadline:red"]
        assert warn("2026-10-15 09:00").raised == 0

    def test_colours_across_spring_festival(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        item = f.item(sv["department"], committed=3)
        case = submit(sv, "2026-02-13 09:00", item=item)
        case = act(
            sv["clerk"], case, "accept", "2026-02-13 09:30", django_capture_on_commit_callbacks
        )
        # 14 Feb (调休 Sat), then the festival (15–23 Feb), 24 and 25 Feb.
        assert case.committed_deadline == date(2026, 2, 25)
        for day in ("2026-02-14", "2026-02-18", "2026-02-23", "2026-02-24"):
            assert warn(f"{day} 12:00").raised == 0, day
        assert warn("2026-02-25 08:00").raised == 1
        assert open_alerts(case) == ["deadline:yellow"]
        assert warn("2026-02-26 08:00").raised == 1
        assert open_alerts(case) == ["deadline:red"]

    def test_deadline_alerts_close_when_the_clock_stops(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        capture = django_capture_on_commit_callbacks
        case = submit(sv, "2026-09-30 09:00")
        act(sv["clerk"], case, "accept", "2026-09-30 09:30", capture)
        warn("2026-10-14 09:00")
        act(sv["reviewer"], case, "start_review", "2026-10-14 09:10", capture)
        assert open_alerts(case) == ["deadline:red"]  # still running
        act(sv["reviewer"], case, "approve", "2026-10-14 09:20", capture)
        assert open_alerts(case) == []
        assert warn("2026-10-15 09:00").raised == 0


# ---------------------------------------------------------------- escalation


class TestEscalation:
    def _alert(self, sv: dict[str, Any]) -> StuckAlert:
        case = submit(sv, "2026-09-30 10:00")
        sweep("2026-10-08 10:00")
        return StuckAlert.objects.get(case=case)

    def test_escalates_one_level_at_a_time_recorded_and_audited(self, sv: dict[str, Any]) -> None:
        alert = self._alert(sv)
        alert = alert_escalate(actor=sv["city_supervisor"], alert_id=alert.pk, note="请加快")
        assert alert.level_id == "440000"
        assert alert.escalation_count == 1
        with pytest.raises(Conflict) as above:
            alert_escalate(actor=sv["city_supervisor"], alert_id=alert.pk)
        assert above.value.code == "alert_above_scope"
        alert = alert_escalate(actor=sv["province_supervisor"], alert_id=alert.pk)
        assert alert.level_id == "000000"
        with pytest.raises(Conflict) as beyond:
            alert_escalate(actor=sv["province_supervisor"], alert_id=alert.pk)
        assert beyond.value.code == "alert_above_scope"
        national = f.staff(f.department("000000", "国务院办公厅电子政务办公室"), ["supervise"])
        with pytest.raises(Conflict) as top:
            alert_escalate(actor=national, alert_id=alert.pk)
        assert top.value.code == "alert_at_top"
        steps = list(
            AlertEscalation.objects.filter(alert=alert).values_list(
                "from_level_id", "to_level_id", "note"
            )
        )
        assert steps == [("440100", "440000", "请加快"), ("440000", "000000", "")]
        audited = AuditRecord.objects.filter(action="supervision.escalate", object_id=str(alert.pk))
        assert audited.count() == 2
        assert audit_verify().ok

    def test_only_supervisors_in_scope_may_escalate(self, sv: dict[str, Any]) -> None:
        alert = self._alert(sv)
        with pytest.raises(PermissionDenied):
            alert_escalate(actor=sv["reviewer"], alert_id=alert.pk)
        with pytest.raises(NotFound):
            alert_escalate(actor=sv["zj_supervisor"], alert_id=alert.pk)
        alert.refresh_from_db()
        assert alert.level_id == "440100" and alert.escalation_count == 0
        assert not AlertEscalation.objects.exists()

    def test_closed_alert_cannot_be_escalated(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        alert = self._alert(sv)
        act(
            sv["clerk"],
            alert.case,
            "accept",
            "2026-10-08 11:00",
            django_capture_on_commit_callbacks,
        )
        with pytest.raises(Conflict) as closed:
            alert_escalate(actor=sv["province_supervisor"], alert_id=alert.pk)
        assert closed.value.code == "alert_closed"


# ---------------------------------------------------------------- assisting tasks


class TestAssistTasks:
    def _task(self, sv: dict[str, Any], case: Case, when: str = "2026-09-30 11:00") -> AssistTask:
        with time_machine.travel(at(when), tick=False):
            return assist_task_create(
                actor=sv["clerk"],
                case_id=case.pk,
                department_code=sv["civil"].code,
                request="请核实申请人婚姻登记信息",
                due_days=2,
                shared_fields=["reason", "spouse_id_number"],
            )

    def test_full_flow_records_every_handoff(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        task = self._task(sv, case)
        assert task.due_on == date(2026, 10, 9)  # 2 working days after 30 Sep
        assert task.lead_department == sv["department"]
        with time_machine.travel(at("2026-10-08 09:30"), tick=False):
            assist_task_pick_up(actor=sv["assistant"], task_id=task.pk)
            assist_task_pick_up(actor=sv["assistant"], task_id=task.pk)  # no second record
        with time_machine.travel(at("2026-10-08 10:00"), tick=False):
            assist_task_answer(
                actor=sv["assistant"], task_id=task.pk, outcome="done", answer="婚姻登记信息属实"
            )
        task.refresh_from_db()
        assert task.status == "done" and task.answer == "婚姻登记信息属实"
        assert task.picked_up_at == at("2026-10-08 09:30")
        handoffs = list(
            Handoff.objects.filter(case=case).values_list(
                "kind", "from_department__name", "to_department__name"
            )
        )
        assert handoffs == [
            (HandoffKind.ASSIST_REQUESTED, "广州市公安局", "广州市民政局"),
            (HandoffKind.ASSIST_PICKED_UP, "广州市公安局", "广州市民政局"),
            (HandoffKind.ASSIST_ANSWERED, "广州市民政局", "广州市公安局"),
        ]
        steps = list(case.transitions.values_list("action", "to_status", "comment"))
        assert steps[1:] == [
            ("assist_request", "submitted", "请广州市民政局协办"),
            ("assist_pick_up", "submitted", "广州市民政局已签收"),
            ("assist_answer", "submitted", "广州市民政局已答复"),
        ]
        actions = set(
            AuditRecord.objects.filter(object_id=str(case.pk)).values_list("action", flat=True)
        )
        assert {"case.assist_request", "case.assist_pick_up", "case.assist_answer"} <= actions
        case = Case.objects.get(pk=case.pk)  # FSM-protected status: no refresh_from_db
        assert case.status == CaseStatus.SUBMITTED and case.version == 0

    def test_refusals_change_nothing(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        with pytest.raises(InvalidInput) as own:
            assist_task_create(
                actor=sv["clerk"],
                case_id=case.pk,
                department_code=sv["department"].code,
                request="x",
                due_days=1,
            )
        assert own.value.code == "assist_own_department"
        with pytest.raises(InvalidInput) as unknown:
            assist_task_create(
                actor=sv["clerk"],
                case_id=case.pk,
                department_code=sv["civil"].code,
                request="x",
                due_days=1,
                shared_fields=["no_such_field"],
            )
        assert unknown.value.code == "shared_field_unknown"
        with pytest.raises(NotFound):  # not the lead's case
            assist_task_create(
                actor=sv["other_region_staff"],
                case_id=case.pk,
                department_code=sv["civil"].code,
                request="x",
                due_days=1,
            )
        assert not AssistTask.objects.exists() and not Handoff.objects.exists()
        self._task(sv, case)
        with pytest.raises(Conflict) as twice:
            self._task(sv, case)
        assert twice.value.code == "assist_task_open"
        assert AssistTask.objects.count() == 1

    def test_assisting_staff_see_the_task_not_the_case(
        self, sv: dict[str, Any], api: Client
    ) -> None:
        case = submit(sv, "2026-09-30 10:00")
        task = self._task(sv, case)
        helper = bearer(sv["assistant"])
        queue = api.get("/api/v1/collaboration/assist-tasks", **helper)
        assert queue.status_code == 200
        assert [row["id"] for row in queue.json()["items"]] == [task.pk]
        detail = api.get(f"/api/v1/collaboration/assist-tasks/{task.pk}", **helper)
        assert detail.status_code == 200
        body = detail.json()
        application = case.application
        assert body["case"]["case_number"] == case.case_number
        assert body["case"]["applicant_name"] == "李*"
        assert body["case"]["applicant_id_number"] != application.applicant_id_number
        assert body["case"]["applicant_id_number"].startswith(application.applicant_id_number[:6])
        shared = {row["name"]: row["value"] for row in body["shared_form"]}
        assert shared["reason"] == "工作调动"
        assert "*" in shared["spouse_id_number"] and shared["spouse_id_number"] != sv["spouse_id"]
        assert "move_date" not in shared
        text = detail.content.decode()
        assert application.applicant_id_number not in text and sv["spouse_id"] not in text
        # The whole case stays out of reach.
        assert api.get(f"/api/v1/cases/{case.pk}", **helper).status_code == 404
        assert (
            api.get(f"/api/v1/collaboration/cases/{case.pk}/handoffs", **helper).status_code == 404
        )
        # Other departments and regions do not see the task at all.
        for outsider in ("other_region_staff", "narrow_scope_staff", "clerk"):
            response = api.get(
                f"/api/v1/collaboration/assist-tasks/{task.pk}", **bearer(sv[outsider])
            )
            assert response.status_code == 404, outsider
        citizen = api.get(f"/api/v1/collaboration/assist-tasks/{task.pk}", **bearer(sv["citizen"]))
        assert citizen.status_code == 404

    def test_api_create_answer_and_lead_view(self, sv: dict[str, Any], api: Client) -> None:
        case = submit(sv, "2026-09-30 10:00")
        lead = bearer(sv["clerk"])
        created = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/assist-tasks",
            {"department_code": sv["civil"].code, "request": "请核实", "due_days": 3},
            content_type="application/json",
            **lead,
        )
        assert created.status_code == 201, created.content
        task_id = created.json()["id"]
        refused = api.post(
            f"/api/v1/collaboration/assist-tasks/{task_id}/answer",
            {"outcome": "done", "answer": "x"},
            content_type="application/json",
            **lead,
        )
        assert refused.status_code == 404  # the lead cannot answer for the assisting department
        answered = api.post(
            f"/api/v1/collaboration/assist-tasks/{task_id}/answer",
            {"outcome": "declined", "answer": "非本部门职责"},
            content_type="application/json",
            **bearer(sv["assistant"]),
        )
        assert answered.status_code == 200
        assert answered.json()["status"] == "declined"
        tasks = api.get(f"/api/v1/collaboration/cases/{case.pk}/assist-tasks", **lead).json()
        assert [(t["status"], t["answer"]) for t in tasks] == [("declined", "非本部门职责")]
        handoffs = api.get(f"/api/v1/collaboration/cases/{case.pk}/handoffs", **lead).json()
        # Answering without a pick-up picks it up first.
        assert [h["kind"] for h in handoffs] == [
            "assist_requested",
            "assist_picked_up",
            "assist_answered",
        ]
        again = api.post(
            f"/api/v1/collaboration/assist-tasks/{task_id}/answer",
            {"outcome": "done", "answer": "x"},
            content_type="application/json",
            **bearer(sv["assistant"]),
        )
        assert again.status_code == 409
        timeline = api.get(f"/api/v1/cases/{case.pk}", **lead).json()["timeline"]
        assert [step["label"] for step in timeline][1:] == ["发起协办", "签收协办", "答复协办"]

    def test_pickup_threshold_and_overdue(self, sv: dict[str, Any]) -> None:
        case = submit(sv, "2026-09-30 10:00")
        StuckThreshold.objects.filter(step="submitted").update(is_active=False)
        task = self._task(sv, case, when="2026-09-30 14:00")
        assert sweep("2026-09-30 16:59").raised == 0  # 2 h 59 min of office time
        assert sweep("2026-10-08 09:59").raised == 0  # 3 h 59 min (holiday in between)
        assert sweep("2026-10-08 10:00").raised == 1
        alert = StuckAlert.objects.get(step_key=f"assist:{task.pk}:pickup")
        assert alert.department == sv["department"]  # the lead is told
        assert alert.step_label == "协办任务未签收（广州市民政局）"
        with time_machine.travel(at("2026-10-08 11:30"), tick=False):
            assist_task_pick_up(actor=sv["assistant"], task_id=task.pk)
        alert.refresh_from_db()
        assert alert.closed_at == at("2026-10-08 11:30")
        # Due 9 Oct (2 working days); overdue from 10 Oct.
        assert sweep("2026-10-09 16:00").raised == 0
        assert sweep("2026-10-10 09:00").raised == 1
        assert open_alerts(case) == [f"assist:{task.pk}:overdue"]
        with time_machine.travel(at("2026-10-10 10:00"), tick=False):
            assist_task_answer(actor=sv["assistant"], task_id=task.pk, outcome="done", answer="好")
        assert open_alerts(case) == []


# ---------------------------------------------------------------- transfers (转办)


class TestTransfer:
    def test_transfer_pickup_on_action_and_alert(
        self, sv: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        case = submit(sv, "2026-09-30 10:00")
        shenzhen_clerk = f.staff(sv["shenzhen"], [StaffRole.INTAKE])
        with time_machine.travel(at("2026-09-30 11:00"), tick=False):
            handoff = case_transfer(
                actor=sv["clerk"],
                case_id=case.pk,
                department_code=sv["shenzhen"].code,
                note="属深圳市管辖",
            )
        case = Case.objects.get(pk=case.pk)  # FSM-protected status: no refresh_from_db
        assert case.department == sv["shenzhen"] and case.division_code == "440300"
        assert handoff.kind == HandoffKind.CASE_TRANSFERRED and handoff.picked_up_at is None
        with pytest.raises(NotFound):  # out of the old department's queue
            case_transition(actor=sv["clerk"], case_id=case.pk, action="accept")
        StuckThreshold.objects.filter(step="submitted").update(is_active=False)
        assert sweep("2026-10-08 11:00").raised == 1  # 4 working hours, holiday skipped
        alert = StuckAlert.objects.get(step_key=f"handoff:{handoff.pk}")
        assert alert.department == sv["shenzhen"] and alert.division_code == "440300"
        act(shenzhen_clerk, case, "accept", "2026-10-08 14:00", django_capture_on_commit_callbacks)
        handoff.refresh_from_db()
        assert handoff.picked_up_at == at("2026-10-08 14:00")
        assert Handoff.objects.filter(case=case, kind=HandoffKind.TRANSFER_PICKED_UP).count() == 1
        alert.refresh_from_db()
        assert alert.closed_at is not None

    def test_transfer_limits(self, sv: dict[str, Any], api: Client) -> None:
        case = submit(sv, "2026-09-30 10:00")
        zhejiang = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/transfer",
            {"department_code": sv["other_region_staff"].staff.department.code, "note": "x"},
            content_type="application/json",
            **bearer(sv["clerk"]),
        )
        assert zhejiang.status_code == 422
        assert zhejiang.json()["code"] == "transfer_other_province"
        reviewer = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/transfer",
            {"department_code": sv["shenzhen"].code, "note": "x"},
            content_type="application/json",
            **bearer(sv["reviewer"]),
        )
        assert reviewer.status_code == 403
        case = Case.objects.get(pk=case.pk)  # FSM-protected status: no refresh_from_db
        assert case.department == sv["department"] and not Handoff.objects.exists()
        moved = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/transfer",
            {"department_code": sv["shenzhen"].code, "note": "属深圳市管辖"},
            content_type="application/json",
            **bearer(sv["clerk"]),
        )
        assert moved.status_code == 200
        assert moved.json()["department"] == "深圳市公安局"
        receiver = f.staff(sv["shenzhen"], [StaffRole.INTAKE])
        picked = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/transfer/pickup", **bearer(receiver)
        )
        assert picked.status_code == 200
        assert [h["kind"] for h in picked.json()] == ["case_transferred", "transfer_picked_up"]
        again = api.post(
            f"/api/v1/collaboration/cases/{case.pk}/transfer/pickup", **bearer(receiver)
        )
        assert again.status_code == 409


# ---------------------------------------------------------------- supervision API and view


class TestSupervisionApi:
    def _alerts(self, sv: dict[str, Any]) -> tuple[Case, Case]:
        ours = submit(sv, "2026-09-30 10:00")
        civil_item = f.item(sv["civil"])
        theirs = submit(sv, "2026-09-30 10:00", item=civil_item)
        sweep("2026-10-08 10:00")
        return ours, theirs

    def test_supervisor_sees_all_departments_in_scope(
        self, sv: dict[str, Any], api: Client
    ) -> None:
        ours, theirs = self._alerts(sv)
        response = api.get("/api/v1/supervision/alerts", **bearer(sv["province_supervisor"]))
        assert response.status_code == 200
        rows = response.json()["items"]
        assert {row["case_number"] for row in rows} == {ours.case_number, theirs.case_number}
        assert all(row["can_escalate"] for row in rows)
        assert all(row["age_hours"] >= 24 * 8 for row in rows)  # waiting since 30 Sep
        summary = api.get("/api/v1/supervision/summary", **bearer(sv["province_supervisor"]))
        counts = {row["department"]: (row["stuck"], row["total"]) for row in summary.json()}
        assert counts == {"广州市公安局": (1, 1), "广州市民政局": (1, 1)}
        filtered = api.get(
            "/api/v1/supervision/alerts",
            {"department_id": sv["civil"].pk, "step": "submitted"},
            **bearer(sv["province_supervisor"]),
        ).json()["items"]
        assert [row["case_number"] for row in filtered] == [theirs.case_number]

    def test_department_staff_see_their_own_alerts_only(
        self, sv: dict[str, Any], api: Client
    ) -> None:
        ours, _ = self._alerts(sv)
        rows = api.get("/api/v1/supervision/alerts", **bearer(sv["clerk"])).json()["items"]
        assert [row["case_number"] for row in rows] == [ours.case_number]
        assert rows[0]["can_escalate"] is False
        assert (
            api.get("/api/v1/supervision/alerts", **bearer(sv["zj_supervisor"])).json()["items"]
            == []
        )
        assert api.get("/api/v1/supervision/alerts", **bearer(sv["citizen"])).status_code == 403
        assert api.get("/api/v1/supervision/alerts").status_code == 401

    def test_escalation_endpoint(self, sv: dict[str, Any], api: Client) -> None:
        ours, _ = self._alerts(sv)
        alert = StuckAlert.objects.get(case=ours)
        denied = api.post(
            f"/api/v1/supervision/alerts/{alert.pk}/escalation",
            {"note": "x"},
            content_type="application/json",
            **bearer(sv["clerk"]),
        )
        assert denied.status_code == 403
        done = api.post(
            f"/api/v1/supervision/alerts/{alert.pk}/escalation",
            {"note": "请省局督办"},
            content_type="application/json",
            **bearer(sv["city_supervisor"]),
        )
        assert done.status_code == 200
        assert done.json()["level_code"] == "440000" and done.json()["escalation_count"] == 1
        escalated = api.get(
            "/api/v1/supervision/alerts", {"escalated": True}, **bearer(sv["province_supervisor"])
        ).json()["items"]
        assert [row["id"] for row in escalated] == [alert.pk]
        missing = api.post(
            "/api/v1/supervision/alerts/999999/escalation",
            {},
            content_type="application/json",
            **bearer(sv["city_supervisor"]),
        )
        assert missing.status_code == 404


class TestPeriodicTasks:
    def test_tasks_are_registered_and_run(self, sv: dict[str, Any]) -> None:
        from tongban.cases import tasks
        from tongban.config.celery import app

        app.loader.import_default_modules()
        assert "tongban.cases.stuck_detect" in app.tasks
        assert "tongban.cases.deadline_warn" in app.tasks
        case = submit(sv, "2026-09-30 10:00")
        with time_machine.travel(at("2026-10-08 10:00"), tick=False):
            assert tasks.stuck_detect.apply().get() == {"raised": 1, "closed": 0}
            assert tasks.stuck_detect.apply().get() == {"raised": 0, "closed": 0}
            assert tasks.deadline_warn.apply().get() == {"raised": 0, "closed": 0}
        assert open_alerts(case) == ["status:submitted"]
        sweep_audit = AuditRecord.objects.filter(action="supervision.stuck_detect")
        assert sweep_audit.count() == 1 and sweep_audit.get().detail == {"raised": 1, "closed": 0}
