"""The safety supervisor as a node: watches ``/control/command``, and when no valid command has
come for the timeout (two periods) it publishes the minimal-risk stop on
``/autopilot/supervisor/command``; the vehicle interface takes that source over the loop's.

The watchdog's logic is ``edge_autopilot.safety.supervisor.Supervisor`` (the same one the
zmq heartbeat path runs); this module only feeds it from the bus, on one of two clocks:

- sim time: the clock is the simulator's step. At each step the supervisor first waits briefly
  for the previous cycle's command (the bridge published the step only after receiving it, so
  from a live loop it is already in flight), then checks the age of the last valid command in
  simulated time. A dead loop is detected two periods of simulated time after its last command,
  exactly as in real time, independent of the machine's load.
- wall clock: the machine's monotonic clock (the loop stamps its commands with it; the clock
  is shared by every process on the machine), checked every millisecond.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from edge_autopilot.constants import CYCLE_PERIOD_NS
from edge_autopilot.errors import MessageError
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray
from edge_autopilot.msgs.edge_autopilot_msgs import SimStep
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.autopilot_loop import (
    CLOCK_TOPIC,
    COMMAND_TOPIC,
    DIAGNOSTICS_TOPIC,
    SIM_STEP_TOPIC,
)
from edge_autopilot.nodes.common import (
    StopFlag,
    apply_node_scheduling,
    make_node_bus,
    node_params,
    node_parser,
    run_main,
)
from edge_autopilot.nodes.inbox import Inbox, bus_pump
from edge_autopilot.nodes.params import CommonParams, SupervisorParams
from edge_autopilot.nodes.status import diagnostics_msg, ready_msg
from edge_autopilot.safety.supervisor import (
    POLL_MS,
    STATUS_PERIOD_NS,
    LoopMessage,
    Supervisor,
    now_ns,
)
from edge_autopilot.safety.types import DiagnosticLevel
from edge_autopilot.transport.topics import TOPIC_SUPERVISOR_COMMAND as SUPERVISOR_COMMAND_TOPIC

NODE_NAME = "safety_supervisor"
# sim time: how long (wall clock) to wait at a step for the previous cycle's command
PREVIOUS_COMMAND_WAIT_S = 0.05


class SupervisorNode:
    def __init__(self, bus: Any, params: SupervisorParams, common: CommonParams) -> None:
        self.logic = Supervisor(timeout_ns=round(params.timeout_ms * 1e6))
        self.sim_time = common.use_sim_time
        self.inbox = Inbox(max_per_topic=256, pump=bus_pump(bus))
        bus.subscribe(COMMAND_TOPIC, AckermannDriveStamped, self.inbox.callback(COMMAND_TOPIC))
        self._last_step_ns = -1
        if self.sim_time:
            bus.subscribe(SIM_STEP_TOPIC, SimStep, self.inbox.callback(SIM_STEP_TOPIC))
            bus.subscribe(CLOCK_TOPIC, Clock, self._on_clock)
        self.pub_command = bus.publisher(SUPERVISOR_COMMAND_TOPIC, AckermannDriveStamped)
        self.pub_diag = bus.publisher(DIAGNOSTICS_TOPIC, DiagnosticArray)
        self._speed_mps = 0.0
        self._seq = 0
        self._last_command_ns = -1
        self.commands_published = 0

    def _on_clock(self, _msg: Clock) -> None:
        # the simulator's handshake before the first step (see the loop node)
        if self._last_step_ns < 0 and self.pub_command.subscriber_count() > 0:
            self.pub_diag.publish(ready_msg(NODE_NAME))

    def _take_commands(self, rx_ns: int | None) -> None:
        """Feed every received loop command to the watchdog. ``rx_ns`` None (sim time): a
        command counts as received at its own stamp, the simulated time it was made for."""
        self.inbox.receive()
        for msg in self.inbox.drain(COMMAND_TOPIC):
            try:
                command = convert.command_from_msg(msg)
            except MessageError:  # a malformed command is no sign of life
                continue
            # the speed the loop computed it at: the stop profile starts from there
            if math.isfinite(msg.drive.speed):
                self._speed_mps = float(msg.drive.speed)
            self._seq += 1
            self._last_command_ns = max(self._last_command_ns, command.stamp_ns)
            self.logic.on_loop(LoopMessage(self._seq, command.stamp_ns, 0, command,
                                           self._speed_mps),
                               command.stamp_ns if rx_ns is None else rx_ns)

    def _publish(self, t_ns: int) -> None:
        cmd = self.logic.tick(t_ns)
        if cmd is not None:
            self.pub_command.publish(convert.command_to_msg(cmd.command))
            self.commands_published += 1

    def on_step(self, step_t_ns: int) -> None:
        """Sim time: the watchdog's check at the simulator's step ``step_t_ns``."""
        self._last_step_ns = step_t_ns
        self._take_commands(None)
        if not self.logic.active:
            deadline = time.monotonic() + PREVIOUS_COMMAND_WAIT_S
            while self._last_command_ns < step_t_ns - CYCLE_PERIOD_NS:
                left = deadline - time.monotonic()
                if left <= 0.0 or not self.inbox.wait_pending(COMMAND_TOPIC, left):
                    break
                self._take_commands(None)
        took_over = self.logic.check(step_t_ns)
        self._publish(step_t_ns)
        if took_over:
            self._publish_status(step_t_ns)

    def _publish_status(self, t_ns: int) -> None:
        status = self.logic.status()
        level = DiagnosticLevel.ERROR if self.logic.active else DiagnosticLevel.OK
        self.pub_diag.publish(diagnostics_msg(
            t_ns, NODE_NAME, int(level), status["cause"] or status["state"],
            {k: str(v) for k, v in status.items()} | {"pid": str(os.getpid())}))

    def spin(self, stop: StopFlag) -> None:
        if self.sim_time:
            while not stop.is_set:
                step = self.inbox.pop(SIM_STEP_TOPIC, 0.1)
                if step is not None:
                    self.on_step(convert.time_to_ns(step.header.stamp))
            return
        next_status = 0
        while not stop.is_set:
            t = now_ns()
            self._take_commands(t)
            took_over = self.logic.check(t)
            self._publish(t)
            if took_over or t >= next_status:
                self._publish_status(t)
                next_status = t + STATUS_PERIOD_NS
            self.inbox.idle(POLL_MS / 1000.0)


def _main(argv: Sequence[str] | None) -> int:
    ap = node_parser("safety_supervisor",
                     "The safety supervisor: commands the stop when the loop goes silent.")
    ap.add_argument("--timeout-ms", type=float, help="silence before takeover (default 20)")
    args = ap.parse_args(argv)
    params, common = node_params(SupervisorParams, NODE_NAME, args,
                                 {"timeout_ms": args.timeout_ms})
    stop = StopFlag()
    with make_node_bus(common, NODE_NAME, own_thread_receives=True) as bus:
        node = SupervisorNode(bus, params, common)
        apply_node_scheduling(NODE_NAME, params)
        node.spin(stop)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
