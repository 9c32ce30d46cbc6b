"""Simulator speed: one 10 ms lockstep step with every sensor (3 cameras, radar, 12 ultrasonics,
odometry) on a busy scenario. Target (issue 2): p50 <= 0.2 ms, i.e. >= 50x real time.

Run: python -m pytest benchmarks/bench_sim_step.py --benchmark-only
"""

from __future__ import annotations

from typing import Any

import pytest

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.sim.runner import ExpertDriver
from edge_autopilot.sim.scenario import load_scenario
from edge_autopilot.sim.world import World


@pytest.mark.parametrize("name", ["curve_with_traffic", "free_driving_curves"])
def test_sim_step_all_sensors(benchmark: Any, name: str) -> None:
    world = World(load_scenario(f"scenarios/{name}.yaml"))
    command = ControlCommand(0.0, 0.0)
    for _ in range(50):  # compile and warm the kernels
        world.step(command)
    benchmark.pedantic(world.step, args=(command,), rounds=3000, iterations=1)


def test_expert_driver_cycle(benchmark: Any) -> None:
    world = World(load_scenario("scenarios/curve_with_traffic.yaml"))
    driver = ExpertDriver()
    driver.reset(world)

    def cycle() -> None:
        world.step(driver.step(world, []))

    for _ in range(50):
        cycle()
    benchmark.pedantic(cycle, rounds=1000, iterations=1)
