"""Ego dynamics against closed-form cases."""

from __future__ import annotations

import math

import pytest

from edge_autopilot.sim.vehicle import VehicleParams, VehicleState, lag_factor, step_vehicle

DT = 0.01


def run(state: VehicleState, steer: float, accel: float, seconds: float,
        params: VehicleParams) -> VehicleState:
    for _ in range(round(seconds / DT)):
        state = step_vehicle(state, steer, accel, params, DT)
    return state


def test_first_order_accel_lag_matches_closed_form() -> None:
    params = VehicleParams(accel_lag_s=0.25)
    state = run(VehicleState(0.0, 0.0, 0.0, 10.0), 0.0, 1.5, 2.0, params)
    tau, a, t = 0.25, 1.5, 2.0
    accel_exact = a * (1.0 - math.exp(-t / tau))
    speed_exact = 10.0 + a * (t - tau * (1.0 - math.exp(-t / tau)))
    assert state.accel_mps2 == pytest.approx(accel_exact, abs=1e-9)
    assert state.speed_mps == pytest.approx(speed_exact, abs=2e-3)


def test_constant_speed_straight_line_distance() -> None:
    state = run(VehicleState(0.0, 0.0, 0.3, 20.0), 0.0, 0.0, 5.0, VehicleParams())
    assert state.x_m == pytest.approx(100.0 * math.cos(0.3), abs=1e-9)
    assert state.y_m == pytest.approx(100.0 * math.sin(0.3), abs=1e-9)
    assert state.speed_mps == 20.0


def test_constant_steer_drives_circle_of_bicycle_radius() -> None:
    params = VehicleParams(steer_lag_s=0.0, max_steer_rate_rps=100.0)
    steer = 0.1
    radius = params.wheelbase_m / math.tan(steer)
    # one step to settle the steering, then a full lap at 10 m/s
    state = step_vehicle(VehicleState(0.0, 0.0, 0.0, 10.0), steer, 0.0, params, DT)
    cx, cy = state.x_m - radius * math.sin(state.yaw_rad), state.y_m + radius * math.cos(
        state.yaw_rad)
    dists = []
    for _ in range(round(2 * math.pi * radius / 10.0 / DT)):
        state = step_vehicle(state, steer, 0.0, params, DT)
        dists.append(math.hypot(state.x_m - cx, state.y_m - cy))
    assert max(dists) == pytest.approx(radius, abs=1e-6)
    assert min(dists) == pytest.approx(radius, abs=1e-6)
    assert state.yaw_rate_rps(params) == pytest.approx(10.0 / radius, rel=1e-9)


def test_braking_is_limited_by_tyre_friction() -> None:
    params = VehicleParams(friction=0.5, accel_lag_s=0.0)
    state = step_vehicle(VehicleState(0.0, 0.0, 0.0, 20.0), 0.0, -20.0, params, DT)
    assert state.accel_mps2 == pytest.approx(-0.5 * 9.81)


def test_stopping_distance_closed_form_and_no_reverse() -> None:
    params = VehicleParams(accel_lag_s=0.0)
    state = run(VehicleState(0.0, 0.0, 0.0, 20.0, accel_mps2=-5.0), 0.0, -5.0, 6.0, params)
    assert state.speed_mps == 0.0
    assert state.x_m == pytest.approx(20.0**2 / (2 * 5.0), abs=1e-6)
    assert state.accel_mps2 == 0.0
    later = run(state, 0.0, -5.0, 1.0, params)
    assert later.x_m == state.x_m  # stays stopped, never reverses


def test_steering_rate_and_angle_limits() -> None:
    params = VehicleParams(steer_lag_s=0.0, max_steer_rate_rps=1.0, max_steer_rad=0.5)
    state = step_vehicle(VehicleState(0.0, 0.0, 0.0, 5.0), 1.0, 0.0, params, DT)
    assert state.steer_rad == pytest.approx(1.0 * DT)
    state = run(state, 1.0, 0.0, 2.0, params)
    assert state.steer_rad == pytest.approx(0.5)


def test_non_finite_command_holds_last_actuation() -> None:
    start = VehicleState(0.0, 0.0, 0.0, 10.0, accel_mps2=0.5, steer_rad=0.02)
    state = step_vehicle(start, math.nan, math.inf, VehicleParams(), DT)
    assert state.accel_mps2 == pytest.approx(0.5)
    assert state.steer_rad == pytest.approx(0.02)


def test_lag_factor_limits() -> None:
    assert lag_factor(0.01, 0.0) == 1.0
    assert lag_factor(0.01, 0.25) == pytest.approx(1 - math.exp(-0.04))
