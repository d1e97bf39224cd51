"""The database-backed log (tongban.ledger services/selectors/tasks): storage, proofs, crash
safety, concurrency, checkpoints and keys, audit anchoring."""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection

from tongban.core.audit import GENESIS_HASH, audit_record_append, audit_verify, compute_hash
from tongban.core.errors import DomainError
from tongban.core.models import AuditRecord
from tongban.ledger import merkle, selectors, services
from tongban.ledger.models import Log, LogEntry, LogNode, SigningKey, node_from_position
from tongban.ledger.note import checkpoint_open, checkpoint_parse, note_parse, verifier_from_vkey
from tongban.ledger.tasks import AUDIT_LOG, audit_anchor_entry, audit_head_anchor

from .tamper import as_dba
from .test_ledger_merkle import LEAF_INPUTS, ROOTS
from .threads import run_at_once

pytestmark = pytest.mark.django_db


def verifiers(log_name: str) -> list[Any]:
    return [verifier_from_vkey(v) for v in selectors.log_verifier_keys(log_name=log_name)]


def test_a_log_is_created_with_defaults_and_validated() -> None:
    log = services.log_get_or_create(name="licenses")
    assert (log.origin, log.hash_algorithm, log.size) == ("tongban.local/licenses", "sm3", 0)
    assert services.log_get_or_create(name="licenses", hash_algorithm="sha256").pk == log.pk
    with pytest.raises(DomainError) as bad_name:
        services.log_get_or_create(name="Bad Name")
    assert (bad_name.value.code, bad_name.value.status) == ("invalid_log_name", 422)
    with pytest.raises(DomainError) as bad_hash:
        services.log_get_or_create(name="other", hash_algorithm="md5")
    assert bad_hash.value.code == "invalid_hash_algorithm"
    with pytest.raises(DomainError) as taken:
        services.log_get_or_create(name="second", origin="tongban.local/licenses")
    assert taken.value.code == "origin_taken"
    assert Log.objects.count() == 1


def test_sha256_log_reproduces_the_rfc6962_reference_roots() -> None:
    services.log_get_or_create(name="vectors", hash_algorithm="sha256")
    for size, data in enumerate(LEAF_INPUTS, start=1):
        ref = services.log_append(log_name="vectors", entry=data)
        assert ref.index == size - 1
        assert ref.leaf_hash == merkle.leaf_hash("sha256", data)
        assert selectors.tree_head(log_name="vectors").root_hash.hex() == ROOTS[size]
    for size in range(9):
        assert selectors.tree_head(log_name="vectors", size=size).root_hash.hex() == ROOTS[size]
    assert selectors.entry(log_name="vectors", index=3) == bytes.fromhex("2021")


@pytest.mark.parametrize("algorithm", ["sm3", "sha256"])
def test_every_size_up_to_300_matches_the_naive_recomputation(algorithm: str) -> None:
    services.log_get_or_create(name="big", hash_algorithm=algorithm)
    entries = [f"entry {i}".encode() for i in range(300)]
    # appended one by one for the first 40, then in bulk: both paths must agree
    for entry in entries[:40]:
        services.log_append(log_name="big", entry=entry)
    services.log_append_many(log_name="big", entries=entries[40:])
    leaves = [merkle.leaf_hash(algorithm, e) for e in entries]

    # The stored nodes are exactly the perfect subtrees of the tree, with the right hashes.
    stored = {
        node_from_position(position): bytes(value)
        for position, value in LogNode.objects.values_list("position", "hash")
    }
    assert len(stored) == 2 * 300 - bin(300).count("1")
    for node, value in stored.items():
        first = node.index << node.level
        assert value == merkle.root_naive(algorithm, leaves[first : first + (1 << node.level)])

    roots = [merkle.root_naive(algorithm, leaves[:size]) for size in range(301)]
    for size in range(301):
        assert selectors.tree_head(log_name="big", size=size).root_hash == roots[size]
    # Every proof of every size through the database is costly to run in full on each
    # database; the pure tests cover every (index, size); here every size and a spread of
    # indices and old sizes, checked against the RFC's recursive definitions.
    for size in range(1, 301):
        for index in sorted({0, size // 3, size // 2, size - 1}):
            proof = selectors.inclusion_proof(log_name="big", index=index, size=size)
            assert proof == merkle.inclusion_proof_naive(algorithm, index, leaves[:size])
            assert merkle.verify_inclusion(
                algorithm, leaves[index], index, size, proof, roots[size]
            )
        for old in sorted({0, 1, size // 2, size - 1, size}):
            proof = selectors.consistency_proof(log_name="big", old_size=old, new_size=size)
            assert proof == merkle.consistency_proof_naive(algorithm, old, leaves[:size])
            assert merkle.verify_consistency(algorithm, old, size, roots[old], roots[size], proof)


def test_a_proof_costs_two_queries_whatever_the_size(django_assert_num_queries: Any) -> None:
    services.log_append_many(log_name="q", entries=[bytes([i % 256]) * 3 for i in range(1000)])
    with django_assert_num_queries(2):
        selectors.inclusion_proof(log_name="q", index=517, size=1000)
    with django_assert_num_queries(2):
        selectors.consistency_proof(log_name="q", old_size=333, new_size=999)
    with django_assert_num_queries(2):
        selectors.tree_head(log_name="q", size=777)


def test_bad_sizes_and_indices_are_domain_errors() -> None:
    services.log_append_many(log_name="small", entries=[b"a", b"b", b"c"])
    cases = [
        lambda: selectors.inclusion_proof(log_name="small", index=3, size=3),
        lambda: selectors.inclusion_proof(log_name="small", index=0, size=4),
        lambda: selectors.inclusion_proof(log_name="small", index=-1, size=2),
        lambda: selectors.consistency_proof(log_name="small", old_size=3, new_size=2),
        lambda: selectors.consistency_proof(log_name="small", old_size=1, new_size=9),
        lambda: selectors.tree_head(log_name="small", size=-1),
        lambda: selectors.entry(log_name="small", index=3),
        lambda: selectors.tree_head(log_name="missing"),
    ]
    for case in cases:
        with pytest.raises(DomainError) as error:
            case()
        assert error.value.status in (404, 422)


def test_a_crash_in_the_middle_of_an_append_leaves_the_log_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.log_append_many(log_name="crash", entries=[b"one", b"two", b"three"])
    before = selectors.tree_head(log_name="crash")
    counts = (LogEntry.objects.count(), LogNode.objects.count())

    original_save = Log.save

    def crash(self: Log, *args: Any, **kwargs: Any) -> None:
        # the entry and its nodes are already written when the log row is updated
        assert LogEntry.objects.filter(log=self, index=3).exists()
        raise RuntimeError("power cut")

    monkeypatch.setattr(Log, "save", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        services.log_append(log_name="crash", entry=b"four")
    monkeypatch.setattr(Log, "save", original_save)

    assert selectors.tree_head(log_name="crash") == before
    assert (LogEntry.objects.count(), LogNode.objects.count()) == counts
    ref = services.log_append(log_name="crash", entry=b"four")
    assert ref.index == 3
    leaves = [merkle.leaf_hash("sm3", e) for e in (b"one", b"two", b"three", b"four")]
    assert selectors.tree_head(log_name="crash").root_hash == merkle.root_naive("sm3", leaves)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_tree() -> None:
    services.log_get_or_create(name="busy")

    def worker(number: int) -> None:
        for i in range(8):
            for _attempt in range(200):
                try:
                    services.log_append(log_name="busy", entry=f"{number}:{i}".encode())
                    break
                except OperationalError:
                    # SQLite's in-memory test database (shared cache) answers "table is
                    # locked" at once instead of waiting like the file database's busy
                    # timeout does: wait and retry, as the real timeout would.
                    if connection.vendor != "sqlite":
                        raise
                    time.sleep(0.005)

    assert run_at_once(worker, 4) == []
    rows = list(LogEntry.objects.filter(log__name="busy").order_by("index"))
    assert [row.index for row in rows] == list(range(32))
    assert len({bytes(row.entry) for row in rows}) == 32
    leaves = [merkle.leaf_hash("sm3", bytes(row.entry)) for row in rows]
    head = selectors.tree_head(log_name="busy")
    assert head == selectors.TreeHead(32, merkle.root_naive("sm3", leaves))
    for index in (0, 13, 31):
        proof = selectors.inclusion_proof(log_name="busy", index=index, size=32)
        assert merkle.verify_inclusion("sm3", leaves[index], index, 32, proof, head.root_hash)


def test_checkpoints_are_signed_by_both_keys_stored_and_idempotent() -> None:
    services.log_append_many(log_name="licenses", entries=[b"a", b"b"])
    note = services.checkpoint_publish(log_name="licenses")
    assert services.checkpoint_publish(log_name="licenses") == note
    assert selectors.latest_checkpoint(log_name="licenses") == note
    keys = selectors.log_verifier_keys(log_name="licenses")
    assert len(keys) == 2
    _, names = note_parse(note)
    assert len(names) == 2
    checkpoint = checkpoint_open(note, verifiers("licenses"), "tongban.local/licenses")
    head = selectors.tree_head(log_name="licenses")
    assert (checkpoint.size, checkpoint.root_hash) == (2, head.root_hash)
    # each key alone verifies it (Ed25519 for standard tooling, SM2 for GM/T compliance)
    for vkey in keys:
        checkpoint_open(note, [verifier_from_vkey(vkey)], "tongban.local/licenses")
    services.log_append(log_name="licenses", entry=b"c")
    newer = services.checkpoint_publish(log_name="licenses")
    assert checkpoint_parse(note_parse(newer)[0]).size == 3


def test_key_files_are_private_and_rotation_keeps_old_keys_listed() -> None:
    services.log_append(log_name="licenses", entry=b"a")
    old_note = services.checkpoint_publish(log_name="licenses")
    key_dir = Path(settings.TONGBAN["KEY_DIR"]) / "ledger"
    for row in SigningKey.objects.filter(owner="log:licenses"):
        mode = stat.S_IMODE(os.stat(key_dir / row.file_name).st_mode)
        assert mode == 0o600
    old_keys = selectors.log_verifier_keys(log_name="licenses")

    new_keys = services.ledger_key_rotate(log_name="licenses")
    assert set(new_keys).isdisjoint(old_keys)
    listed = selectors.log_verifier_keys(log_name="licenses")
    assert listed[:2] == new_keys and set(listed[2:]) == set(old_keys)
    new_note = selectors.latest_checkpoint(log_name="licenses")
    assert new_note != old_note
    new_verifiers = [verifier_from_vkey(v) for v in new_keys]
    checkpoint_open(new_note or "", new_verifiers, "tongban.local/licenses")
    with pytest.raises(Exception, match="no trusted key"):
        checkpoint_open(old_note, new_verifiers, "tongban.local/licenses")
    # the old checkpoint still verifies with the listed (old) keys
    checkpoint_open(old_note, verifiers("licenses"), "tongban.local/licenses")
    assert AuditRecord.objects.filter(action="ledger.key_rotate").count() == 1


def recomputed_audit_head() -> tuple[int, str]:
    """What someone re-deriving the chain from the stored rows gets."""
    previous, count = GENESIS_HASH, 0
    for record in AuditRecord.objects.order_by("sequence"):
        record.previous_hash = previous
        previous = compute_hash(record)
        count += 1
    return count, previous


def test_anchoring_the_audit_head_makes_a_later_edit_detectable() -> None:
    for number in range(5):
        audit_record_append(actor="system", action="test.event", object_id=str(number))
    result = audit_head_anchor()
    # a second run with no new audit records does not append a duplicate
    assert audit_head_anchor()["index"] is None

    # What a relying party holds: the signed checkpoint and the log's public keys.
    checkpoint = checkpoint_open(result["checkpoint"], verifiers(AUDIT_LOG), "tongban.local/audit")
    entry = selectors.entry(log_name=AUDIT_LOG, index=result["index"])
    assert entry == audit_anchor_entry(5, result["record_hash"])
    proof = selectors.inclusion_proof(
        log_name=AUDIT_LOG, index=result["index"], size=checkpoint.size
    )
    assert merkle.verify_inclusion(
        "sm3",
        merkle.leaf_hash("sm3", entry),
        result["index"],
        checkpoint.size,
        proof,
        checkpoint.root_hash,
    )
    assert recomputed_audit_head() == (5, result["record_hash"])

    # A DBA edits record #2 (triggers off) and even re-links the chain so it looks intact.
    with as_dba():
        record = AuditRecord.objects.get(sequence=2)
        record.detail = {"edited": True}
        record.record_hash = compute_hash(record)
        record.save()
    assert recomputed_audit_head()[1] != result["record_hash"]
    assert not audit_verify().ok


def test_witness_key_and_trust_list_load(tmp_path: Path) -> None:
    from tongban.ledger.note import Ed25519Signer

    remote = Ed25519Signer.generate("zj.example.gov.cn/licenses")
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(
        '{"logs": [{"origin": "zj.example.gov.cn/licenses", "region": "浙江省", '
        f'"hash_algorithm": "sha256", "vkeys": ["{remote.vkey()}"]}}]}}',
        encoding="utf-8",
    )
    [trusted] = services.trust_list_load_file(trust_file)
    assert (trusted.region, trusted.hash_algorithm) == ("浙江省", "sha256")
    assert trusted.vkey_list() == [remote.vkey()]
    with pytest.raises(DomainError) as error:
        services.trust_list_load(data={"logs": [{"origin": "x", "vkeys": ["garbage"]}]})
    assert error.value.code == "invalid_vkey"
    with pytest.raises(DomainError):
        services.trust_list_load(data={"nothing": []})
    assert selectors.witness_verifier_keys() == []
    vkey = services.witness_signer().vkey()
    assert selectors.witness_verifier_keys() == [vkey]
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    rotated = services.witness_key_rotate()
    assert selectors.witness_verifier_keys() == [rotated, vkey]
