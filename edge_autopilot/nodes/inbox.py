"""Messages received per topic, in arrival order, for a node that consumes them one by one.

Two ways to fill it, chosen by the bus:

- a transport with its own receive thread (or inproc, which delivers on publish) calls the
  subscription callbacks there; the node's thread waits on a condition variable.
- a bus made with ``spin_thread=False`` is pumped by the node's own thread (``pump``, the bus's
  ``spin_once``), like a ROS 2 single-threaded executor: waiting for a message *is* receiving
  it. No second Python thread contends for the GIL and no hand-over between threads sits
  between a sample's arrival and the cycle that uses it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

# ``Bus.spin_once``: receive what is pending, waiting up to the timeout for the first sample
Pump = Callable[[float], int]


def bus_pump(bus: Any) -> Pump | None:
    """The pump for ``bus`` when its owner must receive for it; None when it receives itself."""
    return bus.spin_once if getattr(bus, "needs_spin", False) else None


class Inbox:
    def __init__(self, max_per_topic: int = 64, pump: Pump | None = None) -> None:
        # bounded: a node that stops consuming must not grow without limit
        self._queues: dict[str, deque[Any]] = {}
        self._max = max_per_topic
        self._cond = threading.Condition()
        self._pump = pump
        self.overflowed = 0

    def callback(self, topic: str) -> Any:
        queue: deque[Any] = self._queues.setdefault(topic, deque())

        def put(msg: Any) -> None:
            with self._cond:
                if len(queue) >= self._max:
                    queue.popleft()
                    self.overflowed += 1
                queue.append(msg)
                self._cond.notify_all()

        return put

    def receive(self) -> None:
        """Take in what has arrived, without waiting (a no-op when the bus receives itself)."""
        if self._pump is not None:
            self._pump(0.0)

    def idle(self, duration_s: float) -> None:
        """Let ``duration_s`` pass, receiving meanwhile when this inbox pumps its bus."""
        if self._pump is None:
            time.sleep(duration_s)
            return
        deadline = time.monotonic() + duration_s
        while (left := deadline - time.monotonic()) > 0.0:
            self._pump(left)

    def wait_pending(self, topic: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a message on ``topic`` without taking it.

        Pumping, every sample that arrives is received as it comes (a cycle's samples are
        decoded while the simulator is still publishing the rest), and the wait ends with the
        first one on ``topic``."""
        queue = self._queues[topic]
        deadline = time.monotonic() + timeout_s
        if self._pump is not None:
            while not queue:
                left = deadline - time.monotonic()
                if left <= 0.0:
                    self._pump(0.0)
                    return bool(queue)
                self._pump(left)
            return True
        with self._cond:
            while not queue:
                left = deadline - time.monotonic()
                if left <= 0.0:
                    return False
                self._cond.wait(left)
            return True

    def pop(self, topic: str, timeout_s: float = 0.0) -> Any | None:
        """The oldest message on ``topic``, waiting up to ``timeout_s``; None if none came."""
        if not self.wait_pending(topic, timeout_s):
            return None
        # one consumer per topic: what was there is still there
        return self._queues[topic].popleft()

    def drain(self, topic: str) -> list[Any]:
        queue = self._queues[topic]
        with self._cond:
            out = list(queue)
            queue.clear()
        return out

    def pending(self, topic: str) -> int:
        return len(self._queues[topic])
