"""Where the ego is on the map, lane-relative: the planners' view of the road and of objects.

One implementation for both sources: the simulator's ground truth (expert, training labels,
metrics) and the stack's odometry pose with fused tracks.
"""

from __future__ import annotations

import math

import numpy as np

from edge_autopilot.maps.road import Road, _wrap_angle
from edge_autopilot.planning.types import PREVIEW_S_M, LaneGeometry, ObjectList


def lane_geometry_at(road: Road, s_m: float, d_m: float, yaw_rad: float) -> LaneGeometry:
    """Lane geometry for a rear-axle position (s, d) and heading on ``road``."""
    lane = road.lane_of(d_m)
    centre = road.lane_center_d(lane)
    _, _, heading, kappa = road.to_cartesian(s_m + PREVIEW_S_M, 0.0)
    # a lane offset d from the reference line curves by kappa / (1 - kappa d)
    kappa_lane = kappa / np.maximum(1.0 - kappa * centre, 0.1)
    return LaneGeometry(
        lane_index=lane,
        lane_count=road.lane_count,
        lane_width_m=road.lane_width_m,
        offset_m=d_m - centre,
        heading_error_rad=_wrap_angle(yaw_rad - float(heading[0])),
        curvature_1pm=kappa_lane,
    )


def objects_on_road(road: Road, ego_s_m: float, lane: LaneGeometry, s_m: np.ndarray,
                    d_m: np.ndarray, vx_mps: np.ndarray, vy_mps: np.ndarray,
                    a_s_mps2: np.ndarray, length_m: np.ndarray, width_m: np.ndarray,
                    kind: np.ndarray) -> ObjectList:
    """Objects given by Frenet centre positions and world velocities, relative to the ego."""
    if s_m.shape[0] == 0:
        return ObjectList.empty()
    centre = road.lane_center_d(lane.lane_index)
    _, _, heading, _ = road.to_cartesian(s_m, 0.0)
    ch, sh = np.cos(heading), np.sin(heading)
    # reference-line arc length, scaled to arc length along the ego's lane centre
    along_lane = max(1.0 - road.curvature_at(ego_s_m) * centre, 0.1)
    return ObjectList(
        s_rel_m=(s_m - ego_s_m) * along_lane,
        d_m=d_m - centre,
        v_s_mps=vx_mps * ch + vy_mps * sh,
        v_d_mps=-vx_mps * sh + vy_mps * ch,
        a_s_mps2=a_s_mps2,
        length_m=length_m,
        width_m=width_m,
        kind=kind,
    )


def vehicle_to_world(x_m: float, y_m: float, yaw_rad: float, px: np.ndarray, py: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return x_m + c * px - s * py, y_m + s * px + c * py

