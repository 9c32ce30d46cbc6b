"""Fallback commands per level: DEGRADED cap, MRM comfortable stop profile, EMERGENCY."""

from __future__ import annotations

import numpy as np
import pytest

from edge_autopilot.constants import EMERGENCY_DECEL_MPS2
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.fallback import (
    degraded_accel_cap_mps2,
    degraded_command,
    emergency_command,
    mrm_accel_mps2,
    mrm_command,
)

CFG = SafetyConfig()


def mrm_profile(prev: float, speed: float, cycles: int) -> np.ndarray:
    out = []
    for _ in range(cycles):
        prev = mrm_accel_mps2(prev, speed, CFG)
        out.append(prev)
    return np.array(out)


def test_mrm_ramps_at_comfort_jerk_to_comfort_decel() -> None:
    a = mrm_profile(0.0, 20.0, 300)
    jerk = np.diff(np.concatenate([[0.0], a])) / 0.01
    assert jerk.min() >= -1.5 - 1e-9  # jerk-limited
    assert a[99] == pytest.approx(-1.5)  # 1 s at -1.5 m/s^3
    assert a.min() == pytest.approx(-2.5)  # reaches, never exceeds, -2.5
    assert np.argmax(a <= -2.5 + 1e-9) == pytest.approx(166, abs=1)  # after 1.67 s
    assert (a[170:] == -2.5).all()


def test_mrm_releases_throttle_then_ramps_and_eases_out_of_harder_braking() -> None:
    assert mrm_accel_mps2(1.5, 20.0, CFG) == pytest.approx(-0.015)
    assert mrm_accel_mps2(-7.0, 20.0, CFG) == pytest.approx(-6.985)


def test_mrm_holds_at_standstill_and_keeps_lane_steering() -> None:
    cmd = mrm_command(ControlCommand(0.03, 1.0, 7), -2.5, 0.0, CFG)
    assert cmd.accel_mps2 == CFG.standstill_hold_accel_mps2 < 0.0
    assert cmd.steer_rad == 0.03


def test_emergency_brakes_at_tyre_limit_keeping_lane_steering() -> None:
    cmd = emergency_command(ControlCommand(-0.02, 1.0), CFG)
    assert cmd.accel_mps2 == pytest.approx(EMERGENCY_DECEL_MPS2)
    assert cmd.steer_rad == -0.02


def test_degraded_caps_speed_and_widens_gap() -> None:
    # 25 m/s with a 25 m/s set speed: cap 15 m/s -> brake gently (never below -2.5)
    cap = degraded_accel_cap_mps2(25.0, 25.0, float("inf"), 0.0, CFG)
    assert cap == pytest.approx(-2.5)
    # at the cap speed with no lead: no extra acceleration allowed beyond the gain
    assert degraded_accel_cap_mps2(15.0, 25.0, float("inf"), 0.0, CFG) == pytest.approx(0.0)
    # slow, with a lead at 1.5 s (normal ACC) instead of 2.5 s: the cap asks to fall back
    cap = degraded_accel_cap_mps2(10.0, 25.0, 20.0, 0.0, CFG)
    assert cap < 0.0
    # the rule-based command's harder braking always passes; the cap lowers at comfort jerk
    rule = ControlCommand(0.01, 1.0)
    out = degraded_command(rule, 1.0, -2.5, CFG)
    assert out.accel_mps2 == pytest.approx(1.0 - 0.015)
    assert degraded_command(ControlCommand(0.0, -5.0), 1.0, -2.5, CFG).accel_mps2 == -5.0
