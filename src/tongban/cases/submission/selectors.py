"""Case reads, always scoped: staff to their department and region subtree, applicants to
their own applications. Anything outside the scope is 'not found' (404), never 'forbidden'."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import F, QuerySet

from tongban.core.errors import NotFound
from tongban.core.ids import uuid_or_not_found
from tongban.identity.models import StaffMember

from .. import errors
from ..deadlines import filter_by_colour
from ..models import Case, CaseStatus


def case_uuid(value: Any) -> UUID:
    return uuid_or_not_found(value, errors.CASE_NOT_FOUND)


def cases_for_staff(*, staff: StaffMember) -> QuerySet[Case]:
    return Case.objects.filter(
        department_id=staff.department_id, division_code__startswith=staff.scope.subtree_prefix
    ).select_related("item", "item_version", "application", "department")


def case_for_staff(*, staff: StaffMember, case_id: Any, lock: bool = False) -> Case:
    cases = cases_for_staff(staff=staff)
    if lock:
        cases = cases.select_for_update(of=("self",))
    case = cases.filter(pk=case_uuid(case_id)).first()
    if case is None:
        raise errors.CASE_NOT_FOUND.error()
    return case


def cases_for_applicant(*, user: Any) -> QuerySet[Case]:
    return Case.objects.filter(application__applicant=user).select_related(
        "item", "item_version", "application", "department"
    )


def case_for_applicant(*, user: Any, case_id: Any) -> Case:
    case = cases_for_applicant(user=user).filter(pk=case_uuid(case_id)).first()
    if case is None:
        raise errors.CASE_NOT_FOUND.error()
    return case


def queue_filter(
    cases: QuerySet[Case],
    *,
    today: date,
    status: str | None = None,
    colour: str | None = None,
    q: str | None = None,
) -> QuerySet[Case]:
    """A staff queue's filters, in the database; most urgent deadline first."""
    if status:
        cases = cases.filter(status=status)
    if colour:
        cases = filter_by_colour(cases, colour, today)
    if q:
        cases = cases.filter(case_number__icontains=q.strip()[:50])
    return cases.order_by(F("committed_deadline").asc(nulls_last=True), "submitted_at")


CLOSED_STATUSES = {CaseStatus.REJECTED, CaseStatus.COMPLETED}


def case_state_for_department(case_id: str, department_id: int) -> str | None:
    """ "open" or "closed" for a case of this department; None when it has no such case."""
    try:
        key = case_uuid(case_id)
    except NotFound:
        return None
    # Asked on every exchange lookup: plain SQL on the primary key, no ORM compilation.
    table = connection.ops.quote_name(Case._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {table} WHERE id = %s AND department_id = %s",  # noqa: S608
            [Case._meta.pk.get_db_prep_value(key, connection), department_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return "closed" if row[0] in CLOSED_STATUSES else "open"
