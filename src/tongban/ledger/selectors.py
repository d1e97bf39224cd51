"""Reads of the ledger: tree heads at any size, proofs, entries, checkpoints and keys.

A tree head or proof costs two queries whatever the size of the log: the log row, then the
O(log n) perfect-subtree nodes the proof needs, fetched by primary position in one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from . import errors, merkle
from .models import (
    WITNESS_OWNER,
    Checkpoint,
    KeyAlgorithm,
    Log,
    LogEntry,
    LogNode,
    SigningKey,
    node_position,
)


@dataclass(frozen=True)
class TreeHead:
    size: int
    root_hash: bytes


def _log(log_name: str) -> Log:
    log = Log.objects.filter(name=log_name).first() if isinstance(log_name, str) else None
    if log is None:
        raise errors.LOG_NOT_FOUND.error()
    return log


def _fetcher(log: Log) -> merkle.NodeFetcher:
    def fetch(nodes: Sequence[merkle.NodeId]) -> Mapping[merkle.NodeId, bytes]:
        wanted = {node_position(node): node for node in nodes}
        rows = LogNode.objects.filter(log=log, position__in=list(wanted)).values_list(
            "position", "hash"
        )
        return {wanted[position]: bytes(value) for position, value in rows}

    return fetch


def _check_size(log: Log, size: int, field: str = "size") -> None:
    if not isinstance(size, int) or not 0 <= size <= log.size:
        raise errors.SIZE_OUT_OF_RANGE.error(
            field=field, maximum=log.size, fields={field: _("超出范围")}
        )


def logs_list() -> list[Log]:
    return list(Log.objects.order_by("name"))


def tree_head(*, log_name: str, size: int | None = None) -> TreeHead:
    """The tree head now (`size` None) or at any earlier size."""
    log = _log(log_name)
    if size is None or size == log.size:
        root = merkle.frontier_root(log.hash_algorithm, merkle.frontier_split(log.frontier))
        return TreeHead(log.size, root)
    _check_size(log, size)
    return TreeHead(size, merkle.tree_root(log.hash_algorithm, size, _fetcher(log)))


def inclusion_proof(*, log_name: str, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path of leaf `index` in the tree of `size` leaves."""
    log = _log(log_name)
    _check_size(log, size)
    if not isinstance(index, int) or not 0 <= index < size:
        raise errors.INDEX_OUT_OF_RANGE.error(last=size - 1, fields={"index": _("超出范围")})
    return merkle.inclusion_proof(log.hash_algorithm, index, size, _fetcher(log))


def consistency_proof(*, log_name: str, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]): that the tree of `old_size` is a prefix of `new_size`."""
    log = _log(log_name)
    _check_size(log, new_size, "new")
    _check_size(log, old_size, "old")
    if old_size > new_size:
        raise errors.SIZE_OUT_OF_RANGE.error(
            field="old", maximum=new_size, fields={"old": _("大于 new")}
        )
    return merkle.consistency_proof(log.hash_algorithm, old_size, new_size, _fetcher(log))


def entry_leaf(*, log_name: str, index: int) -> tuple[bytes, bytes]:
    """(entry bytes, leaf hash) of leaf `index`."""
    log = _log(log_name)
    row = (
        LogEntry.objects.filter(log=log, index=index).values_list("entry", "leaf_hash").first()
        if isinstance(index, int) and index >= 0
        else None
    )
    if row is None:
        raise errors.ENTRY_NOT_FOUND.error()
    return bytes(row[0]), bytes(row[1])


def entry(*, log_name: str, index: int) -> bytes:
    return entry_leaf(log_name=log_name, index=index)[0]


def latest_checkpoint(*, log_name: str) -> str | None:
    """The last signed checkpoint (a C2SP signed note), or None before the first publish."""
    log = _log(log_name)
    return Checkpoint.objects.filter(log=log).order_by("-id").values_list("note", flat=True).first()


def log_verifier_keys(*, log_name: str) -> list[str]:
    """vkeys of the log's keys: active ones first (Ed25519, then SM2), then retired ones
    (most recently retired first)."""
    log = _log(log_name)
    return list(
        SigningKey.objects.filter(owner=f"log:{log.name}")
        .order_by("-is_active", "-retired_at", "algorithm", "-id")
        .values_list("vkey", flat=True)
    )


def witness_verifier_keys() -> list[str]:
    """vkeys of this deployment's cosigning (witness) keys, active first."""
    return list(
        SigningKey.objects.filter(owner=WITNESS_OWNER, algorithm=KeyAlgorithm.COSIGNATURE)
        .order_by("-is_active", "-retired_at", "algorithm", "-id")
        .values_list("vkey", flat=True)
    )
