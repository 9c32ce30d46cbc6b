"""The Bus API every node uses: publishers, subscriptions with latest-value buffers, counters.

Receiving only fills buffers (DESIGN.md "ROS 2"): a transport's receive thread (or whoever calls
``spin_once``) decodes samples and hands them to their subscriptions; the 10 ms loop reads
``latest()`` / ``take_all()`` on its own thread and never waits for input. Malformed and
wrong-typed samples are counted and dropped on the receive path; nothing a peer sends can raise
into a node.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from edge_autopilot.errors import MessageError, TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, deserialize, ros_type
from edge_autopilot.msgs.msgdef import check_distro
from edge_autopilot.transport.topics import QoS, resolve

M = TypeVar("M")
Callback = Callable[[Any], None]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    topic: str
    type_name: str
    received: int
    dropped_malformed: int
    dropped_wrong_type: int
    dropped_overflow: int  # left the bounded take_all() queue unread (keep-last)
    callback_errors: int


@dataclass(frozen=True, slots=True)
class BusStats:
    kind: str
    published: dict[str, int]
    subscriptions: tuple[SubscriptionStats, ...]
    receive_errors: int  # unexpected failures the receive thread survived

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Subscription(Generic[M]):
    """A latest-value buffer plus a bounded arrival-order queue for one topic.

    Written by one receiving thread, read by any. Messages are shared, not copied: treat them
    as read-only (inproc hands the publisher's own object to every subscriber).
    """

    def __init__(self, topic: str, msg_type: type[M], qos: QoS,
                 callback: Callback | None, queue_size: int) -> None:
        if queue_size < 0:
            raise TransportError(f"queue_size must be >= 0, got {queue_size}")
        self.topic = topic
        self.msg_type = msg_type
        self.type_name = ros_type(msg_type)
        self.qos = qos
        self._callback = callback
        self._queue: deque[M] | None = deque(maxlen=queue_size) if queue_size else None
        self._cond = threading.Condition(threading.Lock())
        self._latest: M | None = None
        self._latest_t_ns = 0
        self._waited_for = 0
        self.received = 0
        self.dropped_malformed = 0
        self.dropped_wrong_type = 0
        self.dropped_overflow = 0
        self.callback_errors = 0

    def latest(self) -> M | None:
        """The newest message, or None before the first one. Never blocks."""
        return self._latest

    @property
    def latest_t_ns(self) -> int:
        """``time.monotonic_ns()`` when the newest message was received (0 before any)."""
        return self._latest_t_ns

    def take_all(self) -> list[M]:
        """Messages received since the previous call, oldest first (at most ``queue_size``)."""
        if self._queue is None:
            return []
        with self._cond:
            out = list(self._queue)
            self._queue.clear()
        return out

    def wait(self, timeout_s: float) -> bool:
        """Block until a message arrives that an earlier ``wait`` has not reported.

        True at once when one came in since the previous successful wait; False on timeout.
        For tests and tools: the control loop never waits for input.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.received == self._waited_for:
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0.0:
                    return False
                self._cond.wait(remaining_s)
            self._waited_for = self.received
            return True

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(self.topic, self.type_name, self.received,
                                 self.dropped_malformed, self.dropped_wrong_type,
                                 self.dropped_overflow, self.callback_errors)

    # --- receive side (called by the transport) ---

    def _deliver(self, msg: M, t_ns: int) -> None:
        with self._cond:
            self._latest = msg
            self._latest_t_ns = t_ns
            self.received += 1
            if self._queue is not None:
                if len(self._queue) == self._queue.maxlen:
                    self.dropped_overflow += 1
                self._queue.append(msg)
            self._cond.notify_all()
        if self._callback is not None:
            try:
                self._callback(msg)
            except Exception:
                # A faulty callback must not stop the receive thread that serves every topic.
                self.callback_errors += 1
                if self.callback_errors == 1:
                    _log.exception("callback on %s raised; later errors are only counted",
                                   self.topic)

    def _count_malformed(self) -> None:
        with self._cond:
            self.dropped_malformed += 1

    def _count_wrong_type(self) -> None:
        with self._cond:
            self.dropped_wrong_type += 1


class Publisher(Generic[M]):
    """Sends messages of one type on one topic. ``publish`` never waits for subscribers."""

    def __init__(self, topic: str, msg_type: type[M], qos: QoS,
                 send: Callable[[M], None], count: Callable[[], int]) -> None:
        self.topic = topic
        self.msg_type = msg_type
        self.qos = qos
        self._send = send
        self._count = count
        self.published = 0

    def publish(self, msg: M) -> None:
        if type(msg) is not self.msg_type:
            raise TransportError(f"{self.topic} carries {ros_type(self.msg_type)}; "
                                 f"cannot publish a {type(msg).__name__}")
        self._send(msg)
        self.published += 1

    def subscriber_count(self) -> int:
        """How many subscribing buses (processes, DDS readers) are matched right now."""
        return self._count()

    def wait_for_subscribers(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        """Poll until ``count`` subscribers are matched (discovery takes a moment)."""
        deadline = time.monotonic() + timeout_s
        while self._count() < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


class Bus(ABC):
    """One node's connection to the topics: ``publisher``, ``subscribe``, ``close``.

    A topic carries one message type; the topic table (topics.py) fixes the type and QoS of the
    project's topics, other topics need an explicit type. Network transports receive on a
    background thread unless made with ``spin_thread=False``; then the owner calls
    ``spin_once`` from one thread.
    """

    kind = "abstract"

    def __init__(self, distro: str = DEFAULT_DISTRO) -> None:
        try:
            self.distro = check_distro(distro)
        except MessageError as e:
            raise TransportError(str(e)) from None
        self._lock = threading.Lock()
        self._types: dict[str, type] = {}
        self._subs: dict[str, list[Subscription[Any]]] = {}
        self._pubs: list[Publisher[Any]] = []
        self._closed = False
        self.receive_errors = 0

    # --- API ---

    def publisher(self, topic: str, msg_type: type[M] | None = None) -> Publisher[M]:
        msg_type, qos = self._endpoint(topic, msg_type)
        send, count = self._open_writer(topic, msg_type, qos)
        pub = Publisher(topic, msg_type, qos, send, count)
        with self._lock:
            self._pubs.append(pub)
        return pub

    def subscribe(self, topic: str, msg_type: type[M] | None = None,
                  callback: Callback | None = None, *,
                  queue_size: int | None = None) -> Subscription[M]:
        """Buffer ``topic``; ``queue_size`` defaults to the QoS depth (0: latest value only).

        ``callback`` runs on the receive thread after buffering: keep it short.
        """
        msg_type, qos = self._endpoint(topic, msg_type)
        sub = Subscription(topic, msg_type, qos, callback,
                           qos.depth if queue_size is None else queue_size)
        with self._lock:
            first = topic not in self._subs
            # Copy-on-write: the receive thread iterates the old list without a lock.
            self._subs[topic] = [*self._subs.get(topic, ()), sub]
        if first:
            try:
                self._open_reader(topic, msg_type, qos)
            except BaseException:
                with self._lock:
                    self._subs[topic] = [s for s in self._subs[topic] if s is not sub]
                    if not self._subs[topic]:
                        del self._subs[topic]
                raise
        return sub

    @property
    def needs_spin(self) -> bool:
        """True when nothing receives for this bus unless its owner calls ``spin_once``."""
        return False

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """Receive what is pending (waiting up to ``timeout_s``); returns samples handled.

        Only for buses made with ``spin_thread=False``; inproc delivers on publish.
        """
        return 0

    def stats(self) -> BusStats:
        with self._lock:
            published: dict[str, int] = {}
            for p in self._pubs:
                published[p.topic] = published.get(p.topic, 0) + p.published
            subs = tuple(s.stats() for lst in self._subs.values() for s in lst)
        return BusStats(self.kind, published, subs, self.receive_errors)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shutdown()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- for implementations ---

    @abstractmethod
    def _open_writer(self, topic: str, msg_type: type, qos: QoS
                     ) -> tuple[Callable[[Any], None], Callable[[], int]]:
        """Return (send(msg), matched-subscriber count) for a new publisher."""

    @abstractmethod
    def _open_reader(self, topic: str, msg_type: type, qos: QoS) -> None:
        """Start receiving ``topic`` (called once per topic, for its first subscription)."""

    @abstractmethod
    def _shutdown(self) -> None:
        """Stop receiving and release the transport's resources."""

    def _endpoint(self, topic: str, msg_type: type | None) -> tuple[type, QoS]:
        if self._closed:
            raise TransportError(f"{self.kind} bus is closed")
        msg_type, qos = resolve(topic, msg_type)
        with self._lock:
            known = self._types.setdefault(topic, msg_type)
        if known is not msg_type:
            raise TransportError(f"topic {topic!r} already carries {ros_type(known)} on this "
                                 f"bus; cannot also use it for {ros_type(msg_type)}")
        return msg_type, qos

    def _receive_forever(self, step: Callable[[], object]) -> None:
        """Run ``step`` until the bus closes; a receive thread must outlive any one failure."""
        while not self._closed:
            try:
                step()
            except Exception:
                if self._closed:
                    return
                self.receive_errors += 1
                if self.receive_errors == 1:
                    _log.exception("%s bus: receive failed; later errors are only counted",
                                   self.kind)
                time.sleep(0.001)  # a persistent fault must not become a busy loop

    def _subscriptions(self, topic: str) -> list[Subscription[Any]]:
        return self._subs.get(topic, [])

    def _dispatch_bytes(self, topic: str, type_name: str, data: bytes | memoryview,
                        t_ns: int) -> bool:
        """Decode one received sample and deliver it; count it if it is wrong or malformed."""
        subs = self._subs.get(topic)
        if not subs:
            return False
        if type_name != subs[0].type_name:
            for s in subs:
                s._count_wrong_type()
            return False
        try:
            msg = deserialize(data, subs[0].msg_type, self.distro)
        except Exception:
            # MessageError is the documented failure; anything else is a decoder gap that
            # bytes from the network exposed. Either way the node keeps running.
            for s in subs:
                s._count_malformed()
            return False
        for s in subs:
            s._deliver(msg, t_ns)
        return True
