"""Replay a recording through the stack and compare its commands with the recorded ones.

The scenario and seed come from the recording's metadata; the stack is built as the simulator
runner builds it (``StackDriver``: the models in ``models_dir``, the road and sensor rig of the
scenario). Then, cycle by cycle in lockstep, the recorded samples are pushed in the order the
cycle's SimStep lists them and the executive runs one cycle at the recorded cycle time. No
simulator runs: the inputs are the recorded ones, so with the same models the commands must be
the recorded ones bit for bit (at wire precision), and with other models the difference is
what the other models change (``divergence``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_autopilot.errors import MessageError, ModelError, RecordingError
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.edge_autopilot_msgs import SimStep
from edge_autopilot.nodes.sample_topics import SensorTopics
from edge_autopilot.record.divergence import (
    ACCEL_DIVERGENCE_MPS2,
    STEER_DIVERGENCE_RAD,
    CommandStream,
    DivergenceSummary,
    compare_commands,
)
from edge_autopilot.record.reader import open_recording
from edge_autopilot.record.run_metadata import RunInfo, driver_models_sha256
from edge_autopilot.record.samples import cycle_samples
from edge_autopilot.transport.topics import TOPIC_COMMAND, TOPIC_SIM_STEP, is_sensor_topic


@dataclass
class ReplayReport:
    path: str
    run: RunInfo
    models_dir: str
    # network -> sha256 the replay loaded (None: did not load, the stack used its fallback)
    replay_models_sha256: dict[str, str | None]
    model_errors: list[str]
    cycles_replayed: int
    commands_recorded: int
    summary: DivergenceSummary
    wall_s: float
    # per cycle, for plots and shadow-mode style analysis (not in to_json)
    recorded: CommandStream | None = field(default=None, repr=False)
    replayed: CommandStream | None = field(default=None, repr=False)

    @property
    def model_changes(self) -> dict[str, str]:
        """Networks whose file differs between the recording and the replay, and how (none
        when the recorded driver had no networks, e.g. the expert)."""
        out: dict[str, str] = {}
        rec, rep = self.run.models_sha256, self.replay_models_sha256
        if not rec:
            return out
        for name in sorted(set(rec) | set(rep)):
            a, b = rec.get(name), rep.get(name)
            if a == b:
                continue
            if a is None:
                out[name] = "not loaded in the recorded run"
            elif b is None:
                out[name] = "not loaded in the replay (fallback)"
            else:
                out[name] = f"{a[:12]} -> {b[:12]}"
        return out

    @property
    def identical(self) -> bool:
        return self.summary.verdict == "identical"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "recording": self.run.to_json(),
            "models_dir": self.models_dir,
            "replay_models_sha256": self.replay_models_sha256,
            "model_errors": self.model_errors,
            "model_changes": self.model_changes,
            "cycles_replayed": self.cycles_replayed,
            "commands_recorded": self.commands_recorded,
            "divergence": self.summary.to_json(),
            "wall_s": round(self.wall_s, 3),
        }


class _Streams:
    """Growing (t, steer, accel) columns."""

    def __init__(self) -> None:
        self.t: list[int] = []
        self.steer: list[float] = []
        self.accel: list[float] = []

    def add(self, t_ns: int, steer_rad: float, accel_mps2: float) -> None:
        self.t.append(t_ns)
        self.steer.append(steer_rad)
        self.accel.append(accel_mps2)

    def stream(self) -> CommandStream:
        return CommandStream.of(self.t, self.steer, self.accel)


def replay(path: str | Path, models_dir: str | Path | None = None) -> ReplayReport:
    """Run the stack on a recording's inputs; compare with its recorded commands."""
    from edge_autopilot.sim.runner import StackDriver, default_models_dir
    from edge_autopilot.sim.world import World

    wall0 = time.perf_counter()
    models = Path(models_dir) if models_dir is not None else default_models_dir()
    if not models.is_dir():
        # a mistyped --models would otherwise replay the fallback and report a divergence
        raise ModelError(f"{models}: models directory not found")
    with open_recording(path) as rec:
        run = rec.run
        assert run is not None  # open_recording requires our metadata
        scenario = rec.scenario()
        driver = StackDriver(models)
        # the road, the rig calibration and the scenario's set speed: no sensors run
        world = World(scenario, seed=run.seed, with_sensors=False)
        driver.reset(world)
        sensor_topics = SensorTopics(world.calibration)
        recorded, replayed = _Streams(), _Streams()
        cycles = 0
        try:
            pending: list[tuple[str, Any]] = []
            pending_t: set[int] = set()
            for topic, log_ns, msg in rec.messages():
                if is_sensor_topic(topic):
                    pending.append((topic, msg))
                    pending_t.add(log_ns)
                elif topic == TOPIC_SIM_STEP:
                    t_ns = _step_time(rec.path, msg, log_ns, pending_t)
                    where = f"{rec.path}: cycle {msg.cycle} at {t_ns / 1e9:.3f} s"
                    samples = cycle_samples(msg.topics, pending, sensor_topics, where)
                    pending, pending_t = [], set()
                    # what StackDriver.step does, at the recorded cycle time
                    driver.pipeline.push(samples)
                    command = driver.executive.run_cycle(sim_t_ns=t_ns).command
                    replayed.add(t_ns, command.steer_rad, command.accel_mps2)
                    cycles += 1
                elif topic == TOPIC_COMMAND:
                    assert isinstance(msg, AckermannDriveStamped)
                    c = convert.command_from_msg(msg)
                    recorded.add(log_ns, c.steer_rad, c.accel_mps2)
        finally:
            driver.close()
    if cycles == 0:
        raise RecordingError(f"{Path(path)}: no {TOPIC_SIM_STEP} messages: the recording has "
                             "no cycles to replay")
    rec_stream, rep_stream = recorded.stream(), replayed.stream()
    return ReplayReport(
        path=str(path), run=run, models_dir=str(models),
        replay_models_sha256=driver_models_sha256(driver),
        model_errors=list(driver.models.errors), cycles_replayed=cycles,
        commands_recorded=len(recorded.t),
        summary=compare_commands(rec_stream, rep_stream),
        wall_s=time.perf_counter() - wall0, recorded=rec_stream, replayed=rep_stream)


def _step_time(path: Path, step: SimStep, log_ns: int, sample_times: set[int]) -> int:
    try:
        t_ns = convert.time_to_ns(step.header.stamp)
    except MessageError as err:
        raise RecordingError(f"{path}: a step at {log_ns / 1e9:.3f} s has a bad stamp: {err}"
                             ) from None
    if t_ns != log_ns or any(t != t_ns for t in sample_times):
        raise RecordingError(f"{path}: cycle {step.cycle}: its samples and step were not "
                             f"recorded at the cycle time {t_ns / 1e9:.3f} s")
    return t_ns


def _ms(t_ns: int | None) -> str:
    return "-" if t_ns is None else f"{t_ns / 1e9:.2f} s"


def format_replay(report: ReplayReport) -> str:
    """The report as plain text for the terminal."""
    s, run = report.summary, report.run
    lines = [
        f"replay of {report.path}",
        f"  scenario {run.scenario_name}, seed {run.seed}, recorded with the {run.driver} "
        f"driver ({run.cycles if run.cycles is not None else '?'} cycles"
        f"{'' if run.complete is not False else ', run interrupted'}), ROS {run.distro}",
        f"  models   {report.models_dir}",
    ]
    changes = report.model_changes
    if not run.models_sha256:
        lines.append(f"    the {run.driver} driver of the recording has no networks: this "
                     "compares the stack with it")
    elif changes:
        lines += [f"    {name}: {how}" for name, how in changes.items()]
    else:
        lines.append("    same networks as the recorded run")
    lines += [f"    {e}" for e in report.model_errors]
    lines += [
        f"  cycles   {report.cycles_replayed} replayed, {s.cycles_compared} compared with the "
        f"recorded commands ({s.only_in_reference} only recorded, {s.only_in_candidate} only "
        "replayed)",
        f"  identical cycles  {s.identical_cycles} of {s.cycles_compared} "
        f"(bit for bit at the wire's float32); first difference at {_ms(s.first_divergent_t_ns)}",
        f"  |d accel|  max {s.max_abs_daccel_mps2:.4g} m/s^2, p99 {s.p99_abs_daccel_mps2:.4g}; "
        f"{s.cycles_over_accel} cycles over {_threshold('accel')}",
        f"  |d steer|  max {s.max_abs_dsteer_rad:.4g} rad, p99 {s.p99_abs_dsteer_rad:.4g}; "
        f"{s.cycles_over_steer} cycles over {_threshold('steer')}",
        f"  verdict  {s.verdict.upper()}"
        + (f" (first cycle over a threshold at {_ms(s.first_over_t_ns)})"
           if s.first_over_t_ns is not None else ""),
        f"  took {report.wall_s:.1f} s",
    ]
    return "\n".join(lines)


def _threshold(which: str) -> str:
    return f"{ACCEL_DIVERGENCE_MPS2} m/s^2" if which == "accel" else f"{STEER_DIVERGENCE_RAD} rad"

