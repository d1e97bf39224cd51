from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema

from tongban.core.schemas import text


class LicenseOut(Schema):
    id: UUID
    identifier: str = Field(description="证照标识 (GB/T 36904)")
    type_code: str
    type_name: str
    holder_kind: str
    holder_name: str
    holder_code: str = Field(description="持证主体代码（自然人身份证号脱敏）")
    holder_code_type: str = Field(description="111 公民身份号码 / 001 统一社会信用代码")
    issuer_name: str
    issuer_code: str
    issued_on: date
    valid_until: date | None = Field(description="空表示长期有效")
    status: str
    status_label: str


class LicenseEventOut(Schema):
    event_type: str
    event_label: str
    occurred_at: datetime
    log_index: int


class LicenseDetailOut(LicenseOut):
    face: list[dict[str, Any]] = Field(description="照面信息 [{name, title, value}]")
    data_digest: str
    issuer_key_id: str
    log_index: int
    events: list[LicenseEventOut]


class PresentationOut(Schema):
    token: str
    expires_at: datetime
    verify_url: str
    qr_svg: str = Field(description="二维码 (SVG)，内容为 verify_url")


class CheckOut(Schema):
    name: str
    ok: bool
    code: str
    detail: str


class LicenseVerificationIn(Schema):
    presentation: str | None = text(2000, None, description="亮证码（扫码所得）")
    license_file: dict[str, Any] | None = Field(
        default=None, description="离线证照文件 (tongban-license-file/1)"
    )


class LicenseVerificationOut(Schema):
    ok: bool
    code: str
    message: str
    checks: list[CheckOut]
    license: dict[str, Any] | None
    notes: list[str]


class StatusChangeIn(Schema):
    reason: str = text(500, description="原因（必填）")
