"""Each sensor model alone on a busy scene (10 actors around the ego); the ultrasonic array
also on a parking scene (10 actors, several within its reach).

Run: python -m pytest benchmarks/bench_sim_sensors.py --benchmark-only
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_autopilot.maps.road import Road, Section
from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sim.sensors.camera import CameraModel
from edge_autopilot.sim.sensors.odometry import OdometryModel
from edge_autopilot.sim.sensors.radar import RadarModel
from edge_autopilot.sim.sensors.settings import (
    CameraSettings,
    OdometrySettings,
    RadarSettings,
    UltrasonicSettings,
)
from edge_autopilot.sim.sensors.ultrasonic import UltrasonicArray
from edge_autopilot.sim.truth import KIND_DIMENSIONS_M, ActorKind, ActorsTruth, EgoTruth

ROAD = Road([Section(200.0), Section(300.0, 1 / 400.0)], lane_count=3)
EGO = EgoTruth(20.0, 5.25, 0.0, 20.0, 0.0, 0.0, 0.0, 20.0, 5.25)
RIG = default_rig()


def busy_scene() -> ActorsTruth:
    rng = np.random.default_rng(0)
    kinds = np.array([0, 0, 1, 0, 2, 3, 0, 1, 4, 0], dtype=np.int8)
    dims = np.array([KIND_DIMENSIONS_M[ActorKind(k)] for k in kinds])
    x = np.array([35, 60, 45, 90, 30, 70, 120, 25, 50, 3], dtype=float) + EGO.x_m
    y = np.array([0, 3.5, -3.5, 0, 6, -4, 3.5, 3.5, -1.5, 3.5]) + EGO.y_m
    n = kinds.size
    return ActorsTruth(tuple(f"a{i}" for i in range(n)), kinds, x, y, rng.normal(0, 0.05, n),
                       dims[:, 0], dims[:, 1], dims[:, 2], np.full(n, 18.0), np.zeros(n), x, y)


def parking_scene() -> ActorsTruth:
    """10 actors, four of them within ultrasonic reach (ahead, behind, alongside, a pedestrian
    at the front corner), the rest farther out."""
    kinds = np.array([0, 0, 0, 2, 1, 0, 3, 0, 4, 0], dtype=np.int8)
    dims = np.array([KIND_DIMENSIONS_M[ActorKind(k)] for k in kinds])
    x = np.array([7.5, -4.5, 1.5, 4.5, 30, 40, 25, -20, 15, 60], dtype=float) + EGO.x_m
    y = np.array([0, 0.2, 2.6, 1.4, 3.5, -3.5, 6, 3.5, -1.5, 0]) + EGO.y_m
    n = kinds.size
    yaw = np.zeros(n)
    return ActorsTruth(tuple(f"p{i}" for i in range(n)), kinds, x, y, yaw, dims[:, 0],
                       dims[:, 1], dims[:, 2], np.zeros(n), np.zeros(n), x, y)


ACTORS = busy_scene()
NEAR_ACTORS = parking_scene()


@pytest.mark.parametrize("camera", [c.name for c in RIG.cameras])
def test_camera_measure(benchmark: Any, camera: str) -> None:
    cal = next(c for c in RIG.cameras if c.name == camera)
    model = CameraModel(cal, CameraSettings(), ROAD)
    rng = np.random.default_rng(0)
    model.measure(EGO, ACTORS, 0, rng)
    benchmark.pedantic(model.measure, args=(EGO, ACTORS, 0, rng), rounds=300, iterations=1)


def test_radar_measure(benchmark: Any) -> None:
    model = RadarModel(RIG.radar, RadarSettings())
    rng = np.random.default_rng(0)
    assert model.measure(EGO, ACTORS, 0, rng).count >= 10  # most actors are in view
    benchmark.pedantic(model.measure, args=(EGO, ACTORS, 0, rng), rounds=1000, iterations=1)


@pytest.mark.parametrize("scene", ["busy", "parking"])
def test_ultrasonic_measure(benchmark: Any, scene: str) -> None:
    actors = ACTORS if scene == "busy" else NEAR_ACTORS
    model = UltrasonicArray(RIG.ultrasonics, UltrasonicSettings())
    rng = np.random.default_rng(0)
    first = model.measure(EGO, actors, 0, rng)
    if scene == "parking":  # the scene is what it claims: several sensors have an echo
        assert sum(np.isfinite(r.range_m) for r in first) >= 4
    benchmark.pedantic(model.measure, args=(EGO, actors, 0, rng), rounds=1000, iterations=1)


def test_odometry_measure(benchmark: Any) -> None:
    model = OdometryModel(OdometrySettings())
    rng = np.random.default_rng(0)
    benchmark.pedantic(model.measure, args=(EGO, 0, rng), rounds=1000, iterations=1)
