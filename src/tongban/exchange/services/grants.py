"""共享授权: a department asks the owning department for elements for a purpose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django_fsm import can_proceed

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.identity.models import Department, StaffRole
from tongban.identity.selectors import Actor

from ..conf import exchange_setting
from ..models import (
    Grant,
    GrantStatus,
)
from .cache import exchange_cache_clear
from .catalog import element_names, elements_by_code, purpose_elements

GRANT_ROLES: set[str] = {StaffRole.ADMIN, StaffRole.DECISION}


def staff_with_role(actor: Actor, roles: set[str], what: str) -> Any:
    staff = actor.staff
    if staff is None or not (set(staff.roles) & roles):
        raise PermissionDenied("grant_role_required", f"{what}需要管理或决定岗位权限")
    return staff


@transaction.atomic
def grant_request(
    *,
    actor: Actor,
    purpose: str,
    elements: Sequence[str],
    reason: str,
    plain_elements: Sequence[str] = (),
) -> Grant:
    """共享申请: the actor's department asks an owner for elements, for one of its own items."""
    staff = staff_with_role(actor, GRANT_ROLES, "申请共享授权")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason_required", "请填写申请理由", fields={"reason": "请填写理由"})
    wanted = list(dict.fromkeys(elements))
    if not wanted:
        raise InvalidInput("elements_required", "请至少选择一个数据元")
    known = elements_by_code(wanted)
    unknown = set(wanted) - set(known)
    if unknown:
        raise InvalidInput("unknown_element", f"资源目录中没有这些数据元：{element_names(unknown)}")
    registries = {element.registry_id for element in known.values()}
    if len(registries) != 1:
        raise InvalidInput("mixed_registries", "一次申请只能针对一个基础库的数据元")
    from tongban.catalog.selectors import item_department_code

    if item_department_code(code=purpose) != staff.department.code:
        raise PermissionDenied("purpose_not_own", "只能为本部门实施的事项申请共享授权")
    extra = set(wanted) - purpose_elements(purpose)
    if extra:
        raise PermissionDenied(
            "not_minimum_necessary",
            f"超出最小必要范围：事项的申请表和材料未声明 {element_names(extra)}",
        )
    plain = [code for code in dict.fromkeys(plain_elements)]
    if set(plain) - set(wanted):
        raise InvalidInput("plain_not_requested", "需明文的数据元必须在申请的数据元之内")
    grant = Grant.objects.create(
        department=staff.department,
        registry_id=registries.pop(),
        purpose=purpose,
        elements=wanted,
        plain_elements=plain,
        reason=reason[:2000],
        requested_by=actor.label,
        requested_at=clock.now(),
    )
    audit_record_append(
        actor=actor.label,
        action="exchange.grant.request",
        object_type="grant",
        object_id=str(grant.pk),
        detail={"purpose": purpose, "elements": wanted},
    )
    return grant


@transaction.atomic
def grant_decide(
    *,
    actor: Actor,
    grant_id: int,
    approve: bool,
    note: str = "",
    expires_at: datetime | None = None,
) -> Grant:
    """The owning department approves (with an expiry) or refuses (with a reason)."""
    staff = staff_with_role(actor, GRANT_ROLES, "审批共享授权")
    grant = (
        Grant.objects.select_for_update()
        .select_related("registry")
        .filter(pk=grant_id, registry__department=staff.department)
        .first()
    )
    if grant is None:
        raise NotFound("grant_not_found", "共享申请不存在")
    if not can_proceed(grant.approve):
        from tongban.core.errors import Conflict

        raise Conflict("grant_decided", f"该申请已{grant.get_status_display()}，不能重复审批")
    note = note.strip()
    now = clock.now()
    if approve:
        expires_at = expires_at or now + timedelta(days=int(exchange_setting("GRANT_DAYS")))
        if expires_at <= now:
            raise InvalidInput("expiry_in_past", "有效期必须晚于当前时间")
        grant.approve()
        grant.expires_at = expires_at
    else:
        if not note:
            raise InvalidInput("note_required", "拒绝须填写理由", fields={"note": "请填写拒绝理由"})
        grant.refuse()
    grant.decided_by, grant.decided_at, grant.decision_note = actor.label, now, note[:2000]
    transaction.on_commit(exchange_cache_clear)
    grant.save(update_fields=["status", "expires_at", "decided_by", "decided_at", "decision_note"])
    audit_record_append(
        actor=actor.label,
        action="exchange.grant.approve" if approve else "exchange.grant.refuse",
        object_type="grant",
        object_id=str(grant.pk),
        detail={"purpose": grant.purpose},
    )
    return grant


def granted_elements(*, department: Department, purpose: str) -> set[str]:
    """Elements the department may use for the purpose now (approved, unexpired grants)."""
    granted: set[str] = set()
    for elements in Grant.objects.filter(
        department=department,
        purpose=purpose,
        status=GrantStatus.APPROVED,
        expires_at__gt=clock.now(),
    ).values_list("elements", flat=True):
        granted.update(elements)
    return granted
