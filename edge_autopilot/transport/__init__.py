"""One small Bus API for every node, over four transports.

    from edge_autopilot.transport import make_bus
    with make_bus("dds", domain_id=7) as bus:
        sub = bus.subscribe("/vehicle/odometry")          # type and QoS from topics.py
        cmd = bus.publisher("/control/command")
        ...
        odom = sub.latest()                               # never blocks

Kinds: ``inproc`` (default; one process, synchronous, zero-copy), ``zmq`` (processes on one
host, broker-less), ``dds`` (Cyclone DDS with ROS 2's wire conventions: ROS 2 nodes on
rmw_cyclonedds see it) and ``ros2`` (rclpy, when ROS 2 is sourced). Implementations are imported
only when asked for, so the optional packages stay optional; the stack itself never imports one.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from edge_autopilot.errors import TransportError
from edge_autopilot.transport.bus import (
    Bus,
    BusStats,
    Publisher,
    Subscription,
    SubscriptionStats,
)
from edge_autopilot.transport.topics import (
    DEFAULT_QOS,
    SENSOR_QOS,
    QoS,
    qos_for,
    topic_table,
    topic_type,
)

KINDS = ("inproc", "zmq", "dds", "ros2")

_NEEDS = {
    "zmq": "transport 'zmq' needs pyzmq (pip install pyzmq)",
    "dds": "transport 'dds' needs the cyclonedds Python package (pip install cyclonedds)",
    "ros2": "transport 'ros2' needs rclpy (ROS 2 Humble/Jazzy sourced); use --transport dds "
            "to speak ROS 2's wire protocol without it",
}


_IMPLEMENTATIONS = {
    "inproc": ("edge_autopilot.transport.inproc", "InprocBus"),
    "zmq": ("edge_autopilot.transport.zmqbus", "ZmqBus"),
    "dds": ("edge_autopilot.transport.dds", "DdsBus"),
    "ros2": ("edge_autopilot.transport.ros2", "Ros2Bus"),
}


def bus_class(kind: str) -> type[Bus]:
    """The class implementing ``kind``, imported now (TransportError if it cannot be)."""
    if kind not in _IMPLEMENTATIONS:
        raise TransportError(f"unknown transport {kind!r}; choose one of {', '.join(KINDS)}")
    module, name = _IMPLEMENTATIONS[kind]
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except ImportError as e:
        raise TransportError(f"{_NEEDS[kind]} ({e})") from None


def make_bus(kind: str = "inproc", **options: Any) -> Bus:
    """A bus of ``kind``; ``options`` go to its class (``distro``, ``domain_id``, ...)."""
    cls = bus_class(kind)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as e:
        # A misspelt option is a user mistake: say so without a stack trace.
        raise TransportError(f"bad option for transport {kind!r}: {e}") from None
    return cls(**options)


__all__ = [
    "DEFAULT_QOS",
    "KINDS",
    "SENSOR_QOS",
    "Bus",
    "BusStats",
    "Publisher",
    "QoS",
    "Subscription",
    "SubscriptionStats",
    "TransportError",
    "bus_class",
    "make_bus",
    "qos_for",
    "topic_table",
    "topic_type",
]
