"""Ego vehicle dynamics: kinematic bicycle about the rear axle with first-order actuator lag.

The step is a pure function of (state, command, params, dt) so tests can check it against
closed-form cases. Actuator model:
- acceleration: first-order lag toward the commanded value (exact discretisation), limited to
  [-friction * g, accel_max]; braking can never exceed what the tyres transmit;
- steering: first-order lag toward the commanded angle, rate- and angle-limited;
- no reverse: speed is clamped at 0 (a stopped car with a braking command stays stopped).
Within a step the yaw rate is constant, so the pose update integrates the arc exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from edge_autopilot.constants import (
    ACCEL_MAX_MPS2,
    DRY_ROAD_FRICTION,
    EGO_ACCEL_LAG_S,
    EGO_MAX_SPEED_MPS,
    EGO_MAX_STEER_RAD,
    EGO_MAX_STEER_RATE_RPS,
    EGO_STEER_LAG_S,
    EGO_WHEELBASE_M,
    GRAVITY_MPS2,
)


@dataclass(frozen=True)
class VehicleParams:
    wheelbase_m: float = EGO_WHEELBASE_M
    max_steer_rad: float = EGO_MAX_STEER_RAD
    max_steer_rate_rps: float = EGO_MAX_STEER_RATE_RPS
    steer_lag_s: float = EGO_STEER_LAG_S
    accel_lag_s: float = EGO_ACCEL_LAG_S
    accel_max_mps2: float = ACCEL_MAX_MPS2
    friction: float = DRY_ROAD_FRICTION
    max_speed_mps: float = EGO_MAX_SPEED_MPS

    @property
    def decel_limit_mps2(self) -> float:
        """Most negative acceleration the tyres can transmit (negative number)."""
        return -self.friction * GRAVITY_MPS2


@dataclass(frozen=True, slots=True)
class VehicleState:
    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    accel_mps2: float = 0.0
    steer_rad: float = 0.0

    def yaw_rate_rps(self, params: VehicleParams) -> float:
        return self.speed_mps * math.tan(self.steer_rad) / params.wheelbase_m


def lag_factor(dt_s: float, tau_s: float) -> float:
    """Fraction of the remaining gap a first-order lag closes in dt (exact discretisation)."""
    return 1.0 if tau_s <= 0.0 else 1.0 - math.exp(-dt_s / tau_s)


def step_vehicle(
    state: VehicleState,
    steer_cmd_rad: float,
    accel_cmd_mps2: float,
    params: VehicleParams,
    dt_s: float,
) -> VehicleState:
    """Advance the ego by ``dt_s`` under a (steering angle, acceleration) command."""
    if not (math.isfinite(steer_cmd_rad) and math.isfinite(accel_cmd_mps2)):
        # a non-finite command reaches no actuator: hold the last applied values
        steer_cmd_rad, accel_cmd_mps2 = state.steer_rad, state.accel_mps2

    steer_target = min(max(steer_cmd_rad, -params.max_steer_rad), params.max_steer_rad)
    steer_step = (steer_target - state.steer_rad) * lag_factor(dt_s, params.steer_lag_s)
    max_step = params.max_steer_rate_rps * dt_s
    steer = state.steer_rad + min(max(steer_step, -max_step), max_step)

    accel_target = min(max(accel_cmd_mps2, params.decel_limit_mps2), params.accel_max_mps2)
    accel = state.accel_mps2 + (accel_target - state.accel_mps2) * lag_factor(
        dt_s, params.accel_lag_s
    )

    v0 = state.speed_mps
    v1 = v0 + 0.5 * (state.accel_mps2 + accel) * dt_s
    if v1 <= 0.0:
        # stopped within the step: travel only until v = 0, and hold
        a_mean = 0.5 * (state.accel_mps2 + accel)
        dist = 0.5 * v0 * v0 / -a_mean if a_mean < 0.0 else 0.0
        v1 = 0.0
    else:
        v1 = min(v1, params.max_speed_mps)
        dist = 0.5 * (v0 + v1) * dt_s

    yaw_rate_per_m = math.tan(steer) / params.wheelbase_m  # path curvature
    dyaw = dist * yaw_rate_per_m
    if abs(dyaw) < 1e-9:
        dx = dist * math.cos(state.yaw_rad + 0.5 * dyaw)
        dy = dist * math.sin(state.yaw_rad + 0.5 * dyaw)
    else:
        radius = 1.0 / yaw_rate_per_m
        dx = radius * (math.sin(state.yaw_rad + dyaw) - math.sin(state.yaw_rad))
        dy = -radius * (math.cos(state.yaw_rad + dyaw) - math.cos(state.yaw_rad))
    yaw = (state.yaw_rad + dyaw + math.pi) % (2.0 * math.pi) - math.pi
    if v1 == 0.0 and accel < 0.0:
        accel = 0.0  # a stopped car does not decelerate further
    return replace(
        state,
        x_m=state.x_m + dx,
        y_m=state.y_m + dy,
        yaw_rad=yaw,
        speed_mps=v1,
        accel_mps2=accel,
        steer_rad=steer,
    )
