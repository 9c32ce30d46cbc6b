"""In-process transport: the default, deterministic, one process.

Every ``InprocBus`` with the same ``domain_id`` in a process shares one hub, so nodes built
separately (simulator, stack, supervisor thread) still meet. ``publish`` delivers synchronously
on the publishing thread into each subscription's buffer: no thread, no copy, the subscriber
gets the publisher's object. With ``serialize=True`` each message instead goes through the
CDR bytes the network transports send, decoded per receiving bus: the reference the zmq and
dds tests compare against, and a cheap way to exercise the decode path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, ros_type, serialize
from edge_autopilot.transport.bus import Bus
from edge_autopilot.transport.topics import QoS, check_topic_name


class _Hub:
    """The buses of one in-process domain, and which topic carries which type."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # topic -> (its type, the open buses using it): a topic is free again once they close
        self.types: dict[str, tuple[type, set[InprocBus]]] = {}
        # topic -> buses with a subscription on it; replaced, never mutated (lock-free reads)
        self.readers: dict[str, tuple[InprocBus, ...]] = {}

    def claim(self, topic: str, msg_type: type, bus: InprocBus) -> None:
        with self.lock:
            known, users = self.types.setdefault(topic, (msg_type, set()))
            if known is msg_type:
                users.add(bus)
        if known is not msg_type:
            raise TransportError(f"topic {topic!r} already carries {ros_type(known)} in this "
                                 f"process; cannot also use it for {ros_type(msg_type)}")

    def add_reader(self, topic: str, bus: InprocBus) -> None:
        with self.lock:
            self.readers[topic] = (*self.readers.get(topic, ()), bus)

    def remove_bus(self, bus: InprocBus) -> None:
        with self.lock:
            for topic, buses in list(self.readers.items()):
                self.readers[topic] = tuple(b for b in buses if b is not bus)
            for topic, (_, users) in list(self.types.items()):
                users.discard(bus)
                if not users:
                    del self.types[topic]


_HUBS: dict[int, _Hub] = {}
_HUBS_LOCK = threading.Lock()


def _hub(domain_id: int) -> _Hub:
    with _HUBS_LOCK:
        return _HUBS.setdefault(domain_id, _Hub())


class InprocBus(Bus):
    kind = "inproc"

    def __init__(self, distro: str = DEFAULT_DISTRO, *, domain_id: int = 0,
                 serialize: bool = False) -> None:
        super().__init__(distro)
        self.domain_id = domain_id
        self.serialize = serialize
        self._hub = _hub(domain_id)

    def inject_raw(self, topic: str, type_name: str, data: bytes) -> bool:
        """Feed raw bytes to this bus's subscriptions as if they came off a wire (fault tests).

        Returns True when they decoded and were delivered; otherwise they were counted.
        """
        return self._dispatch_bytes(check_topic_name(topic), type_name, data,
                                    time.monotonic_ns())

    def _open_writer(self, topic: str, msg_type: type, qos: QoS
                     ) -> tuple[Callable[[Any], None], Callable[[], int]]:
        self._hub.claim(topic, msg_type, self)
        readers = self._hub.readers

        def count() -> int:
            return len(readers.get(topic, ()))

        if self.serialize:
            type_name = ros_type(msg_type)
            distro = self.distro

            def send_bytes(msg: Any) -> None:
                data = serialize(msg, distro)
                t_ns = time.monotonic_ns()
                for bus in readers.get(topic, ()):
                    bus._dispatch_bytes(topic, type_name, data, t_ns)

            return send_bytes, count

        def send(msg: Any) -> None:
            t_ns = time.monotonic_ns()
            for bus in readers.get(topic, ()):
                for sub in bus._subscriptions(topic):
                    sub._deliver(msg, t_ns)

        return send, count

    def _open_reader(self, topic: str, msg_type: type, qos: QoS) -> None:
        self._hub.claim(topic, msg_type, self)
        self._hub.add_reader(topic, self)

    def _shutdown(self) -> None:
        self._hub.remove_bus(self)
