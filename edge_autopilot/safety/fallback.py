"""The command for each ladder level, built on the rule-based (no network) command.

Pure functions; the only state is the previous published acceleration, which the caller
passes in (jerk limiting).

- DEGRADED: the rule-based command with an acceleration cap: a speed cap (60 % of the set
  speed, at most ``degraded_speed_cap_mps``) and a wider gap (2.5 s time gap to the radar's
  in-path object). The cap never asks for more than the comfortable stop decel (harder is the
  collision check's job), and is lowered at no more than the comfort jerk; the rule-based
  command's own braking always passes (min).
- MRM: comfortable stop in lane: the acceleration ramps from the previous command toward
  -2.5 m/s^2 at 1.5 m/s^3 (a throttle still applied is released at once: lifting off is not
  braking), steering from the lane-keeping rule-based command, and the brake held at
  standstill.
- EMERGENCY: full braking at the tyre limit at once, steering from the lane-keeping command.
"""

from __future__ import annotations

import math

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig


def degraded_accel_cap_mps2(speed_mps: float, set_speed_mps: float | None,
                            lead_distance_m: float, lead_range_rate_mps: float,
                            config: SafetyConfig) -> float:
    """The acceleration cap in DEGRADED: speed cap and larger gap (``lead_distance_m`` inf
    when the radar path has no confirmed in-path object)."""
    c = config
    cap_speed = c.degraded_speed_cap_mps
    if set_speed_mps is not None and math.isfinite(set_speed_mps):
        cap_speed = min(cap_speed, c.degraded_speed_fraction * set_speed_mps)
    cap = c.degraded_speed_gain_1ps * (cap_speed - speed_mps)
    if math.isfinite(lead_distance_m):
        desired = c.degraded_standstill_gap_m + c.degraded_time_gap_s * speed_mps
        gap_cap = (c.degraded_gap_gain_1ps2 * (lead_distance_m - desired)
                   + c.degraded_range_rate_gain_1ps * lead_range_rate_mps)
        cap = min(cap, gap_cap)
    return min(max(cap, c.degraded_min_accel_mps2), c.accel_max_mps2)


def degraded_command(rule_based: ControlCommand, prev_accel_mps2: float, cap_mps2: float,
                     config: SafetyConfig) -> ControlCommand:
    # the cap comes down no faster than the comfort jerk from what was last commanded
    cap = max(cap_mps2, prev_accel_mps2 + config.comfort_stop_jerk_mps3 * config.dt_s)
    return ControlCommand(rule_based.steer_rad, min(rule_based.accel_mps2, cap),
                          rule_based.stamp_ns)


def mrm_accel_mps2(prev_accel_mps2: float, speed_mps: float, config: SafetyConfig) -> float:
    """One cycle of the comfortable stop profile."""
    c = config
    if speed_mps <= c.standstill_speed_mps:
        return c.standstill_hold_accel_mps2
    start = min(prev_accel_mps2, 0.0) if math.isfinite(prev_accel_mps2) else 0.0
    step = -c.comfort_stop_jerk_mps3 * c.dt_s  # positive magnitude per cycle
    target = c.comfort_stop_decel_mps2
    if start > target:
        return max(target, start - step)
    return min(target, start + step)  # coming out of harder braking: release gently


def mrm_command(rule_based: ControlCommand, prev_accel_mps2: float, speed_mps: float,
                config: SafetyConfig) -> ControlCommand:
    return ControlCommand(rule_based.steer_rad, mrm_accel_mps2(prev_accel_mps2, speed_mps,
                                                               config), rule_based.stamp_ns)


def emergency_command(rule_based: ControlCommand, config: SafetyConfig) -> ControlCommand:
    return ControlCommand(rule_based.steer_rad, config.emergency_decel_mps2,
                          rule_based.stamp_ns)
