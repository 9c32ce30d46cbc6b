"""ZeroMQ transport: broker-less XPUB/SUB over loopback TCP, CDR payloads.

Endpoint scheme (no broker, no discovery daemon, like Cyclone's participant index): a domain
owns ``SLOTS`` consecutive ports from ``base_port + domain_id * SLOTS``. Each bus binds its XPUB
socket to the first free port of its domain's range and connects its SUB socket to every port
of the range; ZeroMQ keeps retrying the empty ones, so processes may start in any order and a
publisher that appears later is found within ``RECONNECT_MAX_MS``. A bus also hears itself, as
a ROS 2 node does. Nothing ever binds or connects beyond 127.0.0.1.

Wire format: multipart ``[topic, ROS type name, CDR bytes]``, the CDR exactly
``edge_autopilot.msgs.serialize``'s output (encapsulation header included).

What ZeroMQ does and does not give, honestly:
- TCP makes delivery lossless and in order *while both ends keep up*.
- Not reliable in the DDS sense: a message published before the subscription has reached the
  publisher is lost (the "slow joiner"; ``Publisher.wait_for_subscribers`` helps), and when a
  peer's queue holds ``HWM`` messages the XPUB socket silently drops new ones (newest lost, not
  oldest). Publisher-side drops cannot be counted.
- So "reliable" and "best-effort" topics behave the same here; keep-last depth is applied in
  each subscription's buffer. Use ``dds`` when the QoS distinction matters.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, ros_type, serialize
from edge_autopilot.transport.bus import Bus
from edge_autopilot.transport.topics import QoS

DEFAULT_BASE_PORT = 17400
SLOTS = 32  # buses (processes) per domain; ports base + domain_id * SLOTS + 0..31
MAX_DOMAIN_ID = 232  # same range as DDS domain ids
HWM = 100  # messages queued per peer before XPUB drops (bounds memory and staleness)
RECONNECT_MS = 20
RECONNECT_MAX_MS = 250  # back-off cap for empty slots: how late a new publisher is found
_SUBSCRIBE_TIMEOUT_S = 2.0
_JOIN_TIMEOUT_S = 2.0
_HOUSEKEEPING_MS = 100

_log = logging.getLogger(__name__)


def domain_ports(domain_id: int, base_port: int = DEFAULT_BASE_PORT) -> range:
    if not 0 <= domain_id <= MAX_DOMAIN_ID:
        raise TransportError(f"domain_id must be 0..{MAX_DOMAIN_ID}, got {domain_id}")
    first = base_port + domain_id * SLOTS
    if first < 1024 or first + SLOTS > 65536:
        raise TransportError(f"zmq ports {first}..{first + SLOTS - 1} are out of range; "
                             "choose another base_port or domain_id")
    return range(first, first + SLOTS)


class ZmqBus(Bus):
    kind = "zmq"

    def __init__(self, distro: str = DEFAULT_DISTRO, *, domain_id: int = 0,
                 base_port: int = DEFAULT_BASE_PORT, spin_thread: bool = True) -> None:
        super().__init__(distro)
        self.domain_id = domain_id
        ports = domain_ports(domain_id, base_port)
        self._ctx = zmq.Context()
        self._pub = self._ctx.socket(zmq.XPUB)
        self._pub.setsockopt(zmq.SNDHWM, HWM)
        self._pub.setsockopt(zmq.LINGER, 0)
        # Every subscription and every departure (VERBOSER, not VERBOSE: also when other
        # subscribers remain) reaches us, so subscriber_count() counts peers per topic.
        self._pub.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.endpoint = self._bind_free_slot(ports)
        self._pub_lock = threading.Lock()
        self._sub = self._ctx.socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, HWM)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        self._sub.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
        for port in ports:
            self._sub.connect(f"tcp://127.0.0.1:{port}")
        self._peers: dict[bytes, int] = {}  # topic -> subscribing peers, from XPUB
        self._pending: deque[tuple[bytes, threading.Event]] = deque()
        self._wake_addr = f"inproc://wake-{id(self)}"
        self._wake_rx = self._ctx.socket(zmq.PAIR)
        self._wake_rx.bind(self._wake_addr)
        self._wake_tx = self._ctx.socket(zmq.PAIR)
        self._wake_tx.connect(self._wake_addr)
        self._wake_lock = threading.Lock()
        self._poller = zmq.Poller()
        # The XPUB socket stays out of the poller: publishing threads use it, and a ZeroMQ
        # socket must not be touched by two threads at once (its subscription events are read
        # under _pub_lock instead, see _track_subscribers).
        self._poller.register(self._sub, zmq.POLLIN)
        self._poller.register(self._wake_rx, zmq.POLLIN)
        self._thread: threading.Thread | None = None
        if spin_thread:
            self._thread = threading.Thread(target=self._run, name=f"zmq-bus-{domain_id}",
                                            daemon=True)
            self._thread.start()

    def _bind_free_slot(self, ports: range) -> str:
        for port in ports:
            endpoint = f"tcp://127.0.0.1:{port}"
            try:
                self._pub.bind(endpoint)
            except zmq.ZMQError as e:
                if e.errno == zmq.EADDRINUSE:
                    continue
                raise TransportError(f"zmq cannot bind {endpoint}: {e}") from None
            return endpoint
        self._ctx.destroy(linger=0)
        raise TransportError(f"all {SLOTS} zmq ports {ports.start}..{ports.stop - 1} are taken; "
                             "close other buses or use another domain_id")

    # --- Bus hooks ---

    def _open_writer(self, topic: str, msg_type: type, qos: QoS
                     ) -> tuple[Callable[[Any], None], Callable[[], int]]:
        head = [topic.encode(), ros_type(msg_type).encode()]
        distro = self.distro
        sock, lock, key = self._pub, self._pub_lock, head[0]

        def send(msg: Any) -> None:
            data = serialize(msg, distro)
            with lock:
                if self._closed:
                    raise TransportError("zmq bus is closed")
                # NOBLOCK: at the high-water mark XPUB drops; it must never stall the loop.
                sock.send_multipart([*head, data], flags=zmq.NOBLOCK, copy=len(data) < 4096)

        def count() -> int:
            self._track_subscribers()
            return self._peers.get(key, 0)

        return send, count

    def _open_reader(self, topic: str, msg_type: type, qos: QoS) -> None:
        done = threading.Event()
        self._pending.append((topic.encode(), done))
        if self._thread is None:
            return  # applied by the owner's next spin_once
        self._wake()
        if not done.wait(_SUBSCRIBE_TIMEOUT_S):
            raise TransportError(f"zmq receive thread did not take the subscription to {topic}")

    @property
    def needs_spin(self) -> bool:
        return self._thread is None

    def spin_once(self, timeout_s: float = 0.0) -> int:
        if self._thread is not None:
            raise TransportError("this zmq bus receives on its own thread; spin_once is for "
                                 "buses made with spin_thread=False")
        if self._closed:
            return 0
        # zmq polls in whole milliseconds: round up, or a sub-millisecond wait would spin
        return self._poll(math.ceil(timeout_s * 1000))

    def _shutdown(self) -> None:
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout=_JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                # Stuck in a callback: closing its sockets under it could crash the process.
                _log.warning("zmq bus: receive thread still busy after %.0f s; sockets left "
                             "open", _JOIN_TIMEOUT_S)
                return
        with self._pub_lock:
            self._ctx.destroy(linger=0)

    # --- receive side ---

    def _wake(self) -> None:
        # A full pipe means a wake-up is already pending: one is enough.
        with self._wake_lock, contextlib.suppress(zmq.ZMQError):
            self._wake_tx.send(b"", flags=zmq.NOBLOCK)

    def _run(self) -> None:
        def step() -> None:
            self._poll(_HOUSEKEEPING_MS)
            # ZeroMQ learns that a subscriber left only while the XPUB socket is in use;
            # touching it regularly keeps subscriber_count() current.
            self._track_subscribers()

        self._receive_forever(step)

    def _poll(self, timeout_ms: int) -> int:
        while self._pending:
            topic, done = self._pending.popleft()
            self._sub.setsockopt(zmq.SUBSCRIBE, topic)
            done.set()
        handled = 0
        events = dict(self._poller.poll(timeout_ms))
        if self._wake_rx in events:
            while self._wake_rx.poll(0):
                self._wake_rx.recv()
        if self._sub in events:
            handled = self._drain()
        return handled

    def _drain(self) -> int:
        handled = 0
        while True:
            try:
                frames = self._sub.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return handled
            handled += 1
            t_ns = time.monotonic_ns()
            topic = frames[0].decode("utf-8", "replace")
            if len(frames) != 3:
                for s in self._subscriptions(topic):
                    s._count_malformed()
                continue
            self._dispatch_bytes(topic, frames[1].decode("utf-8", "replace"), frames[2], t_ns)

    def _track_subscribers(self) -> None:
        with self._pub_lock:
            # poll(), unlike a non-blocking recv, always processes the socket's pending
            # commands (a departed peer's pipe termination among them).
            while not self._closed and self._pub.poll(0):
                event = self._pub.recv()
                if event:
                    key = event[1:]
                    delta = 1 if event[0] == 1 else -1
                    self._peers[key] = max(0, self._peers.get(key, 0) + delta)
