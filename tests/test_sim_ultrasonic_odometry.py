"""Ultrasonic cone geometry and odometry noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.sensors.calibration import UltrasonicCalibration, default_rig
from edge_autopilot.sim.sensors.odometry import OdometryModel
from edge_autopilot.sim.sensors.settings import OdometrySettings, UltrasonicSettings
from edge_autopilot.sim.sensors.ultrasonic import UltrasonicArray, nearest_echo_m
from edge_autopilot.sim.truth import ActorKind, box_corners

QUIET = UltrasonicSettings(range_noise_std_m=0.0)
RIG = default_rig().ultrasonics
FRONT_CENTRE = next(c for c in RIG if c.name == "front_left_center")  # x 3.75, y 0.35, 5 deg
RNG = np.random.default_rng(0)


def reading(cal: UltrasonicCalibration, truth, settings=QUIET) -> float:
    out = UltrasonicArray((cal,), settings).measure(ego_at(), truth, 0, RNG)
    return out[0].range_m


def straight_ahead_cal() -> UltrasonicCalibration:
    return UltrasonicCalibration("t", 3.75, 0.0, 0.0, math.radians(30.0))


def test_box_one_metre_ahead_reads_one_metre() -> None:
    # static box 0.8 m long: its near face at x = 3.75 + 1.0
    truth = actors((ActorKind.STATIC, 3.75 + 1.0 + 0.4, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), truth) == pytest.approx(1.0, abs=1e-9)


def test_outside_cone_and_beyond_range_read_inf() -> None:
    side = actors((ActorKind.STATIC, 3.75 + 2.0, 2.0, 0.0, 0.0, 0.0))  # ~45 deg off boresight
    assert math.isinf(reading(straight_ahead_cal(), side))
    far = actors((ActorKind.STATIC, 3.75 + 5.6 + 0.4, 0.0, 0.0, 0.0, 0.0))
    assert math.isinf(reading(straight_ahead_cal(), far))
    near_limit = actors((ActorKind.STATIC, 3.75 + 5.4 + 0.4, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), near_limit) == pytest.approx(5.4)
    assert math.isinf(reading(straight_ahead_cal(), NO_ACTORS))


def test_blind_zone_reads_min_range_not_nothing() -> None:
    truth = actors((ActorKind.STATIC, 3.75 + 0.05 + 0.4, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), truth) == pytest.approx(0.15)


def test_edge_crossing_the_cone_boundary_gives_the_clipped_point() -> None:
    # a long wall parallel to the boresight, 1 m to the left: its nearest point overall is
    # abeam (outside the 30 deg cone); inside the cone the nearest is where the cone's left
    # edge meets the wall, at 1 / sin(30 deg) = 2 m
    wall = actors((ActorKind.TRUCK, 3.75 + 5.0, 1.0 + 1.25, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), wall) == pytest.approx(2.0, abs=1e-9)
    corners = box_corners(wall.x_m, wall.y_m, wall.yaw_rad, wall.length_m, wall.width_m)
    assert nearest_echo_m(3.75, 0.0, 0.0, math.radians(89.0), corners) == pytest.approx(
        1.0 / math.cos(math.radians(1.0)), rel=1e-6)


def test_nearest_of_two_objects_wins() -> None:
    truth = actors((ActorKind.STATIC, 3.75 + 3.4, 0.0, 0.0, 0.0, 0.0),
                   (ActorKind.STATIC, 3.75 + 1.9, 0.2, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), truth) == pytest.approx(1.5, abs=1e-9)


def test_full_array_front_and_rear() -> None:
    array = UltrasonicArray(RIG, QUIET)
    ahead = actors((ActorKind.CAR, 3.75 + 1.2 + 2.3, 0.0, 0.0, 0.0, 0.0))
    out = {r.sensor_id: r.range_m for r in array.measure(ego_at(), ahead, 0, RNG)}
    assert len(out) == 12
    assert out["front_left_center"] == pytest.approx(1.2 / math.cos(math.radians(0)), abs=0.05)
    assert all(math.isinf(v) for k, v in out.items() if k.startswith("rear"))
    behind = actors((ActorKind.CAR, -0.95 - 0.8 - 2.3, 0.0, 0.0, 0.0, 0.0))
    out = {r.sensor_id: r.range_m for r in array.measure(ego_at(), behind, 0, RNG)}
    assert out["rear_left_center"] == pytest.approx(0.8, abs=0.05)
    assert all(math.isinf(v) for k, v in out.items() if k.startswith("front"))
    # a rotated ego carries its sensors with it
    rotated = actors((ActorKind.CAR, 0.0, 3.75 + 1.2 + 2.3, math.pi / 2, 0.0, 0.0))
    out = {r.sensor_id: r.range_m
           for r in array.measure(ego_at(yaw=math.pi / 2), rotated, 0, RNG)}
    assert out["front_left_center"] == pytest.approx(1.2, abs=0.05)


def test_ultrasonic_noise_has_the_configured_spread() -> None:
    truth = actors((ActorKind.STATIC, 3.75 + 2.0 + 0.4, 0.0, 0.0, 0.0, 0.0))
    array = UltrasonicArray((straight_ahead_cal(),), UltrasonicSettings(range_noise_std_m=0.05))
    rng = np.random.default_rng(1)
    values = np.array([array.measure(ego_at(), truth, 0, rng)[0].range_m for _ in range(2000)])
    assert values.mean() == pytest.approx(2.0, abs=0.01)
    assert values.std() == pytest.approx(0.05, rel=0.1)


def test_odometry_exact_without_noise_and_noisy_with() -> None:
    ego = ego_at(x=5.0, y=-2.0, yaw=0.3, speed=12.0, yaw_rate=0.05)
    exact = OdometryModel(OdometrySettings(speed_noise_std_mps=0, yaw_rate_noise_std_rps=0,
                                           accel_noise_std_mps2=0, position_noise_std_m=0))
    o = exact.measure(ego, 123, RNG)
    assert (o.x_m, o.y_m, o.yaw_rad, o.speed_mps, o.yaw_rate_rps, o.stamp_ns) == (
        5.0, -2.0, 0.3, 12.0, 0.05, 123)
    noisy = OdometryModel(OdometrySettings(speed_noise_std_mps=0.1))
    rng = np.random.default_rng(2)
    speeds = np.array([noisy.measure(ego, 0, rng).speed_mps for _ in range(2000)])
    assert speeds.mean() == pytest.approx(12.0, abs=0.01)
    assert speeds.std() == pytest.approx(0.1, rel=0.1)
