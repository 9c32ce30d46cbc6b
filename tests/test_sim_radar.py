"""Radar geometry, Doppler, field of view, range, occlusion, clutter and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sim.sensors.radar import RadarModel
from edge_autopilot.sim.sensors.settings import RadarSettings
from edge_autopilot.sim.truth import ActorKind

CAL = default_rig().radar  # at x = 3.75 on the front bumper, facing forward
QUIET = RadarSettings(range_noise_std_m=0.0, range_noise_per_m=0.0, azimuth_noise_std_deg=0.0,
                      doppler_noise_std_mps=0.0, clutter_rate=0.0, detection_prob=1.0)


def scan(truth, ego=None, settings=QUIET, seed=0):
    return RadarModel(CAL, settings).measure(ego or ego_at(), truth, 0,
                                             np.random.default_rng(seed))


def test_car_ahead_returns_from_its_rear_face_at_the_right_range_and_bearing() -> None:
    # car centre 40 m ahead of the radar, 5 m left: rear face at 40 - 2.3 m
    truth = actors((ActorKind.CAR, CAL.x_m + 40.0, 5.0, 0.0, 0.0, 0.0))
    s = scan(truth)
    assert s.count >= 2  # several returns on a car
    x = s.range_m * np.cos(s.azimuth_rad)
    y = s.range_m * np.sin(s.azimuth_rad)
    # every return lies on the car's outline facing the radar: rear face or right side
    on_rear = np.isclose(x, 40.0 - 2.3, atol=1e-3) & (np.abs(y - 5.0) <= 0.93)
    on_side = np.isclose(y, 5.0 - 0.925, atol=1e-3) & (np.abs(x - 40.0) <= 2.31)
    assert np.all(on_rear | on_side)
    assert on_rear.any()
    bearing = math.atan2(5.0, 37.7)
    assert np.all(np.abs(s.azimuth_rad - bearing) < math.radians(2.0))


def test_doppler_closing_opening_and_static_world() -> None:
    ego = ego_at(speed=20.0)
    slower = actors((ActorKind.CAR, CAL.x_m + 30.0, 0.0, 0.0, 15.0, 0.0))
    assert np.allclose(scan(slower, ego).doppler_mps, -5.0, atol=0.05)
    faster = actors((ActorKind.CAR, CAL.x_m + 30.0, 0.0, 0.0, 26.0, 0.0))
    assert np.allclose(scan(faster, ego).doppler_mps, 6.0, atol=0.05)
    # a stationary target off to the side: -v cos(azimuth)
    parked = actors((ActorKind.CAR, CAL.x_m + 30.0, 10.0, 0.0, 0.0, 0.0))
    s = scan(parked, ego)
    np.testing.assert_allclose(s.doppler_mps, -20.0 * np.cos(s.azimuth_rad), atol=1e-3)


def test_truck_gives_more_returns_than_pedestrian() -> None:
    truck = scan(actors((ActorKind.TRUCK, CAL.x_m + 30.0, 6.0, 0.0, 0.0, 0.0)))
    ped = scan(actors((ActorKind.PEDESTRIAN, CAL.x_m + 30.0, 0.0, 0.0, 0.0, 0.0)))
    assert ped.count == 1
    assert truck.count >= 4


def test_field_of_view_edges() -> None:
    r = 30.0
    inside = actors((ActorKind.PEDESTRIAN, CAL.x_m + r * math.cos(math.radians(43.0)),
                     r * math.sin(math.radians(43.0)), 0.0, 0.0, 0.0))
    outside = actors((ActorKind.PEDESTRIAN, CAL.x_m + r * math.cos(math.radians(47.0)),
                      r * math.sin(math.radians(47.0)), 0.0, 0.0, 0.0))
    assert scan(inside).count == 1
    assert scan(outside).count == 0
    behind = actors((ActorKind.CAR, CAL.x_m - 20.0, 0.0, 0.0, 0.0, 0.0))
    assert scan(behind).count == 0


def test_max_range() -> None:
    near = actors((ActorKind.TRUCK, CAL.x_m + 150.0, 0.0, 0.0, 0.0, 0.0))
    far = actors((ActorKind.TRUCK, CAL.x_m + 172.0, 0.0, 0.0, 0.0, 0.0))
    assert scan(near).count >= 1
    assert scan(far).count == 0
    assert np.all(scan(near).range_m <= 160.0)


def test_car_fully_behind_another_is_hidden() -> None:
    front = (ActorKind.TRUCK, CAL.x_m + 20.0, 0.0, 0.0, 0.0, 0.0)
    hidden = (ActorKind.CAR, CAL.x_m + 45.0, 0.0, 0.0, 0.0, 0.0)
    s = scan(actors(front, hidden))
    assert s.count >= 1
    assert np.all(s.range_m < 30.0)  # nothing from the car at 45 m
    alone = scan(actors(hidden))
    assert np.any(alone.range_m > 40.0)


def test_weak_far_targets_are_missed_more_often() -> None:
    settings = QUIET.model_copy(update={"detection_prob": 0.95})
    near = actors((ActorKind.PEDESTRIAN, CAL.x_m + 15.0, 0.0, 0.0, 0.0, 0.0))
    far = actors((ActorKind.PEDESTRIAN, CAL.x_m + 90.0, 0.0, 0.0, 0.0, 0.0))
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(5)
    hits_near = sum(model.measure(ego_at(), near, 0, rng).count for _ in range(400))
    hits_far = sum(model.measure(ego_at(), far, 0, rng).count for _ in range(400))
    assert hits_near > 360
    assert hits_far < 0.8 * hits_near


def test_clutter_rate_and_static_doppler() -> None:
    settings = QUIET.model_copy(update={"clutter_rate": 3.0})
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(9)
    ego = ego_at(speed=10.0)
    counts, dops, azs = [], [], []
    for _ in range(2000):
        s = model.measure(ego, NO_ACTORS, 0, rng)
        counts.append(s.count)
        dops.append(s.doppler_mps)
        azs.append(s.azimuth_rad)
    assert np.mean(counts) == pytest.approx(3.0, rel=0.06)
    d, a = np.concatenate(dops), np.concatenate(azs)
    np.testing.assert_allclose(d, -10.0 * np.cos(a), atol=1e-4)


def test_noise_spread_and_determinism() -> None:
    settings = RadarSettings(clutter_rate=0.0, detection_prob=1.0)
    truth = actors((ActorKind.PEDESTRIAN, CAL.x_m + 50.0, 0.0, 0.0, 0.0, 0.0))
    model = RadarModel(CAL, settings)
    rng = np.random.default_rng(3)
    ranges = np.concatenate([model.measure(ego_at(), truth, 0, rng).range_m
                             for _ in range(1500)])
    expected_std = settings.range_noise_std_m + settings.range_noise_per_m * 49.75
    assert ranges.std() == pytest.approx(expected_std, rel=0.1)
    a, b = scan(truth, settings=settings, seed=4), scan(truth, settings=settings, seed=4)
    np.testing.assert_array_equal(a.range_m, b.range_m)
    np.testing.assert_array_equal(a.doppler_mps, b.doppler_mps)
