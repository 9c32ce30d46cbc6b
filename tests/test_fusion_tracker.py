"""Tracker on synthetic cases: convergence, crossing targets, occlusion, clutter, ego motion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.fusion.measurements import MeasurementBatch, Pose2D, position_batch
from edge_autopilot.fusion.tracker import Tracker

MS = 1_000_000
STILL = Pose2D(0.0, 0.0, 0.0, 0.0, 0.0)


def points(t_ns: int, xy: list[tuple[float, float]], std: float = 0.3) -> MeasurementBatch:
    arr = np.array(xy, dtype=float).reshape(-1, 2)
    n = arr.shape[0]
    return position_batch("test", t_ns, arr[:, 0], arr[:, 1], np.full(n, std),
                          np.full(n, std), np.zeros(n), STILL)


def radar_point(t_ns: int, x: float, y: float, vx: float, vy: float) -> MeasurementBatch:
    u = np.array([x, y]) / math.hypot(x, y)
    h = np.zeros((1, 3, 4))
    h[0, 0, 0] = h[0, 1, 1] = 1.0
    h[0, 2, 2:] = u
    r = np.diag([0.3**2, 0.3**2, 0.2**2])[None]
    return MeasurementBatch("radar", t_ns, np.array([[x, y, u @ np.array([vx, vy])]]), h, r)


def test_constant_velocity_target_converges_with_radar() -> None:
    rng = np.random.default_rng(0)
    trk = Tracker()
    for k in range(60):  # 3 s at 20 Hz
        t = k * 50 * MS
        x, y = 40.0 + 5.0 * t / 1e9, 3.0 - 1.0 * t / 1e9
        trk.process(radar_point(t, x + rng.normal(0, 0.3), y + rng.normal(0, 0.3), 5.0, -1.0))
    out = trk.tracks(59 * 50 * MS, STILL)
    assert out.count == 1
    assert out.x_m[0] == pytest.approx(40.0 + 5.0 * 2.95, abs=0.4)
    assert out.y_m[0] == pytest.approx(3.0 - 2.95, abs=0.4)
    assert out.vx_mps[0] == pytest.approx(5.0, abs=0.3)
    assert out.vy_mps[0] == pytest.approx(-1.0, abs=0.5)
    assert out.pos_std_m[0] < 0.3


def test_crossing_targets_keep_their_identities() -> None:
    rng = np.random.default_rng(1)
    trk = Tracker()
    ids_before = ids_after = None
    for k in range(100):  # 2 s at 50 Hz; the two cross at t = 1 s, 1 m apart in x
        t = k * 20 * MS
        ts = t / 1e9
        a = (20.0 + 0.5, -5.0 + 5.0 * ts)
        b = (20.0 - 0.5, 5.0 - 5.0 * ts)
        meas = [(a[0] + rng.normal(0, 0.1), a[1] + rng.normal(0, 0.1)),
                (b[0] + rng.normal(0, 0.1), b[1] + rng.normal(0, 0.1))]
        trk.process(points(t, meas, std=0.15))
        out = trk.tracks(t, STILL)
        if k == 30:
            ids_before = dict(zip(np.sign(out.y_m).astype(int), out.track_id, strict=True))
        if k == 99:
            ids_after = dict(zip(np.sign(out.y_m).astype(int), out.track_id, strict=True))
    assert ids_before is not None and ids_after is not None
    # the track that started on the left (y < 0 going up) is now on the right side
    assert ids_after[1] == ids_before[-1]
    assert ids_after[-1] == ids_before[1]


def test_short_occlusion_coasts_long_occlusion_deletes() -> None:
    trk = Tracker()
    t = 0
    for k in range(20):
        t = k * 50 * MS
        trk.process(points(t, [(30.0 + 10.0 * t / 1e9, 0.0)]))
    tid = trk.tracks(t, STILL).track_id[0]
    # 0.4 s with no measurement: still there, predicted forward
    t_gap = t + 400 * MS
    coasting = trk.tracks(t_gap, STILL)
    assert coasting.count == 1 and coasting.x_m[0] == pytest.approx(30 + 10 * t_gap / 1e9,
                                                                     abs=0.5)
    trk.process(points(t_gap, [(30.0 + 10.0 * t_gap / 1e9, 0.0)]))
    assert trk.tracks(t_gap, STILL).track_id[0] == tid  # re-associated, same id
    assert trk.tracks(t_gap + 1000 * MS, STILL).count == 0  # 1 s silent: gone


def test_random_clutter_confirms_no_track() -> None:
    rng = np.random.default_rng(2)
    trk = Tracker()
    for k in range(200):
        t = k * 50 * MS
        xy = [(rng.uniform(5, 80), rng.uniform(-30, 30)) for _ in range(3)]
        trk.process(points(t, xy, std=0.3))
    assert trk.tracks(199 * 50 * MS, STILL).count == 0


def test_tracks_are_output_in_the_vehicle_frame() -> None:
    trk = Tracker()
    pose = Pose2D(100.0, 50.0, math.pi / 2, 0.0, 0.0)  # ego facing north
    for k in range(10):
        t = k * 50 * MS
        # a stationary object 20 m ahead of the ego in the vehicle frame
        trk.process(position_batch("cam", t, np.array([20.0]), np.array([0.0]),
                                   np.array([0.2]), np.array([0.2]), np.zeros(1), pose))
    out = trk.tracks(9 * 50 * MS, pose)
    assert out.x_m[0] == pytest.approx(20.0, abs=0.05)
    assert out.y_m[0] == pytest.approx(0.0, abs=0.05)
    assert trk.x[0, 0] == pytest.approx(100.0, abs=0.05)  # odometry frame: 20 m north
    assert trk.x[0, 1] == pytest.approx(70.0, abs=0.05)
