"""The tamper-evident audit log: append and verify.

Each record's hash is SM3 over the previous record's hash and the record's canonical JSON, so
editing, deleting or reordering any record breaks the chain from that record on.
`audit_verify` names the first record where the chain breaks, and how.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction

from . import clock
from .crypto import sm3_hex
from .models import AuditHead, AuditRecord
from .sql import insert_sql, mark_saved, pk_sequence, row_insert

GENESIS_HASH = "0" * 64


class Outcome:
    SUCCESS = "success"
    DENIED = "denied"
    FAILURE = "failure"


def _canonical(record: AuditRecord) -> bytes:
    body = {
        "sequence": record.sequence,
        "occurred_at": record.occurred_at.isoformat(timespec="microseconds"),
        "actor": record.actor,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "outcome": record.outcome,
        "detail": record.detail,
        "previous_hash": record.previous_hash,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(record: AuditRecord) -> str:
    return sm3_hex(_canonical(record))


def _head_locked(cursor: Any, draw_from: str | None) -> tuple[int, str, Any]:
    """(sequence, hash, drawn key) of the chain head, locked until the transaction ends (FOR
    UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions already hold the write lock).
    `draw_from` names a PostgreSQL sequence to draw the next key from in the same statement."""
    table = connection.ops.quote_name(AuditHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    draw = ", nextval(%s)" if draw_from else ""
    sql = f"SELECT sequence, record_hash{draw} FROM {table} WHERE id = 1{lock}"  # noqa: S608
    params = [draw_from] if draw_from else []
    cursor.execute(sql, params)
    row = cursor.fetchone()
    if row is None:  # the very first append of a new database
        AuditHead.objects.get_or_create(id=1, defaults={"sequence": 0, "record_hash": GENESIS_HASH})
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]), str(row[1]), row[2] if draw_from else None


@transaction.atomic(savepoint=False)  # inside a caller's transaction: rolls back with it
def audit_record_append(
    *,
    actor: str,
    action: str,
    outcome: str = Outcome.SUCCESS,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
    new_row: models.Model | None = None,
) -> AuditRecord:
    """Append one record. The head row is locked, so concurrent appends queue up in order.

    `detail` must never hold unmasked personal data: callers pass masked values or ids.

    `new_row`: an unsaved row (a plain model, see core.sql) that this record is about. It is
    inserted together with the record and `object_id` becomes its primary key.

    Every audited write in the platform runs this, so it is plain SQL, not ORM queries, with
    values prepared by the model's own fields: on PostgreSQL two statements (lock the head
    and draw the new row's key; insert both rows and move the head in one statement), on
    SQLite, where a statement costs no round trip, one per row. Measured by
    `tongban bench lookup`; docs/adr/0015-hot-path-writes.md.
    """
    postgres = connection.vendor == "postgresql"
    draw_from = pk_sequence(type(new_row)) if new_row is not None and postgres else None
    with connection.cursor() as cursor:
        sequence, previous_hash, drawn = _head_locked(cursor, draw_from)
        statements: list[tuple[str, list[Any]]] = []
        if new_row is not None:
            if postgres:
                mark_saved(new_row, drawn)
                statements.append(insert_sql(new_row, with_pk=True))
            else:
                row_insert(new_row)
            object_id = str(new_row.pk)
        record = AuditRecord(
            sequence=sequence + 1,
            occurred_at=clock.now(),
            actor=actor[:150],
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            outcome=outcome,
            detail=detail or {},
            previous_hash=previous_hash,
        )
        record.record_hash = compute_hash(record)
        head = connection.ops.quote_name(AuditHead._meta.db_table)
        move_head: tuple[str, list[Any]] = (
            f"UPDATE {head} SET sequence = %s, record_hash = %s WHERE id = 1",  # noqa: S608
            [record.sequence, record.record_hash],
        )
        if postgres:  # one statement: WITH r0 AS (INSERT row), r1 AS (INSERT record), head AS …
            sql, values = insert_sql(record)
            statements.append((f"{sql} RETURNING id", values))
            ctes = ", ".join(f"r{index} AS ({sql})" for index, (sql, _) in enumerate(statements))
            params = [value for _, values in statements for value in values]
            cursor.execute(
                f"WITH {ctes}, moved AS ({move_head[0]}) SELECT id FROM r{len(statements) - 1}",  # noqa: S608
                [*params, *move_head[1]],
            )
            mark_saved(record, cursor.fetchone()[0])
        else:
            row_insert(record)
            cursor.execute(*move_head)
    return record


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_hash: str
    first_bad_sequence: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"审计链完整 (audit chain intact): {self.checked} records, head {self.head_hash}"
        where = f"record #{self.first_bad_sequence}"
        return f"审计链被破坏 (audit chain broken) at {where}: {self.problem}"


def verify_chain(records: Iterable[AuditRecord], head: AuditHead | None) -> ChainReport:
    previous_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    for record in records:
        if record.sequence != expected_sequence:
            problem = (
                f"deleted: record #{expected_sequence} is missing"
                if record.sequence > expected_sequence
                else f"reordered: #{record.sequence} appears after #{expected_sequence - 1}"
            )
            return ChainReport(False, checked, previous_hash, expected_sequence, problem)
        if record.previous_hash != previous_hash:
            return ChainReport(
                False,
                checked,
                previous_hash,
                record.sequence,
                "reordered or deleted: previous_hash does not match the record before it",
            )
        if compute_hash(record) != record.record_hash:
            return ChainReport(
                False,
                checked,
                previous_hash,
                record.sequence,
                "edited: content does not match its hash",
            )
        previous_hash = record.record_hash
        expected_sequence += 1
        checked += 1
    if head is not None and (head.sequence != checked or head.record_hash != previous_hash):
        return ChainReport(
            False,
            checked,
            previous_hash,
            checked + 1 if head.sequence > checked else checked,
            f"truncated: the head says {head.sequence} records, the table holds {checked}",
        )
    return ChainReport(True, checked, previous_hash)


def audit_verify() -> ChainReport:
    """Walk the whole chain in sequence order (streamed, constant memory)."""
    head = AuditHead.objects.filter(id=1).first()
    records = AuditRecord.objects.order_by("sequence").iterator(chunk_size=2000)
    return verify_chain(records, head)


def audit_denial(actor: str, path: str, error: Exception) -> None:
    """Record a refused request (403/404/409/…) once: services that already audited their
    refusal mark the error `audited`, and anonymous 401s are the login audit's business."""
    if getattr(error, "audited", False) or actor == "anonymous":
        return
    audit_record_append(
        actor=actor,
        action="request.denied",
        outcome=Outcome.DENIED,
        object_type="path",
        object_id=path[:64],
        detail={"code": getattr(error, "code", type(error).__name__)},
    )
    error.audited = True  # type: ignore[attr-defined]
