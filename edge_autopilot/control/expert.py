"""The classical expert controller: pure pursuit in the lane frame for steering, and the
planned acceleration passed through the actuator limits.

Pure pursuit (Coulter 1992) on a target point ``lookahead`` metres ahead on the planned path.
Expressed in the lane frame, the target point's lateral position includes the lane's curvature
(0.5 * kappa * L^2), which gives the curvature feed-forward for free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_autopilot.constants import (
    ACCEL_MAX_MPS2,
    EGO_MAX_STEER_RAD,
    EGO_WHEELBASE_M,
    EMERGENCY_DECEL_MPS2,
)
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.planning.types import (
    HORIZON_T_S,
    PREVIEW_S_M,
    EgoMotion,
    LaneGeometry,
    Trajectory,
)


@dataclass(frozen=True)
class PursuitParams:
    lookahead_time_s: float = 1.0
    lookahead_min_m: float = 6.0
    lookahead_max_m: float = 40.0
    wheelbase_m: float = EGO_WHEELBASE_M
    max_steer_rad: float = EGO_MAX_STEER_RAD


def lookahead_m(speed_mps: float, p: PursuitParams) -> float:
    return min(max(speed_mps * p.lookahead_time_s, p.lookahead_min_m), p.lookahead_max_m)


def pursuit_steer(
    ego: EgoMotion, lane: LaneGeometry, path_offset_m: np.ndarray, p: PursuitParams
) -> float:
    """Steering angle toward the planned lateral offset one lookahead ahead."""
    look = lookahead_m(ego.speed_mps, p)
    t_look = look / max(ego.speed_mps, 1.0)
    target_offset = float(np.interp(t_look, HORIZON_T_S, path_offset_m))
    kappa = float(np.interp(0.5 * look, PREVIEW_S_M, lane.curvature_1pm))
    # target point in the vehicle frame (small-angle lane frame -> vehicle frame)
    y_lane = target_offset + 0.5 * kappa * look * look - lane.offset_m
    y_vehicle = y_lane - math.sin(lane.heading_error_rad) * look
    x_vehicle = look * math.cos(lane.heading_error_rad)
    dist_sq = x_vehicle * x_vehicle + y_vehicle * y_vehicle
    curvature = 2.0 * y_vehicle / max(dist_sq, 1e-6)
    steer = math.atan(p.wheelbase_m * curvature)
    return min(max(steer, -p.max_steer_rad), p.max_steer_rad)


class ExpertController:
    def __init__(self, params: PursuitParams | None = None) -> None:
        self.p = params or PursuitParams()

    def command(self, t_ns: int, ego: EgoMotion, lane: LaneGeometry,
                traj: Trajectory) -> ControlCommand:
        accel = float(traj.accel_mps2[0])
        accel = min(max(accel, EMERGENCY_DECEL_MPS2), ACCEL_MAX_MPS2)
        steer = pursuit_steer(ego, lane, traj.lateral_offset_m, self.p)
        return ControlCommand(steer_rad=steer, accel_mps2=accel, stamp_ns=t_ns)
