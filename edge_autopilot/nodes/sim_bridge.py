"""The simulator bridge: the project's simulator on the bus, in lockstep with the loop.

Each cycle it publishes the sensor messages that arrived during the last simulated period, then
``/autopilot/sim/step`` (their topics, in delivery order) and ``/clock``, and waits for the
command stamped with the step's time: from the loop, or from the supervisor once it has taken
over (the vehicle interface takes one source at a time, supervisor over loop). If no command
comes within ``command_timeout_s`` the actuator holds the previous one, as a real one does, and
the cycle is counted; the supervisor then sees simulated time pass without a command.

``BusDriver`` is a ``Driver`` of ``edge_autopilot.sim.runner``, so a bus run is scored by the
same ``run_scenario`` as an in-process one.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray
from edge_autopilot.msgs.edge_autopilot_msgs import LoopTiming, SafetyState, SimStep
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.autopilot_loop import (
    CLOCK_TOPIC,
    COMMAND_TOPIC,
    DIAGNOSTICS_TOPIC,
    LOOP_TIMING_TOPIC,
    SAFETY_STATE_TOPIC,
    SIM_STEP_TOPIC,
)
from edge_autopilot.nodes.autopilot_loop import NODE_NAME as LOOP_NODE
from edge_autopilot.nodes.common import make_node_bus, node_params, node_parser, resolve_scenario
from edge_autopilot.nodes.common import run_main as run_node_main
from edge_autopilot.nodes.inbox import Inbox, bus_pump
from edge_autopilot.nodes.params import SimBridgeParams
from edge_autopilot.nodes.safety_supervisor import NODE_NAME as SUPERVISOR_NODE
from edge_autopilot.nodes.safety_supervisor import SUPERVISOR_COMMAND_TOPIC
from edge_autopilot.nodes.sample_topics import SensorTopics, sample_messages
from edge_autopilot.nodes.status import header
from edge_autopilot.safety.types import SafetyLevel
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.world import World

NODE_NAME = "sim_bridge"
HANDSHAKE_PERIOD_S = 0.1
# consecutive cycles with no command from anyone before the run is given up
GIVE_UP_SILENT_CYCLES = 5
# after the run: the loop's last timing and safety messages still in flight
DRAIN_S = 0.5


class BusDriver:
    """Drives the world with commands that come back over the bus."""

    name = "stack"

    def __init__(self, bus: Any, command_timeout_s: float = 2.0,
                 connect_timeout_s: float = 60.0,
                 expect: tuple[str, ...] = (LOOP_NODE, SUPERVISOR_NODE),
                 node_problem: Callable[[], str | None] | None = None) -> None:
        self.bus = bus
        # says why a node this run needs has died (the launcher's check); None: not watched
        self.node_problem = node_problem
        self.command_timeout_s = command_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.expect = expect
        self.inbox = Inbox(max_per_topic=4096, pump=bus_pump(bus))
        for topic, msg_type in ((COMMAND_TOPIC, AckermannDriveStamped),
                                (SUPERVISOR_COMMAND_TOPIC, AckermannDriveStamped),
                                (LOOP_TIMING_TOPIC, LoopTiming),
                                (SAFETY_STATE_TOPIC, SafetyState)):
            bus.subscribe(topic, msg_type, self.inbox.callback(topic))
        self.ready: set[str] = set()
        bus.subscribe(DIAGNOSTICS_TOPIC, DiagnosticArray, self._on_diagnostics)
        self.pub_step = bus.publisher(SIM_STEP_TOPIC, SimStep)
        self.pub_clock = bus.publisher(CLOCK_TOPIC, Clock)
        self.sensor_pubs: dict[str, Any] = {}
        self._reset_run()

    def _reset_run(self) -> None:
        self.cycle = 0
        self.held_commands = 0  # cycles where no command came in time: the actuator held
        self.takeover_t_s: float | None = None
        self._supervised = False  # the supervisor has taken over: its commands only
        self._silent_cycles = 0  # consecutive cycles without any command
        self.last_command = ControlCommand(0.0, 0.0)
        self.timing: list[LoopTiming] = []
        self.safety: list[SafetyState] = []
        # per cycle: first sensor message published -> command received (wall clock), and
        # the messages this side published
        self.round_trip_ns: list[int] = []
        self.published = 0
        # wall clock of the first cycle's first publish and of the last command received:
        # the traffic's span, set-up (handshake, process start) excluded
        self.first_publish_ns: int | None = None
        self.last_command_rx_ns: int | None = None

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name in self.expect:
                self.ready.add(status.name)

    def reset(self, world: World) -> None:
        self._reset_run()
        for topic, (msg_type, _) in SensorTopics(world.calibration).by_topic.items():
            if topic not in self.sensor_pubs:
                self.sensor_pubs[topic] = self.bus.publisher(topic, msg_type)
        self._handshake()

    def _matched(self) -> bool:
        """Every expected node has said it is ready (its outputs have their readers), and
        each of our outputs has its readers: the step one per node, each sensor the loop."""
        return self.ready >= set(self.expect) \
            and self.pub_step.subscriber_count() >= len(self.expect) \
            and all(p.subscriber_count() > 0 for p in self.sensor_pubs.values())

    def _handshake(self) -> None:
        """Publish /clock until discovery is complete both ways (``_matched``): from then on
        no step, sample or command is published into a void."""
        deadline = time.monotonic() + self.connect_timeout_s
        while not self._matched():
            problem = self.node_problem() if self.node_problem is not None else None
            if problem is not None:
                raise TransportError(problem)
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(set(self.expect) - self.ready))
                raise TransportError(f"no answer from {missing} within "
                                     f"{self.connect_timeout_s:.0f} s: is it running on the same "
                                     "transport and domain?")
            self.pub_clock.publish(Clock(clock=convert.time_from_ns(0)))
            self.inbox.idle(HANDSHAKE_PERIOD_S)

    def step(self, world: World, samples: list[SensorSample]) -> ControlCommand:
        t_ns = world.t_ns
        t0 = time.perf_counter_ns()
        if self.first_publish_ns is None:
            self.first_publish_ns = t0
        topics: list[str] = []
        for s in samples:
            for topic, msg in sample_messages(s):
                self.sensor_pubs[topic].publish(msg)
                topics.append(topic)
        self.pub_step.publish(SimStep(header=header(t_ns), cycle=self.cycle, topics=tuple(topics)))
        self.pub_clock.publish(Clock(clock=convert.time_from_ns(t_ns)))
        self.cycle += 1
        self.published += len(topics) + 2
        command = self._await_command(t_ns)
        rx_ns = time.perf_counter_ns()
        self.round_trip_ns.append(rx_ns - t0 if command is not None else -1)
        if command is not None:
            self.last_command_rx_ns = rx_ns
        self._collect_reports()
        if command is None:
            self.held_commands += 1
            self._silent_cycles += 1
            if self._silent_cycles >= GIVE_UP_SILENT_CYCLES:
                # a live supervisor answers two cycles after the loop falls silent: neither
                # answering means nothing drives the car; end the run instead of waiting on
                problem = self.node_problem() if self.node_problem is not None else None
                raise TransportError(
                    f"no command from the loop or the supervisor for {self._silent_cycles} "
                    f"cycles at t = {world.t_s:.2f} s" + (f": {problem}" if problem else ""))
            return self.last_command
        self._silent_cycles = 0
        self.last_command = command
        if self._supervised and self.takeover_t_s is None:
            self.takeover_t_s = world.t_s
        return command

    def _await_command(self, t_ns: int) -> ControlCommand | None:
        deadline = time.monotonic() + self.command_timeout_s
        while True:
            # the supervisor over the loop, from its first command on
            for msg in self.inbox.drain(SUPERVISOR_COMMAND_TOPIC):
                self._supervised = True
                command = convert.command_from_msg(msg)
                if command.stamp_ns == t_ns:
                    return command
            if not self._supervised:
                msg = self.inbox.pop(COMMAND_TOPIC, 0.0)
                if msg is not None:
                    command = convert.command_from_msg(msg)
                    if command.stamp_ns == t_ns:
                        return command
                    continue  # an older cycle's, late: not this one's
            left = deadline - time.monotonic()
            if left <= 0.0:
                return None
            topic = SUPERVISOR_COMMAND_TOPIC if self._supervised else COMMAND_TOPIC
            self.inbox.wait_pending(topic, min(left, 0.005))

    def _collect_reports(self) -> None:
        # every cycle: the inbox is bounded, and a run has more cycles than it holds
        self.inbox.receive()
        self.timing.extend(self.inbox.drain(LOOP_TIMING_TOPIC))
        self.safety.extend(self.inbox.drain(SAFETY_STATE_TOPIC))

    def loop_fields(self, cycles: int) -> dict[str, Any]:
        """The loop's timing and the monitor's ladder as the loop reported them, in the
        fields ``ScenarioResult`` has for an in-process stack."""
        deadline = time.monotonic() + DRAIN_S
        self._collect_reports()
        while len(self.timing) < cycles and time.monotonic() < deadline:
            self.inbox.idle(0.01)
            self._collect_reports()
        events: list[dict[str, Any]] = []
        level = SafetyLevel.NOMINAL
        max_level = SafetyLevel.NOMINAL
        for s in self.safety:
            new = SafetyLevel(int(s.level))
            if new != level:
                events.append({"t_s": round(convert.time_to_ns(s.header.stamp) / 1e9, 3),
                               "level": new.name, "reason": ",".join(s.reasons)})
                level = new
            max_level = max(max_level, new)
        if self.takeover_t_s is not None:
            events.append({"t_s": round(self.takeover_t_s, 3), "level": "MRM",
                           "reason": "supervisor.takeover"})
            max_level = max(max_level, SafetyLevel.MRM)
        return {
            "deadline_misses": sum(bool(t.deadline_missed) for t in self.timing)
            + self.held_commands,
            "fallback_cycles": sum(bool(t.fallback) for t in self.timing),
            "cycle_ns": np.array([t.end_to_end_ns for t in self.timing], dtype=np.int64),
            "max_level": max_level.name,
            "interventions": events,
        }


def run_bus_scenario(scenario: Any, driver: BusDriver, seed: int | None = None,
                     tap: Any = None) -> Any:
    """``run_scenario`` over the bus, with the loop's own timing and ladder in the result."""
    import dataclasses

    from edge_autopilot.sim.runner import run_scenario

    result = run_scenario(scenario, driver, seed=seed, tap=tap)
    return dataclasses.replace(result, **driver.loop_fields(result.cycles))


def _main(argv: Sequence[str] | None) -> int:
    ap = node_parser("sim_bridge", "The simulator bridge: sensors out, commands in.")
    ap.add_argument("--scenario", help="scenario file or built-in name")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--no-supervisor", action="store_true",
                    help="do not wait for a supervisor node")
    args = ap.parse_args(argv)
    params, common = node_params(SimBridgeParams, NODE_NAME, args,
                                 {"scenario": args.scenario, "seed": args.seed})
    scenario = resolve_scenario(params.scenario)
    expect = (LOOP_NODE,) if args.no_supervisor else (LOOP_NODE, SUPERVISOR_NODE)
    with make_node_bus(common, NODE_NAME, own_thread_receives=True) as bus:
        driver = BusDriver(bus, params.command_timeout_s, params.connect_timeout_s, expect)
        result = run_bus_scenario(scenario, driver, None if params.seed < 0 else params.seed)
    text = json.dumps(result.to_json(), indent=2)
    if params.result:
        with open(params.result, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0 if result.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run_node_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
