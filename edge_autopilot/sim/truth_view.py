"""Ground truth seen through the planner's eyes: lane-relative ego, lane and object lists.

The expert driver plans on this; the planning network's training labels come from it; the
metrics use the same object list so "gap" and "TTC" mean one thing everywhere.
"""

from __future__ import annotations

import numpy as np

from edge_autopilot.planning.types import (
    PREVIEW_S_M,
    EgoMotion,
    LaneGeometry,
    ObjectList,
    PlanningInput,
)
from edge_autopilot.sim.road import _wrap_angle
from edge_autopilot.sim.world import World


def lane_geometry(world: World) -> LaneGeometry:
    road, ego = world.road, world.ego
    lane = road.lane_of(ego.d_m)
    centre = road.lane_center_d(lane)
    preview_s = ego.s_m + PREVIEW_S_M
    _, _, heading, kappa = road.to_cartesian(preview_s, 0.0)
    # a lane offset d from the reference line curves by kappa / (1 - kappa d)
    kappa_lane = kappa / np.maximum(1.0 - kappa * centre, 0.1)
    return LaneGeometry(
        lane_index=lane,
        lane_count=road.lane_count,
        lane_width_m=road.lane_width_m,
        offset_m=ego.d_m - centre,
        heading_error_rad=_wrap_angle(ego.yaw_rad - float(heading[0])),
        curvature_1pm=kappa_lane,
    )


def object_list(world: World, lane: LaneGeometry) -> ObjectList:
    actors, ego, road = world.actors_truth, world.ego, world.road
    if actors.count == 0:
        return ObjectList.empty()
    centre = road.lane_center_d(lane.lane_index)
    _, _, heading, _ = road.to_cartesian(actors.s_m, 0.0)
    ch, sh = np.cos(heading), np.sin(heading)
    # reference-line arc length, scaled to arc length along the ego's lane centre
    along_lane = max(1.0 - road.curvature_at(ego.s_m) * centre, 0.1)
    return ObjectList(
        s_rel_m=(actors.s_m - ego.s_m) * along_lane,
        d_m=actors.d_m - centre,
        v_s_mps=actors.vx_mps * ch + actors.vy_mps * sh,
        v_d_mps=-actors.vx_mps * sh + actors.vy_mps * ch,
        a_s_mps2=world.actors.accel_mps2.copy(),
        length_m=actors.length_m,
        width_m=actors.width_m,
        kind=actors.kind,
    )


def planning_input(world: World) -> PlanningInput:
    """The planner's view of this instant, computed once per world step."""
    cached = world.derived.get("planning_input")
    if isinstance(cached, PlanningInput):
        return cached
    ego = world.ego
    lane = lane_geometry(world)
    inp = PlanningInput(
        t_ns=world.t_ns,
        ego=EgoMotion(ego.speed_mps, ego.accel_mps2, ego.yaw_rate_rps, ego.steer_rad),
        lane=lane,
        objects=object_list(world, lane),
        set_speed_mps=world.scenario.ego.set_speed_mps,
        allow_lane_change=world.scenario.ego.allow_lane_change,
    )
    world.derived["planning_input"] = inp
    return inp
