"""Network features and training data: shapes, scaling, object selection, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from edge_autopilot.planning.features import (
    CONTROL_INPUTS,
    MAX_OBJECTS,
    OBJECT_FEATURES,
    PLANNING_INPUTS,
    control_target,
    decode_control,
    decode_planning,
    encode_control,
    encode_planning,
    planning_target,
)
from edge_autopilot.planning.types import (
    HORIZON_T_S,
    PREVIEW_S_M,
    EgoMotion,
    LaneGeometry,
    ObjectList,
    PlanningInput,
    Trajectory,
)
from edge_autopilot.sim.scenario import load_scenario
from edge_autopilot.training.dataset import record_run, vary

LANE = LaneGeometry(1, 3, 3.5, 0.2, 0.01, np.full(PREVIEW_S_M.shape, 0.002))
EGO = EgoMotion(20.0, 0.5, 0.01, 0.02)


def objects(s_rel: list[float], d: list[float]) -> ObjectList:
    n = len(s_rel)
    return ObjectList(np.array(s_rel, float), np.array(d, float), np.full(n, 15.0),
                      np.zeros(n), np.zeros(n), np.full(n, 4.6), np.full(n, 1.85),
                      np.zeros(n, np.int8))


def test_planning_features_select_nearest_objects_in_the_window() -> None:
    obj = objects([200.0, 50.0, -10.0, 20.0, 30.0, -80.0, 60.0], [0.0, 0.0, 3.5, 0.0, 9.0,
                                                                 0.0, -3.5])
    x = encode_planning(PlanningInput(0, EGO, LANE, obj, 25.0), 3.5)
    assert x.shape == (PLANNING_INPUTS,) and x.dtype == np.float32
    rows = x[-MAX_OBJECTS * OBJECT_FEATURES:].reshape(MAX_OBJECTS, OBJECT_FEATURES)
    present = rows[rows[:, 0] == 1.0]
    # 200 m (too far), 30 m at d=9 (too wide), -80 m (too far behind) are left out;
    # the rest sorted by distance: -10, 20, 50, 60
    np.testing.assert_allclose(present[:, 1] * 50.0, [-10.0, 20.0, 50.0, 60.0], rtol=1e-6)
    np.testing.assert_allclose(present[:, 3] * 10.0, -5.0, rtol=1e-6)  # relative speed
    assert np.all(rows[4:] == 0.0)


def test_trajectory_and_command_round_trip() -> None:
    traj = Trajectory(np.linspace(-3.0, 1.0, HORIZON_T_S.size),
                      np.linspace(0.0, 2.0, HORIZON_T_S.size))
    back = decode_planning(planning_target(traj))
    np.testing.assert_allclose(back.accel_mps2, traj.accel_mps2, rtol=1e-6)
    np.testing.assert_allclose(back.lateral_offset_m, traj.lateral_offset_m, atol=1e-6)
    assert decode_control(control_target(0.1, -2.0)) == pytest.approx((0.1, -2.0))
    x = encode_control(EGO, LANE, traj)
    assert x.shape == (CONTROL_INPUTS,)


def test_recorded_runs_are_deterministic_and_labelled_by_the_expert() -> None:
    scenario = load_scenario("scenarios/lead_brake_hard.yaml")
    a = record_run(scenario, noisy=True, rng=np.random.default_rng(5))
    b = record_run(scenario, noisy=True, rng=np.random.default_rng(5))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    xp, yp, xc, yc = a
    assert xp.shape[0] == yp.shape[0] == xc.shape[0] == yc.shape[0] > 600
    # the expert brakes hard in this scenario: the labels hold that
    assert (yp[:, 0] * 4.0).min() < -3.0
    assert np.all(np.isfinite(xp)) and np.all(np.abs(xp) < 20.0)


def test_variants_jitter_but_stay_valid() -> None:
    base = load_scenario("scenarios/cut_in_short_gap.yaml")
    rng = np.random.default_rng(0)
    made = [v for v in (vary(base, rng, i) for i in range(1, 6)) if v is not None]
    assert len(made) >= 4
    speeds = {v.ego.speed_mps for v in made}
    assert len(speeds) == len(made)  # each one different
    assert all(0.79 * 25.0 <= v.ego.speed_mps <= 1.21 * 25.0 for v in made)


def test_object_rows_kernel_equals_numpy_reference() -> None:
    """The planner's object rows from the numba kernel are bit for bit the numpy form's
    (window edges, equal distances, NaN, more objects than rows)."""
    from edge_autopilot.planning.features import (
        MAX_OBJECTS,
        OBJECT_FEATURES,
        _objects,
        _objects_numpy,
    )
    from edge_autopilot.planning.types import ObjectList

    rng = np.random.default_rng(1)
    for t in range(500):
        n = int(rng.integers(1, 25))
        s = rng.uniform(-50.0, 140.0, n)
        if t % 3 == 0:
            s = np.round(s / 10.0) * 10.0 * rng.choice([-1.0, 1.0], n)
        if t % 7 == 0:
            s[0] = np.nan
        obj = ObjectList(s, rng.uniform(-9.0, 9.0, n), rng.normal(20.0, 5.0, n),
                         rng.normal(0.0, 1.0, n), rng.normal(0.0, 1.0, n),
                         rng.uniform(0.5, 12.0, n), rng.uniform(0.5, 2.6, n),
                         np.zeros(n, np.int8))
        got = np.zeros((MAX_OBJECTS, OBJECT_FEATURES), np.float32)
        want = got.copy()
        speed = float(rng.uniform(0.0, 30.0))
        _objects(obj, speed, got)
        _objects_numpy(obj, speed, want)
        assert got.tobytes() == want.tobytes()


def test_fused_rows_come_with_ground_truth_twins() -> None:
    """With an observer, every fused row has a twin from ground truth at the same instant with
    the same labels: the truth-only recording's rows, as the expert drove the same path."""
    from edge_autopilot.training.dataset import stack_observer

    scenario = load_scenario("scenarios/lead_brake_hard.yaml").model_copy(
        update={"duration_s": 3.0})
    xp, yp, xc, yc = record_run(scenario, noisy=False, rng=np.random.default_rng(1),
                                observe=stack_observer(None))
    k = xp.shape[0] // 2
    assert xp.shape[0] == 2 * k and k > 100
    np.testing.assert_array_equal(yp[:k], yp[k:])
    np.testing.assert_array_equal(yc[:k], yc[k:])
    assert not np.array_equal(xp[:k], xp[k:])  # fused objects are not ground truth
    truth = record_run(scenario, noisy=False, rng=np.random.default_rng(1))
    # the fused recording starts once odometry arrived: its twins are truth's last k rows
    np.testing.assert_array_equal(xp[k:], truth[0][-k:])
    np.testing.assert_array_equal(xc[k:], truth[2][-k:])
    np.testing.assert_array_equal(yp[k:], truth[1][-k:])
    single = record_run(scenario, noisy=False, rng=np.random.default_rng(1),
                        observe=stack_observer(None), truth_twins=False)
    np.testing.assert_array_equal(single[0], xp[:k])
