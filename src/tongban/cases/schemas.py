from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import AfterValidator

from tongban.core.schemas import text

# The most form fields an application form has (the form schema decides which are valid).
MAX_FORM_FIELDS = 100


def _valid_unicode(form: dict[str, Any]) -> dict[str, Any]:
    """Refuse text that is not Unicode (a lone surrogate sent as a JSON \\ud800 escape):
    it cannot be stored, fingerprinted or logged, so it is a 422 here, not a 500 later."""
    try:
        json.dumps(form, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("申请表含有无效的字符") from None
    return form


FormData = Annotated[dict[str, Any], AfterValidator(_valid_unicode)]


class MaterialIn(Schema):
    material_code: str = text(20)
    filename: str = text(200)
    # Bounded by the size limit on a material (checked per material, with its own message)
    # and by the limit on a request body (413).
    content_base64: str = Field(description="文件内容 (base64)")


class ApplicationIn(Schema):
    item_code: str = text(31, description="实施编码")
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[MaterialIn] = Field(default=[], max_length=50)
    enterprise_uscc: str | None = text(18, None, description="以企业经办人身份申请时填写")
    use_shared_data: bool = Field(
        False,
        description="授权使用共享数据：申请表中标注数据元的字段由基础库填写并核验，"
        "可由共享数据替代的材料免于上传（零材料）",
    )


class ResubmissionIn(Schema):
    form: FormData = Field(default={}, max_length=MAX_FORM_FIELDS)
    materials: list[MaterialIn] = Field(default=[], max_length=50)


class TransitionIn(Schema):
    action: str = text(
        32,
        description="accept | reject | request_correction | start_review | approve | deny "
        "| complete",
    )
    comment: str = text(2000, "", description="意见（不予受理、要求补正、不予许可时必填）")
    expected_version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="乐观锁：办件的 version"
    )


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


class SharedDataOut(Schema):
    """共享数据核验: a material or field supplied by a registry instead of the applicant."""

    material_code: str
    field_name: str
    title: str
    registry: str
    label: str = Field(description="如“已通过人口库核验”")
    elements: list[str]
    verified_at: datetime


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
    shared_data: list[SharedDataOut] = []
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
    shared_data: list[SharedDataOut] = []
    timeline: list[TimelineEntryOut]
    allowed_actions: list[str]
