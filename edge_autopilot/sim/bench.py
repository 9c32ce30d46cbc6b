"""`edge-autopilot bench`: the whole stack, in lockstep, on a busy road, timed cycle by cycle.

Every sensor is on (three cameras, the radar, twelve ultrasonics, odometry) and every network
runs (perception on camera cycles, planning and control every cycle). The simulator's own time
is not part of a cycle: the executive measures from the cycle's start to its command.

The deadline gate (``--gate FILE``) compares the figures with YAML thresholds and fails the run
when one is broken; CI runs it with ``benchmarks/deadline_gate.yaml``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_autopilot.constants import CYCLE_PERIOD_NS, NS_PER_S
from edge_autopilot.errors import ConfigError
from edge_autopilot.runtime.timing import summarize_ns
from edge_autopilot.sim.scenario import Scenario

BENCH_LANES = 4
BENCH_EGO_LANE = 1
BENCH_SPEED_MPS = 20.0
# actors per lane are spaced this far apart along the road, alternating ahead and behind
BENCH_SPACING_M = 18.0


def busy_scenario(actors: int, duration_s: float, seed: int = 0) -> Scenario:
    """A four-lane road with gentle curves and ``actors`` cars and trucks around the ego.

    Everyone drives at about the same speed (IDM), so the traffic stays around the ego for the
    whole run instead of spreading out: the load is the same in the last cycle as in the first.
    """
    if actors < 0:
        raise ConfigError(f"--actors must be >= 0 (got {actors})")
    length_m = BENCH_SPEED_MPS * 1.3 * duration_s + 800.0
    sections: list[dict[str, Any]] = []
    n_pairs = max(1, math.ceil(length_m / 1600.0))
    for k in range(n_pairs):
        sections.append({"length_m": 500.0})
        sections.append({"length_m": 300.0, "radius_m": 600.0 if k % 2 == 0 else -600.0})
    specs: list[dict[str, Any]] = []
    per_lane = [0] * BENCH_LANES
    for i in range(actors):
        lane = i % BENCH_LANES
        j = per_lane[lane]
        per_lane[lane] += 1
        if lane == BENCH_EGO_LANE:
            # the ego's lane: a queue ahead only (a car behind would sit in the ego's blind spot)
            s_m = 30.0 + BENCH_SPACING_M * j
        else:
            rank = j // 2 + 1
            s_m = (1 if j % 2 == 0 else -1) * (BENCH_SPACING_M * rank - 6.0)
        kind = "truck" if i % 7 == 3 else "car"
        specs.append({
            "id": f"a{i}", "kind": kind, "lane": lane, "s_m": 400.0 + s_m,
            "speed_mps": BENCH_SPEED_MPS, "behavior": "idm",
            "desired_speed_mps": BENCH_SPEED_MPS + 0.1 * ((i % 5) - 2),
        })
    return Scenario.model_validate({
        "name": f"bench_busy_{actors}_actors",
        "description": f"{actors} actors on a four-lane road, everyone near {BENCH_SPEED_MPS} m/s",
        "seed": seed,
        "duration_s": duration_s,
        "road": {"lanes": BENCH_LANES, "sections": sections},
        "ego": {"lane": BENCH_EGO_LANE, "s_m": 400.0, "speed_mps": BENCH_SPEED_MPS,
                "set_speed_mps": BENCH_SPEED_MPS + 2.0},
        "actors": specs,
    })


@dataclass
class BenchResult:
    cycles: int
    actors: int
    deadline_misses: int
    fallback_cycles: int
    stage_errors: int
    cycle_ns: np.ndarray
    stage_ns: dict[str, np.ndarray]  # -1 where the stage was skipped
    inference_ns: dict[str, np.ndarray]  # each network's own session time, recent runs
    full_cycle_mask: np.ndarray  # cycles in which every network ran
    providers: dict[str, list[str]]
    model_errors: list[str]
    collision: bool
    wall_s: float

    @property
    def inference_ms_p50(self) -> dict[str, float]:
        return {k: float(np.percentile(v, 50)) / 1e6 if v.size else math.nan
                for k, v in self.inference_ns.items()}

    @property
    def inference_ms_sum_p50(self) -> float:
        return float(sum(self.inference_ms_p50.values()))

    @property
    def full_cycle_ms_p50(self) -> float:
        full = self.cycle_ns[self.full_cycle_mask]
        return float(np.percentile(full, 50)) / 1e6 if full.size else math.nan

    @property
    def overhead_ratio(self) -> float:
        """Median time of a cycle that ran every network over the sum of the networks' own
        median inference times: what the loop costs beyond its floor."""
        floor = self.inference_ms_sum_p50
        return self.full_cycle_ms_p50 / floor if floor > 0 else math.nan

    def to_json(self) -> dict[str, Any]:
        def r(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        stages = {}
        for name, col in self.stage_ns.items():
            ran = col[col >= 0]
            s = summarize_ns(ran)
            stages[name] = {"p50": r(s.p50_ms), "p99": r(s.p99_ms), "max": r(s.max_ms),
                            "runs": int(ran.size)}
        return {
            "cycles": self.cycles,
            "actors": self.actors,
            "deadline_misses": self.deadline_misses,
            "fallback_cycles": self.fallback_cycles,
            "stage_errors": self.stage_errors,
            "cycle_ms": summarize_ns(self.cycle_ns).to_json(),
            "full_cycle_ms_p50": r(self.full_cycle_ms_p50),
            "stages_ms": stages,
            "inference_ms_p50": {k: r(v) for k, v in self.inference_ms_p50.items()},
            "inference_ms_sum_p50": r(self.inference_ms_sum_p50),
            "overhead_ratio": r(self.overhead_ratio),
            "providers": self.providers,
            "model_errors": self.model_errors,
            "collision": self.collision,
            "wall_s": round(self.wall_s, 2),
        }


def run_bench(cycles: int, actors: int, models_dir: Path,
              progress: Callable[[int, int], None] | None = None) -> BenchResult:
    """Drive the busy scenario with the stack for ``cycles`` cycles, GC frozen as in the car."""
    from edge_autopilot.sim.metrics import colliding_actor
    from edge_autopilot.sim.runner import StackDriver
    from edge_autopilot.sim.world import World

    if cycles < 1:
        raise ConfigError(f"--cycles must be >= 1 (got {cycles})")
    duration_s = cycles * CYCLE_PERIOD_NS / NS_PER_S
    scenario = busy_scenario(actors, duration_s)
    world = World(scenario)
    driver = StackDriver(models_dir, freeze_gc=True)
    driver.reset(world)
    from edge_autopilot.runtime.stack import RAN_CONTROL, RAN_PERCEPTION, RAN_PLANNING

    loop = driver.executive
    models = driver.models.models
    # the networks that exist must all have run for a cycle to count as a full cycle
    want = sum(bit for name, bit in (("perception", RAN_PERCEPTION), ("planning", RAN_PLANNING),
                                     ("control", RAN_CONTROL)) if name in models)
    full = np.zeros(cycles, dtype=bool)
    samples: list[Any] = []
    collision = False
    wall0 = time.perf_counter()
    try:
        for k in range(cycles):
            command = driver.step(world, samples)
            full[k] = want != 0 and driver.pipeline.networks_ran & want == want
            samples = world.step(command)
            if colliding_actor(world.ego, world.actors_truth) is not None:
                collision = True
            if progress is not None and (k + 1) % 500 == 0:
                progress(k + 1, cycles)
    finally:
        driver.close()
    wall_s = time.perf_counter() - wall0
    times = loop.times
    n = times.count
    stage_ns = {name: times.stage_ns[:n, i].copy() for i, name in enumerate(times.stage_names)}
    return BenchResult(
        cycles=n,
        actors=actors,
        deadline_misses=loop.deadline_misses,
        fallback_cycles=loop.fallback_total,
        stage_errors=loop.stage_errors,
        cycle_ns=times.end_to_end_ns[:n].copy(),
        stage_ns=stage_ns,
        inference_ns={name: m.infer_ns for name, m in models.items()},
        full_cycle_mask=full[:n],
        providers={name: m.providers for name, m in models.items()},
        model_errors=list(driver.models.errors),
        collision=collision,
        wall_s=wall_s,
    )


# --- the gate ------------------------------------------------------------------------------
class DeadlineGate(BaseModel):
    """Thresholds a bench run must meet; every field is optional, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_cycles: int | None = Field(None, ge=1)
    max_deadline_misses: int | None = Field(None, ge=0)
    max_fallback_cycles: int | None = Field(None, ge=0)
    cycle_p99_ms_max: float | None = Field(None, gt=0)
    cycle_p999_ms_max: float | None = Field(None, gt=0)
    cycle_max_ms_below: float | None = Field(None, gt=0)
    overhead_ratio_max: float | None = Field(None, gt=0)
    require_all_models: bool = False


def load_gate(path: Path) -> DeadlineGate:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the gate file: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a gate file is a mapping of thresholds")
    try:
        return DeadlineGate.model_validate(raw)
    except ValidationError as e:
        lines = [f"{path}: {'.'.join(str(p) for p in x['loc']) or '(top)'}: {x['msg']}"
                 for x in e.errors()]
        raise ConfigError("\n".join(lines)) from None


def gate_breaches(result: BenchResult, gate: DeadlineGate) -> list[str]:
    """Every broken threshold, each as one line naming the figure and the limit."""
    js = result.to_json()
    cyc = js["cycle_ms"]
    out: list[str] = []

    def worse(value: float | None, limit: float, strict: bool = False) -> bool:
        if value is None:
            return True
        return value >= limit if strict else value > limit

    if gate.min_cycles is not None and result.cycles < gate.min_cycles:
        out.append(f"cycles {result.cycles} < {gate.min_cycles}")
    if gate.max_deadline_misses is not None and result.deadline_misses > gate.max_deadline_misses:
        out.append(f"deadline misses {result.deadline_misses} > {gate.max_deadline_misses}")
    if gate.max_fallback_cycles is not None and result.fallback_cycles > gate.max_fallback_cycles:
        out.append(f"fallback cycles {result.fallback_cycles} > {gate.max_fallback_cycles}")
    if gate.cycle_p99_ms_max is not None and worse(cyc["p99"], gate.cycle_p99_ms_max):
        out.append(f"cycle p99 {cyc['p99']} ms > {gate.cycle_p99_ms_max} ms")
    if gate.cycle_p999_ms_max is not None and worse(cyc["p999"], gate.cycle_p999_ms_max):
        out.append(f"cycle p99.9 {cyc['p999']} ms > {gate.cycle_p999_ms_max} ms")
    if gate.cycle_max_ms_below is not None and worse(cyc["max"], gate.cycle_max_ms_below, True):
        out.append(f"cycle max {cyc['max']} ms is not below {gate.cycle_max_ms_below} ms")
    if gate.overhead_ratio_max is not None and worse(js["overhead_ratio"],
                                                     gate.overhead_ratio_max):
        out.append(f"overhead ratio {js['overhead_ratio']} > {gate.overhead_ratio_max}")
    if gate.require_all_models and result.model_errors:
        out.append("models did not load: " + "; ".join(result.model_errors))
    if result.stage_errors:
        out.append(f"{result.stage_errors} stage(s) raised during the run")
    return out
