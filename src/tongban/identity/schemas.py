from __future__ import annotations

from datetime import datetime

from ninja import Schema


class TokenIn(Schema):
    username: str
    password: str
    otp: str | None = None


class TokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"
    expires_at: datetime
