"""Pure Merkle code (tongban.ledger.merkle): RFC 6962 vectors, every size 1..300, tampering."""

from __future__ import annotations

import random

import pytest

from tongban.ledger import merkle
from tongban.ledger.merkle import NodeId

# The 8-leaf reference tree of Certificate Transparency / transparency-dev (SHA-256):
# leaf inputs, and the root of every size 0..8.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Interior nodes (level, index) of the 8-leaf tree.
NODES = {
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# (leaf index, tree size) → inclusion proof; (old size, new size) → consistency proof.
INCLUSION_VECTORS = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 1): [],
}
CONSISTENCY_VECTORS = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
SHA = "sha256"


def hexes(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


class MemoryLog:
    """The storage model of the ledger, in memory: frontier + perfect-subtree nodes."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.frontier: list[bytes] = []
        self.nodes: dict[NodeId, bytes] = {}
        self.size = 0
        self.reads = 0

    def append(self, leaf: bytes) -> None:
        self.frontier, created = merkle.frontier_append(
            self.algorithm, self.size, self.frontier, leaf
        )
        self.nodes.update(created)
        self.size += 1

    def fetch(self, ids: list[NodeId]) -> dict[NodeId, bytes]:
        self.reads += len(ids)
        return {node: self.nodes[node] for node in ids}


def reference_log(algorithm: str = SHA) -> MemoryLog:
    log = MemoryLog(algorithm)
    for data in LEAF_INPUTS:
        log.append(merkle.leaf_hash(algorithm, data))
    return log


def test_leaf_hashes_and_roots_match_the_published_vectors() -> None:
    leaves = [merkle.leaf_hash(SHA, data) for data in LEAF_INPUTS]
    assert hexes(leaves) == LEAF_HASHES
    for size, expected in enumerate(ROOTS):
        assert merkle.root_naive(SHA, leaves[:size]).hex() == expected
    log = MemoryLog(SHA)
    assert merkle.tree_root(SHA, 0, log.fetch).hex() == ROOTS[0]
    for size, leaf in enumerate(leaves, start=1):
        log.append(leaf)
        assert merkle.frontier_root(SHA, log.frontier).hex() == ROOTS[size]
    for size in range(9):
        assert merkle.tree_root(SHA, size, log.fetch).hex() == ROOTS[size]
    for (level, index), expected in NODES.items():
        assert log.nodes[NodeId(level, index)].hex() == expected


@pytest.mark.parametrize(("index", "size"), list(INCLUSION_VECTORS))
def test_inclusion_proofs_match_the_published_vectors(index: int, size: int) -> None:
    log = reference_log()
    proof = merkle.inclusion_proof(SHA, index, size, log.fetch)
    assert hexes(proof) == INCLUSION_VECTORS[(index, size)]
    leaf = bytes.fromhex(LEAF_HASHES[index])
    assert merkle.verify_inclusion(SHA, leaf, index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new"), list(CONSISTENCY_VECTORS))
def test_consistency_proofs_match_the_published_vectors(old: int, new: int) -> None:
    log = reference_log()
    proof = merkle.consistency_proof(SHA, old, new, log.fetch)
    assert hexes(proof) == CONSISTENCY_VECTORS[(old, new)]
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert merkle.verify_consistency(SHA, old, new, old_root, new_root, proof)


@pytest.mark.parametrize("algorithm", merkle.HASH_ALGORITHMS)
def test_every_proof_of_every_size_up_to_300_matches_the_naive_recomputation(
    algorithm: str,
) -> None:
    leaves = [merkle.leaf_hash(algorithm, i.to_bytes(4, "big")) for i in range(300)]
    log = MemoryLog(algorithm)
    roots = [merkle.empty_root(algorithm)]
    for size in range(1, 301):
        log.append(leaves[size - 1])
        roots.append(merkle.root_naive(algorithm, leaves[:size]))
        assert merkle.tree_root(algorithm, size, log.fetch) == roots[size]
    for size in range(1, 301):
        root = roots[size]
        for index in range(size):
            proof = merkle.inclusion_proof(algorithm, index, size, log.fetch)
            # naive recursion only on a sample: it is O(n) per call
            if size <= 40 or index % 37 == 0:
                assert proof == merkle.inclusion_proof_naive(algorithm, index, leaves[:size])
            assert merkle.verify_inclusion(algorithm, leaves[index], index, size, proof, root)
        for old in range(size + 1):
            proof = merkle.consistency_proof(algorithm, old, size, log.fetch)
            if size <= 40 or old % 37 == 0:
                assert proof == merkle.consistency_proof_naive(algorithm, old, leaves[:size])
            assert merkle.verify_consistency(algorithm, old, size, roots[old], root, proof)


def test_random_larger_trees_agree_with_the_naive_recomputation() -> None:
    rng = random.Random(6962)
    for _ in range(3):
        size = rng.randrange(1000, 5000)
        leaves = [merkle.leaf_hash(SHA, rng.randbytes(rng.randrange(0, 40))) for _ in range(size)]
        log = MemoryLog(SHA)
        for leaf in leaves:
            log.append(leaf)
        root = merkle.root_naive(SHA, leaves)
        assert merkle.tree_root(SHA, size, log.fetch) == root
        for _ in range(20):
            index = rng.randrange(size)
            proof = merkle.inclusion_proof(SHA, index, size, log.fetch)
            assert proof == merkle.inclusion_proof_naive(SHA, index, leaves)
            assert merkle.verify_inclusion(SHA, leaves[index], index, size, proof, root)
            old = rng.randrange(1, size)
            proof = merkle.consistency_proof(SHA, old, size, log.fetch)
            assert proof == merkle.consistency_proof_naive(SHA, old, leaves)
            old_root = merkle.root_naive(SHA, leaves[:old])
            assert merkle.verify_consistency(SHA, old, size, old_root, root, proof)


def test_proof_cost_grows_with_log_n() -> None:
    log = MemoryLog(SHA)
    for i in range(1 << 12):
        log.append(merkle.leaf_hash(SHA, i.to_bytes(4, "big")))
    for size in (17, 300, 4095, 4096):
        for index in (0, size // 2, size - 1):
            nodes = merkle.plan_nodes(merkle.inclusion_plan(index, size))
            assert len(nodes) <= 2 * size.bit_length()
        nodes = merkle.plan_nodes(merkle.consistency_plan(size // 3 or 1, size))
        assert len(nodes) <= 2 * size.bit_length()
    assert len(merkle.plan_nodes(merkle.root_plan(4095))) == 12


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_tampered_inclusion_proofs_are_rejected() -> None:
    log = reference_log()
    for index, size in [(0, 8), (5, 8), (2, 3), (1, 5), (7, 8), (4, 7)]:
        leaf = bytes.fromhex(LEAF_HASHES[index])
        root = bytes.fromhex(ROOTS[size])
        proof = merkle.inclusion_proof(SHA, index, size, log.fetch)
        assert merkle.verify_inclusion(SHA, leaf, index, size, proof, root)
        probes = [
            (leaf, index - 1, size, proof, root),
            (leaf, index + 1, size, proof, root),
            (leaf, index ^ 2, size, proof, root),
            (leaf, index, size * 2, proof, root),
            (leaf, index, size // 2, proof, root),
            (merkle.leaf_hash(SHA, b"wrong"), index, size, proof, root),
            (leaf, index, size, proof, SOME_HASH),
            (leaf, index, size, proof, bytes.fromhex(ROOTS[0])),
            (leaf, index, size, [*proof, root], root),
            (leaf, index, size, [root, *proof], root),
            (leaf, index, size, [*proof, b""], root),
            (leaf, index, size, proof[:-1], root),
        ]
        for position in range(len(proof)):
            flipped = list(proof)
            flipped[position] = bytes([flipped[position][0] ^ 8]) + flipped[position][1:]
            probes.append((leaf, index, size, flipped, root))
        for probe_leaf, probe_index, probe_size, probe_proof, probe_root in probes:
            if (probe_index, probe_size, probe_proof) == (index, size, proof) and (
                probe_leaf,
                probe_root,
            ) == (leaf, root):
                continue
            assert not merkle.verify_inclusion(
                SHA, probe_leaf, probe_index, probe_size, probe_proof, probe_root
            ), (index, size, probe_index, probe_size)


def test_tampered_consistency_proofs_are_rejected() -> None:
    log = reference_log()
    for old, new in [(1, 8), (6, 8), (2, 5), (6, 7), (3, 7)]:
        old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
        proof = merkle.consistency_proof(SHA, old, new, log.fetch)
        assert merkle.verify_consistency(SHA, old, new, old_root, new_root, proof)
        probes = [
            (old - 1, new, old_root, new_root, proof),
            (old + 1, new, old_root, new_root, proof),
            (old ^ 2, new, old_root, new_root, proof),
            (old, new * 2, old_root, new_root, proof),
            (old, new // 2, old_root, new_root, proof),
            (old, new, SOME_HASH, new_root, proof),
            (old, new, old_root, SOME_HASH, proof),
            (old, new, new_root, old_root, proof),
            (old, new, old_root, new_root, []),
            (old, new, old_root, new_root, [*proof, old_root]),
            (old, new, old_root, new_root, [*proof, new_root]),
            (old, new, old_root, new_root, [new_root, *proof]),
            (old, new, old_root, new_root, [proof[0], *proof]),
            (old, new, old_root, new_root, proof[:-1]),
            (new, old, new_root, old_root, proof),
        ]
        for position in range(len(proof)):
            flipped = list(proof)
            flipped[position] = bytes([flipped[position][0] ^ 16]) + flipped[position][1:]
            probes.append((old, new, old_root, new_root, flipped))
        for probe in probes:
            assert not merkle.verify_consistency(SHA, *probe), (old, new, probe[:2])


@pytest.mark.parametrize(
    "arguments",
    [
        ("md5", b"\x00" * 32, 0, 1, [], b"\x00" * 32),
        (SHA, "not bytes", 0, 1, [], b"\x00" * 32),
        (SHA, b"\x00" * 32, -1, 1, [], b"\x00" * 32),
        (SHA, b"\x00" * 32, 0, 0, [], b"\x00" * 32),
        (SHA, b"\x00" * 32, "0", 1, [], b"\x00" * 32),
        (SHA, b"\x00" * 32, 0, 2, [None], b"\x00" * 32),
        (SHA, b"\x00" * 32, 0, 2, [b"short"], b"\x00" * 32),
        (SHA, b"\x00" * 32, 0, 1, [], None),
        (SHA, b"\x00" * 32, 2**70, 2**71, [b"\x00" * 32] * 3, b"\x00" * 32),
    ],
)
def test_inclusion_verifier_never_raises_on_garbage(arguments: tuple) -> None:
    assert merkle.verify_inclusion(*arguments) is False


@pytest.mark.parametrize(
    "arguments",
    [
        ("md5", 1, 2, b"\x00" * 32, b"\x00" * 32, [b"\x00" * 32]),
        (SHA, 2, 1, b"\x00" * 32, b"\x00" * 32, []),
        (SHA, -1, 1, b"\x00" * 32, b"\x00" * 32, []),
        (SHA, 1, 2, "x", b"\x00" * 32, [b"\x00" * 32]),
        (SHA, 1, 2, b"\x00" * 32, b"\x00" * 32, [None]),
        (SHA, 1, 1, b"\x00" * 32, b"\x01" * 32, []),
        (SHA, 0, 0, b"\x00" * 32, b"\x00" * 32, []),  # the empty root is H(""), not zeros
        (SHA, 1.5, 2, b"\x00" * 32, b"\x00" * 32, []),
        (SHA, 3, 2**80, b"\x00" * 32, b"\x00" * 32, [b"\x00" * 32] * 90),
    ],
)
def test_consistency_verifier_never_raises_on_garbage(arguments: tuple) -> None:
    assert merkle.verify_consistency(*arguments) is False


def test_trivial_consistency_cases() -> None:
    empty = merkle.empty_root(SHA)
    root = bytes.fromhex(ROOTS[3])
    assert merkle.verify_consistency(SHA, 0, 0, empty, empty, [])
    assert merkle.verify_consistency(SHA, 0, 3, empty, root, [])
    assert merkle.verify_consistency(SHA, 3, 3, root, root, [])
    assert not merkle.verify_consistency(SHA, 3, 3, root, root, [root])
    assert not merkle.verify_consistency(SHA, 0, 3, empty, root, [empty])


def test_sm3_and_sha256_trees_differ_and_unknown_algorithms_are_refused() -> None:
    assert merkle.leaf_hash("sm3", b"") != merkle.leaf_hash("sha256", b"")
    # SM3("") from GB/T 32905's reference implementation
    assert (
        merkle.empty_root("sm3").hex()
        == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    )
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        merkle.hash_function("md5")
    with pytest.raises(ValueError):
        merkle.inclusion_plan(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_plan(4, 3)
