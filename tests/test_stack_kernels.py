"""The stack's numba kernels equal the numpy expressions they replaced, bit for bit."""

from __future__ import annotations

import math

import numpy as np

from edge_autopilot.constants import EGO_REAR_AXLE_TO_BACK_M, EGO_REAR_AXLE_TO_FRONT_M, EGO_WIDTH_M
from edge_autopilot.runtime.stack import (
    ASIDE_MARGIN_M,
    DEFAULT_OBJECT_LENGTH_M,
    DEFAULT_OBJECT_WIDTH_M,
    LATERAL_TRUST_HITS,
    YOUNG_TRACK_HITS,
    _track_boxes,
)


def _boxes_numpy(x_m: np.ndarray, y_m: np.ndarray, vx_mps: np.ndarray, vy_mps: np.ndarray,
                 hits: np.ndarray, ego_x_m: float, ego_y_m: float, yaw_rad: float
                 ) -> tuple[np.ndarray, ...]:
    """What StackPipeline._track_objects computed with numpy before the kernel."""
    n = x_m.shape[0]
    length = np.full(n, DEFAULT_OBJECT_LENGTH_M)
    width = np.full(n, DEFAULT_OBJECT_WIDTH_M)
    ahead = x_m > EGO_REAR_AXLE_TO_FRONT_M - 1.0
    behind = x_m < -EGO_REAR_AXLE_TO_BACK_M + 1.0
    aside = (np.abs(y_m) > 0.5 * EGO_WIDTH_M + ASIDE_MARGIN_M) | (~ahead & ~behind)
    cx = x_m + np.where(ahead, 0.5, np.where(behind, -0.5, 0.0)) * length
    cy = y_m + np.where(aside, 0.5 * np.sign(y_m), 0.0) * width
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    wx, wy = ego_x_m + c * cx - s * cy, ego_y_m + s * cx + c * cy
    trust = np.clip((hits - YOUNG_TRACK_HITS) / LATERAL_TRUST_HITS, 0.0, 1.0)
    vy_v = vy_mps * trust
    return wx, wy, c * vx_mps - s * vy_v, s * vx_mps + c * vy_v


def test_track_boxes_equal_numpy() -> None:
    rng = np.random.default_rng(2)
    for t in range(500):
        n = int(rng.integers(1, 30))
        x = rng.uniform(-30.0, 90.0, n)
        y = rng.uniform(-8.0, 8.0, n)
        if t % 4 == 0:  # on the thresholds and on zero
            x[0], y[0] = EGO_REAR_AXLE_TO_FRONT_M - 1.0, -0.0
            y[-1] = 0.5 * EGO_WIDTH_M + ASIDE_MARGIN_M
        vx, vy = rng.normal(20.0, 5.0, n), rng.normal(0.0, 1.0, n)
        hits = rng.integers(0, 30, n)
        ego = (float(rng.uniform(-1e3, 1e3)), float(rng.uniform(-1e3, 1e3)),
               float(rng.uniform(-math.pi, math.pi)))
        out = np.empty((4, n))
        _track_boxes(x, y, vx, vy, hits, ego[0], ego[1], math.cos(ego[2]), math.sin(ego[2]),
                     out)
        for got, want in zip(out, _boxes_numpy(x, y, vx, vy, hits, *ego), strict=True):
            assert got.tobytes() == want.tobytes()


def test_in_path_kernel_equals_numpy() -> None:
    from edge_autopilot.planning.expert import (
        _PATH_T_S,
        _PRED_T_S,
        ExpertParams,
        _in_path_numpy,
        in_path_mask,
        lateral_plan,
    )
    from edge_autopilot.planning.types import ObjectList

    p = ExpertParams()
    rng = np.random.default_rng(3)
    for t in range(1000):
        n = int(rng.integers(1, 25))
        obj = ObjectList(rng.uniform(-40.0, 120.0, n), rng.uniform(-8.0, 8.0, n),
                         rng.normal(15.0, 8.0, n), rng.normal(0.0, 1.5, n), np.zeros(n),
                         rng.uniform(0.5, 12.0, n), rng.uniform(0.5, 2.6, n),
                         np.zeros(n, np.int8))
        if t % 5 == 0:
            obj.d_m[0] = np.nan
        offset = float(rng.uniform(-1.5, 1.5))
        path = lateral_plan(offset, float(rng.choice([-3.5, 0.0, 3.5])), p)
        speed = float(rng.uniform(0.0, 35.0))
        path_t = np.interp(_PRED_T_S, _PATH_T_S, np.concatenate(([offset], path)))
        want = _in_path_numpy(obj, path_t, speed, p)
        assert np.array_equal(in_path_mask(obj, offset, path, speed, p), want)


def test_expert_plan_kernel_equals_numpy() -> None:
    """The expert's plan through its array kernel equals the numpy form bit for bit, NaN
    objects and lane changes included (the fallback and the teacher both run it)."""
    from edge_autopilot.planning.expert import ExpertPlanner
    from edge_autopilot.planning.localization import lane_geometry_at
    from edge_autopilot.planning.types import EgoMotion, ObjectList, PlanningInput
    from edge_autopilot.sim.scenario import BUILTIN_SCENARIO_DIR, load_scenario
    from edge_autopilot.sim.world import World

    road = World(load_scenario(BUILTIN_SCENARIO_DIR / "curve_with_traffic.yaml"),
                 with_sensors=False).road
    rng = np.random.default_rng(5)
    for t in range(1500):
        n = int(rng.integers(0, 20))
        obj = ObjectList(rng.uniform(-40.0, 120.0, n), rng.uniform(-8.0, 8.0, n),
                         rng.normal(15.0, 8.0, n), rng.normal(0.0, 1.5, n),
                         rng.normal(0.0, 2.0, n), rng.uniform(0.5, 12.0, n),
                         rng.uniform(0.5, 2.6, n), np.zeros(n, np.int8))
        if n and t % 7 == 0:
            obj.d_m[0] = np.nan
        if n and t % 11 == 0:
            obj.s_rel_m[-1] = np.nan
        lane = lane_geometry_at(road, float(rng.uniform(0.0, 900.0)),
                                float(rng.uniform(-1.5, 1.5)), float(rng.normal(0.0, 0.05)))
        inp = PlanningInput(0, EgoMotion(float(rng.uniform(0.0, 35.0)), 0.0, 0.0, 0.0), lane,
                            obj, float(rng.uniform(5.0, 35.0)), t % 3 == 0)
        got, want = ExpertPlanner().plan(inp), ExpertPlanner()._plan_numpy(inp)
        assert got.accel_mps2.tobytes() == want.accel_mps2.tobytes()
        assert got.lateral_offset_m.tobytes() == want.lateral_offset_m.tobytes()
        assert np.array_equal(got.lead_gap_m, want.lead_gap_m, equal_nan=True)
