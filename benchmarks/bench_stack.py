"""The stack's cycle, stage by stage and whole, on the busy road of `edge-autopilot bench`, and
the whole cycle against the number of actors around the ego (1, 8, 32, 64).

Run: python -m pytest benchmarks/bench_stack.py --benchmark-only
     (add --benchmark-json FILE to keep the figures; `--benchmark-group-by=param:actors` for
     the actor curve)

Each round times one call on live data: the world advances between rounds (outside the
timing), so a stage sees a new cycle's samples every round, as in the loop.
"""

from __future__ import annotations

from typing import Any

import pytest

from edge_autopilot.runtime.stack import StackPipeline
from edge_autopilot.sensors.samples import CameraFrame, SensorSample
from edge_autopilot.sim.bench import busy_scenario
from edge_autopilot.sim.runner import StackDriver, default_models_dir
from edge_autopilot.sim.world import World

WARM_UP_CYCLES = 300  # tracks confirmed, filters settled
ROUNDS = 300


class LiveStack:
    """A stack driving the busy road; cycles are split so a benchmark can time one part."""

    def __init__(self, actors: int) -> None:
        self.world = World(busy_scenario(actors, duration_s=120.0))
        self.driver = StackDriver(default_models_dir())
        self.driver.reset(self.world)
        self.pipeline: StackPipeline = self.driver.pipeline
        self.samples: list[SensorSample] = []
        self.next_stage = 0
        for _ in range(WARM_UP_CYCLES):
            self.whole_cycle()

    @property
    def t_ns(self) -> int:
        return self.world.t_ns

    def whole_cycle(self) -> None:
        command = self.driver.step(self.world, self.samples)
        self.samples = self.world.step(command)

    def _finish_cycle(self) -> None:
        p = self.pipeline
        for i in range(self.next_stage, len(p.stage_names)):
            p.run_stage(i, self.t_ns)
        command = p.command(self.t_ns) or p.fallback(self.t_ns)
        self.samples = self.world.step(command)

    def start_cycle_until(self, stage: int, need_camera: bool = False) -> None:
        """Finish the open cycle, then open cycles until one is ready for ``stage``."""
        p = self.pipeline
        while True:
            self._finish_cycle()
            if not need_camera or any(isinstance(s, CameraFrame) for s in self.samples):
                break
            self.next_stage = 0
            p.push(self.samples)
            p.begin_cycle(self.t_ns)
        p.push(self.samples)
        p.begin_cycle(self.t_ns)
        p.fallback(self.t_ns)
        for i in range(stage):
            p.run_stage(i, self.t_ns)
        self.next_stage = stage + 1


@pytest.fixture(scope="module")
def live() -> LiveStack:
    return LiveStack(actors=16)


@pytest.mark.parametrize("stage", list(StackPipeline.stage_names))
def test_stage(benchmark: Any, live: LiveStack, stage: str) -> None:
    index = StackPipeline.stage_names.index(stage)
    if stage == "perception" and live.pipeline.camera is None:
        pytest.skip("no perception model in models/")
    benchmark.pedantic(
        live.pipeline.run_stage,
        setup=lambda: (live.start_cycle_until(index, need_camera=stage == "perception"),
                       ((index, live.t_ns), {}))[1],
        rounds=ROUNDS, iterations=1)


def test_fallback(benchmark: Any, live: LiveStack) -> None:
    """The rule-based command, computed every cycle so switching to it costs nothing."""
    def setup() -> tuple[tuple[int], dict[str, Any]]:
        live.start_cycle_until(0)
        return (live.t_ns,), {}

    benchmark.pedantic(live.pipeline.fallback, setup=setup, rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("actors", [1, 8, 32, 64])
def test_whole_cycle_vs_actors(benchmark: Any, actors: int) -> None:
    """The executive's whole cycle (snapshot, fallback, every stage, publish); the world
    steps between rounds, outside the timing."""
    stack = LiveStack(actors)
    driver, world = stack.driver, stack.world
    last = [driver.step(world, stack.samples)]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        driver.pipeline.push(world.step(last[0]))
        return (world.t_ns,), {}

    def one_cycle(sim_t_ns: int) -> None:
        last[0] = driver.executive.run_cycle(sim_t_ns=sim_t_ns).command

    benchmark.pedantic(one_cycle, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["actors"] = actors
