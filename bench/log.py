"""`tongban bench log`: appends/s and proofs/s of the ledger against two baselines.

For each tree size N (default 10^4 and 10^6, `--sizes`):
- ours: the Django ledger (tongban.ledger) on the test database (SQLite in a temporary
  directory, or DATABASE_URL) — the tree is built with the bulk path (log_append_many in
  chunks), then timed: single appends (log_append, one transaction each, as the licences app
  calls it), inclusion proofs and consistency proofs at random positions (selectors), each
  with its database queries and stored nodes read;
- raw: the same leaves hashed in memory with no storage (hashlib SHA-256 / SM3 via
  `cryptography`), proofs from an in-memory dict of the same nodes;
- pymerkle 7.0.0's SqliteTree (SHA-256 only: it has no SM3) doing the same work: bulk build
  (append_entries), single appends (append_entry), prove_inclusion / prove_consistency. Its
  SQLite file gets the same pragmas as ours (WAL, synchronous=NORMAL) so the comparison is of
  the data structure, not of fsync settings.
SHA-256 is compared with pymerkle; the SM3 log is reported beside it (`--sm3-sizes`; by
default at 10^4 only, which keeps the default run near 4 minutes on SQLite).
Proof cost should grow with log n: the table prints nodes read and µs per proof per size.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 20_000
SINGLE_APPENDS = 300
PROOFS = 300


def _setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tongban.config.settings.test"
    os.environ["TONGBAN_BENCH"] = "1"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.test.utils import setup_databases

        setup_databases(verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)


def _entry(i: int) -> bytes:
    return f"licence-event:{i:012d}:".encode().ljust(64, b".")


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _positions(size: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """(leaf index, old size, new size) triples; new size = the full tree."""
    return [(rng.randrange(size), rng.randrange(1, size), size) for _ in range(PROOFS)]


# ---- raw: hashing in memory, no storage ----------------------------------------------------


def bench_raw(algorithm: str, size: int, positions: list[tuple[int, int, int]]) -> dict[str, Any]:
    from tongban.ledger import merkle

    nodes: dict[merkle.NodeId, bytes] = {}
    frontier: list[bytes] = []

    def build() -> None:
        nonlocal frontier
        for i in range(size):
            frontier, created = merkle.frontier_append(
                algorithm, i, frontier, merkle.leaf_hash(algorithm, _entry(i))
            )
            nodes.update(created)

    build_seconds = _timed(build)

    def fetch(ids: Any) -> dict[merkle.NodeId, bytes]:
        return {node: nodes[node] for node in ids}

    inclusion = _timed(
        lambda: [merkle.inclusion_proof(algorithm, i, n, fetch) for i, _, n in positions]
    )
    consistency = _timed(
        lambda: [merkle.consistency_proof(algorithm, o, n, fetch) for _, o, n in positions]
    )
    return {
        "appends": _rate(size, build_seconds),
        "bulk_appends": _rate(size, build_seconds),
        "build_seconds": build_seconds,
        "inclusion": _rate(len(positions), inclusion),
        "consistency": _rate(len(positions), consistency),
    }


# ---- ours: the Django ledger ------------------------------------------------------------------


def bench_ours(algorithm: str, size: int, positions: list[tuple[int, int, int]]) -> dict[str, Any]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from tongban.ledger import merkle, selectors, services

    name = f"bench-{algorithm}-{size}-{random.randrange(10**9)}"
    services.log_get_or_create(name=name, hash_algorithm=algorithm)

    def build() -> None:
        for start in range(0, size, CHUNK):
            end = min(size, start + CHUNK)
            services.log_append_many(log_name=name, entries=[_entry(i) for i in range(start, end)])

    build_seconds = _timed(build)
    assert selectors.tree_head(log_name=name).size == size

    inclusion = _timed(
        lambda: [selectors.inclusion_proof(log_name=name, index=i, size=n) for i, _, n in positions]
    )
    consistency = _timed(
        lambda: [
            selectors.consistency_proof(log_name=name, old_size=o, new_size=n)
            for _, o, n in positions
        ]
    )
    # Cost per proof: database round trips and stored nodes read (averaged).
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        for i, _, n in positions[:50]:
            selectors.inclusion_proof(log_name=name, index=i, size=n)
    queries = len(captured.captured_queries) / 50
    nodes = statistics.mean(
        len(merkle.plan_nodes(merkle.inclusion_plan(i, n))) for i, _, n in positions
    )
    consistency_nodes = statistics.mean(
        len(merkle.plan_nodes(merkle.consistency_plan(o, n))) for _, o, n in positions
    )
    # Single appends last (they grow the tree past `size` a little).
    single = _timed(
        lambda: [
            services.log_append(log_name=name, entry=_entry(size + i))
            for i in range(SINGLE_APPENDS)
        ]
    )
    return {
        "appends": _rate(SINGLE_APPENDS, single),
        "bulk_appends": _rate(size, build_seconds),
        "build_seconds": build_seconds,
        "inclusion": _rate(len(positions), inclusion),
        "consistency": _rate(len(positions), consistency),
        "queries_per_proof": queries,
        "nodes_per_inclusion": nodes,
        "nodes_per_consistency": consistency_nodes,
    }


# ---- pymerkle's SQLite backend --------------------------------------------------------------


def bench_pymerkle(size: int, positions: list[tuple[int, int, int]]) -> dict[str, Any] | None:
    try:
        from pymerkle import SqliteTree
    except ImportError:
        print("  (pymerkle not installed: pip install pymerkle==7.0.0)")
        return None
    directory = Path(tempfile.mkdtemp(prefix="tongban-bench-pymerkle-"))
    tree = SqliteTree(str(directory / "merkle.db"), algorithm="sha256")
    tree.con.execute("PRAGMA journal_mode=WAL")
    tree.con.execute("PRAGMA synchronous=NORMAL")

    def build() -> None:
        for start in range(0, size, CHUNK):
            end = min(size, start + CHUNK)
            tree.append_entries([_entry(i) for i in range(start, end)])

    build_seconds = _timed(build)
    assert tree.get_size() == size
    # pymerkle counts leaves from one
    inclusion = _timed(lambda: [tree.prove_inclusion(i + 1, n) for i, _, n in positions])
    consistency = _timed(lambda: [tree.prove_consistency(o, n) for _, o, n in positions])
    single = _timed(lambda: [tree.append_entry(_entry(size + i)) for i in range(SINGLE_APPENDS)])
    tree.close()
    return {
        "appends": _rate(SINGLE_APPENDS, single),
        "bulk_appends": _rate(size, build_seconds),
        "build_seconds": build_seconds,
        "inclusion": _rate(len(positions), inclusion),
        "consistency": _rate(len(positions), consistency),
    }


# ---- report ------------------------------------------------------------------------------------


def _line(label: str, result: dict[str, Any]) -> str:
    return (
        f"  {label:<18} append {result['appends']:>10.0f}/s  bulk {result['bulk_appends']:>10.0f}/s"
        f" ({result['build_seconds']:6.1f} s)  inclusion {result['inclusion']:>9.0f}/s"
        f" ({1e6 / result['inclusion']:7.0f} µs)  consistency {result['consistency']:>9.0f}/s"
        f" ({1e6 / result['consistency']:7.0f} µs)"
    )


def _ratios(label: str, ours: dict[str, Any], other: dict[str, Any]) -> str:
    parts = [
        f"{key} {ours[key] / other[key]:.3f}×"
        for key in ("appends", "bulk_appends", "inclusion", "consistency")
    ]
    return f"  ratio ours/{label:<10} " + "  ".join(parts)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tongban bench log")
    parser.add_argument(
        "--sizes", default="10000,1000000", help="tree sizes, comma-separated (SHA-256)"
    )
    parser.add_argument(
        "--sm3-sizes",
        default="10000",
        help="tree sizes of the SM3 run (empty: none); 10000,1000000 adds ~2.5 min",
    )
    parser.add_argument("--no-pymerkle", action="store_true", help="skip the pymerkle baseline")
    args = parser.parse_args(argv)
    _setup()
    from django.db import connection

    rng = random.Random(2024)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    sm3_sizes = [int(s) for s in args.sm3_sizes.split(",") if s.strip()]
    print(
        f"bench log ({connection.vendor}; {SINGLE_APPENDS} single appends, "
        f"{PROOFS} inclusion + {PROOFS} consistency proofs per size)"
    )
    growth: list[tuple[str, int, dict[str, Any]]] = []
    for algorithm, algorithm_sizes in (("sha256", sizes), ("sm3", sm3_sizes)):
        for size in algorithm_sizes:
            positions = _positions(size, rng)
            print(f"\n{algorithm.upper()} · {size:,} leaves")
            raw = bench_raw(algorithm, size, positions)
            print(_line("raw (no storage)", raw))
            ours = bench_ours(algorithm, size, positions)
            print(_line("ours (ledger)", ours))
            pymerkle = None
            if algorithm == "sha256" and not args.no_pymerkle:
                pymerkle = bench_pymerkle(size, positions)
                if pymerkle:
                    print(_line("pymerkle sqlite", pymerkle))
            print(_ratios("raw", ours, raw))
            if pymerkle:
                print(_ratios("pymerkle", ours, pymerkle))
            print(
                f"  per proof (ours): {ours['queries_per_proof']:.1f} queries, "
                f"{ours['nodes_per_inclusion']:.1f} nodes (inclusion), "
                f"{ours['nodes_per_consistency']:.1f} nodes (consistency); "
                f"log2 n = {size.bit_length() - 1}"
            )
            growth.append((algorithm, size, ours))
    print(
        "\nproof cost by size (ours): "
        "size · log2 n · nodes/inclusion · µs/inclusion · µs/consistency"
    )
    for algorithm, size, ours in growth:
        print(
            f"  {algorithm:<6} {size:>10,} {size.bit_length() - 1:>4} "
            f"{ours['nodes_per_inclusion']:>6.1f} {1e6 / ours['inclusion']:>8.0f} "
            f"{1e6 / ours['consistency']:>8.0f}"
        )
    return 0
