"""The autopilot loop as a node: sensor topics in, ``/control/command`` out, every 10 ms.

Subscriptions only fill buffers; on zmq and dds the node's own thread takes the samples in
(``Inbox``: while it waits for a step in sim time, at the start of each cycle on the wall
clock, never waiting there), with no receive thread to hand them over. The loop keeps its own
clock (DESIGN.md "ROS 2"):

- sim time (``use_sim_time``): lockstep with the simulator bridge. Each ``/autopilot/sim/step``
  names, in delivery order, the sensor topics published for that cycle; the node takes exactly
  those messages, runs the cycle at the step's time and answers with the command stamped with
  it. The stack sees the same samples in the same order as in one process, so the run is the
  same, bit for bit.
- wall clock: the executive holds the 100 Hz schedule; each cycle takes whatever arrived since
  the last one (read after the executive wakes), and never waits for input.

Besides the command it publishes the loop timing and the safety state every cycle and a
diagnostics summary once per ``diagnostics_period_s``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray
from edge_autopilot.msgs.edge_autopilot_msgs import (
    LoopTiming,
    SafetyState,
    SimStep,
    TrackArray,
    Trajectory,
)
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.common import (
    StopFlag,
    apply_node_scheduling,
    make_node_bus,
    node_params,
    node_parser,
    resolve_scenario,
    run_main,
)
from edge_autopilot.nodes.inbox import Inbox, bus_pump
from edge_autopilot.nodes.params import CommonParams, LoopParams
from edge_autopilot.nodes.sample_topics import SensorTopics
from edge_autopilot.nodes.status import (
    command_msg,
    degraded_cap_mps,
    diagnostics_msg,
    loop_outputs,
    ready_msg,
)
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.transport.topics import TOPIC_CLOCK as CLOCK_TOPIC
from edge_autopilot.transport.topics import TOPIC_COMMAND as COMMAND_TOPIC
from edge_autopilot.transport.topics import TOPIC_DIAGNOSTICS as DIAGNOSTICS_TOPIC
from edge_autopilot.transport.topics import TOPIC_LOOP_TIMING as LOOP_TIMING_TOPIC
from edge_autopilot.transport.topics import TOPIC_SAFETY_STATE as SAFETY_STATE_TOPIC
from edge_autopilot.transport.topics import TOPIC_SIM_STEP as SIM_STEP_TOPIC
from edge_autopilot.transport.topics import TOPIC_TRACKS as TRACKS_TOPIC
from edge_autopilot.transport.topics import TOPIC_TRAJECTORY as TRAJECTORY_TOPIC

NODE_NAME = "autopilot_loop"
# how long a step waits for a sample it names: they were published before the step itself,
# so only a lost best-effort sample takes this long
SAMPLE_WAIT_S = 0.5


class AutopilotLoopNode:
    def __init__(self, bus: Any, params: LoopParams, common: CommonParams) -> None:
        from edge_autopilot.sim.runner import StackDriver, default_models_dir
        from edge_autopilot.sim.world import World

        self.bus = bus
        self.sim_time = common.use_sim_time
        self.params = params
        scenario = resolve_scenario(params.scenario)
        models_dir = Path(params.models_dir) if params.models_dir else default_models_dir()
        self.driver = StackDriver(models_dir, realtime=not self.sim_time,
                                  freeze_gc=params.freeze_gc)
        # the road and the rig only: a world without sensors is cheap
        world = World(scenario, with_sensors=False)
        self.driver.reset(world)
        self.pipeline = self.driver.pipeline
        self.executive = self.driver.executive
        self.topics = SensorTopics(world.calibration)
        self.inbox = Inbox(pump=bus_pump(bus))
        for topic, (msg_type, _) in self.topics.by_topic.items():
            bus.subscribe(topic, msg_type, self.inbox.callback(topic))
        if self.sim_time:
            bus.subscribe(SIM_STEP_TOPIC, SimStep, self.inbox.callback(SIM_STEP_TOPIC))
            bus.subscribe(CLOCK_TOPIC, Clock, self._on_clock)
        else:
            self.pipeline.input_source = self._received_samples
        self.pub_command = bus.publisher(COMMAND_TOPIC, AckermannDriveStamped)
        self.pub_timing = bus.publisher(LOOP_TIMING_TOPIC, LoopTiming)
        self.pub_safety = bus.publisher(SAFETY_STATE_TOPIC, SafetyState)
        self.outputs = {LOOP_TIMING_TOPIC: self.pub_timing, SAFETY_STATE_TOPIC: self.pub_safety,
                        TRACKS_TOPIC: bus.publisher(TRACKS_TOPIC, TrackArray),
                        TRAJECTORY_TOPIC: bus.publisher(TRAJECTORY_TOPIC, Trajectory)}
        self.pub_diag = bus.publisher(DIAGNOSTICS_TOPIC, DiagnosticArray)
        self.cycles = 0
        self.lost_samples = 0  # named by a step, never received (a lost best-effort sample)
        self.bad_samples = 0  # received but not usable (wrong size, encoding, values)
        self._next_diag_ns: int | None = None
        self._degraded_cap_mps = degraded_cap_mps(self.pipeline)

    # --- inputs ------------------------------------------------------------------------------
    def _to_samples(self, received: list[tuple[str, Any]]) -> list[SensorSample]:
        samples, bad = self.topics.to_samples(received)
        self.bad_samples += bad
        return samples

    def _received_samples(self) -> list[SensorSample]:
        self.inbox.receive()
        received = [(topic, msg) for topic in self.topics.by_topic
                    for msg in self.inbox.drain(topic)]
        out = self._to_samples(received)
        out.sort(key=lambda s: s.stamp_ns)  # stable: one sensor's samples keep their order
        return out

    # --- one cycle ---------------------------------------------------------------------------
    def run_cycle(self, samples: list[SensorSample], sim_t_ns: int | None) -> ControlCommand:
        self.pipeline.push(samples)
        outcome = self.executive.run_cycle(sim_t_ns=sim_t_ns)
        t_ns = sim_t_ns if sim_t_ns is not None else outcome.due_ns
        c = outcome.command
        self.pub_command.publish(command_msg(t_ns, c, self.pipeline))
        for topic, msg in loop_outputs(t_ns, self.cycles, outcome, self.executive,
                                       self.pipeline, self._degraded_cap_mps):
            self.outputs[topic].publish(msg)
        if self._next_diag_ns is None or t_ns >= self._next_diag_ns:
            self._publish_diagnostics(t_ns, outcome.safety)
            self._next_diag_ns = t_ns + round(self.params.diagnostics_period_s * 1e9)
        self.cycles += 1
        return c

    def _publish_diagnostics(self, t_ns: int, decision: Any) -> None:
        level = int(getattr(decision, "diagnostic_level", 0))
        reasons = ",".join(getattr(decision, "reasons", ()))
        self.pub_diag.publish(diagnostics_msg(
            t_ns, NODE_NAME, level, reasons or "ok",
            {"cycles": str(self.cycles), "deadline_misses": str(self.executive.deadline_misses),
             "fallback_cycles": str(self.executive.fallback_total),
             "lost_samples": str(self.lost_samples), "bad_samples": str(self.bad_samples),
             "pid": str(os.getpid())}))

    # --- lockstep ----------------------------------------------------------------------------
    def _on_clock(self, _msg: Clock) -> None:
        # Before the first step the simulator's /clock is its handshake. 'ready' tells it that
        # we hear it and that every output of ours has its reader: a reliable message sent
        # before its reader is matched is lost, and the first command must not be.
        if self.cycles == 0 and all(p.subscriber_count() > 0 for p in (
                self.pub_command, self.pub_timing, self.pub_safety)):
            self.pub_diag.publish(ready_msg(NODE_NAME))

    def step_lockstep(self, timeout_s: float) -> bool:
        """Run the cycle of the next simulator step; False when none came within timeout."""
        step = self.inbox.pop(SIM_STEP_TOPIC, timeout_s)
        if step is None:
            return False
        received, unknown, lost = self.topics.take_named(self.inbox, step.topics, SAMPLE_WAIT_S)
        self.bad_samples += unknown
        self.lost_samples += lost
        self.run_cycle(self._to_samples(received), convert.time_to_ns(step.header.stamp))
        return True

    def spin(self, stop: StopFlag) -> None:
        if self.sim_time:
            while not stop.is_set:
                self.step_lockstep(timeout_s=0.1)
        else:  # (StackDriver.reset prepared the executive for the wall clock)
            while not stop.is_set:
                self.run_cycle([], None)

    def close(self) -> None:
        self.driver.close()


def _main(argv: Sequence[str] | None) -> int:
    ap = node_parser("autopilot_loop", "The 10 ms autopilot loop as a node.")
    ap.add_argument("--scenario", help="road and ego settings: a scenario file or built-in name")
    ap.add_argument("--models", metavar="DIR", help="model directory (default: installed)")
    args = ap.parse_args(argv)
    params, common = node_params(LoopParams, NODE_NAME, args,
                                 {"scenario": args.scenario, "models_dir": args.models})
    stop = StopFlag()
    with make_node_bus(common, NODE_NAME, own_thread_receives=True) as bus:
        node = AutopilotLoopNode(bus, params, common)
        try:
            apply_node_scheduling(NODE_NAME, params)  # once set up: loading is not real-time
            node.spin(stop)
        finally:
            node.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
