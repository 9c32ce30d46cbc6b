"""The command envelope: every limit fires on a command beyond it and stays quiet within."""

from __future__ import annotations

import math

import pytest

from edge_autopilot.constants import (
    ACCEL_MAX_MPS2,
    ACCEL_MIN_NOMINAL_MPS2,
    EGO_MAX_STEER_RAD,
    EGO_WHEELBASE_M,
    EMERGENCY_DECEL_MPS2,
)
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.envelope import limit_command
from edge_autopilot.safety.types import SafetyLevel

CFG = SafetyConfig()


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def test_command_within_limits_passes_unchanged() -> None:
    cmd = ControlCommand(0.01, 1.0, 5)
    out, found = limit_command(cmd, ControlCommand(0.01, 0.9), 20.0, CFG)
    assert out is cmd
    assert found == ()


@pytest.mark.parametrize(("accel", "expected"), [(3.0, ACCEL_MAX_MPS2),
                                                 (-6.0, ACCEL_MIN_NOMINAL_MPS2)])
def test_accel_clipped_to_nominal_range(accel: float, expected: float) -> None:
    out, found = limit_command(ControlCommand(0.0, accel), None, 20.0, CFG)
    assert out.accel_mps2 == expected
    assert codes(found) == {"envelope.accel_limited"}
    assert all(f.level == SafetyLevel.NOMINAL for f in found)


def test_hard_braking_passes_with_brake_authority_down_to_the_tyre_limit() -> None:
    out, found = limit_command(ControlCommand(0.0, -6.0), None, 20.0, CFG, brake_authority=True)
    assert out.accel_mps2 == -6.0 and found == ()
    out, _ = limit_command(ControlCommand(0.0, -12.0), None, 20.0, CFG, brake_authority=True)
    assert out.accel_mps2 == pytest.approx(EMERGENCY_DECEL_MPS2)


def test_steering_angle_limited_at_low_speed() -> None:
    out, found = limit_command(ControlCommand(1.0, 0.0), None, 0.0, CFG)
    assert out.steer_rad == pytest.approx(EGO_MAX_STEER_RAD)
    assert "envelope.steer_limited" in codes(found)


def test_lateral_acceleration_bound_depends_on_speed() -> None:
    v = 25.0
    out, found = limit_command(ControlCommand(0.05, 0.0), None, v, CFG)
    a_lat = v * v * math.tan(out.steer_rad) / EGO_WHEELBASE_M
    assert a_lat == pytest.approx(3.0)
    assert codes(found) == {"envelope.lat_accel_limited"}
    # the same angle is fine at 5 m/s (a_lat = 0.45 m/s^2)
    assert limit_command(ControlCommand(0.05, 0.0), None, 5.0, CFG)[1] == ()


def test_steering_rate_limited_against_previous_command() -> None:
    prev = ControlCommand(0.0, 0.0)
    out, found = limit_command(ControlCommand(0.3, 0.0), prev, 1.0, CFG)
    assert out.steer_rad == pytest.approx(math.radians(200.0) * 0.01)
    assert codes(found) == {"envelope.steer_rate_limited"}


def test_lateral_jerk_limited_against_previous_command() -> None:
    v = 20.0
    prev = ControlCommand(0.0, 0.0)
    out, found = limit_command(ControlCommand(0.005, 0.0), prev, v, CFG)
    jerk = v * v * math.tan(out.steer_rad) / EGO_WHEELBASE_M / 0.01
    assert jerk == pytest.approx(5.0)
    assert codes(found) == {"envelope.lat_jerk_limited"}


@pytest.mark.parametrize("bad", [(math.nan, 0.0), (0.0, math.inf), (math.nan, -math.inf)])
def test_nan_command_is_replaced_and_requests_mrm(bad: tuple[float, float]) -> None:
    prev = ControlCommand(0.02, -1.0)
    out, found = limit_command(ControlCommand(*bad), prev, 10.0, CFG)
    assert math.isfinite(out.steer_rad) and math.isfinite(out.accel_mps2)
    assert out.steer_rad == pytest.approx(0.02)  # previous steering held
    nan = [f for f in found if f.code == "network.nan"]
    assert nan and nan[0].level == SafetyLevel.MRM
