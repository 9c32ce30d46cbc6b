"""Radar geometry, Doppler, amplitude, field of view, range, occlusion, clutter and determinism.

Geometry is checked in closed form with a noise-free settings copy; noise and clutter are checked
as statistics over many scans.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.sensors.calibration import RadarCalibration, default_rig
from edge_autopilot.sim.sensors.radar import RadarModel
from edge_autopilot.sim.sensors.settings import RadarSettings
from edge_autopilot.sim.truth import ActorKind

CAL = default_rig().radar  # x = 3.75 m (front bumper), z = 0.5 m, facing forward
RX = CAL.x_m
QUIET = RadarSettings(range_noise_std_m=0.0, range_noise_per_m=0.0, azimuth_noise_std_deg=0.0,
                      doppler_noise_std_mps=0.0, clutter_rate=0.0, detection_prob=1.0)
CAR_L, CAR_W = 4.6, 1.85


def scan(truth, ego=None, settings=QUIET, seed=0, calib=CAL):
    return RadarModel(calib, settings).measure(ego or ego_at(), truth, 7,
                                               np.random.default_rng(seed))


def xy(s) -> tuple[np.ndarray, np.ndarray]:
    r, az = s.range_m.astype(np.float64), s.azimuth_rad.astype(np.float64)
    return r * np.cos(az), r * np.sin(az)


def test_car_head_on_returns_from_its_rear_corners_and_centre() -> None:
    rear_x = 40.0 - 0.5 * CAR_L
    s = scan(actors((ActorKind.CAR, RX + 40.0, 0.0, 0.0, 0.0, 0.0)))
    assert s.sensor_id == "front" and s.stamp_ns == 7
    assert s.count == 3
    order = np.argsort(s.azimuth_rad)
    corner_r = math.hypot(rear_x, 0.5 * CAR_W)
    np.testing.assert_allclose(s.range_m[order], [corner_r, rear_x, corner_r], rtol=1e-6)
    half = math.atan2(0.5 * CAR_W, rear_x)
    np.testing.assert_allclose(s.azimuth_rad[order], [-half, 0.0, half], atol=1e-6)
    # mid-height of a 1.5 m car seen from a 0.5 m mount
    np.testing.assert_allclose(s.elevation_rad, np.arctan2(0.75 - 0.5, s.range_m), atol=1e-6)


def test_oblique_car_returns_lie_on_its_facing_outline() -> None:
    # centre 40 m ahead of the radar and 5 m left: its rear face and right side face the radar
    s = scan(actors((ActorKind.CAR, RX + 40.0, 5.0, 0.0, 0.0, 0.0)))
    x, y = xy(s)
    rear_x, right_y = 40.0 - 0.5 * CAR_L, 5.0 - 0.5 * CAR_W
    on_rear = np.isclose(x, rear_x, atol=1e-3) & (np.abs(y - 5.0) <= 0.5 * CAR_W + 1e-3)
    on_right = np.isclose(y, right_y, atol=1e-3) & (np.abs(x - 40.0) <= 0.5 * CAR_L + 1e-3)
    assert np.all(on_rear | on_right)
    assert on_rear.any() and on_right.any()
    assert s.count >= 4  # three visible corners and a point along the side
    # the nearest return is the nearest point of the car: its rear right corner
    assert s.range_m.min() == pytest.approx(math.hypot(rear_x, right_y), rel=1e-6)
    assert not np.any(np.isclose(x, 40.0, atol=0.1) & np.isclose(y, 5.0, atol=0.1))


def test_radar_moves_and_turns_with_the_ego() -> None:
    # ego at (10, -3) facing north: the radar sits 3.75 m north of the rear axle
    ego = ego_at(x=10.0, y=-3.0, yaw=math.pi / 2)
    ped = actors((ActorKind.PEDESTRIAN, 10.0 - 2.0, -3.0 + RX + 20.0, 0.0, 0.0, 0.0))
    s = scan(ped, ego)
    assert s.count == 1
    # pedestrian box 0.5 x 0.6 (world x, y); its nearest point is its south-east corner
    near_x, near_y = -2.0 + 0.25, 20.0 - 0.3  # east, north of the radar
    assert s.range_m[0] == pytest.approx(math.hypot(near_x, near_y), rel=1e-6)
    assert s.azimuth_rad[0] == pytest.approx(math.atan2(-near_x, near_y), abs=1e-6)  # left


def test_amplitude_follows_the_radar_equation() -> None:
    # same target at twice the range: 40 log10(2) = 12.04 dB weaker (amplitude noise averaged)
    model = RadarModel(CAL, QUIET)
    rng = np.random.default_rng(1)

    def mean_amp(x_m: float) -> float:
        truth = actors((ActorKind.PEDESTRIAN, RX + x_m, 0.0, 0.0, 0.0, 0.0))
        return float(np.mean([model.measure(ego_at(), truth, 0, rng).amplitude_db[0]
                              for _ in range(400)]))

    assert mean_amp(10.25) - mean_amp(20.25) == pytest.approx(40.0 * math.log10(2.0), abs=0.25)
    # a 20 dBsm truck's points are stronger than a -8 dBsm pedestrian's at the same range
    truck = scan(actors((ActorKind.TRUCK, RX + 25.0, 0.0, 0.0, 0.0, 0.0)), seed=2)
    ped = scan(actors((ActorKind.PEDESTRIAN, RX + 20.25, 0.0, 0.0, 0.0, 0.0)), seed=2)
    assert truck.amplitude_db.min() > ped.amplitude_db.max() + 15.0


def test_doppler_of_closing_opening_crossing_and_static_targets() -> None:
    ego = ego_at(speed=20.0)
    slower = scan(actors((ActorKind.CAR, RX + 30.0, 0.0, 0.0, 15.0, 0.0)), ego)
    assert slower.count == 3
    # radial component of (-5, 0) at each point's azimuth: closing, so negative
    np.testing.assert_allclose(slower.doppler_mps, -5.0 * np.cos(slower.azimuth_rad), atol=1e-4)
    faster = scan(actors((ActorKind.CAR, RX + 30.0, 0.0, 0.0, 26.0, 0.0)), ego)
    np.testing.assert_allclose(faster.doppler_mps, 6.0 * np.cos(faster.azimuth_rad), atol=1e-4)
    # a pedestrian straight ahead walking across: no radial motion (ego at rest)
    crossing = scan(actors((ActorKind.PEDESTRIAN, RX + 20.0, 0.0, 0.0, 0.0, 1.5)))
    assert crossing.doppler_mps[0] == pytest.approx(0.0, abs=1e-6)
    # a parked car off to the side while the ego drives: -v cos(azimuth) at every point
    parked = scan(actors((ActorKind.CAR, RX + 30.0, 10.0, 0.0, 0.0, 0.0)), ego)
    assert parked.count >= 3
    np.testing.assert_allclose(parked.doppler_mps, -20.0 * np.cos(parked.azimuth_rad),
                               atol=1e-4)


def test_doppler_includes_the_yaw_rate_at_the_mount() -> None:
    # ego turning on the spot at 0.5 rad/s: the bumper-mounted radar moves left at 0.5 * 3.75
    ego = ego_at(yaw_rate=0.5)
    s = scan(actors((ActorKind.PEDESTRIAN, RX + 20.0, 5.0, 0.0, 0.0, 0.0)), ego)
    assert s.count == 1
    expected = -(0.5 * RX) * math.sin(float(s.azimuth_rad[0]))
    assert expected < -0.4
    assert s.doppler_mps[0] == pytest.approx(expected, abs=1e-5)
    # the same scene turned to face north: the mount's velocity turns with it
    north = ego_at(yaw=math.pi / 2, yaw_rate=0.5)
    turned = scan(actors((ActorKind.PEDESTRIAN, -5.0, RX + 20.0, math.pi / 2, 0.0, 0.0)), north)
    assert turned.doppler_mps[0] == pytest.approx(expected, abs=1e-5)


def test_truck_gives_more_returns_than_car_and_pedestrian() -> None:
    where = (RX + 30.0, 6.0, 0.0, 0.0, 0.0)
    truck = scan(actors((ActorKind.TRUCK, *where))).count
    car = scan(actors((ActorKind.CAR, *where))).count
    ped = scan(actors((ActorKind.PEDESTRIAN, *where))).count
    cyclist = scan(actors((ActorKind.CYCLIST, *where))).count
    assert (ped, cyclist) == (1, 1)
    assert truck > car > ped
    assert truck >= 6


def _at_bearing(kind: ActorKind, bearing_deg: float, r_m: float = 30.0) -> tuple:
    b = math.radians(bearing_deg)
    return (kind, RX + r_m * math.cos(b), r_m * math.sin(b), 0.0, 0.0, 0.0)


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_field_of_view_edges(side: float) -> None:
    # default 90 deg field of view: +-45 deg
    inside = scan(actors(_at_bearing(ActorKind.PEDESTRIAN, side * 44.0)))
    assert inside.count == 1
    assert abs(inside.azimuth_rad[0]) <= math.radians(45.0)
    assert scan(actors(_at_bearing(ActorKind.PEDESTRIAN, side * 46.0))).count == 0


def test_field_of_view_is_centred_on_the_mount_yaw_and_nothing_behind() -> None:
    corner = RadarCalibration("corner", RX, 0.0, 0.5, math.radians(30.0))
    seen = scan(actors(_at_bearing(ActorKind.PEDESTRIAN, 30.0 + 44.0)), calib=corner)
    assert seen.count == 1 and seen.sensor_id == "corner"
    assert seen.azimuth_rad[0] == pytest.approx(math.radians(44.0), abs=math.radians(0.6))
    assert scan(actors(_at_bearing(ActorKind.PEDESTRIAN, 30.0 + 46.0)), calib=corner).count == 0
    assert scan(actors(_at_bearing(ActorKind.PEDESTRIAN, 30.0 - 46.0)), calib=corner).count == 0
    # even a 180 deg radar sees nothing behind its mount
    wide = QUIET.model_copy(update={"fov_deg": 180.0})
    assert scan(actors((ActorKind.CAR, RX - 20.0, 0.0, 0.0, 0.0, 0.0)), settings=wide).count == 0
    assert scan(actors(_at_bearing(ActorKind.PEDESTRIAN, 95.0, 10.0)), settings=wide).count == 0
    assert scan(actors(_at_bearing(ActorKind.PEDESTRIAN, 85.0, 10.0)), settings=wide).count == 1


def test_max_range() -> None:
    # truck rear face at 159 m / 161 m from the radar
    near = scan(actors((ActorKind.TRUCK, RX + 164.0, 0.0, 0.0, 0.0, 0.0)))
    assert near.count >= 1
    assert np.all(near.range_m <= 160.0)
    assert scan(actors((ActorKind.TRUCK, RX + 166.0, 0.0, 0.0, 0.0, 0.0))).count == 0
    short = QUIET.model_copy(update={"max_range_m": 50.0})
    assert scan(actors((ActorKind.CAR, RX + 49.0, 0.0, 0.0, 0.0, 0.0)), settings=short).count > 0
    assert scan(actors((ActorKind.CAR, RX + 53.0, 0.0, 0.0, 0.0, 0.0)), settings=short).count == 0


def test_car_fully_behind_a_truck_is_hidden() -> None:
    truck = (ActorKind.TRUCK, RX + 20.0, 0.0, 0.0, 0.0, 0.0)  # rear face at 15 m, 2.5 m wide
    car = (ActorKind.CAR, RX + 45.0, 0.0, 0.0, 0.0, 0.0)
    s = scan(actors(truck, car))
    assert s.count >= 1
    assert np.all(s.range_m < 16.0)  # the truck's rear face only
    assert np.any(scan(actors(car)).range_m > 40.0)


def test_partly_covered_car_keeps_its_uncovered_returns() -> None:
    truck = (ActorKind.TRUCK, RX + 20.0, 0.0, 0.0, 0.0, 0.0)  # covers |az| <= atan(1.25 / 15)
    car = (ActorKind.CAR, RX + 45.0, 3.0, 0.0, 0.0, 0.0)  # rear face spans az 2.8..5.3 deg
    alone = scan(actors(car))
    both = scan(actors(truck, car))
    from_car = both.range_m > 40.0
    assert 1 <= from_car.sum() < alone.count
    edge = math.atan2(1.25, 15.0)
    assert np.all(both.azimuth_rad[from_car] > edge)
    assert np.any(alone.azimuth_rad < edge)


def test_target_in_front_of_a_long_truck_side_is_not_hidden_by_it() -> None:
    # a truck in the next lane subtends the pedestrian's bearing and its nearest point is nearer
    # than the pedestrian, but along the pedestrian's line of sight the truck is behind it
    truck = (ActorKind.TRUCK, RX + 20.0, 5.0, 0.0, 0.0, 0.0)  # x 15..25, y 3.75..6.25
    ped = (ActorKind.PEDESTRIAN, RX + 18.0, 3.2, 0.0, 0.0, 0.0)
    s = scan(actors(truck, ped))
    ped_r = math.hypot(17.75, 2.9)
    assert np.any(np.isclose(s.range_m, ped_r, rtol=1e-6))
    # and a pedestrian behind that truck side is hidden
    behind = (ActorKind.PEDESTRIAN, RX + 22.0, 8.0, 0.0, 0.0, 0.0)
    assert scan(actors(behind)).count == 1
    assert scan(actors(truck, behind)).count == scan(actors(truck)).count


def test_object_alongside_the_radar_hides_nothing_in_front() -> None:
    # a truck beside the ego reaching behind the radar: the backward extension of a line of
    # sight crosses it, which must not count as being in front of the target
    truck = (ActorKind.TRUCK, RX, -3.25, 0.0, 0.0, 0.0)  # x -5..5, y -4.5..-2 from the radar
    ped = _at_bearing(ActorKind.PEDESTRIAN, 30.0, 10.0)
    s = scan(actors(truck, ped))
    assert np.sum(s.azimuth_rad > 0.0) == 1  # the pedestrian
    assert s.count > 1  # and the truck's side ahead of the radar


def test_detection_probability_falls_with_range() -> None:
    settings = QUIET.model_copy(update={"detection_prob": 0.9})
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(5)

    def rate(x_m: float) -> float:
        truth = actors((ActorKind.PEDESTRIAN, RX + x_m, 0.0, 0.0, 0.0, 0.0))
        return sum(model.measure(ego_at(), truth, 0, rng).count for _ in range(600)) / 600

    near, mid, far = rate(15.0), rate(70.0), rate(100.0)
    assert near == pytest.approx(0.9, abs=0.04)  # a strong target: detection_prob
    assert near > mid > far
    assert far < 0.2


def test_clutter_count_position_and_static_doppler() -> None:
    settings = QUIET.model_copy(update={"clutter_rate": 3.0})
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(9)
    ego = ego_at(yaw=0.7, speed=10.0)
    scans = [model.measure(ego, NO_ACTORS, 0, rng) for _ in range(2000)]
    counts = np.array([s.count for s in scans])
    assert counts.mean() == pytest.approx(3.0, rel=0.05)  # 4 sigma of the mean
    assert counts.var() == pytest.approx(3.0, rel=0.15)  # Poisson: variance = mean
    r = np.concatenate([s.range_m for s in scans])
    az = np.concatenate([s.azimuth_rad for s in scans])
    dop = np.concatenate([s.doppler_mps for s in scans])
    assert r.min() >= 0.5 and r.max() <= 160.0
    assert np.mean(r) == pytest.approx(80.25, rel=0.05)  # uniform in range
    assert np.abs(az).max() <= math.radians(45.0) + 1e-6
    assert np.mean(az) == pytest.approx(0.0, abs=0.03)
    # a static scatterer closes at the radar's own speed along the line of sight
    np.testing.assert_allclose(dop, -10.0 * np.cos(az), atol=1e-4)
    assert model.measure(ego, NO_ACTORS, 0, rng).range_m.dtype == np.float32
    assert scan(NO_ACTORS, ego).count == 0  # clutter_rate 0: nothing at all


def test_noise_has_the_configured_spread() -> None:
    settings = RadarSettings(clutter_rate=0.0, detection_prob=1.0)
    truth = actors((ActorKind.PEDESTRIAN, RX + 40.0, 0.0, 0.0, 0.0, 0.0))
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(3)
    scans = [s for s in (model.measure(ego_at(), truth, 0, rng) for _ in range(1500)) if s.count]
    assert len(scans) > 1450  # a few weak echoes are missed at 40 m
    assert all(s.count == 1 for s in scans)
    r = np.array([s.range_m[0] for s in scans])
    az = np.array([s.azimuth_rad[0] for s in scans])
    dop = np.array([s.doppler_mps[0] for s in scans])
    true_r = 39.75
    assert r.mean() == pytest.approx(true_r, abs=0.02)
    assert r.std() == pytest.approx(0.10 + 0.002 * true_r, rel=0.1)
    assert az.std() == pytest.approx(math.radians(0.3), rel=0.1)
    assert dop.std() == pytest.approx(0.1, rel=0.1)


def test_same_rng_state_gives_identical_scans() -> None:
    settings = RadarSettings(clutter_rate=2.0)
    truth = actors((ActorKind.CAR, RX + 30.0, 1.0, 0.1, 12.0, 0.5),
                   (ActorKind.TRUCK, RX + 60.0, -3.5, 0.0, 15.0, 0.0),
                   (ActorKind.PEDESTRIAN, RX + 12.0, 4.0, 0.0, 0.0, -1.0))
    ego = ego_at(speed=14.0, yaw_rate=0.05)
    model = RadarModel(CAL, settings)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(5):
        a, b = model.measure(ego, truth, 0, rng_a), model.measure(ego, truth, 0, rng_b)
        for field in ("range_m", "azimuth_rad", "elevation_rad", "doppler_mps", "amplitude_db"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert rng_a.bit_generator.state == rng_b.bit_generator.state
    other = model.measure(ego, truth, 0, np.random.default_rng(5))
    assert other.count != a.count or not np.array_equal(other.range_m, a.range_m)
