"""Workbench pages of collaboration (协办, 转办) and supervision (督办): thin views over
cases.collaboration and cases.supervision."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tongban.cases.models import AlertKind, StuckStep
from tongban.cases.submission.selectors import case_for_staff
from tongban.cases.supervision import collaboration, presenters, selectors
from tongban.cases.supervision import services as supervision
from tongban.core import clock
from tongban.core.errors import DomainError, NotFound
from tongban.identity.models import Department

from .views import staff_required


def _int(value: str | None, low: int = 0, high: int = 2**31 - 1) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if low <= number <= high else None


def _filters(request: HttpRequest) -> selectors.AlertFilters:
    get = request.GET
    state = get.get("state", "open")
    kind = get.get("kind", "")
    step = get.get("step", "")
    escalated = get.get("escalated", "")
    return selectors.AlertFilters(
        state=state if state in ("open", "closed", "all") else "open",
        kind=kind if kind in AlertKind.values else None,
        step=step if step in StuckStep.values else None,
        department_id=_int(get.get("department"), 1),
        min_age_days=_int(get.get("min_age_days"), 0, 3650),
        escalated={"yes": True, "no": False}.get(escalated),
        q=(get.get("q") or "").replace("\x00", "")[:50] or None,
    )


@require_GET
@staff_required
def supervision_view(request: HttpRequest, actor: Any) -> HttpResponse:
    """督办：中梗阻与超期办件，按部门、等待时长、环节筛选；督办岗位可升级。"""
    staff = actor.staff
    now = clock.now()
    scoped = selectors.alerts_for_staff(staff=staff)
    filters = _filters(request)
    page = Paginator(selectors.alerts_filter(scoped, filters, now=now), 50).get_page(
        request.GET.get("page")
    )
    counts = selectors.alert_counts_by_department(scoped)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/supervision.html",
        {
            "rows": [presenters.alert_row(alert, now, staff) for alert in page],
            "page": page,
            "counts": counts,
            "filters": filters,
            "kinds": AlertKind.choices,
            "steps": StuckStep.choices,
            "departments": [(row["department_id"], row["department"]) for row in counts],
            "is_supervisor": selectors.is_supervisor(staff),
            "query": query.urlencode(),
        },
    )


@require_POST
@staff_required
def alert_escalate_view(request: HttpRequest, actor: Any, alert_id: int) -> HttpResponse:
    try:
        alert = supervision.alert_escalate(
            actor=actor, alert_id=alert_id, note=request.POST.get("note", "")
        )
    except NotFound:
        raise
    except DomainError as error:
        if error.status == 403:
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, f"已升级至{alert.level.name}督办")
    return redirect("web:supervision")


@require_GET
@staff_required
def assist_task_list(request: HttpRequest, actor: Any) -> HttpResponse:
    """协办任务：本部门收到的协办请求。"""
    tasks = selectors.assist_tasks_for_staff(staff=actor.staff).order_by("-status", "due_on", "id")
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/supervision_assist_tasks.html",
        {"page": page, "rows": [presenters.assist_task_row(task) for task in page]},
    )


@require_GET
@staff_required
def assist_task_detail(request: HttpRequest, actor: Any, task_id: int) -> HttpResponse:
    task = selectors.assist_task_for_staff(staff=actor.staff, task_id=task_id)
    return render(
        request, "web/supervision_assist_task.html", {"task": presenters.assist_task_view(task)}
    )


@require_POST
@staff_required
def assist_task_act(request: HttpRequest, actor: Any, task_id: int) -> HttpResponse:
    """签收 or 答复 (done / declined) from the task page."""
    action = request.POST.get("action", "")
    try:
        if action == "pickup":
            collaboration.assist_task_pick_up(actor=actor, task_id=task_id)
            messages.success(request, "已签收")
        else:
            collaboration.assist_task_answer(
                actor=actor,
                task_id=task_id,
                outcome=action,
                answer=request.POST.get("answer", ""),
            )
            messages.success(request, "已答复")
    except NotFound:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("web:assist_task_detail", task_id=task_id)


def _other_departments(case: Any) -> list[Department]:
    """Departments a lead may ask or transfer to: the same province, not itself."""
    return list(
        Department.objects.filter(division__code__startswith=case.division_code[:2])
        .exclude(pk=case.department_id)
        .order_by("division_id", "name")[:200]
    )


@require_GET
@staff_required
def case_collaboration(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    """主办部门：办件的协办任务、交接记录，发起协办与转办。"""
    case = case_for_staff(staff=actor.staff, case_id=case_id)
    tasks = selectors.assist_tasks_for_case(staff=actor.staff, case_id=case.pk)
    handoffs = selectors.handoffs_for_case(staff=actor.staff, case_id=case.pk)
    properties = case.item_version.form_schema.get("properties", {})
    return render(
        request,
        "web/supervision_case.html",
        {
            "case": case,
            "tasks": [presenters.assist_task_row(task) for task in tasks],
            "handoffs": [presenters.handoff_row(handoff) for handoff in handoffs],
            "departments": _other_departments(case),
            "fields": [(name, spec.get("title", name)) for name, spec in properties.items()],
            "can_transfer": case.status in collaboration.TRANSFERABLE
            and "intake" in actor.staff.roles,
            "awaiting_pickup": case.handoffs.filter(
                kind="case_transferred", picked_up_at=None, to_department=case.department_id
            ).exists(),
        },
    )


@require_POST
@staff_required
def case_collaboration_act(request: HttpRequest, actor: Any, case_id: str) -> HttpResponse:
    """发起协办 / 转办 / 接收转办 from the case's collaboration page."""
    action = request.POST.get("action", "")
    post = request.POST
    target = post.get("department_code", "")[:18]
    try:
        if action == "assist":
            collaboration.assist_task_create(
                actor=actor,
                case_id=case_id,
                department_code=target,
                request=post.get("request", ""),
                due_days=_int(post.get("due_days"), 0, 1000) or 0,
                shared_fields=[name[:100] for name in post.getlist("shared_fields")][:100],
            )
            messages.success(request, "已发起协办")
        elif action == "transfer":
            collaboration.case_transfer(
                actor=actor, case_id=case_id, department_code=target, note=post.get("note", "")
            )
            messages.success(request, "已转办")
            return redirect("web:queue")
        elif action == "pickup":
            collaboration.transfer_pick_up(actor=actor, case_id=case_id)
            messages.success(request, "已接收转办")
        else:
            messages.error(request, "未知的操作")
    except NotFound:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("web:case_collaboration", case_id=case_id)
