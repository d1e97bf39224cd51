"""Periodic work of the ledger: anchor the audit chain's head in the "audit" log."""

from __future__ import annotations

import json
from typing import Any

from celery import shared_task

from tongban.core.models import AuditHead

from . import selectors
from .models import Log
from .services import checkpoint_publish, log_append

AUDIT_LOG = "audit"


def audit_anchor_entry(sequence: int, record_hash: str) -> bytes:
    """The leaf that anchors an audit head: canonical JSON of its sequence and hash."""
    body = {"type": "audit_head", "sequence": sequence, "record_hash": record_hash}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@shared_task(name="tongban.ledger.audit_head_anchor")
def audit_head_anchor() -> dict[str, Any]:
    """Append the audit chain head (sequence, SM3 hash) to the "audit" log and publish a
    checkpoint. Skips the append when the head has not moved since the last anchor, so a
    frequent schedule does not grow the log with duplicates."""
    head = AuditHead.objects.filter(id=1).first()
    sequence, record_hash = (head.sequence, head.record_hash) if head else (0, "0" * 64)
    entry = audit_anchor_entry(sequence, record_hash)
    log = Log.objects.filter(name=AUDIT_LOG).first()
    appended = None
    if (
        log is None
        or log.size == 0
        or selectors.entry(log_name=AUDIT_LOG, index=log.size - 1) != entry
    ):
        appended = log_append(log_name=AUDIT_LOG, entry=entry).index
    note = checkpoint_publish(log_name=AUDIT_LOG)
    return {"sequence": sequence, "record_hash": record_hash, "index": appended, "checkpoint": note}
