"""Ground truth seen through the planner's eyes: lane-relative ego, lane and object lists.

The expert driver plans on this; the planning network's training labels come from it; the
metrics use the same object list so "gap" and "TTC" mean one thing everywhere.
"""

from __future__ import annotations

from edge_autopilot.planning.localization import lane_geometry_at, objects_on_road
from edge_autopilot.planning.types import (
    EgoMotion,
    LaneGeometry,
    ObjectList,
    PlanningInput,
)
from edge_autopilot.sim.world import World


def lane_geometry(world: World) -> LaneGeometry:
    ego = world.ego
    return lane_geometry_at(world.road, ego.s_m, ego.d_m, ego.yaw_rad)


def object_list(world: World, lane: LaneGeometry) -> ObjectList:
    a = world.actors_truth
    return objects_on_road(world.road, world.ego.s_m, lane, a.s_m, a.d_m, a.vx_mps, a.vy_mps,
                           world.actors.accel_mps2.copy(), a.length_m, a.width_m, a.kind)


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
