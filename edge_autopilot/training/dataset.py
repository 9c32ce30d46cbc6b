"""Training data for the planning and control networks: the expert driving randomised variants
of the built-in scenarios, recorded as (features, expert output) pairs.

The features are what the stack itself would see (its perception and fusion on the simulated
sensors, see ``stack_observer``), the labels what the expert does on ground truth: a planner
trained on ground-truth objects meets fused tracks (face points, split extended objects,
ghosts) only at run time, and reacts to them in ways it never learned.

Coverage beyond the expert's own path (the DAgger idea, Ross et al. 2011, without the
interactive loop): in some runs the executed command is the expert's plus coloured noise, so
the data holds states slightly off the ideal line, always labelled with what the expert would
do there. Same seed -> the same dataset, bit for bit.

Each fused sample also gets a twin with the same labels and the objects from ground truth
(``TRUTH_TWINS``): the planner then learns the expert's reaction to an object, not to the way
this version of fusion happens to place it. Trained on fused rows alone, a retrain after a
fusion change drove the stack through every built-in but collided in three of them when fed
ground truth (``tests/test_imitation_closed_loop.py``): it had learned fusion's biases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import ScenarioError
from edge_autopilot.planning.features import (
    CONTROL_INPUTS,
    PLANNING_INPUTS,
    PLANNING_OUTPUTS,
    control_target,
    encode_control,
    encode_planning,
    planning_target,
)
from edge_autopilot.planning.types import PlanningInput
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.runner import ExpertDriver
from edge_autopilot.sim.scenario import Scenario, builtin_scenario_paths, load_scenario
from edge_autopilot.sim.truth_view import planning_input
from edge_autopilot.sim.world import World

# world -> a function (samples, t_ns) -> what the planner sees, or None before it sees anything
Observer = Callable[[World], Callable[[list[SensorSample], int], PlanningInput | None]]

RECORD_EVERY = 2  # cycles between recorded samples (neighbouring cycles are near-duplicates)
NOISY_RUN_FRACTION = 0.4
STEER_NOISE_RAD = 0.015
ACCEL_NOISE_MPS2 = 0.4
NOISE_CORRELATION_S = 0.5
TRUTH_TWINS = True  # see the module docstring


@dataclass
class Dataset:
    x_plan: np.ndarray
    y_plan: np.ndarray
    x_ctrl: np.ndarray
    y_ctrl: np.ndarray
    run_id: np.ndarray  # which run each sample came from, for a held-out split by run
    runs: list[str]

    def save(self, path: Path) -> None:
        np.savez_compressed(path, x_plan=self.x_plan, y_plan=self.y_plan, x_ctrl=self.x_ctrl,
                            y_ctrl=self.y_ctrl, run_id=self.run_id,
                            runs=np.array(self.runs))

    @property
    def size(self) -> int:
        return int(self.x_plan.shape[0])


def _jitter(x: float, rng: np.random.Generator, rel: float) -> float:
    return float(x * rng.uniform(1.0 - rel, 1.0 + rel))


def vary(scenario: Scenario, rng: np.random.Generator, index: int) -> Scenario | None:
    """A random variant: speeds, positions, braking and triggers jittered by up to ~20 %.
    None when the jitter made an invalid scenario (e.g. an actor outside the road)."""
    d: dict[str, Any] = scenario.model_dump()
    d["name"] = f"{scenario.name}_v{index}"
    d["seed"] = int(rng.integers(0, 2**31))
    d["ego"]["speed_mps"] = min(_jitter(d["ego"]["speed_mps"], rng, 0.2), 40.0)
    d["ego"]["set_speed_mps"] = min(_jitter(d["ego"]["set_speed_mps"], rng, 0.15), 40.0)
    for a in d["actors"]:
        if a["kind"] != "static":
            a["speed_mps"] = _jitter(a["speed_mps"], rng, 0.2)
        a["s_m"] = a["s_m"] + float(rng.normal(0.0, 4.0))
        for ev in a["events"]:
            for key in ("decel_mps2", "duration_s", "speed_mps"):
                if ev.get(key) is not None:
                    ev[key] = _jitter(ev[key], rng, 0.2)
            trig = ev["at"]
            for key in ("time_s", "gap_m_below"):
                if trig.get(key) is not None:
                    trig[key] = max(_jitter(trig[key], rng, 0.2), 0.0)
    try:
        return Scenario.model_validate(d)
    except ValidationError:
        return None


def _ou_noise(n: int, rng: np.random.Generator, std: float, dt_s: float) -> np.ndarray:
    """Ornstein-Uhlenbeck noise: smooth, like a driver's wobble, with stationary std ``std``."""
    a = np.exp(-dt_s / NOISE_CORRELATION_S)
    w = rng.standard_normal(n) * std * np.sqrt(1.0 - a * a)
    out = np.empty(n)
    acc = 0.0
    for k in range(n):
        acc = a * acc + w[k]
        out[k] = acc
    return out


def record_run(scenario: Scenario, noisy: bool, rng: np.random.Generator,
               observe: Observer | None = None, truth_twins: bool = TRUTH_TWINS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The expert drives ``scenario``; each recorded sample pairs the network inputs with the
    expert's output on ground truth. The inputs are what ``observe`` makes of the sensor
    samples (the stack's own perception and fusion), or ground truth when it is None. With an
    observer and ``truth_twins``, the ground-truth rows of the same instants follow the fused
    ones (same labels), so the rows are twice as many."""
    world = World(scenario, with_sensors=observe is not None)
    expert = ExpertDriver()
    expert.reset(world)
    seen_by = observe(world) if observe is not None else None
    twins = seen_by is not None and truth_twins
    cycles = round(scenario.duration_s * 100)
    steer_noise = _ou_noise(cycles, rng, STEER_NOISE_RAD if noisy else 0.0, 0.01)
    accel_noise = _ou_noise(cycles, rng, ACCEL_NOISE_MPS2 if noisy else 0.0, 0.01)
    n_rec = cycles // RECORD_EVERY + 1
    xp = np.zeros((n_rec, PLANNING_INPUTS), np.float32)
    yp = np.zeros((n_rec, PLANNING_OUTPUTS), np.float32)
    xc = np.zeros((n_rec, CONTROL_INPUTS), np.float32)
    yc = np.zeros((n_rec, 2), np.float32)
    twin_xp = np.zeros_like(xp) if twins else xp[:0]
    twin_xc = np.zeros_like(xc) if twins else xc[:0]
    k = 0
    samples: list[SensorSample] = []
    for cycle in range(cycles):
        inp = planning_input(world)
        seen = seen_by(samples, world.t_ns) if seen_by is not None else inp
        traj = expert.planner.plan(inp)  # also updates the lane choice it planned with
        cmd = expert.controller.command(world.t_ns, inp.ego, inp.lane, traj)
        if cycle % RECORD_EVERY == 0 and seen is not None:
            target = ((expert.planner.target_lane or 0) - inp.lane.lane_index) \
                * inp.lane.lane_width_m  # what choose_lane returned inside plan()
            encode_planning(seen, target, xp[k])
            yp[k] = planning_target(traj)
            encode_control(seen.ego, seen.lane, traj, xc[k])
            yc[k] = control_target(cmd.steer_rad, cmd.accel_mps2)
            if twins:
                encode_planning(inp, target, twin_xp[k])
                encode_control(inp.ego, inp.lane, traj, twin_xc[k])
            k += 1
        samples = world.step(ControlCommand(cmd.steer_rad + steer_noise[cycle],
                                            cmd.accel_mps2 + accel_noise[cycle], cmd.stamp_ns))
        if _collided(world):
            break
    if not twins:
        return xp[:k], yp[:k], xc[:k], yc[:k]
    return (np.concatenate([xp[:k], twin_xp[:k]]), np.concatenate([yp[:k], yp[:k]]),
            np.concatenate([xc[:k], twin_xc[:k]]), np.concatenate([yc[:k], yc[:k]]))


def _collided(world: World) -> bool:
    from edge_autopilot.sim.metrics import colliding_actor

    return colliding_actor(world.ego, world.actors_truth) is not None


def generate(variants_per_scenario: int, seed: int,
             scenario_paths: list[Path] | None = None, progress: Any = None,
             observe: Observer | None = None) -> Dataset:
    rng = np.random.default_rng(seed)
    paths = scenario_paths or builtin_scenario_paths()
    try:
        bases = [load_scenario(p) for p in paths]
    except ScenarioError:
        raise
    parts: list[tuple[np.ndarray, ...]] = []
    runs: list[str] = []
    for base in bases:
        made = 0
        attempts = 0
        while made < variants_per_scenario and attempts < 4 * variants_per_scenario:
            attempts += 1
            variant = base if made == 0 else vary(base, rng, made)
            if variant is None:
                continue
            noisy = made > 0 and rng.random() < NOISY_RUN_FRACTION
            xp, yp, xc, yc = record_run(variant, noisy, rng, observe)
            parts.append((xp, yp, xc, yc, np.full(xp.shape[0], len(runs), np.int32)))
            runs.append(variant.name)
            made += 1
            if progress is not None:
                progress(variant.name, xp.shape[0])
    cat = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    return Dataset(cat[0], cat[1], cat[2], cat[3], cat[4], runs)


def stack_observer(models_dir: Path | None) -> Observer:
    """Perception (when ``models_dir`` has the perception network) and fusion, as in the
    stack, for each recorded run."""
    from edge_autopilot.perception.onnx_session import load_model_set
    from edge_autopilot.runtime.stack import StackConfig, StackPipeline

    perception = None
    if models_dir is not None:
        loaded = load_model_set(models_dir, names=("perception",))
        perception = loaded.models.get("perception")

    def make(world: World) -> Callable[[list[SensorSample], int], PlanningInput | None]:
        ego = world.scenario.ego
        pipeline = StackPipeline(world.road, world.calibration,
                                 StackConfig(ego.set_speed_mps, ego.allow_lane_change),
                                 None, None, perception)
        return pipeline.observe

    return make
