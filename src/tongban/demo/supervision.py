"""Demo data for collaboration and supervision: thresholds, a supervisor per province, a few
stuck cases and an assisting task, so the supervision view is not empty. Idempotent.

The stuck cases are synthetic: they are submitted through the ordinary services, then their
waiting start is moved a few working days into the past (the only way a fresh demo can show
a case that has waited), and the sweeps run once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from tongban.cases.deadlines import warning_date
from tongban.cases.models import AssistTask, Case, CaseTransition
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.cases.supervision.collaboration import assist_task_create
from tongban.cases.supervision.services import deadline_warn, stuck_detect, thresholds_seed
from tongban.catalog.formschema import form_fields
from tongban.catalog.models import ServiceItem
from tongban.core import clock
from tongban.core.calendar import Calendar
from tongban.core.errors import DomainError
from tongban.core.models import Division
from tongban.identity.models import Citizen, StaffMember, StaffRole
from tongban.identity.selectors import actor_for_user
from tongban.identity.services import citizen_register, staff_create

from .seed import (
    DATA_BUREAUX,
    DEMO_TOTP_KEY,
    STAFF_PASSWORD,
    DemoAccount,
    data_bureau,
    synthetic_id_number,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SUPERVISORS = {"440000": "gd-supervisor", "330000": "zj-supervisor"}
# (province, idempotency key, working days waited, steps taken)
STUCK_CASES = (
    ("44", "demo-supervision-1", 3, ()),
    ("44", "demo-supervision-2", 5, ("accept", "start_review")),
    ("33", "demo-supervision-3", 2, ()),
)


def _working_days_ago(calendar: Calendar, today: date, days: int) -> date:
    day = today
    counted = 0
    while counted < days:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
    return day


def _form_for(item: ServiceItem, citizen: Citizen) -> dict[str, Any]:
    """A plausible filled form for any item's schema (demo only)."""
    assert item.current_version is not None
    form: dict[str, Any] = {}
    for field in form_fields(item.current_version.form_schema):
        if field.choices:
            form[field.name] = field.choices[0]
        elif field.type == "boolean":
            form[field.name] = True
        elif field.type in ("integer", "number"):
            form[field.name] = field.minimum if field.minimum is not None else 1
        elif field.format == "date":
            form[field.name] = "2026-12-01"
        elif field.format == "id_number":
            form[field.name] = citizen.id_number
        elif field.format == "phone":
            form[field.name] = citizen.phone
        elif field.required and not field.pattern:
            form[field.name] = "演示数据"[: field.max_length or 4]
    return form


def _staff(department_id: int, role: str) -> StaffMember | None:
    return next(
        (m for m in StaffMember.objects.filter(department_id=department_id) if m.has_role(role)),
        None,
    )


def _submit(province: str, key: str, citizen: Citizen) -> Case | None:
    """Submit for the first item of the province the demo citizen can apply for."""
    actor = actor_for_user(citizen.user)
    items = (
        ServiceItem.objects.filter(
            division__code__startswith=province, current_version__isnull=False
        )
        .select_related("current_version", "department")
        .order_by("implementation_code")
    )
    for item in items[:40]:
        if _staff(item.department_id, StaffRole.INTAKE) is None:
            continue
        assert item.current_version is not None
        materials = [
            UploadedMaterial(m["code"], "demo.pdf", PDF)
            for m in item.current_version.materials
            if m["is_mandatory"]
        ]
        try:
            result = application_submit(
                actor=actor,
                item_code=item.implementation_code,
                form_data=_form_for(item, citizen),
                materials=materials,
                idempotency_key=key,
            )
        except DomainError:
            continue
        return result.case if result.created else None
    return None


def _backdate(case: Case, waited: int, calendar: Calendar) -> None:
    """Move the case's history `waited` working days back (synthetic demo data)."""
    zone = timezone.get_current_timezone()
    start_day = _working_days_ago(calendar, clock.today(), waited)
    start = datetime.combine(start_day, time(10, 0), zone)
    steps = list(case.transitions.order_by("occurred_at", "id"))
    for index, step in enumerate(steps):
        CaseTransition.objects.filter(pk=step.pk).update(
            occurred_at=start + timedelta(minutes=30 * index)
        )
    Case.objects.filter(pk=case.pk).update(submitted_at=start)
    if case.accepted_on is not None:
        limit = case.item_version.committed_limit_days
        Case.objects.filter(pk=case.pk).update(
            accepted_on=start_day,
            committed_deadline=calendar.add_working_days(start_day, limit).day,
            warning_on=warning_date(calendar, start_day, limit),
        )


def _supervisors() -> list[DemoAccount]:
    accounts = []
    user_model = get_user_model()
    for division, body, name, _ in DATA_BUREAUX:
        username = SUPERVISORS[division]
        bureau = data_bureau(division, body, name)
        if not user_model.objects.filter(username=username).exists():
            staff_create(
                username=username,
                password=STAFF_PASSWORD,
                real_name=f"{name[:8]}督办员",
                department=bureau,
                scope=Division.objects.get(code=division),
                roles=[StaffRole.SUPERVISE],
                totp_key=DEMO_TOTP_KEY,
            )
        accounts.append(
            DemoAccount("督办 supervisor", username, STAFF_PASSWORD, "/workbench/supervision/")
        )
    return accounts


STUCK_APPLICANT_PHONE = "13700137000"


@transaction.atomic
def seed_supervision() -> list[DemoAccount]:
    """Thresholds, supervisors, stuck cases and an assisting task (idempotent)."""
    thresholds_seed()
    accounts = _supervisors()
    # The stuck cases belong to a synthetic applicant of their own, so the demo citizen's
    # 我的办件 starts empty (and the walkthrough in the README stays simple).
    citizen = Citizen.objects.filter(phone=STUCK_APPLICANT_PHONE).first()
    if citizen is None:
        citizen = citizen_register(
            real_name="赵敏",
            id_number=synthetic_id_number("440104", date(1978, 6, 2), 357),
            phone=STUCK_APPLICANT_PHONE,
            password=None,
        )
    calendar = Calendar.load()
    for province, key, waited, steps in STUCK_CASES:
        case = _submit(province, key, citizen)
        if case is None:
            continue
        for action in steps:
            role = StaffRole.INTAKE if action == "accept" else StaffRole.REVIEW
            handler = _staff(case.department_id, role)
            if handler is None:
                break
            case = case_transition(
                actor=actor_for_user(handler.user), case_id=case.pk, action=action
            )
        _backdate(Case.objects.select_related("item_version").get(pk=case.pk), waited, calendar)
        if steps and not AssistTask.objects.filter(case=case).exists():
            _request_assistance(case)
    stuck_detect()
    deadline_warn()
    return accounts


def _request_assistance(case: Case) -> None:
    """An assisting task to another department of the province, created a day ago (so it is
    waiting to be picked up)."""
    lead = _staff(case.department_id, StaffRole.REVIEW)
    candidates = (
        StaffMember.objects.filter(department__division__code__startswith=case.division_code[:2])
        .exclude(department_id=case.department_id)
        .select_related("department")
        .order_by("department__name", "pk")
    )
    other = next((m for m in candidates if m.has_role(StaffRole.INTAKE)), None)
    if lead is None or other is None:
        return
    task = assist_task_create(
        actor=actor_for_user(lead.user),
        case_id=case.pk,
        department_code=other.department.code,
        request="请协助核实申请人提交的相关信息（演示）",
        due_days=3,
    )
    day = _working_days_ago(Calendar.load(), clock.today(), 1)
    created = datetime.combine(day, time(10, 0), timezone.get_current_timezone())
    AssistTask.objects.filter(pk=task.pk).update(created_at=created)
