"""接入系统密钥: department systems call the gateway with an API key."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.crypto import keyed_sm3_hex
from tongban.identity.models import Department

from ..cache import cache_get, cache_put
from ..conf import exchange_setting
from ..models import (
    SystemCredential,
)


def credential_digest(raw: str) -> str:
    return keyed_sm3_hex(settings.SECRET_KEY.encode() + b":exchange-key", raw.encode())


@transaction.atomic
def system_credential_issue(
    *, department: Department, name: str, actor: str
) -> tuple[str, SystemCredential]:
    """A new API key for a department's system; the raw key is shown once, only its digest kept."""
    raw = "tbx_" + secrets.token_urlsafe(32)
    now = clock.now()
    credential = SystemCredential.objects.create(
        department=department,
        name=name[:100],
        key_hash=credential_digest(raw),
        created_at=now,
        expires_at=now + timedelta(days=int(exchange_setting("CREDENTIAL_DAYS"))),
    )
    audit_record_append(
        actor=actor,
        action="exchange.credential.issue",
        object_type="system_credential",
        object_id=str(credential.pk),
        detail={"department": department.code},
    )
    return raw, credential


@dataclass(frozen=True)
class Caller:
    """Who calls the gateway: a department's system (API key) or the platform on behalf of an
    applicant (prefill)."""

    department: Department
    label: str


def system_caller(raw_key: str) -> Caller | None:
    cache_key = ("key", hashlib.sha256(raw_key.encode()).hexdigest())
    hit = cache_get(cache_key)
    if hit is None:
        credential = (
            SystemCredential.objects.select_related("department")
            .filter(key_hash=credential_digest(raw_key), is_active=True)
            .first()
        )
        if credential is None:
            return None
        hit = cache_put(
            cache_key,
            (Caller(credential.department, f"system:{credential.pk}"), credential.expires_at),
        )
    caller, expires_at = hit
    return caller if expires_at >= clock.now() else None
