"""ROS 2 transport through rclpy: a thin adapter, for hosts with ROS 2 Humble or Jazzy sourced.

NOT TESTED in this repository's CI (rclpy cannot be installed from PyPI); the ``dds`` transport
is the tested path to the same wire. Kept thin on purpose: messages cross rclpy as serialized
CDR (``Publisher.publish(bytes)`` and ``create_subscription(..., raw=True)``, both in rclpy since
Galactic), so the only per-type knowledge needed from ROS 2 is the generated message class,
imported by name (``sensor_msgs/msg/Range`` -> ``sensor_msgs.msg.Range``) for its type support.
Our codec produces and reads the bytes, exactly as on the other transports.

``edge_autopilot_msgs`` types exist in ROS 2 only once that interface package is built with
colcon; until then topics that carry them cannot be opened here (TransportError says so).

rclpy is imported inside this module only, and only when a bus is made.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, DISTROS, ros_type, serialize
from edge_autopilot.transport.bus import Bus
from edge_autopilot.transport.topics import QoS

_NEEDS_RCLPY = ("transport 'ros2' needs rclpy (ROS 2 Humble/Jazzy sourced); use --transport dds "
                "to speak ROS 2's wire protocol without it")


def _ros_message_class(type_name: str) -> type:
    pkg, _, name = type_name.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        raise TransportError(f"ROS 2 message type {type_name} is not available: build and "
                             f"source the {pkg} interface package") from None


def _sourced_distro() -> str:
    sourced = os.environ.get("ROS_DISTRO", "")
    if sourced and sourced not in DISTROS:
        raise TransportError(f"ROS_DISTRO={sourced} is not supported ({', '.join(DISTROS)}); "
                             "pass the distro whose message layouts it uses")
    return sourced or DEFAULT_DISTRO


class Ros2Bus(Bus):
    kind = "ros2"

    def __init__(self, distro: str | None = None, *, node_name: str = "edge_autopilot",
                 domain_id: int | None = None, spin_thread: bool = True) -> None:
        try:
            import rclpy
            from rclpy.context import Context
            from rclpy.executors import SingleThreadedExecutor
        except ImportError:
            raise TransportError(_NEEDS_RCLPY) from None
        super().__init__(distro or _sourced_distro())
        self._rclpy = rclpy
        self._context = Context()
        init_args: dict[str, Any] = {"context": self._context}
        if domain_id is not None:
            init_args["domain_id"] = domain_id
        rclpy.init(**init_args)
        self._node = rclpy.create_node(node_name, context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._thread: threading.Thread | None = None
        if spin_thread:
            self._thread = threading.Thread(target=self._run, name="ros2-bus", daemon=True)
            self._thread.start()

    def _profile(self, qos: QoS) -> Any:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        return QoSProfile(
            reliability=ReliabilityPolicy.RELIABLE if qos.reliable
            else ReliabilityPolicy.BEST_EFFORT,
            history=HistoryPolicy.KEEP_LAST, depth=qos.depth,
            durability=DurabilityPolicy.VOLATILE)

    def _open_writer(self, topic: str, msg_type: type, qos: QoS
                     ) -> tuple[Callable[[Any], None], Callable[[], int]]:
        pub = self._node.create_publisher(_ros_message_class(ros_type(msg_type)), topic,
                                          self._profile(qos))
        distro = self.distro

        def send(msg: Any) -> None:
            pub.publish(serialize(msg, distro))  # bytes: rclpy publishes them as serialized

        return send, pub.get_subscription_count

    def _open_reader(self, topic: str, msg_type: type, qos: QoS) -> None:
        type_name = ros_type(msg_type)

        def on_bytes(data: bytes) -> None:
            # rmw already matched the type by name; decoding is still ours to check.
            self._dispatch_bytes(topic, type_name, data, time.monotonic_ns())

        self._node.create_subscription(_ros_message_class(type_name), topic, on_bytes,
                                       self._profile(qos), raw=True)

    @property
    def needs_spin(self) -> bool:
        return self._thread is None

    def spin_once(self, timeout_s: float = 0.0) -> int:
        if self._thread is not None:
            raise TransportError("this ros2 bus spins on its own thread; spin_once is for "
                                 "buses made with spin_thread=False")
        self._executor.spin_once(timeout_sec=timeout_s)
        return 0

    def _run(self) -> None:
        while not self._closed and self._context.ok():
            self._executor.spin_once(timeout_sec=0.1)

    def _shutdown(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._executor.shutdown()
        self._node.destroy_node()
        self._rclpy.shutdown(context=self._context)
