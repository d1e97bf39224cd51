"""The tamper-evident audit log: append and verify.

Each record's hash is SM3 over the previous record's hash and the record's canonical JSON, so
editing, deleting or reordering any record breaks the chain from that record on.
`audit_verify` names the first record where the chain breaks, and how.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, models, transaction

from . import clock
from .crypto import sm3_hex
from .errors import DomainError
from .models import AuditHead, AuditRecord
from .sql import insert_from_sql, insert_sql, mark_saved, pk_sequence, row_insert

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


# Conflicts an optimistic append tolerates before it takes the head lock instead.
OPTIMISTIC_ATTEMPTS = 3


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
    """Append one record to the chain, in the caller's transaction when there is one (it then
    rolls back with it; no savepoint).

    `detail` must never hold unmasked personal data: callers pass masked values or ids.

    `new_row`: an unsaved row (a plain model, see core.sql) that this record is about. It is
    inserted together with the record and `object_id` becomes its primary key.

    Every audited write in the platform runs this, so it is plain SQL, not ORM queries, with
    values prepared by the model's own fields (docs/adr/0015-hot-path-writes.md):
    - inside a transaction (every service write): the head row is locked, so concurrent
      appends queue up in order — on PostgreSQL two statements (lock the head and draw the
      new row's key; insert both rows and move the head in one statement), on SQLite, where a
      statement costs no round trip, one per row;
    - on PostgreSQL outside any transaction (a gateway lookup's record): optimistically, with
      no lock held between round trips — read the head, then one statement that moves the
      head only if it is still the one read (compare-and-set) and inserts the rows only if it
      moved. A single statement is its own transaction, so the rows and the head move
      together or not at all; on a conflict it retries with the head the statement saw, and
      after OPTIMISTIC_ATTEMPTS conflicts it takes the lock. Measured by `tongban bench lookup`.
    """
    entry = _Entry(actor[:150], action, outcome, object_type, str(object_id), detail or {})
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        record = _append_optimistic(entry, new_row)
        if record is not None:
            return record
    return _append_locked(entry, new_row)


@dataclass(frozen=True)
class _Entry:
    """What a caller asks to append, before it has a place in the chain."""

    actor: str
    action: str
    outcome: str
    object_type: str
    object_id: str
    detail: dict[str, Any]

    def sealed(self, sequence: int, previous_hash: str, object_id: str) -> AuditRecord:
        """The record at `sequence`, after the record whose hash is `previous_hash`."""
        record = AuditRecord(
            sequence=sequence,
            occurred_at=clock.now(),
            actor=self.actor,
            action=self.action,
            object_type=self.object_type,
            object_id=object_id[:64],
            outcome=self.outcome,
            detail=self.detail,
            previous_hash=previous_hash,
        )
        record.record_hash = compute_hash(record)
        return record


def _as_ctes(statements: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """`r0 AS (…), r1 AS (…)` for one WITH statement, and the parameters in their order."""
    ctes = ", ".join(f"r{index} AS ({sql})" for index, (sql, _) in enumerate(statements))
    return ctes, [value for _, values in statements for value in values]


def _head_sql() -> str:
    return connection.ops.quote_name(AuditHead._meta.db_table)


@transaction.atomic(savepoint=False)  # inside a caller's transaction: rolls back with it
def _append_locked(entry: _Entry, new_row: models.Model | None) -> AuditRecord:
    postgres = connection.vendor == "postgresql"
    draw_from = pk_sequence(type(new_row)) if new_row is not None and postgres else None
    object_id = entry.object_id
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
        record = entry.sealed(sequence + 1, previous_hash, object_id)
        move_head: tuple[str, list[Any]] = (
            f"UPDATE {_head_sql()} SET sequence = %s, record_hash = %s WHERE id = 1",  # noqa: S608
            [record.sequence, record.record_hash],
        )
        if postgres:  # one statement: WITH r0 AS (INSERT row), r1 AS (INSERT record), head AS …
            sql, values = insert_sql(record)
            statements.append((f"{sql} RETURNING id", values))
            ctes, params = _as_ctes(statements)
            cursor.execute(
                f"WITH {ctes}, moved AS ({move_head[0]}) SELECT id FROM r{len(statements) - 1}",  # noqa: S608
                [*params, *move_head[1]],
            )
            mark_saved(record, cursor.fetchone()[0])
        else:
            row_insert(record)
            cursor.execute(*move_head)
    if postgres:
        _seen(record)  # a guess: the caller's transaction may still roll back
    return record


# PostgreSQL, per process: the chain head as this process last wrote or saw it, and keys
# drawn ahead per identity sequence (one at a time, with the previous append). Both are
# guesses that save a round trip: a wrong head fails the compare-and-set and is corrected
# from what the statement saw; a key is unique however long it waits (a sequence never hands
# it out twice).
_head_seen: list[tuple[int, str]] = []
_keys_ahead: dict[str, list[int]] = {}
# Whether this process's recent appends found the head moved by someone else. While most did
# (processes racing for the chain), the remembered head is almost surely stale and trying it
# costs a whole sealed statement: read the head first instead.
_moved_by_others: deque[bool] = deque(maxlen=16)


def _seen(record: AuditRecord) -> None:
    _head_seen[:] = [(record.sequence, record.record_hash)]


def forget_head() -> None:
    """Drop this process's guesses (tests that recreate the database; restores)."""
    _head_seen.clear()
    _keys_ahead.clear()
    _moved_by_others.clear()


def _append_optimistic(entry: _Entry, new_row: models.Model | None) -> AuditRecord | None:
    """PostgreSQL, no transaction open: compare-and-set on the head, one statement to write.
    Usually that one statement only: the head is the one this process last wrote and the new
    row's key was drawn by the previous append. None when the head row does not exist yet, a
    key drawn ahead is refused, or after OPTIMISTIC_ATTEMPTS conflicts: the caller then
    takes the lock."""
    head = _head_sql()
    drawn_by = pk_sequence(type(new_row)) if new_row is not None else None
    ahead = _keys_ahead.setdefault(drawn_by, []) if drawn_by else []
    key: int | None = None
    if drawn_by:
        try:
            key = ahead.pop()
        except IndexError:
            key = None
    last = _head_seen[0] if _head_seen else None
    racing = 2 * sum(_moved_by_others) > len(_moved_by_others)
    guess = None if racing else last
    with connection.cursor() as cursor:
        if guess is None or (drawn_by and key is None):
            draw = f", nextval('{drawn_by}')" if drawn_by and key is None else ""
            cursor.execute(f"SELECT sequence, record_hash{draw} FROM {head} WHERE id = 1")  # noqa: S608
            row = cursor.fetchone()
            if row is None:  # the very first append of a new database
                return None
            guess = (int(row[0]), str(row[1]))
            key = row[2] if draw else key
        sequence, previous_hash = guess
        object_id = entry.object_id
        if new_row is not None:
            mark_saved(new_row, key)
            object_id = str(new_row.pk)
        spare = f", nextval('{drawn_by}')" if drawn_by and not ahead else ""
        for _attempt in range(OPTIMISTIC_ATTEMPTS):
            record = entry.sealed(sequence + 1, previous_hash, object_id)
            statements = [insert_from_sql(new_row, "moved", with_pk=True)] if new_row else []
            sql, values = insert_from_sql(record, "moved")
            statements.append((f"{sql} RETURNING id", values))
            ctes, params = _as_ctes(statements)
            try:
                cursor.execute(
                    f"WITH moved AS (UPDATE {head} SET sequence = %s, record_hash = %s"  # noqa: S608
                    f" WHERE id = 1 AND sequence = %s AND record_hash = %s RETURNING id), {ctes}"
                    f" SELECT (SELECT id FROM r{len(statements) - 1}), sequence, record_hash"
                    f"{spare} FROM {head} WHERE id = 1",
                    [
                        record.sequence,
                        record.record_hash,
                        sequence,
                        previous_hash,
                        *params,
                    ],
                )
            except IntegrityError:  # a key drawn ahead of a sequence reset (a restore)
                _keys_ahead.clear()
                break
            row = cursor.fetchone()
            if row is None:  # the head row is gone (a test flush): the lock path recreates it
                break
            if spare:
                ahead.append(row[3])
                spare = ""
            written, seen = row[0], (int(row[1]), str(row[2]))
            if written is not None:
                mark_saved(record, written)
                if last is not None:
                    _moved_by_others.append(last != (sequence, previous_hash))
                _seen(record)
                return record
            if seen == (sequence, previous_hash):
                # The statement's snapshot predates the writer it waited for (READ COMMITTED
                # re-checks the UPDATE's row, not the SELECT's): read the head afresh.
                cursor.execute(f"SELECT sequence, record_hash FROM {head} WHERE id = 1")  # noqa: S608
                fresh = cursor.fetchone()
                if fresh is None:
                    break
                seen = (int(fresh[0]), str(fresh[1]))
            sequence, previous_hash = seen
        _head_seen.clear()
    if new_row is not None:  # the lock path draws its own key; this one stays unused
        new_row.pk = None
        new_row._state.adding = True
    return None


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


def refusal_record(
    error: DomainError,
    *,
    actor: str,
    action: str = "request.denied",
    object_type: str = "path",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """The one refusal policy (ADR 0020): record a refused request once. A service that knows
    more (the case and the action refused) records it itself; the edge (API error handler,
    pages' middleware) records what is left as `request.denied` on the path. Anonymous
    requests are the sign-in's business and are not recorded here."""
    if error.recorded or actor == "anonymous":
        return
    audit_record_append(
        actor=actor,
        action=action[:64],
        outcome=Outcome.DENIED,
        object_type=object_type,
        object_id=object_id[:64],
        detail={"code": error.code, **(detail or {})},
    )
    error.mark_recorded()
