"""Per-cycle timing records and their summaries.

Every cycle is recorded individually (no running averages that could hide a stall) into
preallocated arrays, so recording costs no allocation in the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimingSummary:
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    def to_json(self) -> dict[str, float | None]:
        def r(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        return {"p50": r(self.p50_ms), "p99": r(self.p99_ms), "p999": r(self.p999_ms),
                "max": r(self.max_ms)}


def summarize_ns(samples_ns: np.ndarray) -> TimingSummary:
    if samples_ns.size == 0:
        return TimingSummary(math.nan, math.nan, math.nan, math.nan)
    ms = samples_ns.astype(np.float64) / 1e6
    p50, p99, p999 = np.percentile(ms, [50.0, 99.0, 99.9])
    return TimingSummary(float(p50), float(p99), float(p999), float(ms.max()))


class CycleTimes:
    """Wake latency, each stage's time and the end-to-end time of up to ``capacity`` cycles."""

    def __init__(self, stage_names: tuple[str, ...], capacity: int) -> None:
        self.stage_names = stage_names
        self.capacity = capacity
        self.wake_latency_ns = np.zeros(capacity, dtype=np.int64)
        self.end_to_end_ns = np.zeros(capacity, dtype=np.int64)
        # -1 marks a stage that was skipped in that cycle
        self.stage_ns = np.full((capacity, len(stage_names)), -1, dtype=np.int64)
        self.missed = np.zeros(capacity, dtype=bool)
        self.fallback = np.zeros(capacity, dtype=bool)
        self.count = 0
        self.overflowed = 0  # cycles beyond capacity: counted in misses, not stored

    def stage_summary(self, name: str) -> TimingSummary:
        col = self.stage_ns[: self.count, self.stage_names.index(name)]
        return summarize_ns(col[col >= 0])

    def end_to_end_summary(self) -> TimingSummary:
        return summarize_ns(self.end_to_end_ns[: self.count])

    def wake_latency_summary(self) -> TimingSummary:
        return summarize_ns(self.wake_latency_ns[: self.count])

    @property
    def deadline_misses(self) -> int:
        return int(self.missed[: self.count].sum())

    @property
    def fallback_cycles(self) -> int:
        return int(self.fallback[: self.count].sum())

    @property
    def max_consecutive_misses(self) -> int:
        best = run = 0
        for m in self.missed[: self.count]:
            run = run + 1 if m else 0
            best = max(best, run)
        return best
