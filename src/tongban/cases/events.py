"""Events the cases app publishes (after commit)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseSubmitted:
    case_id: str
    item_code: str
    department_code: str


@dataclass(frozen=True)
class CaseStatusChanged:
    case_id: str
    action: str
    from_status: str
    to_status: str
