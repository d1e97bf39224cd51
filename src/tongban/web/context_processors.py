from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tongban.identity.selectors import actor_for_user


def portal(request: HttpRequest) -> dict[str, Any]:
    actor = actor_for_user(getattr(request, "user", None))
    return {"actor": actor, "site_name": "通办"}
