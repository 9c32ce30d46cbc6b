"""Tracker speed: one cycle's measurements (radar clusters + camera detections) processed and
the track list produced, for the numba tracker and the filterpy reference, vs object count.

Run: python -m pytest benchmarks/bench_fusion.py --benchmark-only
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_autopilot.fusion.measurements import MeasurementBatch, Pose2D, position_batch
from edge_autopilot.fusion.tracker import Tracker, TrackerParams

MS = 1_000_000
STILL = Pose2D(0.0, 0.0, 0.0, 20.0, 0.0)


def _objects(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    return np.stack([rng.uniform(10, 120, k), rng.uniform(-12, 12, k)], axis=1)


def _batches(k: int, cycles: int) -> list[MeasurementBatch]:
    base = _objects(k)
    rng = np.random.default_rng(1)
    out = []
    for c in range(cycles):
        t = c * 10 * MS
        xy = base + np.array([5.0 * t / 1e9, 0.0]) + rng.normal(0, 0.2, base.shape)
        out.append(position_batch("camera", t, xy[:, 0], xy[:, 1], np.full(k, 0.4),
                                  np.full(k, 0.2), np.zeros(k), STILL))
    return out


def _make(kind: str, k: int) -> Any:
    params = TrackerParams(capacity=max(64, 2 * k))
    if kind == "numba":
        return Tracker(params)
    from edge_autopilot.sim.fusion_eval import FilterpyTracker

    return FilterpyTracker(params)


@pytest.mark.parametrize("objects", [1, 8, 32])
@pytest.mark.parametrize("kind", ["numba", "filterpy"])
def test_tracker_cycle(benchmark: Any, kind: str, objects: int) -> None:
    if kind == "filterpy":
        pytest.importorskip("filterpy")
    batches = _batches(objects, 400)
    trk = _make(kind, objects)
    for b in batches[:100]:  # confirm the tracks and compile the kernels
        trk.process(b)
        trk.tracks(b.stamp_ns, STILL)
    it = iter(batches[100:])

    def cycle() -> None:
        b = next(it)
        trk.process(b)
        trk.tracks(b.stamp_ns, STILL)

    benchmark.pedantic(cycle, rounds=250, iterations=1)
