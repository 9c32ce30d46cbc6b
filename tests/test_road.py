"""Road geometry: Frenet <-> Cartesian on straights, arcs and their joints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.errors import RoadGeometryError
from edge_autopilot.maps.road import Road, Section, surface_at


def test_straight_road_frames() -> None:
    road = Road([Section(100.0)], lane_count=2, lane_width_m=3.5)
    x, y, h, k = road.to_cartesian(np.array([10.0, 50.0]), np.array([1.75, 5.25]))
    np.testing.assert_allclose(x, [10.0, 50.0])
    np.testing.assert_allclose(y, [1.75, 5.25])
    np.testing.assert_allclose(h, 0.0)
    np.testing.assert_allclose(k, 0.0)
    assert road.lane_center_d(1) == 5.25
    assert road.lane_of(4.0) == 1
    assert road.lane_of(-3.0) == 0  # clipped


def test_arc_matches_circle() -> None:
    radius = 200.0
    road = Road([Section(50.0), Section(math.pi * radius / 2, 1.0 / radius)])
    # quarter circle to the left, starting at (50, 0) heading east: ends at (250, 200) heading north
    x, y, h, _ = road.pose_at(50.0 + math.pi * radius / 2)
    assert x == pytest.approx(250.0, abs=1e-9)
    assert y == pytest.approx(200.0, abs=1e-9)
    assert h == pytest.approx(math.pi / 2)
    # a point at d on the arc lies at radius - d from the centre
    xd, yd, _, _ = road.pose_at(50.0 + 100.0, 3.0)
    assert math.hypot(xd - 50.0, yd - 200.0) == pytest.approx(radius - 3.0, abs=1e-9)


def test_round_trip_everywhere_including_beyond_the_ends() -> None:
    road = Road([Section(120.0), Section(150.0, 1 / 300), Section(80.0), Section(200.0, -1 / 250)])
    rng = np.random.default_rng(0)
    s = rng.uniform(-40.0, road.length_m + 40.0, 5000)
    d = rng.uniform(-2.0, 12.0, 5000)
    x, y, _, _ = road.to_cartesian(s, d)
    s2, d2 = road.to_frenet(x, y)
    np.testing.assert_allclose(s2, s, atol=1e-8)
    np.testing.assert_allclose(d2, d, atol=1e-8)


def test_heading_is_continuous_at_joints() -> None:
    road = Road([Section(100.0), Section(100.0, 0.01), Section(100.0)])
    eps = 1e-6
    for s in (100.0, 200.0):
        assert road.heading_at(s - eps) == pytest.approx(road.heading_at(s + eps), abs=1e-6)


def test_surface_markings_solid_edges_and_dashes() -> None:
    # 2 lanes of 3.5 m: right edge d=0 (solid), centre line d=3.5 (dashed 3 m of every 12 m)
    assert surface_at(1.0, 0.0, 2, 3.5) == 2
    assert surface_at(1.0, 7.0, 2, 3.5) == 2
    assert surface_at(1.0, 3.5, 2, 3.5) == 2  # dash painted at s in [0, 3)
    assert surface_at(5.0, 3.5, 2, 3.5) == 1  # gap
    assert surface_at(5.0, 1.75, 2, 3.5) == 1  # asphalt
    assert surface_at(5.0, -5.0, 2, 3.5) == 0  # grass


def test_invalid_roads_are_refused_with_reason() -> None:
    with pytest.raises(RoadGeometryError, match="tighter than the road"):
        Road([Section(50.0, 1 / 5.0)], lane_count=3)
    with pytest.raises(RoadGeometryError, match="at least one section"):
        Road([])
    with pytest.raises(RoadGeometryError, match="length_m"):
        Road([Section(-1.0)])
