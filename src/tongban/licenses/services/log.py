"""Licence keys and the ledger log "licenses": every licence event is appended as canonical
JSON in the same transaction as the change it records — {format, license (identifier), event,
at, actor (kind), digest (SM3 of the licence data)}. No personal data goes into the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from tongban.core import clock
from tongban.core.crypto import sm2_public_key
from tongban.identity.models import Department
from tongban.ledger import services as ledger_services

from .. import keys
from ..canonical import canonical_json
from ..models import (
    IssuerKey,
    License,
    LicenseEvent,
)
from ..offline import (
    LOG_ENTRY_FORMAT,
)

logger = logging.getLogger(__name__)

logger = logging.getLogger(__name__)

LOG_NAME = "licenses"
DATA_FORMAT = "tongban-license/1"
PRESENTATION_FORMAT = "tongban-presentation/1"
# A presentation (亮证码) lives at most five minutes.
PRESENTATION_MAX_SECONDS = 300


class ActorKind:
    """Who caused a logged event (kinds only: the log holds no personal data)."""

    ISSUER = "issuer"
    HOLDER = "holder"
    STAFF = "staff"
    PUBLIC = "public"
    SYSTEM = "system"


def region() -> dict[str, str]:
    """This deployment's region, named in its trust list (TONGBAN["LICENSE_REGION"])."""
    configured = settings.TONGBAN.get("LICENSE_REGION") or {}
    return {"code": configured.get("code", "440000"), "name": configured.get("name", "广东省")}


# ---- keys -----------------------------------------------------------------------------------


def issuer_key(department: Department) -> tuple[IssuerKey, str]:
    """The department's current signing key (row, private hex); created on first use."""
    private_hex = keys.issuer_private_key(department.code)
    public_hex = sm2_public_key(private_hex)
    row, _ = IssuerKey.objects.get_or_create(
        key_id=keys.key_id(public_hex),
        defaults={"department": department, "public_key": public_hex},
    )
    return row, private_hex


def platform_key_id() -> str:
    return keys.key_id(keys.platform_public_key())


# ---- the log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFacts:
    origin: str
    algorithm: str


def log_facts(log_name: str = LOG_NAME) -> LogFacts:
    """Origin and hash algorithm of the licence log (created empty if it does not exist)."""
    log = ledger_services.log_get_or_create(name=log_name)
    return LogFacts(log.origin, log.hash_algorithm)


def log_event(license: License, event_type: str, actor_kind: str, reason: str = "") -> LicenseEvent:
    now = clock.now()
    entry = log_entry(license.identifier, event_type, now, actor_kind, license.data_digest)
    leaf = ledger_services.log_append(log_name=LOG_NAME, entry=entry)
    return LicenseEvent.objects.create(
        license=license,
        event_type=event_type,
        occurred_at=now,
        actor_kind=actor_kind,
        reason=reason[:500],
        log_index=leaf.index,
    )


def log_entry(identifier: str, event: str, at: datetime, actor: str, digest: str) -> bytes:
    return canonical_json(
        {
            "format": LOG_ENTRY_FORMAT,
            "license": identifier,
            "event": event,
            "at": at.isoformat(timespec="seconds"),
            "actor": actor,
            "digest": digest,
        }
    )
