from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema

from tongban.core.schemas import text

ELEMENT_CODE = r"^[a-z][a-z_]*\.[a-z][a-z0-9_]*$"


class ElementOut(Schema):
    code: str
    name: str
    registry: str
    registry_name: str
    owner_department: str
    owner_department_code: str
    level: str
    level_label: str
    masked_by_default: bool
    freshness_hours: int


class LookupIn(Schema):
    subject: str = text(18, description="公民身份号码或统一社会信用代码")
    elements: list[str] = Field(..., min_length=1, max_length=20)
    purpose: str = text(40, description="用途：事项实施编码")
    case_id: str = text(64, "", description="关联办件（在办）")
    plain: bool = Field(False, description="用途确需明文（须在授权中批准）")


class LookupOut(Schema):
    record_id: int
    registry: str
    found: bool
    values: dict[str, Any]
    masked: dict[str, bool]
    updated_at: datetime | None
    is_fresh: bool


class RegistryVerificationIn(Schema):
    subject: str = text(18)
    questions: dict[str, str] = Field(
        ..., min_length=1, max_length=20, description='如 {"person.marital_status": "已婚"}'
    )
    purpose: str = text(40)
    case_id: str = text(64, "")


class RegistryVerificationOut(Schema):
    record_id: int
    registry: str
    found: bool
    matches: dict[str, bool]


class GrantIn(Schema):
    purpose: str = text(40)
    elements: list[str] = Field(..., min_length=1, max_length=20)
    plain_elements: list[str] = Field(default=[], max_length=20)
    reason: str = text(2000)


class GrantDecisionIn(Schema):
    approve: bool
    note: str = text(2000, "")
    expires_at: datetime | None = None


class GrantOut(Schema):
    id: int
    department: str
    registry: str
    owner_department: str
    purpose: str
    elements: list[str]
    plain_elements: list[str]
    reason: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str
    expires_at: datetime | None


class ConsentIn(Schema):
    purpose: str = text(40)
    elements: list[str] | None = Field(None, max_length=20)
    enterprise_uscc: str | None = text(18, None)


class ConsentOut(Schema):
    id: int
    purpose: str
    elements: list[str]
    given_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    is_active: bool


class DataUseOut(Schema):
    id: int
    occurred_at: datetime
    kind: str
    kind_label: str
    department: str
    registry: str
    elements: list[str]
    element_names: list[str]
    purpose: str
    case_number: str
    outcome: str
    outcome_label: str
    refusal_message: str


class AlertOut(Schema):
    id: int
    rule: str
    rule_label: str
    caller: str
    department: str
    raised_at: datetime
    evidence: dict[str, Any]
    acknowledged_at: datetime | None


class AvailabilityOut(Schema):
    registry: str
    department: str
    lookups: int
    fresh_answers: int
    share: float


class PrefillIn(Schema):
    item_code: str = text(31)
    enterprise_uscc: str | None = text(18, None)


class DerivedMaterialOut(Schema):
    code: str
    name: str
    registry: str


class PrefillOut(Schema):
    values: dict[str, Any]
    verified_fields: dict[str, str]
    derived_materials: list[DerivedMaterialOut]
    unavailable: dict[str, str]
