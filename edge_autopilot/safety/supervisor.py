"""The supervisor: a watchdog in its own process that stops the vehicle when the loop cannot
(DESIGN.md "Safety"; issue 4 "Supervisor").

    loop process                 supervisor process               vehicle interface
    Heartbeat.send(cmd) --PUB--> SUB  Supervisor.tick()           CommandArbiter
                    \\____________________________________ SUB --> offer_loop(cmd)
                                 PUB --(MRM commands, status)-> SUB --> offer_supervisor(cmd)

- The loop publishes one message per cycle (``Heartbeat.send``): its command, its pid, a
  sequence number and a CLOCK_MONOTONIC stamp (the clock is shared by every process on the
  machine, so the supervisor can tell an old message from a fresh one).
- A *valid* command: finite, within the plausibility bounds of ``SafetyConfig`` (a broken
  output is not a sign of life), a newer sequence number, and stamped less than the timeout
  ago. The watchdog arms on the first one (the loop takes a while to start).
- Takeover when no valid command arrived for ``timeout_ns`` (2 periods, 20 ms), or at once
  when the loop process is gone (its pid no longer runs, or is a zombie). The supervisor then
  publishes, every period, the MRM stop (``safety.fallback.mrm_command``: -2.5 m/s^2 reached at
  1.5 m/s^3 from the loop's last acceleration, the loop's last steering angle held, the brake
  held at standstill), with reasons ``supervisor.takeover`` and ``supervisor.heartbeat_lost``.
  The takeover latches: a loop that comes back does not get the vehicle back (a restart of
  the stack is a maintenance action, not a watchdog's).
- The vehicle interface takes commands from one source at a time, supervisor over loop
  (``CommandArbiter``): after the first supervisor command, loop commands are ignored.

The supervisor knows the speed from the loop's last message and dead-reckons it with its own
commands (it has no odometry of its own); that only decides when it switches from braking to
holding the brake.

Run as ``python -m edge_autopilot.safety.supervisor --loop tcp://127.0.0.1:PORT``; it prints
``READY <endpoint>`` (where it publishes) once its sockets are up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from edge_autopilot.constants import CYCLE_PERIOD_NS, NS_PER_S
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.fallback import mrm_command
from edge_autopilot.safety.types import SUPERVISOR_HEARTBEAT_LOST, SUPERVISOR_TAKEOVER

LOOP_TOPIC = b"loop"
SUPERVISOR_TOPIC = b"sup"
STATUS_TOPIC = b"status"
# seq, stamp_ns, pid, steer_rad, accel_mps2, speed_mps, has_command
_LOOP = struct.Struct("<QqiddB?d")
# seq, stamp_ns, steer_rad, accel_mps2, takeover_ns, last_valid_rx_ns
_SUP = struct.Struct("<Qqddqq")
DEFAULT_TIMEOUT_NS = 2 * CYCLE_PERIOD_NS
STATUS_PERIOD_NS = 100_000_000  # the supervisor's own sign of life for the vehicle interface
POLL_MS = 1


def now_ns() -> int:
    """CLOCK_MONOTONIC: the same clock in every process of the machine."""
    return time.monotonic_ns()


# --- messages --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoopMessage:
    seq: int
    stamp_ns: int
    pid: int
    command: ControlCommand | None  # None: a bare heartbeat (alive, but no command)
    speed_mps: float
    level: int = 0  # the in-loop ladder level (for logs)


def encode_loop(msg: LoopMessage) -> bytes:
    c = msg.command
    return _LOOP.pack(msg.seq, msg.stamp_ns, msg.pid, c.steer_rad if c else 0.0,
                      c.accel_mps2 if c else 0.0, msg.level, c is not None, msg.speed_mps)


def decode_loop(data: bytes) -> LoopMessage:
    seq, stamp, pid, steer, accel, level, has, speed = _LOOP.unpack(data)
    return LoopMessage(seq, stamp, pid, ControlCommand(steer, accel, stamp) if has else None,
                       speed, level)


@dataclass(frozen=True, slots=True)
class SupervisorCommand:
    seq: int
    stamp_ns: int
    command: ControlCommand
    takeover_ns: int
    last_valid_rx_ns: int  # when the last valid loop command arrived (0: never)
    reasons: tuple[str, ...]


def encode_supervisor(cmd: SupervisorCommand) -> list[bytes]:
    c = cmd.command
    return [SUPERVISOR_TOPIC, _SUP.pack(cmd.seq, cmd.stamp_ns, c.steer_rad, c.accel_mps2,
                                        cmd.takeover_ns, cmd.last_valid_rx_ns),
            ",".join(cmd.reasons).encode()]


def decode_supervisor(frames: list[bytes]) -> SupervisorCommand:
    seq, stamp, steer, accel, takeover, last = _SUP.unpack(frames[1])
    reasons = tuple(r for r in frames[2].decode().split(",") if r)
    return SupervisorCommand(seq, stamp, ControlCommand(steer, accel, stamp), takeover, last,
                             reasons)


# --- loop side -------------------------------------------------------------------------------
class Heartbeat:
    """The loop's side: one message per cycle with the command that went out."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:*", context: zmq.Context | None = None,
                 pid: int | None = None) -> None:
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDHWM, 100)  # a stalled reader must not grow our memory
        self._sock.bind(endpoint)
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        # 0: the supervisor does not watch a process (e.g. a loop inside a simulator)
        self.pid = os.getpid() if pid is None else pid
        self.seq = 0

    def send(self, command: ControlCommand | None, speed_mps: float = 0.0,
             level: int = 0) -> None:
        self.seq += 1
        msg = LoopMessage(self.seq, now_ns(), self.pid, command, speed_mps, level)
        self._sock.send_multipart([LOOP_TOPIC, encode_loop(msg)], copy=True)

    def close(self) -> None:
        self._sock.close(0)


# --- the watchdog logic (no sockets: testable alone) ------------------------------------------
def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs: no such process, or a zombie (killed, not yet reaped
    by its parent, which is what a SIGKILLed child looks like until its parent waits)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc (not Linux): ask the kernel, zombies count as alive there
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    state = stat[stat.rfind(b")") + 2: stat.rfind(b")") + 3]
    return state in (b"Z", b"X")


@dataclass
class Supervisor:
    """Watches loop messages; ``tick`` returns the MRM command to publish when it is due."""

    timeout_ns: int = DEFAULT_TIMEOUT_NS
    period_ns: int = CYCLE_PERIOD_NS
    config: SafetyConfig = field(default_factory=SafetyConfig)
    armed: bool = False
    active: bool = False
    takeover_ns: int = 0
    last_valid_rx_ns: int = 0
    cause: str = ""
    _seq: int = 0
    _loop_seq: int = 0
    _pid: int = 0
    _steer_rad: float = 0.0
    _accel_mps2: float = 0.0
    _speed_mps: float = 0.0
    _next_ns: int = 0
    _out_seq: int = 0

    def valid(self, msg: LoopMessage, rx_ns: int) -> bool:
        c, cfg = msg.command, self.config
        if c is None or msg.seq <= self._loop_seq:
            return False
        if not (math.isfinite(c.steer_rad) and math.isfinite(c.accel_mps2)
                and abs(c.steer_rad) <= cfg.implausible_steer_rad
                and cfg.implausible_accel_min_mps2 <= c.accel_mps2
                <= cfg.implausible_accel_max_mps2):
            return False
        # a message that sat in a queue longer than the timeout proves nothing about now
        return rx_ns - msg.stamp_ns <= self.timeout_ns

    def on_loop(self, msg: LoopMessage, rx_ns: int) -> None:
        if self.active or not self.valid(msg, rx_ns):
            return
        assert msg.command is not None
        self.armed = True
        self.last_valid_rx_ns = rx_ns
        self._loop_seq = msg.seq
        self._pid = msg.pid
        self._steer_rad = msg.command.steer_rad
        self._accel_mps2 = msg.command.accel_mps2
        if math.isfinite(msg.speed_mps):
            self._speed_mps = max(msg.speed_mps, 0.0)

    def check(self, t_ns: int) -> bool:
        """Decide whether to take over now; True when it just did."""
        if self.active or not self.armed:
            return False
        if t_ns - self.last_valid_rx_ns > self.timeout_ns:
            self.cause = "no valid loop command for " \
                f"{(t_ns - self.last_valid_rx_ns) / 1e6:.1f} ms"
        elif process_gone(self._pid):
            self.cause = f"loop process {self._pid} gone"
        else:
            return False
        self.active = True
        self.takeover_ns = t_ns
        self._next_ns = t_ns
        return True

    def tick(self, t_ns: int) -> SupervisorCommand | None:
        """The MRM command when one is due (every period from the takeover on)."""
        self.check(t_ns)
        if not self.active or t_ns < self._next_ns:
            return None
        self._next_ns += self.period_ns * max(1, (t_ns - self._next_ns) // self.period_ns + 1)
        rule = ControlCommand(self._steer_rad, 0.0, t_ns)  # hold the lane: keep the steering
        cmd = mrm_command(rule, self._accel_mps2, self._speed_mps, self.config)
        self._accel_mps2 = cmd.accel_mps2
        # dead reckoning: only to know when the vehicle has stopped
        self._speed_mps = max(0.0, self._speed_mps + cmd.accel_mps2 * self.period_ns / NS_PER_S)
        self._out_seq += 1
        return SupervisorCommand(self._out_seq, t_ns, ControlCommand(cmd.steer_rad,
                                                                     cmd.accel_mps2, t_ns),
                                 self.takeover_ns, self.last_valid_rx_ns,
                                 (SUPERVISOR_TAKEOVER, SUPERVISOR_HEARTBEAT_LOST))

    def status(self) -> dict[str, Any]:
        return {"state": "takeover" if self.active else "watching" if self.armed else "waiting",
                "takeover_ns": self.takeover_ns, "last_valid_rx_ns": self.last_valid_rx_ns,
                "cause": self.cause}


# --- the process -----------------------------------------------------------------------------
class SupervisorNode:
    """The supervisor's sockets around ``Supervisor``."""

    def __init__(self, loop_endpoint: str, publish_endpoint: str = "tcp://127.0.0.1:*",
                 timeout_ns: int = DEFAULT_TIMEOUT_NS,
                 context: zmq.Context | None = None) -> None:
        self.logic = Supervisor(timeout_ns=timeout_ns)
        ctx = context or zmq.Context.instance()
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, LOOP_TOPIC)
        self.sub.connect(loop_endpoint)
        self.pub = ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.bind(publish_endpoint)
        self.endpoint: str = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = False

    def stop(self, *_: object) -> None:
        self._stop = True

    def run(self, until_ns: int | None = None) -> None:
        logic, sub, pub = self.logic, self.sub, self.pub
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        next_status = 0
        while not self._stop and (until_ns is None or now_ns() < until_ns):
            if poller.poll(POLL_MS):
                while True:
                    try:
                        frames = sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(frames) == 2 and len(frames[1]) == _LOOP.size:
                        logic.on_loop(decode_loop(frames[1]), now_ns())
            t = now_ns()
            took_over = logic.check(t)
            cmd = logic.tick(t)
            if cmd is not None:
                pub.send_multipart(encode_supervisor(cmd))
            if took_over or t >= next_status:
                pub.send_multipart([STATUS_TOPIC, json.dumps(logic.status()).encode()])
                next_status = t + STATUS_PERIOD_NS

    def close(self) -> None:
        self.sub.close(0)
        self.pub.close(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edge_autopilot.safety.supervisor",
                                 description="Watch the loop; command the MRM stop if it stops.")
    ap.add_argument("--loop", required=True, help="the loop's heartbeat endpoint (zmq PUB)")
    ap.add_argument("--publish", default="tcp://127.0.0.1:*",
                    help="where to publish commands and status (default: a free local port)")
    ap.add_argument("--timeout-ms", type=float, default=DEFAULT_TIMEOUT_NS / 1e6)
    args = ap.parse_args(argv)
    node = SupervisorNode(args.loop, args.publish, round(args.timeout_ms * 1e6))
    signal.signal(signal.SIGTERM, node.stop)
    signal.signal(signal.SIGINT, node.stop)
    print(f"READY {node.endpoint}", flush=True)
    try:
        node.run()
    finally:
        node.close()
    return 0


class SupervisorProcess:
    """A supervisor in a child process (``python -m edge_autopilot.safety.supervisor``)."""

    def __init__(self, loop_endpoint: str, timeout_ms: float = DEFAULT_TIMEOUT_NS / 1e6,
                 start_timeout_s: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_autopilot.safety.supervisor", "--loop", loop_endpoint,
             "--timeout-ms", str(timeout_ms)],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = ""
        if sel.select(start_timeout_s):
            line = self.proc.stdout.readline().strip()
        sel.close()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the supervisor did not start (said {line!r})")
        self.endpoint = line.split(" ", 1)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# --- vehicle interface side ------------------------------------------------------------------
class CommandArbiter:
    """One source at a time, supervisor over loop: the first supervisor command latches it;
    from then on loop commands are ignored."""

    def __init__(self) -> None:
        self.source: str | None = None  # "loop", "supervisor"
        self.current: ControlCommand | None = None
        self.reasons: tuple[str, ...] = ()
        self.takeover_rx_ns: int | None = None
        self.ignored_loop = 0

    def offer_loop(self, command: ControlCommand) -> bool:
        if self.source == "supervisor":
            self.ignored_loop += 1
            return False
        self.source, self.current = "loop", command
        return True

    def offer_supervisor(self, command: ControlCommand, reasons: tuple[str, ...] = (),
                         rx_ns: int | None = None) -> bool:
        if self.source != "supervisor":
            self.takeover_rx_ns = now_ns() if rx_ns is None else rx_ns
        self.source, self.current, self.reasons = "supervisor", command, reasons
        return True


class VehicleInterface:
    """Subscribes to the supervisor (and, optionally, the loop) and feeds a CommandArbiter."""

    def __init__(self, supervisor_endpoint: str, loop_endpoint: str | None = None,
                 context: zmq.Context | None = None) -> None:
        ctx = context or zmq.Context.instance()
        self.arbiter = CommandArbiter()
        self.sup = ctx.socket(zmq.SUB)
        self.sup.setsockopt(zmq.LINGER, 0)
        self.sup.setsockopt(zmq.SUBSCRIBE, b"")
        self.sup.connect(supervisor_endpoint)
        self.loop: zmq.Socket | None = None
        self.poller = zmq.Poller()
        self.poller.register(self.sup, zmq.POLLIN)
        if loop_endpoint is not None:
            self.loop = ctx.socket(zmq.SUB)
            self.loop.setsockopt(zmq.LINGER, 0)
            self.loop.setsockopt(zmq.SUBSCRIBE, LOOP_TOPIC)
            self.loop.connect(loop_endpoint)
            self.poller.register(self.loop, zmq.POLLIN)
        self.status: dict[str, Any] = {}
        self.last_loop_rx_ns: int | None = None
        self.supervisor_commands: list[tuple[int, SupervisorCommand]] = []  # (rx_ns, command)

    def poll(self, timeout_ms: float = 0.0) -> int:
        """Take whatever arrived (waiting up to ``timeout_ms`` for the first); returns the
        number of messages."""
        n = 0
        for sock, _ in self.poller.poll(timeout_ms):
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                n += 1
                rx = now_ns()
                if frames[0] == LOOP_TOPIC and len(frames) == 2:
                    msg = decode_loop(frames[1])
                    if msg.command is not None:
                        self.last_loop_rx_ns = rx
                        self.arbiter.offer_loop(msg.command)
                elif frames[0] == SUPERVISOR_TOPIC and len(frames) == 3:
                    cmd = decode_supervisor(frames)
                    self.supervisor_commands.append((rx, cmd))
                    self.arbiter.offer_supervisor(cmd.command, cmd.reasons, rx)
                elif frames[0] == STATUS_TOPIC:
                    self.status = json.loads(frames[1])
        return n

    def close(self) -> None:
        self.sup.close(0)
        if self.loop is not None:
            self.loop.close(0)


class SupervisedOutput:
    """The loop's output side when a supervisor watches it: every command goes to the
    supervisor as a heartbeat and to the vehicle through the arbiter, which passes the
    supervisor's commands instead from the moment it takes over.

    Starts the supervisor process and waits until both PUB/SUB links are joined (a
    heartbeat sent before that would be lost, and the watchdog must not start on a link
    that is not there yet)."""

    def __init__(self, pid: int | None = None, join_timeout_s: float = 20.0) -> None:
        self.heartbeat = Heartbeat(pid=pid)
        self.supervisor = SupervisorProcess(self.heartbeat.endpoint)
        self.vehicle = VehicleInterface(self.supervisor.endpoint)
        deadline = time.monotonic() + join_timeout_s
        while not self.vehicle.status and time.monotonic() < deadline:
            self.heartbeat.send(ControlCommand(0.0, 0.0), 0.0)
            self.vehicle.poll(5)
        if not self.vehicle.status:
            self.close()
            raise EdgeAutopilotError(
                f"the supervisor process did not answer within {join_timeout_s:g} s")

    @property
    def supervisor_active(self) -> bool:
        return self.vehicle.arbiter.source == "supervisor"

    def deliver(self, command: ControlCommand, speed_mps: float) -> ControlCommand:
        """Send the loop's command; returns what the vehicle gets."""
        self.heartbeat.send(command, speed_mps)
        self.vehicle.poll(0)
        arbiter = self.vehicle.arbiter
        arbiter.offer_loop(command)
        return command if arbiter.current is None else arbiter.current

    def close(self) -> None:
        self.vehicle.close()
        self.supervisor.stop()
        self.heartbeat.close()


if __name__ == "__main__":
    sys.exit(main())
