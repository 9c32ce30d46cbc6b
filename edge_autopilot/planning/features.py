"""Fixed-size, normalised feature vectors for the planning and control networks, and the
decoding of their outputs. The same encoders serve training (fed from ground truth) and the
stack (fed from tracks and the map), so a network always sees what it was trained on.

Scales are constants here, in one place; changing any of them changes the networks' contract
(the manifest records ``FEATURES_VERSION``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from edge_autopilot.constants import EGO_REAR_AXLE_TO_FRONT_M
from edge_autopilot.planning.types import (
    HORIZON_T_S,
    PREVIEW_S_M,
    EgoMotion,
    LaneGeometry,
    ObjectList,
    PlanningInput,
    Trajectory,
)

FEATURES_VERSION = 1

MAX_OBJECTS = 8
OBJECT_FEATURES = 9
OBJECT_WINDOW_S_M = (-30.0, 120.0)  # objects considered, along the road from the rear axle
OBJECT_WINDOW_D_M = 6.0  # and across it, from the ego lane's centre

SPEED_SCALE_MPS = 30.0
ACCEL_SCALE_MPS2 = 4.0
YAW_RATE_SCALE_RPS = 0.5
STEER_SCALE_RAD = 0.5
OFFSET_SCALE_M = 2.0
HEADING_SCALE_RAD = 0.2
LANE_WIDTH_SCALE_M = 3.5
CURVATURE_SCALE_1PM = 0.01
DIST_SCALE_M = 50.0
REL_SPEED_SCALE_MPS = 10.0
LAT_SPEED_SCALE_MPS = 3.0
LATERAL_PLAN_SCALE_M = 3.5

N_PREVIEW = PREVIEW_S_M.shape[0]
N_HORIZON = HORIZON_T_S.shape[0]
PLANNING_INPUTS = 4 + 2 + 6 + N_PREVIEW + MAX_OBJECTS * OBJECT_FEATURES
PLANNING_OUTPUTS = 2 * N_HORIZON
CONTROL_INPUTS = 4 + 2 + N_PREVIEW + N_HORIZON + 3
CONTROL_OUTPUTS = 2


def _ego(ego: EgoMotion) -> list[float]:
    return [ego.speed_mps / SPEED_SCALE_MPS, ego.accel_mps2 / ACCEL_SCALE_MPS2,
            ego.yaw_rate_rps / YAW_RATE_SCALE_RPS, ego.steer_rad / STEER_SCALE_RAD]


def _objects(obj: ObjectList, ego_speed_mps: float, out: np.ndarray) -> None:
    """Nearest objects (by road distance) in the window, one row each; empty rows are zero."""
    if obj.count == 0:
        return
    _object_rows(obj.s_rel_m, obj.d_m, obj.v_s_mps, obj.v_d_mps, obj.a_s_mps2, obj.length_m,
                 obj.width_m, ego_speed_mps, out)


@nb.njit(cache=True)
def _object_rows(s_rel_m: np.ndarray, d_m: np.ndarray, v_s_mps: np.ndarray,
                 v_d_mps: np.ndarray, a_s_mps2: np.ndarray, length_m: np.ndarray,
                 width_m: np.ndarray, ego_speed_mps: float, out: np.ndarray) -> None:
    """_objects' rows in one pass (it ran ~20 numpy calls on a dozen objects every cycle).

    The same selection (in the window; nearest by |s| first, ties in list order, as a stable
    argsort) and the same arithmetic, operation by operation, as the numpy form it replaces,
    so the features are bit for bit what the networks were trained on."""
    lo, hi = OBJECT_WINDOW_S_M
    n = s_rel_m.shape[0]
    sel = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        if s_rel_m[i] > lo and s_rel_m[i] < hi and abs(d_m[i]) < OBJECT_WINDOW_D_M:
            # stable insertion by |s|: after every earlier entry that is not farther
            j = k
            while j > 0 and abs(s_rel_m[sel[j - 1]]) > abs(s_rel_m[i]):
                sel[j] = sel[j - 1]
                j -= 1
            sel[j] = i
            k += 1
    for r in range(min(k, MAX_OBJECTS)):
        i = sel[r]
        gap = s_rel_m[i] - 0.5 * length_m[i] - EGO_REAR_AXLE_TO_FRONT_M
        out[r, 0] = 1.0
        out[r, 1] = s_rel_m[i] / DIST_SCALE_M
        out[r, 2] = d_m[i] / LANE_WIDTH_SCALE_M
        out[r, 3] = (v_s_mps[i] - ego_speed_mps) / REL_SPEED_SCALE_MPS
        out[r, 4] = v_d_mps[i] / LAT_SPEED_SCALE_MPS
        out[r, 5] = a_s_mps2[i] / ACCEL_SCALE_MPS2
        out[r, 6] = length_m[i] / 5.0
        out[r, 7] = width_m[i] / 2.0
        out[r, 8] = gap / DIST_SCALE_M


def _objects_numpy(obj: ObjectList, ego_speed_mps: float, out: np.ndarray) -> None:
    """The numpy form of _objects, kept as the reference the kernel is tested against."""
    if obj.count == 0:
        return
    lo, hi = OBJECT_WINDOW_S_M
    sel = np.flatnonzero((obj.s_rel_m > lo) & (obj.s_rel_m < hi)
                         & (np.abs(obj.d_m) < OBJECT_WINDOW_D_M))
    sel = sel[np.argsort(np.abs(obj.s_rel_m[sel]), kind="stable")][:MAX_OBJECTS]
    k = sel.shape[0]
    gap = obj.s_rel_m[sel] - 0.5 * obj.length_m[sel] - EGO_REAR_AXLE_TO_FRONT_M
    rows = out[:k]
    rows[:, 0] = 1.0
    rows[:, 1] = obj.s_rel_m[sel] / DIST_SCALE_M
    rows[:, 2] = obj.d_m[sel] / LANE_WIDTH_SCALE_M
    rows[:, 3] = (obj.v_s_mps[sel] - ego_speed_mps) / REL_SPEED_SCALE_MPS
    rows[:, 4] = obj.v_d_mps[sel] / LAT_SPEED_SCALE_MPS
    rows[:, 5] = obj.a_s_mps2[sel] / ACCEL_SCALE_MPS2
    rows[:, 6] = obj.length_m[sel] / 5.0
    rows[:, 7] = obj.width_m[sel] / 2.0
    rows[:, 8] = gap / DIST_SCALE_M


def encode_planning(inp: PlanningInput, target_offset_m: float,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Planner features; ``target_offset_m`` is the lane choice (centre of the lane to drive
    in, relative to the current lane's centre), decided by the rule-based behaviour layer."""
    if out is None:
        out = np.zeros(PLANNING_INPUTS, dtype=np.float32)
    else:
        out[:] = 0.0
    lane = inp.lane
    head = [
        *_ego(inp.ego),
        inp.set_speed_mps / SPEED_SCALE_MPS,
        (inp.set_speed_mps - inp.ego.speed_mps) / REL_SPEED_SCALE_MPS,
        lane.offset_m / OFFSET_SCALE_M,
        lane.heading_error_rad / HEADING_SCALE_RAD,
        lane.lane_width_m / LANE_WIDTH_SCALE_M,
        float(lane.lane_index < lane.lane_count - 1),
        float(lane.lane_index > 0),
        target_offset_m / LATERAL_PLAN_SCALE_M,
    ]
    n_head = len(head)
    out[:n_head] = head
    out[n_head:n_head + N_PREVIEW] = lane.curvature_1pm / CURVATURE_SCALE_1PM
    rows = out[n_head + N_PREVIEW:].reshape(MAX_OBJECTS, OBJECT_FEATURES)
    _objects(inp.objects, inp.ego.speed_mps, rows)
    return out


def planning_target(traj: Trajectory) -> np.ndarray:
    return np.concatenate((traj.accel_mps2 / ACCEL_SCALE_MPS2,
                           traj.lateral_offset_m / LATERAL_PLAN_SCALE_M)).astype(np.float32)


def decode_planning(y: np.ndarray) -> Trajectory:
    return Trajectory(accel_mps2=y[:N_HORIZON].astype(np.float64) * ACCEL_SCALE_MPS2,
                      lateral_offset_m=y[N_HORIZON:].astype(np.float64) * LATERAL_PLAN_SCALE_M)


def encode_control(ego: EgoMotion, lane: LaneGeometry, traj: Trajectory,
                   out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        out = np.zeros(CONTROL_INPUTS, dtype=np.float32)
    head = [*_ego(ego), lane.offset_m / OFFSET_SCALE_M,
            lane.heading_error_rad / HEADING_SCALE_RAD]
    out[:6] = head
    out[6:6 + N_PREVIEW] = lane.curvature_1pm / CURVATURE_SCALE_1PM
    # the plan relative to where the ego is now: what the tracker has to close
    rel = (traj.lateral_offset_m - lane.offset_m) / LATERAL_PLAN_SCALE_M
    out[6 + N_PREVIEW:6 + N_PREVIEW + N_HORIZON] = rel
    out[6 + N_PREVIEW + N_HORIZON:] = traj.accel_mps2[:3] / ACCEL_SCALE_MPS2
    return out


def control_target(steer_rad: float, accel_mps2: float) -> np.ndarray:
    return np.array([steer_rad / STEER_SCALE_RAD, accel_mps2 / ACCEL_SCALE_MPS2],
                    dtype=np.float32)


def decode_control(y: np.ndarray) -> tuple[float, float]:
    return float(y[0]) * STEER_SCALE_RAD, float(y[1]) * ACCEL_SCALE_MPS2
