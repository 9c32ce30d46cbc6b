"""What the planners consume and produce.

The planners work lane-relative: objects are given by their distance along the road from the
ego and their lateral offset from the centre of the ego's lane, so the same input describes a
straight road and a curve. The expert fills this from ground truth; the stack fills it from
fused tracks and the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Road positions ahead of the ego at which lane curvature is given (metres).
PREVIEW_S_M = np.arange(0.0, 101.0, 10.0)

# Planned trajectory: target acceleration and lateral offset at these times (seconds).
HORIZON_T_S = np.round(np.arange(0.1, 3.01, 0.1), 3)


@dataclass(slots=True)
class EgoMotion:
    speed_mps: float
    accel_mps2: float
    yaw_rate_rps: float
    steer_rad: float


@dataclass(slots=True)
class LaneGeometry:
    lane_index: int  # 0 = rightmost
    lane_count: int
    lane_width_m: float
    offset_m: float  # ego rear-axle centre from its lane centre, positive left
    heading_error_rad: float  # ego yaw minus lane heading, positive = pointing left
    curvature_1pm: np.ndarray  # ego lane curvature at PREVIEW_S_M ahead, positive left


@dataclass(slots=True)
class ObjectList:
    """Objects relative to the ego, parallel arrays of length n.

    ``s_rel_m``: road distance from the ego's rear axle to the object's centre (negative behind);
    ``d_m``: object centre from the ego lane's centre, positive left; speeds are absolute,
    along (``v_s``) and across (``v_d``) the road; ``a_s`` is the object's acceleration along it.
    """

    s_rel_m: np.ndarray
    d_m: np.ndarray
    v_s_mps: np.ndarray
    v_d_mps: np.ndarray
    a_s_mps2: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    kind: np.ndarray

    @property
    def count(self) -> int:
        return int(self.s_rel_m.shape[0])

    @staticmethod
    def empty() -> ObjectList:
        z = np.zeros(0)
        return ObjectList(z, z, z, z, z, z, z, np.zeros(0, dtype=np.int8))


@dataclass(slots=True)
class PlanningInput:
    t_ns: int
    ego: EgoMotion
    lane: LaneGeometry
    objects: ObjectList
    set_speed_mps: float
    allow_lane_change: bool = False


@dataclass(slots=True)
class Trajectory:
    """Target acceleration and lateral offset (from the current lane's centre) over HORIZON_T_S."""

    accel_mps2: np.ndarray
    lateral_offset_m: np.ndarray
    lead_gap_m: float = float("inf")  # for logging: gap to the object the plan reacts to
