"""The fault matrix: each fault on the scenarios where it matters, run closed-loop through the
stack, with the verdict per case (DESIGN.md "Safety"; issue 4 "Fault injection").

A case drives the unchanged stack (``StackPipeline`` + ``Executive`` + ``SafetyMonitor``) with
three things added around it, never inside it:

- sensor faults: the world's samples pass through a ``FaultInjector`` on their way into the
  stack (the driver's input is the world's output; the world itself is untouched);
- ``network_raises`` / ``stage_overrun``: ``FaultPipeline`` (a ``StackPipeline`` subclass) raises
  in, or adds time to, the named stage before running it; the executive handles it as it would
  a real failure or overrun;
- ``corrupt_model``: the models directory is copied to a temporary one where the model file has
  bytes flipped; the stack loads from there (the loader refuses it: fallback-only mode);
- ``loop_killed``: the loop stops at the fault time; a real supervisor process (pyzmq on
  loopback) watches the loop's heartbeat, and from then on the vehicle gets whatever the
  ``CommandArbiter`` passes; the simulation paces itself at 100 Hz wall clock after the kill so
  that the supervisor's 20 ms watchdog means what it says.

Time: the executive runs in real-time mode on a *virtual clock* (``clock="virtual"``, default):
time advances when the executive sleeps to a cycle's due time and when a stage overruns by the
injected amount, and by 1 us per clock read; the stack's own compute time counts as zero. That
keeps the deadline logic (stage skipping, fallback, missed and skipped slots, the monitor's
timing check) fully in play while making every case deterministic and independent of the
machine's load: on a loaded CI box a wall-clock run produces misses of its own, which would be
counted as detections or false alarms. ``clock="wall"`` runs on the real clock instead (the
overrun is a busy wait), paced at 100 Hz. Either way the world steps one period per loop cycle:
slots the executive skips after an overrun are not simulated (as with the plain real-time
``StackDriver``).

Per case: ``fault``, ``scenario``, ``collision``; ``detected`` / ``detect_ms``: the monitor (or,
for ``loop_killed``, the supervisor) reported a finding of the fault's family at or after the
fault start, and when; ``safe_state`` / ``safe_ms``: the ladder (or the supervisor) reached the
level the fault requires, or the vehicle stopped, and when; ``unhandled_exception``: an
exception escaped the loop (its text; None when none did). Added for the reader: ``max_level``,
``required_level``, ``reasons`` (the codes seen after the fault start), ``before_fault`` (codes
seen before it: false alarms), ``stage_errors``,
``fallback_cycles`` and ``model_errors`` (evidence that a loop fault took effect).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.runtime.executive import MonotonicClock
from edge_autopilot.runtime.stack import StackPipeline
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import SafetyLevel
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.faults import (
    CameraBlackoutFault,
    ClockJumpFault,
    CorruptModelFault,
    DelayFault,
    DropoutFault,
    Fault,
    FaultInjector,
    FrozenFault,
    LoopKilledFault,
    NanFault,
    NetworkRaisesFault,
    NoiseBurstFault,
    RadarGhostFault,
    SensorFault,
    StageOverrunFault,
    StuckUltrasonicFault,
)
from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import BUILTIN_SCENARIO_DIR, Scenario, load_scenario
from edge_autopilot.sim.world import World

ClockMode = Literal["virtual", "wall"]

# a clock read costs this much virtual time: the executive's final spin to the due time must
# see the clock move
VIRTUAL_READ_NS = 1_000
STANDSTILL_MPS = 0.1
FAULT_SCENARIO_DIR = BUILTIN_SCENARIO_DIR / "faults"


class InjectedStageError(RuntimeError):
    """What a ``network_raises`` stage raises."""


class VirtualClock:
    """A deterministic clock for the executive (``runtime.executive.Clock``)."""

    def __init__(self) -> None:
        self.t_ns = 0

    def now_ns(self) -> int:
        self.t_ns += VIRTUAL_READ_NS
        return self.t_ns

    def sleep_ns(self, duration_ns: int) -> None:
        self.t_ns += max(int(duration_ns), 0)

    def spend_ns(self, duration_ns: int) -> None:
        """A stage computing for ``duration_ns``."""
        self.t_ns += duration_ns


class WallClock(MonotonicClock):
    def spend_ns(self, duration_ns: int) -> None:
        end = time.perf_counter_ns() + duration_ns
        while time.perf_counter_ns() < end:  # busy: an overrunning stage holds the CPU
            pass


class FaultPipeline(StackPipeline):
    """The stack with loop faults in front of its stages."""

    injector: FaultInjector
    clock: VirtualClock | WallClock

    def run_stage(self, index: int, t_ns: int) -> None:
        name = self.stage_names[index]
        if self.injector.raising_stage(t_ns) == name:
            raise InjectedStageError(f"injected fault in the {name} stage")
        extra = self.injector.overrun_ns(name, t_ns)
        if extra:
            self.clock.spend_ns(extra)
        super().run_stage(index, t_ns)


@dataclass
class CycleLog:
    """What the harness saw after the fault start (simulated ns)."""

    first_code_ns: dict[str, int] = field(default_factory=dict)  # reason code -> first cycle
    first_level_ns: dict[SafetyLevel, int] = field(default_factory=dict)  # level -> first cycle
    stopped_ns: int | None = None
    codes_before: set[str] = field(default_factory=set)  # findings before the fault start


class FaultStackDriver(StackDriver):
    """``StackDriver`` with a fault injector between the world and the stack, the executive in
    real-time mode on a virtual (or the wall) clock, and a log of the monitor's findings."""

    def __init__(self, models_dir: Path, faults: Sequence[Fault] = (), seed: int = 0,
                 clock: ClockMode = "virtual", start_ns: int | None = None) -> None:
        super().__init__(models_dir, realtime=True, freeze_gc=False)
        self.injector = FaultInjector(list(faults), seed)
        self.clock_mode: ClockMode = clock
        self.start_ns = start_ns if start_ns is not None else min(
            (f.start_ns for f in faults), default=0)
        self.log = CycleLog()
        self.kill_ns = self.injector.loop_killed_ns()
        self.loop_side: SupervisedLink | None = None  # for loop_killed

    pipeline_class = FaultPipeline

    def make_pipeline(self, world: World) -> FaultPipeline:
        pipeline = super().make_pipeline(world)
        assert isinstance(pipeline, FaultPipeline)
        pipeline.injector = self.injector
        pipeline.clock = self._clock
        return pipeline

    def make_clock(self) -> VirtualClock | WallClock:
        return self._clock

    def reset(self, world: World) -> None:
        self._clock = VirtualClock() if self.clock_mode == "virtual" else WallClock()
        super().reset(world)
        self.log = CycleLog()
        if self.kill_ns is not None:
            self.loop_side = SupervisedLink(self.kill_ns)

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        t_ns = world.t_ns
        if world.ego.speed_mps <= STANDSTILL_MPS and t_ns >= self.start_ns and \
                self.log.stopped_ns is None:
            self.log.stopped_ns = t_ns
        if self.loop_side is not None and self.kill_ns is not None and t_ns >= self.kill_ns:
            return self._after_kill(world)
        self.pipeline.push(self.injector.apply(t_ns, samples))
        command = self.executive.run_cycle(sim_t_ns=t_ns).command
        decision = self.pipeline.decision
        if decision is not None:
            self._record(t_ns, [f.code for f in decision.findings], decision.level)
        if self.loop_side is not None:
            # the vehicle gets what the arbiter passes (the supervisor's, should it have
            # taken over early: a false alarm, logged before the fault start)
            # (the true speed stands in for the loop's odometry speed in the heartbeat)
            command = self.loop_side.loop_command(command, world.ego.speed_mps)
            if self.loop_side.supervisor_active:
                self._record(t_ns, self.loop_side.vehicle.arbiter.reasons, SafetyLevel.MRM)
        return command

    def _after_kill(self, world: World) -> ControlCommand:
        link = self.loop_side
        assert link is not None
        command, reasons = link.vehicle_command(world.t_ns)
        level = SafetyLevel.MRM if link.supervisor_active else SafetyLevel.NOMINAL
        self._record(world.t_ns, reasons, level)
        return command

    def _record(self, t_ns: int, codes: Sequence[str], level: SafetyLevel) -> None:
        log = self.log
        if t_ns < self.start_ns:
            log.codes_before.update(codes)
            return
        for code in codes:
            log.first_code_ns.setdefault(code, t_ns)
        for lv in SafetyLevel:
            if lv <= level:
                log.first_level_ns.setdefault(lv, t_ns)

    def close(self) -> None:
        super().close()
        if self.loop_side is not None:
            self.loop_side.close()
            self.loop_side = None


class SupervisedLink:
    """``loop_killed``: the loop's heartbeat to a real supervisor process, and the vehicle
    interface's arbiter between the two.

    Before the kill the loop's command goes to the vehicle through the arbiter (in-process)
    and to the supervisor as a heartbeat (pyzmq, loopback). From the kill on the loop is
    silent, and each simulated period is paced to 10 ms of wall clock so that the
    supervisor's watchdog, which runs on the wall clock, sees the silence last as long as the
    simulation says; the vehicle gets whatever the arbiter holds (the loop's last command until
    the supervisor's first arrives)."""

    def __init__(self, kill_ns: int) -> None:
        from edge_autopilot.safety.supervisor import SupervisedOutput

        # pid 0: the loop lives inside this simulator process, which does not die; the
        # supervisor notices the kill by the missing heartbeat alone
        self.output = SupervisedOutput(pid=0)
        self.vehicle = self.output.vehicle
        self.kill_ns = kill_ns
        self._kill_wall_ns: int | None = None

    @property
    def supervisor_active(self) -> bool:
        return self.output.supervisor_active

    def loop_command(self, command: ControlCommand, speed_mps: float) -> ControlCommand:
        return self.output.deliver(command, speed_mps)

    def vehicle_command(self, t_ns: int) -> tuple[ControlCommand, tuple[str, ...]]:
        now = time.monotonic_ns()
        if self._kill_wall_ns is None:
            self._kill_wall_ns = now
        due = self._kill_wall_ns + (t_ns - self.kill_ns)
        while (left := due - time.monotonic_ns()) > 0:
            self.vehicle.poll(left / 1e6)
        self.vehicle.poll(0)
        arbiter = self.vehicle.arbiter
        command = arbiter.current if arbiter.current is not None else ControlCommand(0.0, 0.0)
        return command, arbiter.reasons if self.supervisor_active else ()

    def close(self) -> None:
        self.output.close()


# --- cases -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatrixCase:
    """One fault (or several at once) on one scenario. ``duration_s`` shortens the scenario
    (None: as written); ``required_level``: None derives it from the faults."""

    faults: tuple[Fault, ...]
    scenario: Scenario
    duration_s: float | None = None
    required_level: SafetyLevel | None = None
    clock: ClockMode = "virtual"

    @property
    def name(self) -> str:
        return "+".join(f.label for f in self.faults) or "clean"

    @property
    def start_ns(self) -> int:
        return min((f.start_ns for f in self.faults), default=0)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(fam for f in self.faults for fam in f.families))

    def level_required(self, config: SafetyConfig | None = None) -> SafetyLevel:
        if self.required_level is not None:
            return self.required_level
        levels = [required_level(f, config or SafetyConfig()) for f in self.faults]
        return max(levels, default=SafetyLevel.NOMINAL)


def required_level(fault: Fault, config: SafetyConfig) -> SafetyLevel:
    """The ladder level a fault calls for: a sensor's configured fault level (front radar and
    odometry MRM, others DEGRADED); DEGRADED for a ghost, a stuck ultrasonic and the loop
    faults; MRM (the supervisor's stop) for a killed loop."""
    if isinstance(fault, LoopKilledFault):
        return SafetyLevel.MRM
    if isinstance(fault, RadarGhostFault | StuckUltrasonicFault) or \
            not isinstance(fault, SensorFault):
        return SafetyLevel.DEGRADED
    levels = config.sensor_fault_levels
    sel = fault.sensor
    if sel in ("all", "radar", "radar/front", "odometry"):
        return levels["odometry" if sel == "odometry" else "radar"]
    kind = fault.sensor_kind
    return levels["radar_corner" if kind == "radar" else kind]


def _corrupt_models_dir(models_dir: Path, names: Sequence[str], tmp: Path) -> Path:
    """A copy of ``models_dir`` with the named models' files damaged (bytes flipped in the
    middle: same size, so only the checksum can tell)."""
    import json

    out = tmp / "models"
    shutil.copytree(models_dir, out)
    manifest = json.loads((out / "manifest.json").read_text())
    for name in names:
        entry = manifest.get("models", {}).get(name)
        path = out / (entry["file"] if entry else f"{name}.onnx")
        data = bytearray(path.read_bytes()) if path.is_file() else bytearray(b"\0" * 64)
        mid = len(data) // 2
        for i in range(mid, min(mid + 64, len(data))):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    return out


def run_case(case: MatrixCase, models_dir: Path | None = None,
             config: SafetyConfig | None = None) -> dict[str, Any]:
    """Run one case; never raises for what happens inside the loop (it is reported)."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    scenario = case.scenario
    if case.duration_s is not None:
        scenario = scenario.model_copy(update={"duration_s": case.duration_s})
    start_ns = case.start_ns
    required = case.level_required(config)
    row: dict[str, Any] = {"fault": case.name, "scenario": scenario.name}
    collision: bool | None = None
    error: str | None = None
    with tempfile.TemporaryDirectory(prefix="fault_case_") as tmp:
        corrupt = [f.model for f in case.faults if isinstance(f, CorruptModelFault)]
        load_dir = _corrupt_models_dir(models_dir, corrupt, Path(tmp)) if corrupt \
            else models_dir
        driver = FaultStackDriver(load_dir, case.faults, seed=scenario.seed, clock=case.clock,
                                  start_ns=start_ns)
        try:
            result = run_scenario(scenario, driver)
            collision = result.collision
        except Exception as exc:  # reported, not raised: the matrix goes on
            error = f"{type(exc).__name__}: {exc}"
    log = driver.log
    found = [t for code, t in log.first_code_ns.items()
             if code.split(".", 1)[0] in case.families]
    detect_ns = min(found) if found else None
    executive = getattr(driver, "executive", None)
    safe_times = [t for lv, t in log.first_level_ns.items() if lv >= required]
    if log.stopped_ns is not None:
        safe_times.append(log.stopped_ns)
    safe_ns = min(safe_times) if safe_times else None
    levels = [lv for lv in log.first_level_ns]
    row.update({
        "collision": collision,
        "detected": detect_ns is not None,
        "detect_ms": None if detect_ns is None else round((detect_ns - start_ns) / 1e6, 1),
        "safe_state": safe_ns is not None,
        "safe_ms": None if safe_ns is None else round((safe_ns - start_ns) / 1e6, 1),
        "unhandled_exception": error,
        "max_level": max(levels).name if levels else SafetyLevel.NOMINAL.name,
        "required_level": required.name,
        "reasons": sorted(log.first_code_ns),
        # findings before the fault started: false alarms of this harness run
        "before_fault": sorted(log.codes_before),
        # evidence that a loop fault took effect even where the monitor did not see it
        "stage_errors": executive.stage_errors if executive is not None else 0,
        "fallback_cycles": executive.fallback_total if executive is not None else 0,
        "model_errors": len(driver.models.errors),
    })
    return row


def case_passed(row: dict[str, Any]) -> bool:
    return row["collision"] is False and row["detected"] and row["safe_state"] and \
        not row["unhandled_exception"]


def run_matrix(cases: Sequence[MatrixCase], models_dir: Path | None = None) -> list[dict[str, Any]]:
    return [run_case(c, models_dir) for c in cases]


def clean_case(scenario: Scenario, duration_s: float | None = None) -> MatrixCase:
    """The same harness with no fault: every finding it reports is a false alarm."""
    return MatrixCase((), scenario, duration_s)


def cases_from_scenario(scenario: Scenario) -> list[MatrixCase]:
    """A scenario file with ``faults:``: one case running all of them together."""
    return [MatrixCase(tuple(scenario.faults), scenario)] if scenario.faults else []


def fault_scenario_paths() -> list[Path]:
    return sorted(FAULT_SCENARIO_DIR.glob("*.yaml"))


def _builtin(name: str) -> Scenario:
    return load_scenario(BUILTIN_SCENARIO_DIR / f"{name}.yaml")


def default_matrix() -> list[MatrixCase]:
    """Each fault on the built-in scenarios where it matters, cut short: the fault starts 2 s
    in (the tracker and the monitor are settled) and the case ends 4 s later."""
    follow = _builtin("car_following_steady")  # a lead in radar range: the monitor's eyes
    free = _builtin("free_driving_curves")  # empty road: a ghost is all the radar sees
    creep = _builtin("low_speed_obstacle")  # the ultrasonics' scenario
    t0, w = 2.0, 2.0

    def on(scenario: Scenario, fault: Fault, duration_s: float = 6.0) -> MatrixCase:
        return MatrixCase((fault,), scenario, duration_s)

    return [
        on(follow, DropoutFault(kind="dropout", sensor="radar/front", start_s=t0, duration_s=w)),
        on(follow, DelayFault(kind="delay", sensor="radar/front", start_s=t0, duration_s=w,
                              delay_ms=300)),
        on(follow, NanFault(kind="nan", sensor="odometry", start_s=t0, duration_s=w)),
        on(follow, NanFault(kind="nan", sensor="radar/front", start_s=t0, duration_s=w,
                            value="inf")),
        on(follow, FrozenFault(kind="frozen", sensor="radar/front", start_s=t0, duration_s=w)),
        on(follow, FrozenFault(kind="frozen", sensor="camera/front", start_s=t0, duration_s=w)),
        on(follow, NoiseBurstFault(kind="noise_burst", sensor="radar/front", start_s=t0,
                                   duration_s=w, sigma=50.0)),
        on(free, RadarGhostFault(kind="radar_ghost", start_s=t0, duration_s=w, range_m=40.0)),
        on(follow, CameraBlackoutFault(kind="camera_blackout", start_s=t0, duration_s=w)),
        on(creep, StuckUltrasonicFault(kind="stuck_ultrasonic",
                                       sensor="ultrasonic/front_left_center", start_s=t0,
                                       duration_s=3.0, range_m=2.5)),
        on(follow, ClockJumpFault(kind="clock_jump", sensor="odometry", start_s=t0,
                                  duration_s=w, jump_ms=200)),
        on(follow, NetworkRaisesFault(kind="network_raises", stage="planning", start_s=t0,
                                      duration_s=w)),
        on(follow, StageOverrunFault(kind="stage_overrun", stage="planning", start_s=t0,
                                     duration_s=0.1, extra_ms=15.0)),
        on(follow, CorruptModelFault(kind="corrupt_model", model="planning"), 4.0),
        on(follow, LoopKilledFault(kind="loop_killed", start_s=t0), 4.0),
    ]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None or not math.isfinite(v) else f"{v:.0f}"

    lines = [f"{'fault':38} {'scenario':24} coll det detect_ms safe safe_ms  max_level  exc"]
    for r in rows:
        lines.append(f"{r['fault'][:38]:38} {r['scenario'][:24]:24} "
                     f"{'Y' if r['collision'] else 'n':>4} {'Y' if r['detected'] else 'n':>3} "
                     f"{ms(r['detect_ms']):>9} {'Y' if r['safe_state'] else 'n':>4} "
                     f"{ms(r['safe_ms']):>7}  {r['max_level']:9}  "
                     f"{'Y' if r['unhandled_exception'] else '-'}")
    return "\n".join(lines)

