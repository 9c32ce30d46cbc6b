"""Camera rendering alone: one ``measure`` (160x96, noise on) on a busy scene, 10 actors.

Budget: the simulator's step must average <= 0.2 ms with every sensor; 3 cameras at 30 Hz are
0.9 captures per 10 ms step, so one capture should stay under about 0.1 ms.

Run: python -m pytest benchmarks/bench_sim_camera.py --benchmark-only
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_autopilot.maps.road import Road, Section
from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sim.sensors.camera import CameraModel
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import KIND_DIMENSIONS_M, ActorKind, ActorsTruth, EgoTruth

# a straight stretch into a 400 m radius left curve; the ego in the middle lane
ROAD = Road([Section(200.0), Section(300.0, 1 / 400.0)], lane_count=3, lane_width_m=3.5)
EGO = EgoTruth(x_m=20.0, y_m=5.25, yaw_rad=0.0, speed_mps=20.0, accel_mps2=0.0,
               yaw_rate_rps=0.0, steer_rad=0.0, s_m=20.0, d_m=5.25)
RIG = default_rig()
ROUNDS = 1000


def busy_scene() -> ActorsTruth:
    """10 actors of every kind, ahead, beside (one right next to the ego) and far."""
    kinds = np.array([0, 0, 1, 0, 2, 3, 0, 1, 4, 0], dtype=np.int8)
    dims = np.array([KIND_DIMENSIONS_M[ActorKind(k)] for k in kinds])
    x = np.array([35, 60, 45, 90, 30, 70, 120, 25, 50, 3], dtype=float) + EGO.x_m
    y = np.array([0, 3.5, -3.5, 0, 6, -4, 3.5, 3.5, -1.5, 3.5]) + EGO.y_m
    n = kinds.size
    yaw = np.random.default_rng(0).normal(0.0, 0.05, n)
    return ActorsTruth(actor_id=tuple(f"a{i}" for i in range(n)), kind=kinds, x_m=x, y_m=y,
                       yaw_rad=yaw, length_m=dims[:, 0], width_m=dims[:, 1],
                       height_m=dims[:, 2], vx_mps=np.full(n, 18.0), vy_mps=np.zeros(n),
                       s_m=x.copy(), d_m=y.copy())


ACTORS = busy_scene()
NO_ACTORS = ActorsTruth(actor_id=(), kind=np.zeros(0, dtype=np.int8),
                        **{f: np.zeros(0) for f in ("x_m", "y_m", "yaw_rad", "length_m",
                                                    "width_m", "height_m", "vx_mps", "vy_mps",
                                                    "s_m", "d_m")})


def _bench(benchmark: Any, camera: str, actors: ActorsTruth) -> None:
    calib = next(c for c in RIG.cameras if c.name == camera)
    model = CameraModel(calib, CameraSettings(), ROAD)
    rng = np.random.default_rng(0)
    model.measure(EGO, actors, 0, rng)  # numba warm-up (compile or cache load)
    benchmark.pedantic(model.measure, args=(EGO, actors, 0, rng), rounds=ROUNDS,
                       iterations=1, warmup_rounds=10)


def test_front_camera_10_actors(benchmark: Any) -> None:
    _bench(benchmark, "front", ACTORS)


@pytest.mark.parametrize("camera", ["front_left", "front_right"])
def test_side_camera_10_actors(benchmark: Any, camera: str) -> None:
    _bench(benchmark, camera, ACTORS)


def test_front_camera_no_actors(benchmark: Any) -> None:
    _bench(benchmark, "front", NO_ACTORS)
