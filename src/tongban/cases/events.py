"""Events the cases app publishes, recorded with the change that made them true (ADR 0019)."""

from __future__ import annotations

from dataclasses import dataclass

from tongban.core.events import domain_event


@domain_event("cases.case_submitted")
@dataclass(frozen=True)
class CaseSubmitted:
    case_id: str
    item_code: str
    department_code: str


@domain_event("cases.case_status_changed")
@dataclass(frozen=True)
class CaseStatusChanged:
    case_id: str
    action: str
    from_status: str
    to_status: str
