from __future__ import annotations

from datetime import datetime

from ninja import Schema

from tongban.core.schemas import text


class TokenIn(Schema):
    username: str = text(150, description="申请人：手机号；工作人员：用户名")
    password: str = text(1024)
    otp: str | None = text(16, None, description="工作人员的动态验证码")


class TokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 — the scheme name, not a secret
    expires_at: datetime
