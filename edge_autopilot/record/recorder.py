"""Record a simulated run as a rosbag2 MCAP file: ``run_scenario(..., tap=RunRecorder(path))``.

Per cycle, with log time = the cycle's simulated time (ns):
1. every sensor sample the driver got this cycle, in delivery order, on its sensor topic
   (header.stamp = the sample's own measurement time);
2. ``/autopilot/sim/step``: the cycle index and those samples' topics in delivery order (what the
   simulator bridge sends, and what a replay pushes, cycle by cycle);
3. ``/control/command``: the command that went out (stamp = the cycle time);
4. when the driver is the stack: ``/autopilot/loop_timing`` (the executive's timing row),
   ``/autopilot/safety_state`` and, once a second, ``/diagnostics`` - what the loop node
   publishes.

The messages are those the simulator bridge and the loop node put on the wire (the same helpers
build them), so a recording plays into a ROS 2 graph as if the run were live. The file only gets
its final name when the run closes the recorder (see mcap_writer); a run that ends with an
exception is still written out, with its cycles so far, as ``<name>.interrupted.mcap``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import RecordingError
from edge_autopilot.msgs import DEFAULT_DISTRO
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray
from edge_autopilot.msgs.edge_autopilot_msgs import LoopTiming, SafetyState, SimStep
from edge_autopilot.nodes.sample_topics import sample_messages
from edge_autopilot.nodes.status import (
    command_msg,
    degraded_cap_mps,
    diagnostics_msg,
    header,
    loop_outputs,
)
from edge_autopilot.record.mcap_writer import Rosbag2McapWriter
from edge_autopilot.record.rosbag2_yaml import check_distro
from edge_autopilot.record.run_metadata import (
    END_METADATA,
    RUN_METADATA,
    driver_models_sha256,
    end_metadata,
    run_metadata,
)
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.transport.topics import (
    TOPIC_COMMAND,
    TOPIC_DIAGNOSTICS,
    TOPIC_LOOP_TIMING,
    TOPIC_SAFETY_STATE,
    TOPIC_SIM_STEP,
)

if TYPE_CHECKING:
    from edge_autopilot.sim.runner import Driver
    from edge_autopilot.sim.world import World

DIAGNOSTICS_PERIOD_NS = 1_000_000_000
DIAGNOSTICS_NAME = "autopilot_loop"  # as the loop node reports itself
INTERRUPTED_SUFFIX = ".interrupted.mcap"


def interrupted_path(path: Path) -> Path:
    """Where the recording of a run that ended with an exception is saved."""
    return path.with_name(path.stem + INTERRUPTED_SUFFIX)


class RunRecorder:
    """The run tap that writes the recording (``sim.runner.CycleTap``).

    ``saved_path`` is where the file ended up after ``close()``; ``interrupted`` says whether
    the run ended with an exception (the file then holds the cycles up to it).
    """

    def __init__(self, path: str | Path, distro: str = DEFAULT_DISTRO,
                 compression: str = "zstd") -> None:
        self.path = Path(path)
        self.distro = distro
        check_distro(distro)  # refused now, not after the models loaded
        self.compression = compression
        self.cycles = 0
        self.saved_path: Path | None = None
        self.interrupted = False
        self._writer: Rosbag2McapWriter | None = None
        self._next_diag_ns = 0
        self._degraded_cap_mps = float("inf")

    # --- CycleTap ----------------------------------------------------------------------------
    def start(self, world: World, driver: Driver) -> None:
        if self._writer is not None:
            raise RecordingError(f"{self.path}: this recorder is already recording a run")
        writer = Rosbag2McapWriter(self.path, self.distro, self.compression)
        self._writer = writer
        writer.add_metadata(RUN_METADATA, run_metadata(
            world.scenario, world.seed, driver.name, driver_models_sha256(driver), self.distro))
        # channels in a fixed order up front: the run's outputs first, then each sensor topic
        # as its first sample arrives
        writer.add_topic(TOPIC_SIM_STEP, SimStep)
        writer.add_topic(TOPIC_COMMAND, AckermannDriveStamped)
        pipeline = getattr(driver, "pipeline", None)
        if getattr(driver, "executive", None) is not None and pipeline is not None:
            writer.add_topic(TOPIC_LOOP_TIMING, LoopTiming)
            writer.add_topic(TOPIC_SAFETY_STATE, SafetyState)
            writer.add_topic(TOPIC_DIAGNOSTICS, DiagnosticArray)
            self._degraded_cap_mps = degraded_cap_mps(pipeline)
        self.cycles = 0
        self._next_diag_ns = 0

    def on_cycle(self, t_ns: int, samples: list[SensorSample], command: ControlCommand,
                 driver: Driver) -> None:
        writer = self._writer
        if writer is None:
            raise RecordingError(f"{self.path}: the recorder was not started")
        topics = []
        for s in samples:
            for topic, msg in sample_messages(s):
                writer.write(topic, msg, t_ns)
                topics.append(topic)
        writer.write(TOPIC_SIM_STEP, SimStep(header=header(t_ns), cycle=self.cycles,
                                             topics=tuple(topics)), t_ns)
        writer.write(TOPIC_COMMAND, command_msg(t_ns, command, getattr(driver, "pipeline", None)),
                     t_ns)
        outcome = getattr(driver, "last_outcome", None)
        if outcome is not None:
            self._loop_outputs(writer, t_ns, outcome, driver)
        self.cycles += 1

    def _loop_outputs(self, writer: Rosbag2McapWriter, t_ns: int, outcome: Any,
                      driver: Any) -> None:
        """What the loop node publishes besides the command (nodes.autopilot_loop)."""
        executive, pipeline = driver.executive, driver.pipeline
        for topic, msg in loop_outputs(t_ns, self.cycles, outcome, executive, pipeline,
                                       self._degraded_cap_mps):
            writer.write(topic, msg, t_ns)
        decision = outcome.safety
        if t_ns >= self._next_diag_ns:
            reasons = ",".join(getattr(decision, "reasons", ()))
            writer.write(TOPIC_DIAGNOSTICS, diagnostics_msg(
                t_ns, DIAGNOSTICS_NAME, int(getattr(decision, "diagnostic_level", 0)),
                reasons or "ok",
                {"cycles": str(self.cycles + 1),
                 "deadline_misses": str(executive.deadline_misses),
                 "fallback_cycles": str(executive.fallback_total)}), t_ns)
            self._next_diag_ns = t_ns + DIAGNOSTICS_PERIOD_NS

    def close(self) -> None:
        """Finish the file. Called by run_scenario whatever happened; while an exception is on
        its way out (the run failed or was interrupted), the cycles so far are kept as
        ``<name>.interrupted.mcap`` and nothing is written under the final name."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        failure = sys.exc_info()[1]
        self.interrupted = failure is not None
        reason = "" if failure is None else type(failure).__name__
        try:
            writer.add_metadata(END_METADATA, end_metadata(self.cycles, failure is None, reason))
            self.saved_path = writer.close(
                custom_data={"edge_autopilot.cycles": str(self.cycles)},
                final=interrupted_path(self.path) if failure is not None else None)
        except BaseException:
            writer.abort()
            raise
