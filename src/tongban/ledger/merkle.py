"""Merkle tree hashing and proofs as RFC 6962 / RFC 9162 define them (pure Python, no Django).

Leaves are hashed H(0x00 ‖ entry) and interior nodes H(0x01 ‖ left ‖ right), with SM3 (the
default of our logs) or SHA-256 (what the published test vectors use).

Storage model: a log keeps the hash of every *perfect* subtree it has completed, keyed by
`NodeId(level, index)` — the node at `level` L and `index` i covers the leaves
[i·2^L, (i+1)·2^L). Level 0 holds the leaf hashes. Such a node never changes once written,
so an append only adds nodes (on average two), and the hash of any range the RFC algorithms
ask for — the root of a past tree size, a proof element — is the fold of at most log₂ n of
these stored nodes. The functions here say *which* nodes a root or proof needs (`*_plan`) and
fold fetched nodes into the answer; the caller fetches them in one read from wherever it
keeps them (`NodeFetcher`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes

HASH_ALGORITHMS = ("sm3", "sha256")
HASH_SIZE = 32  # both SM3 and SHA-256 give 32 bytes

HashFunction = Callable[[bytes], bytes]


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_FUNCTIONS: dict[str, HashFunction] = {"sm3": _sm3, "sha256": _sha256}


def hash_function(algorithm: str) -> HashFunction:
    """The hash function named `algorithm` ("sm3" or "sha256"); ValueError for anything else."""
    try:
        return _FUNCTIONS[algorithm]
    except KeyError:
        raise ValueError(f"unknown hash algorithm {algorithm!r}") from None


def empty_root(algorithm: str) -> bytes:
    """MTH({}) = H(""): the root of the empty tree."""
    return hash_function(algorithm)(b"")


def leaf_hash(algorithm: str, data: bytes) -> bytes:
    """MTH({d}) = H(0x00 ‖ d)."""
    return hash_function(algorithm)(b"\x00" + data)


def node_hash(algorithm: str, left: bytes, right: bytes) -> bytes:
    """H(0x01 ‖ left ‖ right)."""
    return hash_function(algorithm)(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_naive(algorithm: str, leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition: O(n), for tests."""
    n = len(leaf_hashes)
    if n == 0:
        return empty_root(algorithm)
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(
        algorithm, root_naive(algorithm, leaf_hashes[:k]), root_naive(algorithm, leaf_hashes[k:])
    )


def inclusion_proof_naive(algorithm: str, index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 9162 §2.1.3.1, recursively: O(n), for tests."""
    n = len(leaf_hashes)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return [
            *inclusion_proof_naive(algorithm, index, leaf_hashes[:k]),
            root_naive(algorithm, leaf_hashes[k:]),
        ]
    return [
        *inclusion_proof_naive(algorithm, index - k, leaf_hashes[k:]),
        root_naive(algorithm, leaf_hashes[:k]),
    ]


def consistency_proof_naive(
    algorithm: str, old_size: int, leaf_hashes: Sequence[bytes]
) -> list[bytes]:
    """PROOF(m, D[n]) from RFC 9162 §2.1.4.1, recursively: O(n), for tests."""

    def subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(leaves)
        if m == n:
            return [] if complete else [root_naive(algorithm, leaves)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, leaves[:k], complete), root_naive(algorithm, leaves[k:])]
        return [*subproof(m - k, leaves[k:], False), root_naive(algorithm, leaves[:k])]

    if old_size <= 0 or old_size >= len(leaf_hashes):
        return []
    return subproof(old_size, leaf_hashes, True)


# ---- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------


def _valid_hashes(values: Iterable[object]) -> bool:
    return all(isinstance(value, bytes) and len(value) == HASH_SIZE for value in values)


def root_from_inclusion_proof(
    algorithm: str, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` leads to from `leaf_hash` at `index`, or None if the proof has the
    wrong shape for (index, size)."""
    if not (isinstance(index, int) and isinstance(size, int)) or not 0 <= index < size:
        return None
    if algorithm not in _FUNCTIONS or not _valid_hashes([leaf_hash, *proof]):
        return None
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(algorithm, sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(algorithm, result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(
    algorithm: str, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when `proof` shows the leaf `leaf_hash` at `index` in the tree of `size` with `root`.
    Never raises: malformed input is simply not a valid proof."""
    try:
        computed = root_from_inclusion_proof(algorithm, leaf_hash, index, size, proof)
    except (TypeError, ValueError):
        return False
    return computed is not None and isinstance(root, bytes) and computed == root


def verify_consistency(
    algorithm: str,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """True when `proof` shows the tree (`old_size`, `old_root`) is a prefix of
    (`new_size`, `new_root`). Never raises."""
    try:
        return _verify_consistency(algorithm, old_size, new_size, old_root, new_root, proof)
    except (TypeError, ValueError):
        return False


def _verify_consistency(
    algorithm: str,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    if not (isinstance(old_size, int) and isinstance(new_size, int)):
        return False
    if algorithm not in _FUNCTIONS or not 0 <= old_size <= new_size:
        return False
    if not _valid_hashes([old_root, new_root, *proof]):
        return False
    if old_size == 0:
        # Every tree extends the empty tree (whose root is H("")); the proof is empty.
        return len(proof) == 0 and old_root == empty_root(algorithm)
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node itself
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(algorithm, node, first)
            second = node_hash(algorithm, node, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(algorithm, second, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


# ---- Proofs from stored perfect-subtree nodes -------------------------------------------


class NodeId(NamedTuple):
    """A perfect subtree: leaves [index·2^level, (index+1)·2^level)."""

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose


# Fetch the hashes of the given nodes (all of which exist); one round trip to the store.
NodeFetcher = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The perfect subtrees that tile the leaves [begin, end), largest (leftmost) first.

    For the ranges the RFC algorithms use, begin is aligned to a power of two ≥ end − begin, so
    the tiling follows the binary digits of end − begin and MTH(D[begin:end]) is the
    right-to-left fold of these nodes (`range_hash`)."""
    nodes: list[NodeId] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append(NodeId(level, begin >> level))
        begin += 1 << level
    return nodes


def fold_nodes(algorithm: str, hashes_left_to_right: Sequence[bytes]) -> bytes:
    """MTH of a range from its tiling (see `range_nodes`): fold from the right."""
    if not hashes_left_to_right:
        return empty_root(algorithm)
    result = hashes_left_to_right[-1]
    for value in reversed(hashes_left_to_right[:-1]):
        result = node_hash(algorithm, value, result)
    return result


# A plan: one list of nodes per element of the answer; each element is the fold of its nodes.
Plan = list[list[NodeId]]


def root_plan(size: int) -> Plan:
    """Nodes whose fold is MTH(D[0:size]) (one element)."""
    return [range_nodes(0, size)]


def inclusion_plan(index: int, size: int) -> Plan:
    """The ranges of PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf end first."""
    if not 0 <= index < size:
        raise ValueError("index must be in [0, size)")
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    return [range_nodes(b, e) for b, e in reversed(ranges)]


def consistency_plan(old_size: int, new_size: int) -> Plan:
    """The ranges of PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1), innermost first.
    Empty when old_size is 0 or equal to new_size."""
    if not 0 <= old_size <= new_size:
        raise ValueError("sizes must satisfy 0 ≤ old ≤ new")
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    begin, end, m, complete = 0, new_size, old_size, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            m -= k
            begin += k
            complete = False
    if not complete:
        ranges.append((begin, end))
    return [range_nodes(b, e) for b, e in reversed(ranges)]


def plan_nodes(plan: Plan) -> list[NodeId]:
    """Every distinct node a plan needs, for one fetch."""
    return list(dict.fromkeys(node for element in plan for node in element))


def plan_resolve(algorithm: str, plan: Plan, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Fold fetched nodes into the answer's hashes; KeyError when a needed node is missing."""
    return [fold_nodes(algorithm, [nodes[node] for node in element]) for element in plan]


def tree_root(algorithm: str, size: int, fetch: NodeFetcher) -> bytes:
    plan = root_plan(size)
    return plan_resolve(algorithm, plan, fetch(plan_nodes(plan)))[0]


def inclusion_proof(algorithm: str, index: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    plan = inclusion_plan(index, size)
    return plan_resolve(algorithm, plan, fetch(plan_nodes(plan)))


def consistency_proof(
    algorithm: str, old_size: int, new_size: int, fetch: NodeFetcher
) -> list[bytes]:
    plan = consistency_plan(old_size, new_size)
    return plan_resolve(algorithm, plan, fetch(plan_nodes(plan)))


# ---- Appending: the right edge of the tree (its "compact range") --------------------------


def frontier_root(algorithm: str, frontier: Sequence[bytes]) -> bytes:
    """The root of a tree from its frontier: the hashes of range_nodes(0, size)."""
    return fold_nodes(algorithm, frontier)


def frontier_append(
    algorithm: str, size: int, frontier: Sequence[bytes], leaf: bytes
) -> tuple[list[bytes], list[tuple[NodeId, bytes]]]:
    """Add leaf number `size` to a tree given by its frontier.

    Returns the new frontier and the nodes completed by this leaf (the leaf itself at level 0
    and one parent per perfect subtree it closes): exactly what an append must store."""
    new_frontier = list(frontier)
    created = [(NodeId(0, size), leaf)]
    value, level, index = leaf, 0, size
    while index & 1:
        value = node_hash(algorithm, new_frontier.pop(), value)
        level += 1
        index >>= 1
        created.append((NodeId(level, index), value))
    new_frontier.append(value)
    return new_frontier, created


def frontier_split(packed: bytes | memoryview) -> list[bytes]:
    """A frontier stored as concatenated 32-byte hashes → its list of hashes."""
    raw = bytes(packed)
    return [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
