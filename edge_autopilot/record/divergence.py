"""How far two command streams are apart: a replay against its recording, or (OTA shadow mode) a
candidate model set against the active one.

Pure: arrays in, a summary out, no I/O. Commands are compared at wire precision: the actuator
command travels as ackermann_msgs/AckermannDrive, whose fields are float32, so both streams are
rounded to float32 first and "identical" means bit-identical on the wire.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# A cycle "diverges" when the commands differ by more than this: 0.5 m/s^2 is a quarter of the
# nominal acceleration range's upper end (+2.0 m/s^2) and clearly felt by a passenger; 0.02 rad
# of front-wheel angle is about 0.3 m/s^2 of lateral acceleration at 25 m/s on a 2.8 m wheelbase.
ACCEL_DIVERGENCE_MPS2 = 0.5
STEER_DIVERGENCE_RAD = 0.02

VERDICT_IDENTICAL = "identical"
VERDICT_WITHIN_TOLERANCE = "within tolerance"
VERDICT_DIVERGENT = "divergent"
VERDICT_NOTHING = "nothing to compare"


@dataclass(frozen=True)
class CommandStream:
    """One command per cycle: cycle time, front-wheel angle, longitudinal acceleration."""

    t_ns: np.ndarray
    steer_rad: np.ndarray
    accel_mps2: np.ndarray

    @classmethod
    def of(cls, t_ns: Any, steer_rad: Any, accel_mps2: Any) -> CommandStream:
        t = np.asarray(t_ns, dtype=np.int64).reshape(-1)
        steer = np.asarray(steer_rad, dtype=np.float64).reshape(-1)
        accel = np.asarray(accel_mps2, dtype=np.float64).reshape(-1)
        if not (t.shape == steer.shape == accel.shape):
            raise ValueError(f"command stream arrays differ in length: t {t.size}, "
                             f"steer {steer.size}, accel {accel.size}")
        return cls(t, steer, accel)


@dataclass(frozen=True)
class DivergenceSummary:
    cycles_compared: int
    identical_cycles: int
    # cycles present in only one stream (matched by cycle time)
    only_in_reference: int
    only_in_candidate: int
    first_divergent_t_ns: int | None  # first cycle whose commands are not bit-identical
    max_abs_daccel_mps2: float
    p99_abs_daccel_mps2: float
    max_abs_dsteer_rad: float
    p99_abs_dsteer_rad: float
    cycles_over_accel: int  # |d accel| > ACCEL_DIVERGENCE_MPS2
    cycles_over_steer: int  # |d steer| > STEER_DIVERGENCE_RAD
    first_over_t_ns: int | None  # first cycle over either threshold
    verdict: str

    @property
    def differing_cycles(self) -> int:
        return self.cycles_compared - self.identical_cycles

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["differing_cycles"] = self.differing_cycles
        out["thresholds"] = {"accel_mps2": ACCEL_DIVERGENCE_MPS2,
                             "steer_rad": STEER_DIVERGENCE_RAD}
        for key, value in out.items():
            if isinstance(value, float):
                # JSON has no inf/nan; a NaN command on one side only shows up as None here
                # (and is counted over both thresholds)
                out[key] = round(value, 9) if math.isfinite(value) else None
        return out


def _wire(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)


def _abs_delta(a: np.ndarray, b: np.ndarray, same: np.ndarray) -> np.ndarray:
    """|a - b| in float64 of the float32 values; a NaN on one side is an infinite difference,
    bit-identical values (NaN included) none."""
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    d[np.isnan(d)] = np.inf
    d[same] = 0.0
    return d


def _p99(d: np.ndarray) -> float:
    # no interpolation: between two infinite differences it would give NaN; "higher" is the
    # smallest difference that 99 % of the cycles stay at or under
    return float(np.percentile(d, 99.0, method="higher"))


def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.view(np.uint32) == b.view(np.uint32)


def compare_commands(reference: CommandStream, candidate: CommandStream) -> DivergenceSummary:
    """Match the two streams cycle by cycle (equal cycle times) and summarize the differences
    at wire precision."""
    ref_t, ref_idx, cand_idx = np.intersect1d(reference.t_ns, candidate.t_ns,
                                              assume_unique=False, return_indices=True)
    n = int(ref_t.size)
    only_ref = int(np.unique(reference.t_ns).size) - n
    only_cand = int(np.unique(candidate.t_ns).size) - n
    if n == 0:
        return DivergenceSummary(0, 0, only_ref, only_cand, None, 0.0, 0.0, 0.0, 0.0, 0, 0,
                                 None, VERDICT_NOTHING)
    ra, ca = _wire(reference.accel_mps2[ref_idx]), _wire(candidate.accel_mps2[cand_idx])
    rs, cs = _wire(reference.steer_rad[ref_idx]), _wire(candidate.steer_rad[cand_idx])
    same_accel, same_steer = _bits_equal(ra, ca), _bits_equal(rs, cs)
    identical = same_accel & same_steer
    daccel = _abs_delta(ra, ca, same_accel)
    dsteer = _abs_delta(rs, cs, same_steer)
    over_accel = daccel > ACCEL_DIVERGENCE_MPS2
    over_steer = dsteer > STEER_DIVERGENCE_RAD
    over = over_accel | over_steer
    differing = np.flatnonzero(~identical)
    first_diff = int(ref_t[differing[0]]) if differing.size else None
    over_idx = np.flatnonzero(over)
    first_over = int(ref_t[over_idx[0]]) if over_idx.size else None
    if differing.size == 0 and only_ref == 0 and only_cand == 0:
        verdict = VERDICT_IDENTICAL
    elif over_idx.size == 0 and only_ref == 0 and only_cand == 0:
        verdict = VERDICT_WITHIN_TOLERANCE
    else:
        verdict = VERDICT_DIVERGENT
    return DivergenceSummary(
        cycles_compared=n,
        identical_cycles=int(identical.sum()),
        only_in_reference=only_ref,
        only_in_candidate=only_cand,
        first_divergent_t_ns=first_diff,
        max_abs_daccel_mps2=float(daccel.max()),
        p99_abs_daccel_mps2=_p99(daccel),
        max_abs_dsteer_rad=float(dsteer.max()),
        p99_abs_dsteer_rad=_p99(dsteer),
        cycles_over_accel=int(over_accel.sum()),
        cycles_over_steer=int(over_steer.sum()),
        first_over_t_ns=first_over,
        verdict=verdict,
    )
