"""A recorded cycle's sensor messages back to the samples the driver got, in delivery order.

The mapping itself (which topics and messages carry a sample, and the way back) is
``nodes.sample_topics``, shared with the simulator bridge and the loop node, so a replay feeds the
stack exactly what the loop node would have. Here: putting a cycle's messages in the order its
SimStep lists them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from edge_autopilot.errors import RecordingError
from edge_autopilot.nodes.sample_topics import ACCELERATION_TOPIC, SensorTopics
from edge_autopilot.sensors.samples import SensorSample


def cycle_samples(step_topics: Iterable[str], messages: Iterable[tuple[str, Any]],
                  topics: SensorTopics, where: str) -> list[SensorSample]:
    """The samples of one cycle in delivery order: ``step_topics`` is the cycle's SimStep list,
    ``messages`` the cycle's sensor messages as recorded (a ROS 2 recorder may have stored them
    in another order). RecordingError, naming ``where``, when they do not match."""
    queues: dict[str, deque[Any]] = {}
    for topic, msg in messages:
        queues.setdefault(topic, deque()).append(msg)
    ordered: list[tuple[str, Any]] = []
    for topic in step_topics:
        queue = queues.get(topic)
        if not queue:
            raise RecordingError(f"{where}: the step lists a message on {topic} that is not in "
                                 "the recording")
        ordered.append((topic, queue.popleft()))
    left = sorted(t for t, q in queues.items() if q)
    if left:
        raise RecordingError(f"{where}: messages on {', '.join(left)} are not listed by the "
                             "cycle's step")
    samples, bad = topics.to_samples(ordered)
    # every message makes a sample, except that odometry and its acceleration make one
    expected = sum(1 for t, _ in ordered if t != ACCELERATION_TOPIC)
    if bad or len(samples) != expected:
        raise RecordingError(f"{where}: {bad + expected - len(samples)} of the cycle's sensor "
                             "messages do not make samples (a topic not of the scenario's rig, "
                             "a wrong type or bad content, or odometry without its "
                             "acceleration)")
    return samples
