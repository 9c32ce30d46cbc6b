"""Per-cycle measurements of a run (ground truth) and the pass criteria evaluated on them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge_autopilot.constants import (
    EGO_LENGTH_M,
    EGO_REAR_AXLE_TO_FRONT_M,
    EGO_WIDTH_M,
)
from edge_autopilot.planning.types import LaneGeometry, ObjectList
from edge_autopilot.runtime.timing import summarize_ns
from edge_autopilot.sim.scenario import CriteriaSpec
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth, box_corners

# Extra clearance allowed over the lane line before "stay_in_lane" fails (a wheel on the line).
LANE_TOLERANCE_M = 0.3
_EGO_CENTRE_FWD_M = EGO_REAR_AXLE_TO_FRONT_M - 0.5 * EGO_LENGTH_M


def ego_corners(ego: EgoTruth) -> np.ndarray:
    cx = ego.x_m + _EGO_CENTRE_FWD_M * math.cos(ego.yaw_rad)
    cy = ego.y_m + _EGO_CENTRE_FWD_M * math.sin(ego.yaw_rad)
    return box_corners(np.array([cx]), np.array([cy]), np.array([ego.yaw_rad]),
                       np.array([EGO_LENGTH_M]), np.array([EGO_WIDTH_M]))[0]


def boxes_overlap(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Separating-axis test of one box (4, 2) against n boxes (n, 4, 2) -> (n,) bool."""
    if others.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    axes = []
    for poly in (box[None, :, :], others):
        edges = np.roll(poly, -1, axis=1)[:, :2, :] - poly[:, :2, :]  # two edge directions
        axes.append(np.broadcast_to(edges, (others.shape[0], 2, 2)))
    normals = np.concatenate(axes, axis=1)[..., ::-1] * np.array([1.0, -1.0])  # (n, 4, 2)
    proj_a = np.einsum("nkd,cd->nkc", normals, box)  # (n, 4 axes, 4 corners)
    proj_b = np.einsum("nkd,ncd->nkc", normals, others)
    separated = (proj_a.max(-1) < proj_b.min(-1)) | (proj_b.max(-1) < proj_a.min(-1))
    return ~separated.any(axis=1)


def colliding_actor(ego: EgoTruth, actors: ActorsTruth) -> str | None:
    """Id of an actor whose box overlaps the ego's, or None.

    Boxes are tested only when their bounding circles touch: most cycles nothing is near.
    """
    if actors.count == 0:
        return None
    ego_box = ego_corners(ego)
    centre = ego_box.mean(axis=0)
    reach = 0.5 * (math.hypot(EGO_LENGTH_M, EGO_WIDTH_M) + np.hypot(actors.length_m,
                                                                    actors.width_m))
    near = np.hypot(actors.x_m - centre[0], actors.y_m - centre[1]) < reach
    if not near.any():
        return None
    idx = np.flatnonzero(near)
    hit = boxes_overlap(ego_box, box_corners(actors.x_m[idx], actors.y_m[idx],
                                             actors.yaw_rad[idx], actors.length_m[idx],
                                             actors.width_m[idx]))
    return actors.actor_id[int(idx[np.flatnonzero(hit)[0]])] if hit.any() else None


def in_path_now(objects: ObjectList, ego_offset_m: float) -> np.ndarray:
    """Objects ahead that overlap the ego's footprint laterally right now."""
    lateral = np.abs(objects.d_m - ego_offset_m) < 0.5 * (objects.width_m + EGO_WIDTH_M)
    ahead = objects.s_rel_m + 0.5 * objects.length_m > EGO_REAR_AXLE_TO_FRONT_M
    return lateral & ahead


def gap_and_ttc(objects: ObjectList, ego_offset_m: float, ego_speed_mps: float
                ) -> tuple[float, float]:
    """Bumper gap to the nearest in-path object and time to collision with it (inf if none)."""
    if objects.count == 0:
        return math.inf, math.inf
    mask = in_path_now(objects, ego_offset_m)
    if not mask.any():
        return math.inf, math.inf
    gaps = objects.s_rel_m[mask] - 0.5 * objects.length_m[mask] - EGO_REAR_AXLE_TO_FRONT_M
    closing = ego_speed_mps - objects.v_s_mps[mask]
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = np.where(closing > 0.05, np.maximum(gaps, 0.0) / closing, np.inf)
    return float(gaps.min()), float(ttc.min())


@dataclass
class RunTrace:
    """Time series of one run, preallocated for ``cycles`` samples."""

    cycles: int
    actor_ids: tuple[str, ...]
    t_s: np.ndarray = field(init=False)
    speed_mps: np.ndarray = field(init=False)
    accel_mps2: np.ndarray = field(init=False)
    accel_cmd_mps2: np.ndarray = field(init=False)
    steer_rad: np.ndarray = field(init=False)
    gap_m: np.ndarray = field(init=False)
    ttc_s: np.ndarray = field(init=False)
    lane_offset_m: np.ndarray = field(init=False)
    ego_s_m: np.ndarray = field(init=False)
    ego_d_m: np.ndarray = field(init=False)
    ego_xy_m: np.ndarray = field(init=False)
    actor_xy_m: np.ndarray = field(init=False)
    sim_step_ns: np.ndarray = field(init=False)
    n: int = 0

    def __post_init__(self) -> None:
        c = self.cycles
        for name in ("t_s", "speed_mps", "accel_mps2", "accel_cmd_mps2", "steer_rad", "gap_m",
                     "ttc_s", "lane_offset_m", "ego_s_m", "ego_d_m"):
            setattr(self, name, np.full(c, np.nan))
        self.ego_xy_m = np.full((c, 2), np.nan)
        self.actor_xy_m = np.full((c, len(self.actor_ids), 2), np.nan)
        self.sim_step_ns = np.zeros(c, dtype=np.int64)

    def record(self, t_s: float, ego: EgoTruth, actors: ActorsTruth, lane: LaneGeometry,
               objects: ObjectList, accel_cmd_mps2: float, sim_step_ns: int) -> tuple[float, float]:
        k = self.n
        gap, ttc = gap_and_ttc(objects, lane.offset_m, ego.speed_mps)
        self.t_s[k] = t_s
        self.speed_mps[k] = ego.speed_mps
        self.accel_mps2[k] = ego.accel_mps2
        self.accel_cmd_mps2[k] = accel_cmd_mps2
        self.steer_rad[k] = ego.steer_rad
        self.gap_m[k] = gap
        self.ttc_s[k] = ttc
        self.lane_offset_m[k] = lane.offset_m
        self.ego_s_m[k] = ego.s_m
        self.ego_d_m[k] = ego.d_m
        self.ego_xy_m[k] = (ego.x_m, ego.y_m)
        if actors.count:
            self.actor_xy_m[k, :, 0] = actors.x_m
            self.actor_xy_m[k, :, 1] = actors.y_m
        self.sim_step_ns[k] = sim_step_ns
        self.n = k + 1
        return gap, ttc


def percentiles_ms(samples_ns: np.ndarray) -> dict[str, float]:
    s = summarize_ns(samples_ns)
    mean = float(samples_ns.mean()) / 1e6 if samples_ns.size else math.nan
    return {"p50": round(s.p50_ms, 4), "p99": round(s.p99_ms, 4), "max": round(s.max_ms, 4),
            "mean": round(mean, 4)}


def max_jerk_mps3(accel_mps2: np.ndarray, speed_mps: np.ndarray, dt_s: float) -> float:
    """Largest |da/dt| while moving. The step to zero at the instant of stopping is left out:
    it is the tyres ceasing to slide, not something the driver chose or a passenger rides."""
    jerk = np.abs(np.diff(accel_mps2)) / dt_s
    moving = (speed_mps[1:] > 0.5) & (speed_mps[:-1] > 0.5) & np.isfinite(jerk)
    return float(jerk[moving].max()) if moving.any() else 0.0


def evaluate_criteria(
    criteria: CriteriaSpec,
    trace: RunTrace,
    collision: bool,
    ego_lane_width_m: float,
    start_s_m: float,
    start_lane_centre_d_m: float,
) -> list[str]:
    """Reasons the run fails its criteria (empty = passed)."""
    n = trace.n
    failures: list[str] = []
    if collision:
        failures.append("collision")
    if criteria.stop_before_s_m is not None and n:
        front = np.nanmax(trace.ego_s_m[:n]) + EGO_REAR_AXLE_TO_FRONT_M
        if front > criteria.stop_before_s_m:
            failures.append(
                f"front passed s={criteria.stop_before_s_m:.1f} m (reached {front:.1f} m)"
            )
    if criteria.min_ttc_s is not None:
        ttc = float(np.nanmin(trace.ttc_s[:n])) if n else math.inf
        if ttc < criteria.min_ttc_s:
            failures.append(f"min TTC {ttc:.2f} s < {criteria.min_ttc_s:.2f} s")
    if criteria.stay_in_lane:
        allowed = 0.5 * (ego_lane_width_m - EGO_WIDTH_M) + LANE_TOLERANCE_M
        offsets = np.abs(trace.ego_d_m[:n] - start_lane_centre_d_m)
        worst = float(np.nanmax(offsets)) if n else 0.0
        if worst > allowed:
            failures.append(f"left its lane: offset {worst:.2f} m > {allowed:.2f} m")
    if criteria.min_progress_m is not None:
        progress = float(np.nanmax(trace.ego_s_m[:n]) - start_s_m) if n else 0.0
        if progress < criteria.min_progress_m:
            failures.append(f"progress {progress:.1f} m < {criteria.min_progress_m:.1f} m")
    if criteria.max_decel_mps2 is not None:
        worst_decel = -float(np.nanmin(trace.accel_mps2[:n])) if n else 0.0
        if worst_decel > criteria.max_decel_mps2:
            failures.append(
                f"braked at {worst_decel:.2f} m/s^2 > {criteria.max_decel_mps2:.2f} m/s^2"
            )
    return failures
