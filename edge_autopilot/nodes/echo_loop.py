"""The loop node's traffic without its work: the transport's floor for ``bench-transport``.

It subscribes to what the loop subscribes to, takes each step's samples exactly as the loop
does (decoded, turned back into the stack's samples), and answers at once with what the loop
publishes every cycle: the command, the loop timing (a cycle of 0 ns), the safety state, the
tracks (none) and a trajectory of the same length as the planner's. What is left of the round
trip is what the transport and the nodes' message handling cost on this machine, with no
network inference competing for the CPU.

    python -m edge_autopilot.nodes.echo_loop --transport dds --domain-id 7 \
        --use-sim-time true --scenario cut_in_short_gap
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
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
    TrajectoryPoint,
)
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.autopilot_loop import NODE_NAME as LOOP_NODE_NAME
from edge_autopilot.nodes.autopilot_loop import SAMPLE_WAIT_S
from edge_autopilot.nodes.common import (
    StopFlag,
    make_node_bus,
    node_params,
    node_parser,
    resolve_scenario,
    run_main,
)
from edge_autopilot.nodes.inbox import Inbox, bus_pump
from edge_autopilot.nodes.params import LoopParams
from edge_autopilot.nodes.sample_topics import SensorTopics
from edge_autopilot.nodes.status import header, ready_msg, safety_state_msg
from edge_autopilot.planning.types import HORIZON_T_S
from edge_autopilot.transport import topics

# the stages LoopTiming reports (perception, fusion, planning, control, safety): none ran
_NO_STAGES = (-1, -1, -1, -1, -1)


class EchoLoopNode:
    def __init__(self, bus: Any, scenario_ref: str) -> None:
        from edge_autopilot.sim.world import World

        world = World(resolve_scenario(scenario_ref), with_sensors=False)
        self.topics = SensorTopics(world.calibration)
        self.inbox = Inbox(pump=bus_pump(bus))
        for topic, (msg_type, _) in self.topics.by_topic.items():
            bus.subscribe(topic, msg_type, self.inbox.callback(topic))
        bus.subscribe(topics.TOPIC_SIM_STEP, SimStep, self.inbox.callback(topics.TOPIC_SIM_STEP))
        bus.subscribe(topics.TOPIC_CLOCK, Clock, self._on_clock)
        self.pub_command = bus.publisher(topics.TOPIC_COMMAND, AckermannDriveStamped)
        self.pub_timing = bus.publisher(topics.TOPIC_LOOP_TIMING, LoopTiming)
        self.pub_safety = bus.publisher(topics.TOPIC_SAFETY_STATE, SafetyState)
        self.pub_tracks = bus.publisher(topics.TOPIC_TRACKS, TrackArray)
        self.pub_trajectory = bus.publisher(topics.TOPIC_TRAJECTORY, Trajectory)
        self.pub_diag = bus.publisher(topics.TOPIC_DIAGNOSTICS, DiagnosticArray)
        self.cycles = 0
        self.lost_samples = 0

    def _on_clock(self, _msg: Clock) -> None:
        # the loop node's handshake: ready once the outputs the bridge waits for have readers
        if self.cycles == 0 and all(p.subscriber_count() > 0 for p in (
                self.pub_command, self.pub_timing, self.pub_safety)):
            self.pub_diag.publish(ready_msg(LOOP_NODE_NAME))

    def step(self, timeout_s: float) -> bool:
        step = self.inbox.pop(topics.TOPIC_SIM_STEP, timeout_s)
        if step is None:
            return False
        received, unknown, lost = self.topics.take_named(self.inbox, step.topics, SAMPLE_WAIT_S)
        self.lost_samples += unknown + lost
        self.topics.to_samples(received)  # the loop's input handling, results unused
        t_ns = convert.time_to_ns(step.header.stamp)
        self.pub_command.publish(convert.command_to_msg(ControlCommand(0.0, 0.0, t_ns), 0.0))
        self.pub_timing.publish(LoopTiming(header=header(t_ns), cycle=self.cycles,
                                           stage_ns=_NO_STAGES, end_to_end_ns=0))
        self.pub_safety.publish(safety_state_msg(t_ns, None, False, float("inf")))
        self.pub_tracks.publish(TrackArray(header=header(t_ns)))
        self.pub_trajectory.publish(Trajectory(
            header=header(t_ns, "lane"), source="echo",
            points=tuple(TrajectoryPoint(t, 0.0, 0.0, 0.0, 0.0) for t in HORIZON_T_S.tolist())))
        self.cycles += 1
        return True

    def spin(self, stop: StopFlag) -> None:
        while not stop.is_set:
            self.step(timeout_s=0.1)


def _main(argv: Sequence[str] | None) -> int:
    ap = node_parser("echo_loop", "The loop node's traffic without its work (a latency floor).")
    ap.add_argument("--scenario", help="scenario file or built-in name (its sensor rig)")
    args = ap.parse_args(argv)
    params, common = node_params(LoopParams, LOOP_NODE_NAME, args, {"scenario": args.scenario})
    stop = StopFlag()
    with make_node_bus(common, LOOP_NODE_NAME, own_thread_receives=True) as bus:
        EchoLoopNode(bus, params.scenario).spin(stop)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
