"""This deployment as a witness of another region's log: cosigning and split-view detection."""

from __future__ import annotations

import pytest

from tongban.core.errors import DomainError
from tongban.core.models import AuditRecord
from tongban.ledger import merkle, selectors, services
from tongban.ledger.models import SplitViewAlert, WitnessedCheckpoint
from tongban.ledger.note import (
    Checkpoint,
    Ed25519Signer,
    SM2Signer,
    cosignature_verify,
    note_add_signatures,
    note_sign,
    verifier_from_vkey,
)

from .test_ledger_merkle import MemoryLog

pytestmark = pytest.mark.django_db

ORIGIN = "zj.example.gov.cn/licenses"


class RemoteRegion:
    """Another province's log, run by this test: an in-memory tree and its signing keys."""

    def __init__(self, algorithm: str = "sm3", prefix: bytes = b"zj") -> None:
        self.algorithm = algorithm
        self.tree = MemoryLog(algorithm)
        self.prefix = prefix
        self.signers = [Ed25519Signer.generate(ORIGIN), SM2Signer.generate(ORIGIN)]

    def grow(self, count: int) -> None:
        for _ in range(count):
            data = self.prefix + str(self.tree.size).encode()
            self.tree.append(merkle.leaf_hash(self.algorithm, data))

    def note(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        root = merkle.tree_root(self.algorithm, size, self.tree.fetch)
        return note_sign(Checkpoint(ORIGIN, size, root).body(), self.signers)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.tree.size if new is None else new
        return merkle.consistency_proof(self.algorithm, old, new, self.tree.fetch)


@pytest.fixture
def remote() -> RemoteRegion:
    region = RemoteRegion()
    services.trusted_log_save(
        origin=ORIGIN, vkeys=[s.vkey() for s in region.signers], region="浙江省"
    )
    return region


def test_a_consistent_checkpoint_is_cosigned_and_remembered(remote: RemoteRegion) -> None:
    remote.grow(5)
    first = remote.note()
    line = services.witness_observe(origin=ORIGIN, note=first, consistency_proof=[])
    witness = verifier_from_vkey(selectors.witness_verifier_keys()[0])
    assert cosignature_verify(note=note_add_signatures(first, [line]), verifier=witness) > 0

    remote.grow(12)
    second = remote.note()
    line = services.witness_observe(origin=ORIGIN, note=second, consistency_proof=remote.proof(5))
    assert cosignature_verify(note=note_add_signatures(second, [line]), verifier=witness) > 0
    assert list(WitnessedCheckpoint.objects.values_list("size", flat=True)) == [17, 5]
    # seeing the same checkpoint again is fine and stores nothing new
    services.witness_observe(origin=ORIGIN, note=second, consistency_proof=[])
    assert WitnessedCheckpoint.objects.count() == 2
    assert SplitViewAlert.objects.count() == 0


def split_view(remote: RemoteRegion, note: str, proof: list[bytes], kind: str) -> None:
    audits = AuditRecord.objects.filter(action="ledger.split_view").count()
    with pytest.raises(DomainError) as error:
        services.witness_observe(origin=ORIGIN, note=note, consistency_proof=proof)
    assert (error.value.code, error.value.status) == ("split_view", 409)
    alert = SplitViewAlert.objects.get(pk=int(error.value.fields["alert_id"]))
    assert alert.kind == kind
    assert alert.new_note == note
    assert alert.previous_note == WitnessedCheckpoint.objects.order_by("-size").first().note
    assert AuditRecord.objects.filter(action="ledger.split_view").count() == audits + 1


def test_same_size_with_another_root_is_a_split_view(remote: RemoteRegion) -> None:
    remote.grow(8)
    services.witness_observe(origin=ORIGIN, note=remote.note(), consistency_proof=[])
    # the same log shows someone else a different history of the same size
    fork = RemoteRegion(prefix=b"fork")
    fork.signers = remote.signers
    fork.grow(8)
    split_view(remote, fork.note(), [], "same_size")
    assert WitnessedCheckpoint.objects.count() == 1  # the forked head is not adopted


def test_an_inconsistent_larger_tree_is_a_split_view(remote: RemoteRegion) -> None:
    remote.grow(6)
    services.witness_observe(origin=ORIGIN, note=remote.note(), consistency_proof=[])
    fork = RemoteRegion(prefix=b"fork")
    fork.signers = remote.signers
    fork.grow(10)  # a different tree that does not extend the one we saw
    split_view(remote, fork.note(), fork.proof(6), "inconsistent")
    # a tampered proof for an honest extension is refused the same way
    remote.grow(4)
    proof = remote.proof(6)
    proof[0] = bytes(32)
    split_view(remote, remote.note(), proof, "inconsistent")
    # ... and the honest proof is then accepted
    services.witness_observe(origin=ORIGIN, note=remote.note(), consistency_proof=remote.proof(6))


def test_a_smaller_tree_than_already_seen_is_a_split_view(remote: RemoteRegion) -> None:
    remote.grow(9)
    services.witness_observe(origin=ORIGIN, note=remote.note(), consistency_proof=[])
    split_view(remote, remote.note(4), [], "rollback")


def test_unknown_logs_and_bad_notes_are_refused_without_side_effects(
    remote: RemoteRegion,
) -> None:
    remote.grow(3)
    note = remote.note()
    cases = [
        ("other.example/log", note, [], "unknown_log", 404),
        (ORIGIN, note.replace("\n3\n", "\n4\n"), [], "invalid_checkpoint", 422),
        (ORIGIN, "garbage", [], "invalid_checkpoint", 422),
        (ORIGIN, note, [b"short"], "invalid_proof", 422),
    ]
    stranger = RemoteRegion()
    cases.append((ORIGIN, stranger.note(), [], "invalid_checkpoint", 422))
    for origin, bad_note, proof, code, status in cases:
        with pytest.raises(DomainError) as error:
            services.witness_observe(origin=origin, note=bad_note, consistency_proof=proof)
        assert (error.value.code, error.value.status) == (code, status)
    assert WitnessedCheckpoint.objects.count() == 0
    assert SplitViewAlert.objects.count() == 0


def test_sha256_trusted_logs_are_checked_with_sha256() -> None:
    region = RemoteRegion("sha256")
    services.trusted_log_save(
        origin=ORIGIN, vkeys=[region.signers[0].vkey()], hash_algorithm="sha256"
    )
    region.grow(3)
    services.witness_observe(origin=ORIGIN, note=region.note(), consistency_proof=[])
    region.grow(3)
    services.witness_observe(origin=ORIGIN, note=region.note(), consistency_proof=region.proof(3))
    assert WitnessedCheckpoint.objects.count() == 2


def test_our_own_log_can_be_witnessed_by_another_deployment() -> None:
    """The log side and the witness side speak the same formats: witness our own log."""
    services.log_append_many(log_name="licenses", entries=[b"a", b"b", b"c"])
    note = services.checkpoint_publish(log_name="licenses")
    services.trusted_log_save(
        origin="tongban.local/licenses", vkeys=selectors.log_verifier_keys(log_name="licenses")
    )
    services.witness_observe(origin="tongban.local/licenses", note=note, consistency_proof=[])
    services.log_append_many(log_name="licenses", entries=[b"d", b"e"])
    newer = services.checkpoint_publish(log_name="licenses")
    proof = selectors.consistency_proof(log_name="licenses", old_size=3, new_size=5)
    line = services.witness_observe(
        origin="tongban.local/licenses", note=newer, consistency_proof=proof
    )
    assert line.startswith("— tongban.local/witness ")
