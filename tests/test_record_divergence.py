"""record.divergence: two command streams -> summary, compared at the wire's float32."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.record.divergence import (
    ACCEL_DIVERGENCE_MPS2,
    STEER_DIVERGENCE_RAD,
    VERDICT_DIVERGENT,
    VERDICT_IDENTICAL,
    VERDICT_NOTHING,
    VERDICT_WITHIN_TOLERANCE,
    CommandStream,
    compare_commands,
)

T = np.arange(100, dtype=np.int64) * 10_000_000


def stream(steer: np.ndarray | float, accel: np.ndarray | float, t: np.ndarray = T
           ) -> CommandStream:
    return CommandStream.of(t, np.broadcast_to(steer, t.shape), np.broadcast_to(accel, t.shape))


def test_identical_streams() -> None:
    rng = np.random.default_rng(1)
    steer, accel = rng.normal(0, 0.05, T.size), rng.normal(0, 1.0, T.size)
    s = compare_commands(stream(steer, accel), stream(steer.copy(), accel.copy()))
    assert s.verdict == VERDICT_IDENTICAL
    assert (s.cycles_compared, s.identical_cycles, s.differing_cycles) == (100, 100, 0)
    assert s.first_divergent_t_ns is None and s.first_over_t_ns is None
    assert s.max_abs_daccel_mps2 == s.max_abs_dsteer_rad == 0.0


def test_difference_below_float32_is_identical_on_the_wire() -> None:
    accel = np.full(T.size, 1.0)
    nudged = accel + 1e-12  # float64 differs, float32 does not
    assert compare_commands(stream(0.0, accel), stream(0.0, nudged)).verdict == VERDICT_IDENTICAL


def test_small_difference_is_within_tolerance() -> None:
    accel = np.zeros(T.size)
    other = accel.copy()
    other[40:] = 0.1
    s = compare_commands(stream(0.0, accel), stream(0.0, other))
    assert s.verdict == VERDICT_WITHIN_TOLERANCE
    assert s.identical_cycles == 40
    assert s.first_divergent_t_ns == T[40]
    assert s.max_abs_daccel_mps2 == pytest.approx(0.1, abs=1e-7)
    assert s.cycles_over_accel == 0 and s.first_over_t_ns is None


def test_divergence_over_thresholds_is_counted_and_located() -> None:
    accel, steer = np.zeros(T.size), np.zeros(T.size)
    a2, s2 = accel.copy(), steer.copy()
    a2[10:13] = ACCEL_DIVERGENCE_MPS2 + 0.25
    s2[50] = STEER_DIVERGENCE_RAD * 2
    a2[70] = ACCEL_DIVERGENCE_MPS2 * 0.5  # under the threshold: differs, not over
    s = compare_commands(stream(steer, accel), stream(s2, a2))
    assert s.verdict == VERDICT_DIVERGENT
    assert (s.cycles_over_accel, s.cycles_over_steer) == (3, 1)
    assert s.differing_cycles == 5
    assert s.first_divergent_t_ns == s.first_over_t_ns == T[10]
    assert s.max_abs_dsteer_rad == pytest.approx(STEER_DIVERGENCE_RAD * 2, rel=1e-6)
    assert s.p99_abs_daccel_mps2 == pytest.approx(ACCEL_DIVERGENCE_MPS2 + 0.25, rel=1e-6)


def test_cycles_are_matched_by_time_and_missing_ones_count_as_divergence() -> None:
    ref = stream(0.0, 0.0)
    cand = stream(0.0, 0.0, T[:80])
    s = compare_commands(ref, cand)
    assert (s.cycles_compared, s.only_in_reference, s.only_in_candidate) == (80, 20, 0)
    assert s.identical_cycles == 80
    assert s.verdict == VERDICT_DIVERGENT
    shuffled = np.random.default_rng(2).permutation(T.size)
    assert compare_commands(ref, CommandStream.of(T[shuffled], np.zeros(T.size),
                                                  np.zeros(T.size))).verdict == VERDICT_IDENTICAL


def test_nan_on_one_side_is_infinitely_far_and_json_safe() -> None:
    accel = np.zeros(T.size)
    bad = accel.copy()
    bad[5] = math.nan
    s = compare_commands(stream(0.0, accel), stream(0.0, bad))
    assert s.cycles_over_accel == 1 and s.verdict == VERDICT_DIVERGENT
    assert math.isinf(s.max_abs_daccel_mps2)
    out = s.to_json()
    assert out["max_abs_daccel_mps2"] is None and out["differing_cycles"] == 1
    assert compare_commands(stream(0.0, bad), stream(0.0, bad.copy())).verdict == \
        VERDICT_IDENTICAL  # the same NaN bits on both sides: identical on the wire


def test_nothing_to_compare_and_bad_input() -> None:
    empty = CommandStream.of([], [], [])
    assert compare_commands(empty, stream(0.0, 0.0)).verdict == VERDICT_NOTHING
    with pytest.raises(ValueError, match="differ in length"):
        CommandStream.of([0, 1], [0.0], [0.0, 0.0])
