from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema


class MaterialIn(Schema):
    material_code: str = Field(max_length=20)
    filename: str = Field(max_length=200)
    content_base64: str = Field(description="文件内容 (base64)")


class ApplicationIn(Schema):
    item_code: str = Field(max_length=31, description="实施编码")
    form: dict[str, Any] = {}
    materials: list[MaterialIn] = Field(default=[], max_length=50)
    enterprise_uscc: str | None = Field(default=None, description="以企业经办人身份申请时填写")


class ResubmissionIn(Schema):
    form: dict[str, Any] = {}
    materials: list[MaterialIn] = Field(default=[], max_length=50)


class TransitionIn(Schema):
    action: str = Field(
        description="accept | reject | request_correction | start_review | approve | deny "
        "| complete"
    )
    comment: str = ""
    expected_version: int | None = Field(default=None, description="乐观锁：办件的 version")


class TimelineEntryOut(Schema):
    action: str
    label: str
    to_status: str
    actor_role: str
    comment: str
    occurred_at: datetime


class MaterialSubmissionOut(Schema):
    id: int
    material_code: str
    material_name: str
    content_type: str
    size: int
    sha256: str
    sm3: str


class CaseOut(Schema):
    id: UUID
    case_number: str
    item_code: str
    item_name: str
    item_version: int
    department: str
    status: str
    status_label: str
    submitted_at: datetime
    accepted_on: date | None
    committed_deadline: date | None
    legal_deadline: date | None
    committed_deadline_is_estimated: bool
    legal_deadline_is_estimated: bool
    deadline_colour: str
    completed_at: datetime | None
    correction_note: str
    version: int


class ApplicantCaseOut(CaseOut):
    form: dict[str, Any]
    materials: list[MaterialSubmissionOut]
    timeline: list[TimelineEntryOut]


class ApplicationOut(Schema):
    id: UUID
    submitted_at: datetime
    cases: list[ApplicantCaseOut]


class QueueEntryOut(CaseOut):
    applicant_name: str = Field(description="脱敏")
    applicant_id_number: str = Field(description="脱敏")


class StaffCaseOut(CaseOut):
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str
    form: dict[str, Any]
    materials: list[MaterialSubmissionOut]
    timeline: list[TimelineEntryOut]
    allowed_actions: list[str]
