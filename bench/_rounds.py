"""Alternating rounds: the measured path and its baseline in turn, in the same run, so drift
hits both equally; each reported as the median of its rounds."""

from __future__ import annotations

import statistics
from collections.abc import Callable

Round = Callable[[int, int], float]  # (first index, count) → operations per second


def alternate(
    measured: Round, baseline: Round, *, rounds: int, per_round: int, warmup: int
) -> tuple[float, float]:
    """(median rate of `measured`, median rate of `baseline`). Every call gets its own index
    range, so idempotency keys and labels never repeat."""
    measured(0, warmup)
    baseline(warmup, warmup)
    measured_rates, baseline_rates = [], []
    offset = max(100, 2 * warmup)
    for _ in range(rounds):
        baseline_rates.append(baseline(offset, per_round))
        offset += per_round
        measured_rates.append(measured(offset, per_round))
        offset += per_round
    return statistics.median(measured_rates), statistics.median(baseline_rates)
