"""Collaboration (协办, 转办) and supervision (督办) API."""

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from tongban.core import clock
from tongban.core.pagination import MappedQuerySet
from tongban.core.schemas import Pagination, error_responses, text
from tongban.identity.auth import request_actor

from .. import errors
from ..models import AlertKind
from . import collaboration, presenters, selectors
from . import services as supervision

collaboration_router = Router(tags=["collaboration"])
supervision_router = Router(tags=["supervision"])


# ---------------------------------------------------------------- schemas


class AssistTaskIn(Schema):
    department_code: str = text(18, description="协办部门的统一社会信用代码")
    request: str = text(2000, description="请协办部门办理或答复的事项")
    due_days: int = Field(3, ge=1, le=60, description="协办时限（工作日）")
    shared_fields: list[str] = Field(
        default=[], max_length=100, description="与协办部门共享的申请表字段名"
    )


class AssistAnswerIn(Schema):
    outcome: Literal["done", "declined"] = Field(description="done 已办结 | declined 退回")
    answer: str = text(2000, description="协办意见或退回理由")


class TransferIn(Schema):
    department_code: str = text(18, description="接收部门的统一社会信用代码（限本省）")
    note: str = text(2000, description="转办理由")


class EscalationIn(Schema):
    note: str = text(2000, "", description="督办意见")


class AssistTaskOut(Schema):
    id: int
    case_id: UUID
    case_number: str
    lead_department: str
    department: str
    request: str
    shared_fields: list[str]
    due_days: int
    due_on: date
    status: str
    status_label: str
    created_at: datetime
    picked_up_at: datetime | None
    answered_at: datetime | None
    answer: str


class AssistCaseOut(Schema):
    """The case as the assisting department sees it: a summary, the applicant masked."""

    case_number: str
    item_name: str
    lead_department: str
    status: str
    status_label: str
    submitted_at: datetime
    committed_deadline: date | None
    applicant_name: str = Field(description="脱敏")
    applicant_id_number: str = Field(description="脱敏")


class SharedFieldOut(Schema):
    name: str
    title: str
    value: Any = None


class AssistTaskDetailOut(AssistTaskOut):
    case: AssistCaseOut
    shared_form: list[SharedFieldOut]


class HandoffOut(Schema):
    id: int
    kind: str
    kind_label: str
    from_department: str
    to_department: str
    assist_task_id: int | None
    note: str
    occurred_at: datetime
    picked_up_at: datetime | None


class TransferOut(Schema):
    case_id: UUID
    case_number: str
    department: str
    handoff: HandoffOut


class StuckAlertOut(Schema):
    id: int
    case_id: UUID
    case_number: str
    item_name: str
    department_id: int
    department: str
    kind: str
    kind_label: str
    step: str
    step_label: str
    case_status: str
    waiting_since: datetime
    age_hours: int
    raised_at: datetime
    level_code: str
    level_name: str
    escalation_count: int
    closed_at: datetime | None
    close_reason: str
    can_escalate: bool


class DepartmentCountOut(Schema):
    department_id: int
    department: str
    stuck: int
    red: int
    yellow: int
    assist_overdue: int
    escalated: int
    total: int


class StuckAlertFilterIn(Schema):
    state: Literal["open", "closed", "all"] = "open"
    kind: AlertKind | None = None
    step: str | None = text(24, None, description="环节：submitted、under_review、assist_pickup …")
    department_id: int | None = Field(None, ge=1, le=2**31 - 1)
    min_age_days: int | None = Field(None, ge=0, le=3650, description="至少等待的自然日")
    escalated: bool | None = None
    q: str | None = text(50, None, description="按办件编号查找")

    def to_filters(self) -> selectors.AlertFilters:
        return selectors.AlertFilters(**self.dict())


# ---------------------------------------------------------------- collaboration


@collaboration_router.post(
    "/cases/{case_id}/assist-tasks",
    response={201: AssistTaskOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def assist_task_create(
    request: HttpRequest, case_id: UUID, payload: AssistTaskIn
) -> Status[dict[str, Any]]:
    """发起协办（主办部门工作人员）。同一部门有未答复的协办任务时 409。"""
    task = collaboration.assist_task_create(
        actor=request_actor(request),
        case_id=case_id,
        department_code=payload.department_code,
        request=payload.request,
        due_days=payload.due_days,
        shared_fields=payload.shared_fields,
    )
    return Status(201, presenters.assist_task_row(task))


@collaboration_router.get(
    "/cases/{case_id}/assist-tasks",
    response={200: list[AssistTaskOut], **error_responses(401, 404, 422)},
)
def assist_tasks_of_case(request: HttpRequest, case_id: UUID) -> list[dict[str, Any]]:
    """办件的协办任务（主办部门视角）。"""
    tasks = selectors.assist_tasks_for_case(staff=request_actor(request).staff, case_id=case_id)
    return [presenters.assist_task_row(task) for task in tasks]


@collaboration_router.get(
    "/cases/{case_id}/handoffs",
    response={200: list[HandoffOut], **error_responses(401, 404, 422)},
)
def handoffs_of_case(request: HttpRequest, case_id: UUID) -> list[dict[str, Any]]:
    """办件的交接记录（协办发起、签收、答复；转办、接收）。"""
    handoffs = selectors.handoffs_for_case(staff=request_actor(request).staff, case_id=case_id)
    return [presenters.handoff_row(handoff) for handoff in handoffs]


@collaboration_router.post(
    "/cases/{case_id}/transfer",
    response={200: TransferOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def case_transfer(request: HttpRequest, case_id: UUID, payload: TransferIn) -> dict[str, Any]:
    """转办：把未受理的办件转给本省其他部门（受理岗位）。"""
    handoff = collaboration.case_transfer(
        actor=request_actor(request),
        case_id=case_id,
        department_code=payload.department_code,
        note=payload.note,
    )
    case = handoff.case
    return {
        "case_id": case.pk,
        "case_number": case.case_number,
        "department": handoff.to_department.name,
        "handoff": presenters.handoff_row(handoff),
    }


@collaboration_router.post(
    "/cases/{case_id}/transfer/pickup",
    response={200: list[HandoffOut], **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def transfer_pick_up(request: HttpRequest, case_id: UUID) -> list[dict[str, Any]]:
    """接收转办（接收部门）。"""
    actor = request_actor(request)
    collaboration.transfer_pick_up(actor=actor, case_id=case_id)
    handoffs = selectors.handoffs_for_case(staff=actor.staff, case_id=case_id)
    return [presenters.handoff_row(handoff) for handoff in handoffs]


@collaboration_router.get(
    "/assist-tasks", response={200: list[AssistTaskOut], **error_responses(401, 403, 422)}
)
@paginate(Pagination)
def assist_task_queue(request: HttpRequest) -> Any:
    """本部门收到的协办任务（协办部门视角，未答复的在前）。"""
    tasks = selectors.assist_tasks_for_staff(staff=request_actor(request).staff)
    return MappedQuerySet(tasks.order_by("-status", "due_on", "id"), presenters.assist_task_row)


@collaboration_router.get(
    "/assist-tasks/{task_id}",
    response={200: AssistTaskDetailOut, **error_responses(401, 403, 404, 422)},
)
def assist_task_detail(request: HttpRequest, task_id: int) -> dict[str, Any]:
    """协办任务详情：办件摘要（个人信息脱敏）与主办部门共享的申请表字段。"""
    task = selectors.assist_task_for_staff(staff=request_actor(request).staff, task_id=task_id)
    return presenters.assist_task_view(task)


@collaboration_router.post(
    "/assist-tasks/{task_id}/pickup",
    response={200: AssistTaskOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def assist_task_pick_up(request: HttpRequest, task_id: int) -> dict[str, Any]:
    """签收协办任务。"""
    task = collaboration.assist_task_pick_up(actor=request_actor(request), task_id=task_id)
    return presenters.assist_task_row(task)


@collaboration_router.post(
    "/assist-tasks/{task_id}/answer",
    response={200: AssistTaskOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def assist_task_answer(
    request: HttpRequest, task_id: int, payload: AssistAnswerIn
) -> dict[str, Any]:
    """答复协办任务：办结（done）或退回（declined）。"""
    task = collaboration.assist_task_answer(
        actor=request_actor(request),
        task_id=task_id,
        outcome=payload.outcome,
        answer=payload.answer,
    )
    return presenters.assist_task_row(task)


# ---------------------------------------------------------------- supervision


def _staff(request: HttpRequest) -> Any:
    staff = request_actor(request).staff
    if staff is None:
        raise errors.STAFF_REQUIRED.error(what=errors.ALERTS)
    return staff


@supervision_router.get(
    "/alerts", response={200: list[StuckAlertOut], **error_responses(401, 403, 422)}
)
@paginate(Pagination)
def alert_list(request: HttpRequest, filters: Query[StuckAlertFilterIn]) -> Any:
    """督办提醒：中梗阻、协办超期、黄灯、红灯（督办岗位看辖区内所有部门，其他工作人员看本部门）。"""
    staff = _staff(request)
    now = clock.now()
    alerts = selectors.alerts_filter(
        selectors.alerts_for_staff(staff=staff), filters.to_filters(), now=now
    )
    return MappedQuerySet(alerts, lambda alert: presenters.alert_row(alert, now, staff))


@supervision_router.get(
    "/summary", response={200: list[DepartmentCountOut], **error_responses(401, 403, 422)}
)
def alert_summary(request: HttpRequest) -> list[dict[str, Any]]:
    """各部门未关闭的督办提醒数。"""
    return selectors.alert_counts_by_department(selectors.alerts_for_staff(staff=_staff(request)))


@supervision_router.post(
    "/alerts/{alert_id}/escalation",
    response={200: StuckAlertOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
)
def alert_escalate(request: HttpRequest, alert_id: int, payload: EscalationIn) -> dict[str, Any]:
    """督办升级：把提醒提交上一级区划督办（督办岗位）。"""
    actor = request_actor(request)
    alert = supervision.alert_escalate(actor=actor, alert_id=alert_id, note=payload.note)
    return presenters.alert_row(alert, clock.now(), actor.staff)
