"""Safety monitor speed: one cycle's ``update_samples`` + ``check`` when everything arrives at
once -- a 64-return radar scan (clutter + a car ahead) and 12 ultrasonic ranges plus odometry,
and the same with the three camera frames and the corner radars on top. Budget: well under
0.3 ms per cycle (DESIGN.md "One cycle": the safety stage shares the 10 ms cycle).

Run: python -m pytest benchmarks/bench_safety.py --benchmark-only
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety import CycleTiming, EgoState, NetworkOutputs, SafetyMonitor
from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sensors.samples import (
    CameraFrame,
    Odometry,
    RadarScan,
    SensorSample,
    UltrasonicRange,
)

RIG = default_rig()
MS = 1_000_000
SPEED = 25.0
CYCLES = 3000
BUDGET_NS = 300_000


def _radar(t_ns: int, rng: np.random.Generator, name: str = "front") -> RadarScan:
    """64 returns: 3 from a car 40 m ahead (closing at 2 m/s), the rest clutter."""
    f = np.float32
    r = rng.uniform(1.0, 150.0, 64)
    az = rng.uniform(-0.78, 0.78, 64)
    dop = -SPEED * np.cos(az) + rng.normal(0, 0.1, 64)
    gap = 40.0 - 2.0 * t_ns / 1e9
    r[:3] = gap + rng.normal(0, 0.1, 3)
    az[:3] = (-0.02, 0.0, 0.02)
    dop[:3] = -2.0 + rng.normal(0, 0.1, 3)
    amp = rng.uniform(0, 12, 64)
    amp[:3] = 30.0
    return RadarScan(name, t_ns, r.astype(f), az.astype(f), np.zeros(64, f), dop.astype(f),
                     amp.astype(f))


def _cycle_samples(t_ns: int, rng: np.random.Generator, cameras: bool) -> list[SensorSample]:
    out: list[SensorSample] = [Odometry(t_ns, SPEED * t_ns / 1e9, 0.0, 0.0,
                                        SPEED + rng.normal(0, 0.02), rng.normal(0, 0.002),
                                        rng.normal(0, 0.05)),
                               _radar(t_ns, rng)]
    out += [UltrasonicRange(u.name, t_ns, math.inf if k % 3 else float(rng.uniform(2, 5)),
                            u.min_range_m, u.max_range_m, 2 * u.half_angle_rad)
            for k, u in enumerate(RIG.ultrasonics)]
    if cameras:
        out += [_radar(t_ns, rng, r.name) for r in RIG.radars[1:]]
        for cam in RIG.cameras:
            img = rng.integers(30, 220, (cam.height_px, cam.width_px, 3), dtype=np.uint8)
            out.append(CameraFrame(cam.name, t_ns, img))
    return out


@pytest.mark.parametrize("load", ["radar64_uss12", "all_sensors"])
def test_monitor_cycle(benchmark: Any, load: str) -> None:
    rng = np.random.default_rng(0)
    cameras = load == "all_sensors"
    # every sensor delivers every cycle: the worst case, far above the real rates
    inputs = [(k * 10 * MS, _cycle_samples(k * 10 * MS, rng, cameras)) for k in range(CYCLES)]
    traj = np.zeros(30)
    net = NetworkOutputs(perception_lead_range_m=38.0, traj_accel_mps2=traj,
                         traj_lateral_offset_m=traj)
    timing = CycleTiming(missed=False)
    candidate, rule = ControlCommand(0.001, 0.3), ControlCommand(0.001, 0.2)
    mon = SafetyMonitor(calibration=RIG, set_speed_mps=30.0)
    warm = 200
    for t, samples in inputs[:warm]:  # compile the kernels, fill the history
        mon.update_samples(samples)
        mon.check(t, candidate, rule, EgoState(SPEED, 0.0, 0.0), timing, net)
    it = iter(inputs[warm:])

    def cycle() -> None:
        t, samples = next(it)
        mon.update_samples(samples)
        mon.check(t, candidate, rule, EgoState(SPEED, 0.0, 0.0), timing, net)

    benchmark.pedantic(cycle, rounds=CYCLES - warm, iterations=1)
    assert benchmark.stats.stats.median * 1e9 < BUDGET_NS
