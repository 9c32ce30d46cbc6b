"""Ultrasonic cone geometry and noise; odometry values and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.sensors.calibration import UltrasonicCalibration, default_rig
from edge_autopilot.sim.sensors.odometry import OdometryModel
from edge_autopilot.sim.sensors.settings import OdometrySettings, UltrasonicSettings
from edge_autopilot.sim.sensors.ultrasonic import UltrasonicArray, nearest_echo_m
from edge_autopilot.sim.truth import ActorKind, ActorsTruth, box_corners
from edge_autopilot.sim.wire import float32_exact

QUIET = UltrasonicSettings(range_noise_std_m=0.0)
RIG = default_rig().ultrasonics
FRONT_CENTRE = next(c for c in RIG if c.name == "front_left_center")  # x 3.75, y 0.35, 5 deg
BUMPER_X = 3.75
STATIC_HALF = 0.4  # the static box is 0.8 m square


def reading(cal: UltrasonicCalibration, truth, settings=QUIET, ego=None) -> float:
    out = UltrasonicArray((cal,), settings).measure(ego or ego_at(), truth, 0,
                                                    np.random.default_rng(0))
    return out[0].range_m


def straight_ahead_cal() -> UltrasonicCalibration:
    return UltrasonicCalibration("t", BUMPER_X, 0.0, 0.0, math.radians(30.0))


def test_box_one_metre_ahead_reads_one_metre() -> None:
    truth = actors((ActorKind.STATIC, BUMPER_X + 1.0 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), truth) == pytest.approx(1.0, abs=1e-9)
    # the rig's front centre sensor (toed out 5 deg): a car across the road 1 m from the bumper
    across = actors((ActorKind.CAR, BUMPER_X + 1.0 + 0.925, 0.35, math.pi / 2, 0.0, 0.0))
    assert reading(FRONT_CENTRE, across) == pytest.approx(1.0, abs=1e-9)


def test_outside_cone_and_beyond_range_read_inf() -> None:
    side = actors((ActorKind.STATIC, BUMPER_X + 2.0, 2.0, 0.0, 0.0, 0.0))  # ~45 deg off
    assert math.isinf(reading(straight_ahead_cal(), side))
    far = actors((ActorKind.STATIC, BUMPER_X + 5.6 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0))
    assert math.isinf(reading(straight_ahead_cal(), far))
    near_limit = actors((ActorKind.STATIC, BUMPER_X + 5.4 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), near_limit) == pytest.approx(5.4)
    behind_sensor = actors((ActorKind.STATIC, BUMPER_X - 2.0, 0.0, 0.0, 0.0, 0.0))
    assert math.isinf(reading(straight_ahead_cal(), behind_sensor))
    assert math.isinf(reading(straight_ahead_cal(), NO_ACTORS))


def test_blind_zone_reads_min_range_not_nothing() -> None:
    truth = actors((ActorKind.STATIC, BUMPER_X + 0.05 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), truth) == pytest.approx(0.15)


def test_edge_crossing_the_cone_boundary_gives_the_clipped_point() -> None:
    # a long side 1 m to the left, parallel to the boresight: its nearest point overall is
    # abeam (outside the 30 deg cone); inside the cone the nearest is where the cone's left
    # boundary meets it, at 1 / sin(30 deg) = 2 m
    wall = actors((ActorKind.TRUCK, BUMPER_X + 5.0, 1.0 + 1.25, 0.0, 0.0, 0.0))
    assert reading(straight_ahead_cal(), wall) == pytest.approx(2.0, abs=1e-9)
    corners = box_corners(wall.x_m, wall.y_m, wall.yaw_rad, wall.length_m, wall.width_m)
    assert nearest_echo_m(BUMPER_X, 0.0, 0.0, math.radians(89.0), corners) == pytest.approx(
        1.0 / math.cos(math.radians(1.0)), rel=1e-9)
    # a square turned 45 deg: its near edge lies on x + y = 2.5, whose foot (1.25, 1.25) is at
    # 45 deg; the edge enters the cone at the boundary, 2.5 / (cos 30 + sin 30) away
    diamond = np.array([[[1.0, 1.5], [3.0, -0.5], [4.0, 0.5], [2.0, 2.5]]])
    a = math.radians(30.0)
    assert nearest_echo_m(0.0, 0.0, 0.0, a, diamond) == pytest.approx(
        2.5 / (math.cos(a) + math.sin(a)), rel=1e-9)
    # mirrored to the right of the boresight: the same distance
    assert nearest_echo_m(0.0, 0.0, 0.0, a, diamond * np.array([1.0, -1.0])) == pytest.approx(
        2.5 / (math.cos(a) + math.sin(a)), rel=1e-9)


def test_nearest_of_two_objects_wins() -> None:
    far = (ActorKind.STATIC, BUMPER_X + 3.0 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0)
    near = (ActorKind.STATIC, BUMPER_X + 1.5 + STATIC_HALF, 0.2, 0.0, 0.0, 0.0)
    assert reading(straight_ahead_cal(), actors(far, near)) == pytest.approx(1.5, abs=1e-9)
    assert reading(straight_ahead_cal(), actors(near, far)) == pytest.approx(1.5, abs=1e-9)
    assert reading(straight_ahead_cal(), actors(far)) == pytest.approx(3.0, abs=1e-9)


def test_full_array_front_rear_and_a_turned_ego() -> None:
    array = UltrasonicArray(RIG, QUIET)
    rng = np.random.default_rng(0)
    ahead = actors((ActorKind.CAR, BUMPER_X + 1.2 + 2.3, 0.0, 0.0, 0.0, 0.0))
    out = array.measure(ego_at(), ahead, 42, rng)
    assert [r.sensor_id for r in out] == [c.name for c in RIG]
    # sensor_msgs/Range carries float32: the sensor delivers that precision (~5e-7 m at 5 m)
    assert all(r.stamp_ns == 42 and r.min_range_m == float32_exact(0.15)
               and r.max_range_m == 5.5 for r in out)
    by_name = {r.sensor_id: r.range_m for r in out}
    assert by_name["front_left_center"] == pytest.approx(1.2, abs=1e-6)
    assert by_name["front_right_center"] == pytest.approx(1.2, abs=1e-6)
    assert all(math.isinf(v) for k, v in by_name.items() if k.startswith("rear"))
    rear_x = -(4.7 - BUMPER_X)
    behind = actors((ActorKind.CAR, rear_x - 0.8 - 2.3, 0.0, 0.0, 0.0, 0.0))
    by_name = {r.sensor_id: r.range_m for r in array.measure(ego_at(), behind, 0, rng)}
    assert by_name["rear_left_center"] == pytest.approx(0.8, abs=1e-6)
    assert by_name["rear_right_center"] == pytest.approx(0.8, abs=1e-6)
    assert all(math.isinf(v) for k, v in by_name.items() if k.startswith("front"))
    # an ego facing north at (5, 7) carries its sensors with it
    north = actors((ActorKind.CAR, 5.0, 7.0 + BUMPER_X + 1.2 + 2.3, math.pi / 2, 0.0, 0.0))
    by_name = {r.sensor_id: r.range_m
               for r in array.measure(ego_at(x=5.0, y=7.0, yaw=math.pi / 2), north, 0, rng)}
    assert by_name["front_left_center"] == pytest.approx(1.2, abs=1e-6)
    assert all(math.isinf(v) for k, v in by_name.items() if k.startswith("rear"))


def test_long_object_with_a_distant_centre_is_still_seen() -> None:
    # a 40 m wall across the road: its centre is 20 m off to the side, its face 1 m ahead
    wall = ActorsTruth(
        actor_id=("wall",), kind=np.array([ActorKind.STATIC], dtype=np.int8),
        x_m=np.array([BUMPER_X + 1.0 + 0.25]), y_m=np.array([20.0]), yaw_rad=np.array([0.0]),
        length_m=np.array([0.5]), width_m=np.array([40.0]), height_m=np.array([1.0]),
        vx_mps=np.zeros(1), vy_mps=np.zeros(1), s_m=np.zeros(1), d_m=np.zeros(1))
    assert reading(straight_ahead_cal(), wall) == pytest.approx(1.0, abs=1e-9)


def test_half_angle_of_90_deg_or_more_is_refused() -> None:
    wide = UltrasonicCalibration("wide", BUMPER_X, 0.0, 0.0, math.radians(90.0))
    with pytest.raises(ValueError, match="half angle"):
        UltrasonicArray((wide,), QUIET)


def test_ultrasonic_noise_spread_and_fixed_stream_use() -> None:
    truth = actors((ActorKind.STATIC, BUMPER_X + 2.0 + STATIC_HALF, 0.0, 0.0, 0.0, 0.0))
    array = UltrasonicArray((straight_ahead_cal(),), UltrasonicSettings(range_noise_std_m=0.05))
    rng = np.random.default_rng(1)
    values = np.array([array.measure(ego_at(), truth, 0, rng)[0].range_m for _ in range(2000)])
    assert values.mean() == pytest.approx(2.0, abs=0.005)
    assert values.std() == pytest.approx(0.05, rel=0.1)
    # the rng advances the same with or without echoes: other sensors' noise never shifts
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    full = UltrasonicArray(RIG, UltrasonicSettings())
    full.measure(ego_at(), truth, 0, a)
    full.measure(ego_at(), NO_ACTORS, 0, b)
    assert a.bit_generator.state == b.bit_generator.state


def test_odometry_exact_without_noise() -> None:
    ego = ego_at(x=5.0, y=-2.0, yaw=0.3, speed=12.0, yaw_rate=0.05)
    ego.accel_mps2 = -1.5
    exact = OdometryModel(OdometrySettings(speed_noise_std_mps=0, yaw_rate_noise_std_rps=0,
                                           accel_noise_std_mps2=0, position_noise_std_m=0))
    o = exact.measure(ego, 123, np.random.default_rng(0))
    assert (o.stamp_ns, o.sensor_id) == (123, "odometry")
    assert (o.x_m, o.y_m, o.yaw_rad, o.speed_mps, o.yaw_rate_rps, o.accel_mps2) == (
        5.0, -2.0, 0.3, 12.0, 0.05, -1.5)


def test_odometry_noise_is_centred_with_the_configured_spread() -> None:
    ego = ego_at(x=5.0, y=-2.0, yaw=0.3, speed=12.0, yaw_rate=0.05)
    settings = OdometrySettings(speed_noise_std_mps=0.1, position_noise_std_m=0.05)
    model = OdometryModel(settings)
    rng = np.random.default_rng(2)
    samples = [model.measure(ego, 0, rng) for _ in range(3000)]

    def stats(field: str) -> tuple[float, float]:
        v = np.array([getattr(o, field) for o in samples])
        return float(v.mean()), float(v.std())

    for field, truth, std in (
        ("speed_mps", 12.0, 0.1),
        ("yaw_rate_rps", 0.05, settings.yaw_rate_noise_std_rps),
        ("accel_mps2", 0.0, settings.accel_noise_std_mps2),
        ("x_m", 5.0, 0.05),
        ("y_m", -2.0, 0.05),
        ("yaw_rad", 0.3, math.radians(0.1) * 0.05 / 0.02),  # heading follows position quality
    ):
        mean, spread = stats(field)
        assert mean == pytest.approx(truth, abs=4.0 * std / math.sqrt(len(samples))), field
        assert spread == pytest.approx(std, rel=0.1), field


def test_odometry_at_standstill_reads_zero_speed_and_is_deterministic() -> None:
    model = OdometryModel(OdometrySettings(speed_noise_std_mps=0.5))
    rng = np.random.default_rng(3)
    assert all(model.measure(ego_at(), 0, rng).speed_mps == 0.0 for _ in range(50))
    ego = ego_at(speed=3.0, yaw_rate=0.1)
    a = model.measure(ego, 0, np.random.default_rng(4))
    b = model.measure(ego, 0, np.random.default_rng(4))
    assert a == b
    assert a != model.measure(ego, 0, np.random.default_rng(5))
