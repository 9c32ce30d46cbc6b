"""Run a scenario closed-loop: world and driver in lockstep, measured every cycle."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge_autopilot.constants import CYCLE_PERIOD_S
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.control.expert import ExpertController
from edge_autopilot.errors import ModelError
from edge_autopilot.planning.expert import ExpertPlanner
from edge_autopilot.resources import share_dir
from edge_autopilot.runtime.timing import summarize_ns
from edge_autopilot.safety.types import SafetyLevel
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.metrics import (
    RunTrace,
    colliding_actor,
    evaluate_criteria,
    max_jerk_mps3,
    percentiles_ms,
)
from edge_autopilot.sim.scenario import Scenario
from edge_autopilot.sim.truth_view import planning_input
from edge_autopilot.sim.world import World

if TYPE_CHECKING:
    from edge_autopilot.runtime.executive import Clock
    from edge_autopilot.runtime.stack import StackPipeline


class Driver(Protocol):
    """Anything that turns the world's sensor samples into a command each cycle.

    The world is passed so the expert can read ground truth; the stack's adapter ignores it and
    uses only ``samples``.
    """

    name: str

    def reset(self, world: World) -> None: ...

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand: ...


class CycleTap(Protocol):
    """Sees every cycle of a run: what went into the driver and what came out (a recorder).

    ``on_cycle`` runs after the driver's command and before the world steps, outside the
    loop's timing."""

    def start(self, world: World, driver: Driver) -> None: ...

    def on_cycle(self, t_ns: int, samples: list[SensorSample], command: ControlCommand,
                 driver: Driver) -> None: ...

    def close(self) -> None: ...


class ExpertDriver:
    """The classical expert: plans on ground truth (the teacher and reference)."""

    name = "expert"

    def __init__(self) -> None:
        self.planner = ExpertPlanner()
        self.controller = ExpertController()

    def reset(self, world: World) -> None:
        self.planner.reset()

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        inp = planning_input(world)
        traj = self.planner.plan(inp)
        return self.controller.command(world.t_ns, inp.ego, inp.lane, traj)


class ImitationDriver:
    """The planning and control networks, fed from ground truth instead of perception and
    fusion: shows what the networks can do on their own, before the rest of the stack."""

    name = "imitation"

    def __init__(self, models_dir: Path) -> None:
        from edge_autopilot.control.network import NetworkController
        from edge_autopilot.perception.onnx_session import load_model_set
        from edge_autopilot.planning.network import NetworkPlanner

        loaded = load_model_set(models_dir, names=("planning", "control"))
        if loaded.errors:
            raise ModelError("the imitation driver needs the planning and control networks:\n"
                             + "\n".join(loaded.errors))
        self.lane_choice = ExpertPlanner()  # the behaviour layer stays rule-based
        self.planner = NetworkPlanner(loaded.models["planning"])
        self.controller = NetworkController(loaded.models["control"])

    def reset(self, world: World) -> None:
        self.lane_choice.reset()

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        inp = planning_input(world)
        traj = self.planner.plan(inp, self.lane_choice.choose_lane(inp))
        return self.controller.command(world.t_ns, inp.ego, inp.lane, traj)


class StackDriver:
    """The stack: sensor samples only (no truth), through the executive.

    Lockstep by default: the world waits for each cycle's command. With ``realtime`` the
    executive holds the 100 Hz wall-clock schedule (sleep, then spin, to each cycle's due time)
    and the world steps once per cycle in the time left. When a network fails to load the stack
    drives on its fallback and says so (``models.errors``).
    """

    name = "stack"

    def __init__(self, models_dir: Path, realtime: bool = False, freeze_gc: bool = False) -> None:
        from edge_autopilot.perception.onnx_session import load_model_set

        self.models = load_model_set(models_dir, names=("perception", "planning", "control"))
        for model in self.models.models.values():
            model.warmup()
        self.realtime = realtime
        self.freeze_gc = freeze_gc

    # the stack's class (a harness puts a subclass with faults in front of the stages here)
    pipeline_class: type[StackPipeline] | None = None

    def make_pipeline(self, world: World) -> StackPipeline:
        """The stack for this run."""
        from edge_autopilot.runtime.stack import StackConfig, StackPipeline

        ego = world.scenario.ego
        models = self.models.models
        return (self.pipeline_class or StackPipeline)(
            world.road, world.calibration, StackConfig(ego.set_speed_mps, ego.allow_lane_change),
            models.get("planning"), models.get("control"), models.get("perception"))

    def make_clock(self) -> Clock | None:
        """The executive's clock; None: the machine's monotonic clock."""
        return None

    def reset(self, world: World) -> None:
        from edge_autopilot.runtime.executive import Executive, ExecutiveConfig
        from edge_autopilot.runtime.stack import STAGE_BUDGETS_NS

        self.pipeline = self.make_pipeline(world)
        self.pipeline.warm_up()
        clock = self.make_clock()
        # on the wall clock in real time a GC pass could land inside a cycle: freeze the heap
        freeze = self.freeze_gc or (self.realtime and clock is None)
        self.executive = Executive(self.pipeline, STAGE_BUDGETS_NS, lambda outcome: None,
                                   ExecutiveConfig(realtime=self.realtime, freeze_gc=freeze),
                                   capacity=round(world.scenario.duration_s * 100) + 10,
                                   clock=clock)
        if self.realtime:
            # set-up ends here (the GC pass); the schedule is anchored by the first cycle
            # itself, so what happens between here and there is no missed deadline
            self.executive.prepare()
        else:
            self.executive.start()

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        self.pipeline.push(samples)
        self.last_outcome = self.executive.run_cycle(sim_t_ns=world.t_ns)
        return self.last_outcome.command

    def close(self) -> None:
        self.executive.stop()


class SupervisedStackDriver(StackDriver):
    """The stack in real time with the supervisor process beside it (``run --supervisor``).

    Every command goes to the supervisor as a heartbeat (pyzmq, loopback) and to the vehicle
    through the arbiter, which takes the supervisor's commands over the loop's from the
    moment the supervisor takes over (no command for 20 ms, or the loop process gone)."""

    def __init__(self, models_dir: Path) -> None:
        super().__init__(models_dir, realtime=True)
        self.takeover_t_s: float | None = None

    def reset(self, world: World) -> None:
        from edge_autopilot.safety.supervisor import SupervisedOutput

        super().reset(world)
        # a fresh supervisor per run, started last: it arms on the first heartbeat, and from
        # then on 20 ms without one is a dead loop
        self.takeover_t_s = None
        self.output = SupervisedOutput()

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        command = super().step(world, samples)
        pose = self.pipeline.poses.at(world.t_ns)
        command = self.output.deliver(command, pose.speed_mps if pose is not None else 0.0)
        if self.output.supervisor_active and self.takeover_t_s is None:
            self.takeover_t_s = world.t_s
        return command

    def close(self) -> None:
        super().close()
        self.output.close()


def default_models_dir() -> Path:
    return share_dir("models")


# name -> factory(models_dir, realtime); only the stack runs through the timed executive
DRIVERS: dict[str, Callable[[Path, bool], Driver]] = {
    "expert": lambda models_dir, realtime: ExpertDriver(),
    "imitation": lambda models_dir, realtime: ImitationDriver(models_dir),
    "stack": lambda models_dir, realtime: StackDriver(models_dir, realtime=realtime),
}
REALTIME_DRIVERS = ("stack",)


@dataclass
class ScenarioResult:
    name: str
    driver: str
    seed: int
    passed: bool
    failures: list[str]
    collision: bool
    collision_with: str | None
    collision_t_s: float | None
    min_ttc_s: float
    min_gap_m: float
    max_decel_mps2: float
    max_jerk_mps3: float
    progress_m: float
    cycles: int
    sim_step_ms: dict[str, float]
    wall_s: float
    trace: RunTrace = field(repr=False)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    # loop timing, for drivers that run through the executive (the stack); else None
    deadline_misses: int | None = None
    fallback_cycles: int | None = None
    cycle_ns: np.ndarray | None = field(default=None, repr=False)
    # the safety monitor's ladder, for drivers that have one (the stack)
    max_level: str | None = None
    interventions: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        return {
            "name": self.name,
            "driver": self.driver,
            "seed": self.seed,
            "passed": self.passed,
            "failures": self.failures,
            "collision": self.collision,
            "collision_with": self.collision_with,
            "collision_t_s": self.collision_t_s,
            "min_ttc_s": finite(self.min_ttc_s),
            "min_gap_m": finite(self.min_gap_m),
            "max_decel_mps2": round(self.max_decel_mps2, 4),
            "max_jerk_mps3": round(self.max_jerk_mps3, 4),
            "progress_m": round(self.progress_m, 3),
            "cycles": self.cycles,
            "sim_step_ms": self.sim_step_ms,
            "wall_s": round(self.wall_s, 3),
            "deadline_misses": self.deadline_misses,
            "fallback_cycles": self.fallback_cycles,
            "cycle_ms": None if self.cycle_ns is None else cycle_summary_ms(self.cycle_ns),
            "max_level": self.max_level,
            "interventions": self.interventions,
        }


def cycle_summary_ms(cycle_ns: np.ndarray) -> dict[str, float | None]:
    s = summarize_ns(cycle_ns).to_json()
    return {"p50": s["p50"], "p99": s["p99"], "max": s["max"]}


def _warm_up(scenario: Scenario) -> None:
    """Two steps of a throwaway world through everything the closed loop calls, so the first
    real cycle does not pay for loading compiled kernels (15 ms: a real-time loop's first
    deadline)."""
    scratch = World(scenario)
    for _ in range(2):
        scratch.step(ControlCommand(0.0, 0.0))
        planning_input(scratch)
        colliding_actor(scratch.ego, scratch.actors_truth)


def _drive(world: World, driver: Driver, trace: RunTrace, cycles: int,
           stop_on_collision: bool, tap: CycleTap | None = None,
           ) -> tuple[str | None, float | None, float, float]:
    """The closed loop; returns (collision actor, collision time, min gap, min TTC)."""
    samples: list[SensorSample] = []
    collision_with: str | None = None
    collision_t: float | None = None
    min_gap, min_ttc = math.inf, math.inf
    for _ in range(cycles):
        command = driver.step(world, samples)
        if tap is not None:
            tap.on_cycle(world.t_ns, samples, command, driver)
        t0 = time.perf_counter_ns()
        samples = world.step(command)
        step_ns = time.perf_counter_ns() - t0
        view = planning_input(world)
        gap, ttc = trace.record(world.t_s, world.ego, world.actors_truth, view.lane,
                                view.objects, command.accel_mps2, step_ns)
        min_gap, min_ttc = min(min_gap, gap), min(min_ttc, ttc)
        hit = colliding_actor(world.ego, world.actors_truth)
        if hit is not None and collision_with is None:
            collision_with = hit
            collision_t = round(world.t_s, 3)
            if stop_on_collision:
                break
    return collision_with, collision_t, min_gap, min_ttc


def run_scenario(
    scenario: Scenario,
    driver: Driver,
    seed: int | None = None,
    stop_on_collision: bool = True,
    tap: CycleTap | None = None,
) -> ScenarioResult:
    """Drive ``scenario`` with ``driver``; a collision ends the run (the outcome is decided).
    ``tap`` (a recorder) sees every cycle's inputs and command."""
    wall0 = time.perf_counter()
    if getattr(driver, "realtime", False):
        _warm_up(scenario)  # in lockstep a slow first step costs nothing
    world = World(scenario, seed=seed)
    driver.reset(world)
    cycles = round(scenario.duration_s / CYCLE_PERIOD_S)
    trace = RunTrace(cycles, world.actors.ids)
    start_s = world.ego.s_m
    start_centre = world.road.lane_center_d(scenario.ego.lane)
    if tap is not None:
        tap.start(world, driver)
    try:
        collision_with, collision_t, min_gap, min_ttc = _drive(
            world, driver, trace, cycles, stop_on_collision, tap)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()
        if tap is not None:
            tap.close()
    n = trace.n
    collision = collision_with is not None
    loop = getattr(driver, "executive", None)
    loop_fields: dict[str, Any] = {}
    if loop is not None:
        loop_fields = {"deadline_misses": loop.deadline_misses,
                       "fallback_cycles": loop.fallback_total,
                       "cycle_ns": loop.times.end_to_end_ns[: loop.times.count].copy()}
    safety = getattr(getattr(driver, "pipeline", None), "safety", None)
    if safety is not None:
        loop_fields["max_level"] = safety.ladder.max_level.name
        loop_fields["interventions"] = [
            {"t_s": round(e.t_ns / 1e9, 3), "level": e.level.name, "reason": ",".join(e.reasons)}
            for e in safety.ladder.events]
        takeover = getattr(driver, "takeover_t_s", None)
        if takeover is not None:
            loop_fields["interventions"].append(
                {"t_s": round(takeover, 3), "level": "MRM", "reason": "supervisor.takeover"})
            if SafetyLevel[loop_fields["max_level"]] < SafetyLevel.MRM:
                loop_fields["max_level"] = "MRM"
    failures = evaluate_criteria(scenario.criteria, trace, collision, world.road.lane_width_m,
                                 start_s, start_centre)
    return ScenarioResult(
        name=scenario.name,
        driver=driver.name,
        seed=world.seed,
        passed=not failures,
        failures=failures,
        collision=collision,
        collision_with=collision_with,
        collision_t_s=collision_t,
        min_ttc_s=min_ttc,
        min_gap_m=min_gap,
        max_decel_mps2=max(0.0, -float(np.nanmin(trace.accel_mps2[:n]))) if n else 0.0,
        max_jerk_mps3=max_jerk_mps3(trace.accel_mps2[:n], trace.speed_mps[:n], CYCLE_PERIOD_S),
        progress_m=float(np.nanmax(trace.ego_s_m[:n]) - start_s) if n else 0.0,
        cycles=n,
        sim_step_ms=percentiles_ms(trace.sim_step_ns[:n]),
        wall_s=time.perf_counter() - wall0,
        trace=trace,
        events=list(world.actors.fired),
        **loop_fields,
    )
