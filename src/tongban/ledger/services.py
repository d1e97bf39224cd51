"""Writes of the ledger: append leaves, publish signed tree heads, rotate keys, witness
other regions' logs. Every write runs in `transaction.atomic` (a savepoint inside a caller's
transaction), so it commits or rolls back with the caller's work."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append

from . import errors, keys
from .merkle import (
    HASH_ALGORITHMS,
    HASH_SIZE,
    frontier_append,
    frontier_root,
    frontier_split,
    leaf_hash,
    verify_consistency,
)
from .models import (
    WITNESS_OWNER,
    Checkpoint,
    KeyAlgorithm,
    Log,
    LogEntry,
    LogNode,
    SigningKey,
    SplitViewAlert,
    SplitViewKind,
    TrustedLog,
    WitnessedCheckpoint,
    node_position,
)
from .note import (
    Checkpoint as CheckpointBody,
)
from .note import (
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    NoteError,
    Signer,
    SM2Signer,
    Verifier,
    checkpoint_open,
    cosignature_sign,
    note_sign,
    verifier_from_vkey,
)

logger = logging.getLogger(__name__)

LOG_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ORIGIN = re.compile(r"[^\s+]{1,200}")
BULK_BATCH = 2000


@dataclass(frozen=True)
class LeafRef:
    """Where an entry landed: its leaf index and leaf hash H(0x00 ‖ entry)."""

    index: int
    leaf_hash: bytes


def origin_prefix() -> str:
    """This deployment's name in origins, e.g. "gd.tongban.gov.cn" (TONGBAN setting)."""
    return str(settings.TONGBAN.get("LEDGER_ORIGIN_PREFIX", "tongban.local"))


def witness_name() -> str:
    return str(settings.TONGBAN.get("LEDGER_WITNESS_NAME") or f"{origin_prefix()}/witness")


# ---- Logs and appends -----------------------------------------------------------------------


@transaction.atomic
def log_get_or_create(*, name: str, origin: str | None = None, hash_algorithm: str = "sm3") -> Log:
    """The log called `name`, created (empty) if missing. Origin defaults to
    "<LEDGER_ORIGIN_PREFIX>/<name>". An existing log keeps its origin and hash algorithm."""
    if not isinstance(name, str) or not LOG_NAME.fullmatch(name):
        raise errors.INVALID_LOG_NAME.error()
    if hash_algorithm not in HASH_ALGORITHMS:
        raise errors.INVALID_HASH_ALGORITHM.error()
    origin = origin or f"{origin_prefix()}/{name}"
    if not ORIGIN.fullmatch(origin):
        raise errors.INVALID_ORIGIN.error()
    existing = Log.objects.filter(name=name).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Log.objects.create(name=name, origin=origin, hash_algorithm=hash_algorithm)
    except IntegrityError:
        existing = Log.objects.filter(name=name).first()
        if existing is None:  # the origin, not the name, is taken
            raise errors.ORIGIN_TAKEN.error() from None
        return existing


def _log_locked(log_name: str) -> Log:
    """The log row, locked until the transaction ends (appends are serialised per log)."""
    log = Log.objects.select_for_update().filter(name=log_name).first()
    if log is None:
        log_get_or_create(name=log_name)
        log = Log.objects.select_for_update().get(name=log_name)
    return log


@transaction.atomic
def log_append_many(*, log_name: str, entries: Iterable[bytes]) -> list[LeafRef]:
    """Append entries in order, in one transaction: the entries, O(1) amortised new nodes per
    entry and the log's new frontier are written together or not at all."""
    log = _log_locked(log_name)
    algorithm = log.hash_algorithm
    frontier = frontier_split(log.frontier)
    size = log.size
    entry_rows: list[LogEntry] = []
    node_rows: list[LogNode] = []
    refs: list[LeafRef] = []
    for entry in entries:
        if not isinstance(entry, bytes):
            raise TypeError("ledger entries are bytes")
        hashed = leaf_hash(algorithm, entry)
        frontier, created = frontier_append(algorithm, size, frontier, hashed)
        entry_rows.append(LogEntry(log=log, index=size, entry=entry, leaf_hash=hashed))
        node_rows.extend(LogNode(log=log, position=node_position(n), hash=h) for n, h in created)
        refs.append(LeafRef(size, hashed))
        size += 1
    if not refs:
        return refs
    LogEntry.objects.bulk_create(entry_rows, batch_size=BULK_BATCH)
    LogNode.objects.bulk_create(node_rows, batch_size=BULK_BATCH)
    log.size = size
    log.frontier = b"".join(frontier)
    log.save(update_fields=["size", "frontier"])
    return refs


def log_append(*, log_name: str, entry: bytes) -> LeafRef:
    """Append one entry (creating the log with defaults if missing): its index and leaf hash."""
    return log_append_many(log_name=log_name, entries=[entry])[0]


# ---- Keys -----------------------------------------------------------------------------------

_signer_cache: dict[str, Signer] = {}


def _owner(log: Log) -> str:
    return f"log:{log.name}"


def _generate(algorithm: str, name: str) -> Signer:
    if algorithm == KeyAlgorithm.SM2:
        return SM2Signer.generate(name)
    if algorithm == KeyAlgorithm.COSIGNATURE:
        return CosignatureSigner.generate(name)
    return Ed25519Signer.generate(name)


def _signer(row: SigningKey) -> Signer:
    cached = _signer_cache.get(row.file_name)
    if cached is None or cached.vkey() != row.vkey:
        cached = keys.key_file_read(row.file_name)
        if cached.vkey() != row.vkey:
            raise RuntimeError(f"key file {row.file_name} does not hold the key {row.vkey}")
        _signer_cache[row.file_name] = cached
    return cached


def _active_signer(owner: str, algorithm: str, name: str) -> Signer:
    """The owner's active key of `algorithm`, generated into KEY_DIR on first use."""
    row = SigningKey.objects.filter(owner=owner, algorithm=algorithm, is_active=True).first()
    if row is None:
        signer = _generate(algorithm, name)
        file_name = keys.key_file_write(signer, algorithm)
        try:
            with transaction.atomic():
                row = SigningKey.objects.create(
                    owner=owner,
                    algorithm=algorithm,
                    name=name,
                    vkey=signer.vkey(),
                    file_name=file_name,
                )
        except IntegrityError:  # another process created it first: use theirs
            row = SigningKey.objects.get(owner=owner, algorithm=algorithm, is_active=True)
    return _signer(row)


def _log_signers(log: Log) -> list[Signer]:
    """Ed25519 first (what standard tooling checks), then SM2; key name = the log's origin."""
    return [
        _active_signer(_owner(log), KeyAlgorithm.ED25519, log.origin),
        _active_signer(_owner(log), KeyAlgorithm.SM2, log.origin),
    ]


def witness_signer() -> CosignatureSigner:
    signer = _active_signer(WITNESS_OWNER, KeyAlgorithm.COSIGNATURE, witness_name())
    assert isinstance(signer, CosignatureSigner)
    return signer


def _retire(owner: str) -> None:
    SigningKey.objects.filter(owner=owner, is_active=True).update(
        is_active=False, retired_at=clock.now()
    )


@transaction.atomic
def ledger_key_rotate(*, log_name: str) -> list[str]:
    """密钥轮换: retire the log's keys, generate new ones and publish a checkpoint signed by
    them. Old vkeys stay listed (log_verifier_keys) so earlier checkpoints still verify.
    Returns the new vkeys."""
    log = _log_locked(log_name)
    _retire(_owner(log))
    signers = _log_signers(log)
    checkpoint_publish(log_name=log_name)
    audit_record_append(
        actor="system",
        action="ledger.key_rotate",
        object_type="log",
        object_id=log.name,
        detail={"key_ids": [s.key_id.hex() for s in signers]},
    )
    return [s.vkey() for s in signers]


@transaction.atomic
def witness_key_rotate() -> str:
    """Retire this deployment's cosigning key and make a new one; returns its vkey."""
    _retire(WITNESS_OWNER)
    signer = witness_signer()
    audit_record_append(
        actor="system",
        action="ledger.witness_key_rotate",
        object_type="witness",
        object_id=signer.name[:64],
        detail={"key_id": signer.key_id.hex()},
    )
    return signer.vkey()


# ---- Checkpoints ----------------------------------------------------------------------------


@transaction.atomic
def checkpoint_publish(*, log_name: str) -> str:
    """Sign the current tree head as a C2SP checkpoint (Ed25519 + SM2), store it and return
    the note. Idempotent: an unchanged size signed by the same keys returns the stored note."""
    log = _log_locked(log_name)
    signers = _log_signers(log)
    key_ids = ",".join(s.key_id.hex() for s in signers)
    latest = Checkpoint.objects.filter(log=log).order_by("-id").first()
    if latest is not None and latest.size == log.size and latest.key_ids == key_ids:
        return latest.note
    root = frontier_root(log.hash_algorithm, frontier_split(log.frontier))
    note = note_sign(CheckpointBody(log.origin, log.size, root).body(), signers)
    Checkpoint.objects.create(log=log, size=log.size, root_hash=root, note=note, key_ids=key_ids)
    return note


# ---- Trust list and witnessing ---------------------------------------------------------------


def _verifiers(vkeys: Iterable[str]) -> list[Verifier]:
    verifiers = []
    for vkey in vkeys:
        try:
            verifier = verifier_from_vkey(vkey)
        except NoteError:
            logger.warning("ignoring an unreadable vkey in the trust list")
            continue
        if not isinstance(verifier, CosignatureVerifier):
            verifiers.append(verifier)
    return verifiers


@transaction.atomic
def trusted_log_save(
    *, origin: str, vkeys: Sequence[str], hash_algorithm: str = "sm3", region: str = ""
) -> TrustedLog:
    """Add or update one entry of the trust list (every vkey must parse)."""
    if not isinstance(origin, str) or not ORIGIN.fullmatch(origin):
        raise errors.INVALID_ORIGIN.error()
    if hash_algorithm not in HASH_ALGORITHMS:
        raise errors.INVALID_HASH_ALGORITHM.error()
    if not vkeys:
        raise errors.VKEY_MISSING.error()
    for vkey in vkeys:
        try:
            verifier_from_vkey(vkey)
        except NoteError as error:
            raise errors.INVALID_VKEY.error(reason=error) from error
    trusted, _ = TrustedLog.objects.update_or_create(
        origin=origin,
        defaults={
            "vkeys": "\n".join(v.strip() for v in vkeys),
            "hash_algorithm": hash_algorithm,
            "region": region,
            "is_active": True,
        },
    )
    return trusted


@transaction.atomic
def trust_list_load(*, data: dict[str, Any]) -> list[TrustedLog]:
    """Load a trust list: {"logs": [{"origin", "vkeys": [...], "hash_algorithm", "region"}]}."""
    logs = data.get("logs") if isinstance(data, dict) else None
    if not isinstance(logs, list):
        raise errors.INVALID_TRUST_LIST.error()
    saved = []
    for item in logs:
        if not isinstance(item, dict) or not isinstance(item.get("vkeys"), list):
            raise errors.INVALID_TRUST_LIST.error()
        saved.append(
            trusted_log_save(
                origin=item.get("origin", ""),
                vkeys=[str(v) for v in item["vkeys"]],
                hash_algorithm=item.get("hash_algorithm", "sm3"),
                region=str(item.get("region", "")),
            )
        )
    return saved


def trust_list_load_file(path: str | Path) -> list[TrustedLog]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise errors.TRUST_LIST_UNREADABLE.error(reason=error) from error
    return trust_list_load(data=data)


def witness_observe(*, origin: str, note: str, consistency_proof: Sequence[bytes]) -> str:
    """Act as a witness for another region's log: verify `note` with the trust list's keys,
    check it extends the last checkpoint seen of `origin` (`consistency_proof` from that size
    to the new one), store it and return this deployment's cosignature line.

    A split view — same size with another root, an inconsistent proof, or a smaller tree than
    already seen — is stored as a SplitViewAlert with both notes, audited, and raised as
    `errors.SPLIT_VIEW` (409). The alert is committed even though the call raises."""
    with transaction.atomic():
        outcome = _witness_observe(origin, note, list(consistency_proof))
    if isinstance(outcome, SplitViewAlert):
        error = errors.SPLIT_VIEW.error(
            origin=origin,
            kind=outcome.get_kind_display(),
            fields={"alert_id": str(outcome.pk), "kind": outcome.kind},
        )
        raise error.mark_recorded()  # the alert is audited
    return outcome


def _witness_observe(origin: str, note: str, proof: list[bytes]) -> str | SplitViewAlert:
    trusted = (
        TrustedLog.objects.select_for_update().filter(origin=origin, is_active=True).first()
        if isinstance(origin, str)
        else None
    )
    if trusted is None:
        raise errors.UNKNOWN_LOG.error()
    try:
        checkpoint = checkpoint_open(note, _verifiers(trusted.vkey_list()), origin)
    except NoteError as error:
        raise errors.INVALID_CHECKPOINT.error(reason=error) from error
    if not all(isinstance(p, bytes) and len(p) == HASH_SIZE for p in proof):
        raise errors.INVALID_PROOF.error()
    last = WitnessedCheckpoint.objects.filter(trusted_log=trusted).order_by("-size", "-id").first()
    kind = _split_view_kind(trusted.hash_algorithm, last, checkpoint, proof)
    if kind is not None:
        assert last is not None
        alert = SplitViewAlert.objects.create(
            trusted_log=trusted,
            kind=kind,
            previous_note=last.note,
            new_note=note,
            consistency_proof=[base64.b64encode(p).decode() for p in proof],
            detected_at=clock.now(),
        )
        audit_record_append(
            actor="system",
            action="ledger.split_view",
            outcome=Outcome.FAILURE,
            object_type="trusted_log",
            object_id=origin[:64],
            detail={"kind": kind, "seen_size": last.size, "new_size": checkpoint.size},
        )
        logger.error("split view of %s: %s", origin, kind)
        return alert
    now = clock.now()
    line = cosignature_sign(
        body=checkpoint.body(), signer=witness_signer(), timestamp=int(now.timestamp())
    )
    if last is None or checkpoint.size > last.size:
        WitnessedCheckpoint.objects.create(
            trusted_log=trusted,
            size=checkpoint.size,
            root_hash=checkpoint.root_hash,
            note=note,
            cosignature=line,
            observed_at=now,
        )
    return line


def _split_view_kind(
    algorithm: str,
    last: WitnessedCheckpoint | None,
    checkpoint: CheckpointBody,
    proof: list[bytes],
) -> str | None:
    if last is None:
        return None  # first sight of this log: trusted on first use
    last_root = bytes(last.root_hash)
    if checkpoint.size < last.size:
        return SplitViewKind.ROLLBACK
    if checkpoint.size == last.size:
        return None if checkpoint.root_hash == last_root else SplitViewKind.SAME_SIZE_DIFFERENT_ROOT
    if verify_consistency(
        algorithm, last.size, checkpoint.size, last_root, checkpoint.root_hash, proof
    ):
        return None
    return SplitViewKind.INCONSISTENT
