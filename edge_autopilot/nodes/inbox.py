"""Messages received per topic, in arrival order, for a node that consumes them one by one.

Transports call subscription callbacks on their own receive thread; the node's thread takes
from here. ``collections.deque`` appends and pops are atomic, and a condition variable wakes a
waiting node without polling.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class Inbox:
    def __init__(self, max_per_topic: int = 64) -> None:
        # bounded: a node that stops consuming must not grow without limit
        self._queues: dict[str, deque[Any]] = {}
        self._max = max_per_topic
        self._cond = threading.Condition()
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

    def wait_pending(self, topic: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a message on ``topic`` without taking it."""
        queue = self._queues[topic]
        deadline = time.monotonic() + timeout_s
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
