"""Actor behaviours and event triggers, driven directly (no sensors)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.maps.road import Road, Section
from edge_autopilot.sim.actors import ActorSet
from edge_autopilot.sim.scenario import ActorSpec

DT = 0.01
ROAD = Road([Section(2000.0)], lane_count=3, lane_width_m=3.5)
FAR_EGO_S = -1000.0  # an ego far behind, out of every IDM leader search


def actors(*specs: dict) -> ActorSet:
    return ActorSet([ActorSpec.model_validate(s) for s in specs], ROAD)


def advance(a: ActorSet, seconds: float, t0: float = 0.0, ego_s: float = FAR_EGO_S,
            ego_speed: float = 0.0) -> float:
    t = t0
    for _ in range(round(seconds / DT)):
        a.step(t, DT, ego_s, ROAD.lane_center_d(0), ego_speed)
        t += DT
    return t


def test_constant_speed_actor_moves_at_its_speed() -> None:
    a = actors({"id": "c", "kind": "car", "lane": 1, "s_m": 10, "speed_mps": 15})
    advance(a, 2.0)
    assert a.s_m[0] == pytest.approx(40.0, abs=1e-9)
    truth = a.truth()
    assert truth.x_m[0] == pytest.approx(40.0)
    assert truth.y_m[0] == pytest.approx(ROAD.lane_center_d(1))
    assert truth.vx_mps[0] == pytest.approx(15.0)


def test_brake_event_holds_its_deceleration_and_stops() -> None:
    a = actors({"id": "lead", "kind": "car", "lane": 0, "s_m": 50, "speed_mps": 20,
                "events": [{"do": "brake", "at": {"time_s": 1.0}, "decel_mps2": 6.0}]})
    t = advance(a, 1.0)
    assert a.speed_mps[0] == pytest.approx(20.0)
    advance(a, 1.0, t)
    assert a.accel_mps2[0] == pytest.approx(-6.0)
    assert a.speed_mps[0] == pytest.approx(14.0, abs=0.07)
    advance(a, 5.0, t + 1.0)
    assert a.speed_mps[0] == 0.0
    # 1 s at 20 m/s, then the stopping distance of 20 m/s at 6 m/s^2: 33.3 m
    assert a.s_m[0] == pytest.approx(50 + 20 + 400 / 12, abs=0.1)
    assert len(a.fired) == 1
    assert a.fired[0][0] == pytest.approx(1.0)
    assert a.fired[0][1:] == ("lead", "brake")


def test_idm_follower_keeps_a_gap_behind_a_slower_leader() -> None:
    a = actors(
        {"id": "lead", "kind": "car", "lane": 0, "s_m": 100, "speed_mps": 10},
        {"id": "follower", "kind": "car", "lane": 0, "s_m": 40, "speed_mps": 20,
         "behavior": "idm", "desired_speed_mps": 25},
    )
    advance(a, 40.0)
    gap = a.s_m[0] - a.s_m[1] - 4.6
    assert a.speed_mps[1] == pytest.approx(10.0, abs=0.1)
    # IDM equilibrium gap: s0 + v T = 2 + 10 * 1.5 (slightly more: free-road term at 10/25)
    assert 17.0 < gap < 18.5


def test_idm_follows_the_ego_too() -> None:
    a = actors({"id": "behind", "kind": "car", "lane": 0, "s_m": 0, "speed_mps": 20,
                "behavior": "idm", "desired_speed_mps": 30})
    ego_s = 25.0  # rear axle; ego centre at 26.4 -> bumper gap ~19.4 m to a 20 m/s car
    a.step(0.0, DT, ego_s, ROAD.lane_center_d(0), 0.0)  # ego stopped ahead
    assert a.accel_mps2[0] < -3.0


def test_lane_change_reaches_target_lane_smoothly_in_duration() -> None:
    a = actors({"id": "cutter", "kind": "car", "lane": 1, "s_m": 30, "speed_mps": 20,
                "events": [{"do": "lane_change", "at": {"time_s": 0.5}, "to_lane": 0,
                            "duration_s": 2.0}]})
    d = []
    t = 0.0
    for _ in range(300):
        a.step(t, DT, FAR_EGO_S, 0.0, 0.0)
        t += DT
        d.append(a.d_m[0])
    d_arr = np.array(d)
    assert d_arr[40] == pytest.approx(ROAD.lane_center_d(1))  # before the trigger
    assert d_arr[-1] == pytest.approx(ROAD.lane_center_d(0))
    assert d_arr[149] == pytest.approx(0.5 * (1.75 + 5.25), abs=0.01)  # half way at mid-time
    lateral_speed = np.diff(d_arr) / DT
    assert lateral_speed.min() == pytest.approx(-3.5 * 1.875 / 2.0, rel=0.02)  # quintic peak
    assert np.all(lateral_speed <= 1e-9)


def test_gap_trigger_fires_when_gap_falls_below() -> None:
    a = actors({"id": "c", "kind": "car", "lane": 1, "s_m": 50, "speed_mps": 10,
                "events": [{"do": "set_speed", "at": {"gap_m_below": 12.0}, "speed_mps": 0,
                            "accel_mps2": 5}]})
    # gap = actor rear (50 - 2.3) - ego front (ego_s + 3.75); 12 m when ego_s = 31.95
    a.step(0.0, DT, 31.0, 0.0, 0.0)
    assert a.fired == []
    a.step(DT, DT, 32.5, 0.0, 0.0)
    assert a.fired == [(DT, "c", "set_speed")]


def test_pedestrian_crosses_at_speed_and_faces_across() -> None:
    a = actors({"id": "p", "kind": "pedestrian", "d_m": -1.5, "s_m": 60,
                "events": [{"do": "cross", "at": {"time_s": 0.0}, "speed_mps": 1.4,
                            "to_d_m": 9.0}]})
    advance(a, 5.0)
    assert a.d_m[0] == pytest.approx(-1.5 + 7.0, abs=0.02)
    assert a.truth().yaw_rad[0] == pytest.approx(math.pi / 2)
    advance(a, 10.0, 5.0)
    assert a.d_m[0] == 9.0  # arrived and stopped
    assert a.lat_speed_mps[0] == 0.0


def test_stop_at_point_stops_there() -> None:
    a = actors({"id": "c", "kind": "car", "lane": 0, "s_m": 0, "speed_mps": 14,
                "events": [{"do": "stop", "at": {"time_s": 0.0}, "at_s_m": 80.0}]})
    advance(a, 20.0)
    assert a.speed_mps[0] == 0.0
    assert a.s_m[0] == pytest.approx(80.0, abs=0.3)


def test_static_obstacle_never_moves() -> None:
    a = actors({"id": "box", "kind": "static", "lane": 0, "s_m": 20})
    advance(a, 1.0, ego_s=0.0, ego_speed=5.0)
    assert a.s_m[0] == 20.0
    with pytest.raises(ValueError, match="a static actor does not move"):
        actors({"id": "box", "kind": "static", "lane": 0, "s_m": 20, "speed_mps": 5})


def test_actor_on_a_left_curve_keeps_its_lane_offset() -> None:
    road = Road([Section(50.0), Section(300.0, 1 / 200.0)], lane_count=2)
    a = ActorSet([ActorSpec.model_validate(
        {"id": "c", "kind": "car", "lane": 1, "s_m": 60, "speed_mps": 20})], road)
    for k in range(300):
        a.step(k * DT, DT, FAR_EGO_S, 0.0, 0.0)
    truth = a.truth()
    s, d = road.to_frenet(truth.x_m, truth.y_m)
    assert d[0] == pytest.approx(road.lane_center_d(1), abs=1e-9)
    # 20 m/s for 3 s along the lane (inside of the curve) is 60 m of lane arc
    kappa = 1 / 200.0
    assert (s[0] - 60.0) * (1 - kappa * road.lane_center_d(1)) == pytest.approx(60.0, abs=0.05)
