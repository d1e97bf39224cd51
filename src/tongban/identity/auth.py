"""API authentication: bearer tokens issued by POST /api/v1/auth/token."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from .selectors import Actor, actor_for_user
from .services import api_token_user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_user(token)
        if user is None:
            return None
        request.user = user  # type: ignore[assignment]
        return user


def request_actor(request: HttpRequest) -> Actor:
    return actor_for_user(getattr(request, "auth", None))
