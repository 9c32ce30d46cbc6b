"""Plausibility of the networks' outputs (the monitor does not trust them).

- ``network.nan``: a non-finite value in the planned trajectory -> MRM (a NaN command is
  caught by the envelope, which replaces it);
- ``network.out_of_range``: a command or trajectory value beyond what any vehicle could do
  (not merely beyond the envelope, which is clipped silently-with-a-warning) -> DEGRADED:
  the rule-based controller takes over;
- ``network.perception_radar_disagree``: the perception network's lead-object range and the
  radar's differ by more than max(3 m, 15 %) -- or one of them sees a lead closer than 40 m
  and the other none -- for N cycles in a row -> DEGRADED.

The cycle's input is a tiny record: two optional floats for the lead ranges, and the
trajectory's arrays when a planner ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import (
    NETWORK_EXCEPTION,
    NETWORK_NAN,
    NETWORK_OUT_OF_RANGE,
    NETWORK_PERCEPTION_RADAR_DISAGREE,
    NETWORK_UNAVAILABLE,
    Finding,
    SafetyLevel,
)

NO_FINDINGS: tuple[Finding, ...] = ()


@dataclass(slots=True)
class NetworkOutputs:
    """What the networks produced this cycle (all optional).

    ``perception_lead_range_m``: the perception's nearest in-lane object (None: none seen);
    ``radar_lead_range_m``: the radar's, for comparison (None: the monitor uses its own raw
    radar path's confirmed in-path distance); ``traj_*``: the planner's trajectory.
    """

    perception_lead_range_m: float | None = None
    radar_lead_range_m: float | None = None
    traj_accel_mps2: np.ndarray | None = None
    traj_lateral_offset_m: np.ndarray | None = None
    from_network: bool = True  # False: the candidate is the rule-based fallback
    # False: no perception network ran (not loaded, or no camera cycle yet), so there is no
    # perception lead to compare and None above does not mean "saw nothing"
    perception_available: bool = True
    stage_error: str | None = None  # a stage that raised this cycle ("stage: Type: message")
    unavailable: tuple[str, ...] = ()  # networks that are not loaded


def leads_disagree(perception_m: float | None, radar_m: float | None,
                   config: SafetyConfig) -> bool:
    """Range differs by > max(abs, rel x range), or one sees a near lead the other misses;
    a lead outside [disagree_min_range_m, disagree_max_range_m] counts as not seen."""
    lo, hi = config.disagree_min_range_m, config.disagree_max_range_m
    if perception_m is not None and not lo <= perception_m <= hi:
        perception_m = None
    if radar_m is not None and not lo <= radar_m <= hi:
        radar_m = None
    if perception_m is None and radar_m is None:
        return False
    if perception_m is None or radar_m is None:
        seen = perception_m if perception_m is not None else radar_m
        assert seen is not None
        return seen < config.disagree_presence_range_m
    if not (math.isfinite(perception_m) and math.isfinite(radar_m)):
        return math.isfinite(perception_m) != math.isfinite(radar_m) and \
            min(perception_m, radar_m) < config.disagree_presence_range_m
    tol = max(config.disagree_abs_m, config.disagree_rel * max(perception_m, radar_m))
    return abs(perception_m - radar_m) > tol


def command_plausibility(command: ControlCommand, config: SafetyConfig
                         ) -> tuple[Finding, ...]:
    """Out-of-range check of a (finite) command; NaN is the envelope's business."""
    s, a = command.steer_rad, command.accel_mps2
    if not (math.isfinite(s) and math.isfinite(a)):
        return NO_FINDINGS
    if abs(s) > config.implausible_steer_rad or not (
            config.implausible_accel_min_mps2 <= a <= config.implausible_accel_max_mps2):
        return (Finding(NETWORK_OUT_OF_RANGE, SafetyLevel.DEGRADED,
                        f"command steer {s:.3f} rad accel {a:.2f} m/s^2"),)
    return NO_FINDINGS


def trajectory_plausibility(accel_mps2: np.ndarray | None, offset_m: np.ndarray | None,
                            config: SafetyConfig) -> tuple[Finding, ...]:
    for name, arr, lo, hi in (
        ("accel", accel_mps2, config.implausible_accel_min_mps2,
         config.implausible_accel_max_mps2),
        ("lateral offset", offset_m, -config.implausible_offset_m, config.implausible_offset_m),
    ):
        if arr is None or arr.size == 0:
            continue
        a_min, a_max = float(arr.min()), float(arr.max())  # NaN propagates into both
        if not (math.isfinite(a_min) and math.isfinite(a_max)):
            return (Finding(NETWORK_NAN, SafetyLevel.MRM, f"trajectory {name} not finite"),)
        if a_min < lo or a_max > hi:
            return (Finding(NETWORK_OUT_OF_RANGE, SafetyLevel.DEGRADED,
                            f"trajectory {name} {a_min:.2f}..{a_max:.2f}"),)
    return NO_FINDINGS


class NetworkCheck:
    """Stateful part: the consecutive-disagreement counter."""

    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.disagree_cycles = 0

    def check(self, candidate: ControlCommand, outputs: NetworkOutputs | None,
              radar_lead_range_m: float | None) -> tuple[Finding, ...]:
        c = self.config
        found = command_plausibility(candidate, c)
        if outputs is None:
            self.disagree_cycles = 0
            return found
        traj = trajectory_plausibility(outputs.traj_accel_mps2, outputs.traj_lateral_offset_m, c)
        if traj:
            found = found + traj
        # Both drive on the rule-based fallback, which is safe but not what the vehicle was
        # validated to drive on: DEGRADED (speed cap, larger gap) until it clears.
        if outputs.stage_error is not None:
            found = (*found, Finding(NETWORK_EXCEPTION, SafetyLevel.DEGRADED,
                                     outputs.stage_error))
        if outputs.unavailable:
            found = (*found, Finding(NETWORK_UNAVAILABLE, SafetyLevel.DEGRADED,
                                     "not loaded: " + ", ".join(outputs.unavailable)))
        radar = outputs.radar_lead_range_m if outputs.radar_lead_range_m is not None \
            else radar_lead_range_m
        if outputs.perception_available and \
                leads_disagree(outputs.perception_lead_range_m, radar, c):
            self.disagree_cycles += 1
        else:
            self.disagree_cycles = 0
        if self.disagree_cycles >= c.disagree_cycles:
            found = (*found, Finding(
                NETWORK_PERCEPTION_RADAR_DISAGREE, SafetyLevel.DEGRADED,
                f"perception {outputs.perception_lead_range_m} m vs radar {radar} m for "
                f"{self.disagree_cycles} cycles"))
        return found
