from __future__ import annotations

from datetime import datetime

from ninja import Schema


class TokenIn(Schema):
    username: str
    password: str
    otp: str | None = None


class TokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 — the scheme name, not a secret
    expires_at: datetime
