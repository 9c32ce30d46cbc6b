"""The project's topics: name -> (message type, QoS), and the ROS 2 naming rules they follow.

Sensor streams are best-effort keep-last 5 (a late camera frame is worth less than the next
one); everything else is reliable keep-last 10. Durability is always volatile: a node that
starts late does not get old commands replayed to it. Topics outside the table are allowed
when the caller names the message type; they get the reliable default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from edge_autopilot.errors import MessageError, TransportError
from edge_autopilot.msgs import ros_type
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray
from edge_autopilot.msgs.edge_autopilot_msgs import (
    LoopTiming,
    SafetyState,
    SimStep,
    TrackArray,
    Trajectory,
)
from edge_autopilot.msgs.geometry_msgs import AccelWithCovarianceStamped
from edge_autopilot.msgs.nav_msgs import Odometry
from edge_autopilot.msgs.radar_msgs import RadarScan
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.sensors.calibration import CAMERA_NAMES, RADAR_NAMES, ULTRASONIC_NAMES

# --- names (the one place they are spelled) --------------------------------------------------
TOPIC_ODOMETRY = "/vehicle/odometry"
# nav_msgs/Odometry has no acceleration; Autoware's convention carries it beside (same stamp)
TOPIC_ACCELERATION = "/vehicle/acceleration"
TOPIC_COMMAND = "/control/command"
TOPIC_DIAGNOSTICS = "/diagnostics"
TOPIC_CLOCK = "/clock"
TOPIC_TRACKS = "/autopilot/tracks"
TOPIC_TRAJECTORY = "/autopilot/trajectory"
TOPIC_LOOP_TIMING = "/autopilot/loop_timing"
TOPIC_SAFETY_STATE = "/autopilot/safety_state"
TOPIC_SIM_STEP = "/autopilot/sim/step"
TOPIC_SUPERVISOR_COMMAND = "/autopilot/supervisor/command"


def camera_topic(sensor_id: str) -> str:
    return f"/sensing/camera/{sensor_id}/image_raw"


def radar_topic(sensor_id: str) -> str:
    return f"/sensing/radar/{sensor_id}/scan"


def ultrasonic_topic(sensor_id: str) -> str:
    return f"/sensing/ultrasonic/{sensor_id}/range"



@dataclass(frozen=True, slots=True)
class QoS:
    """The part of ROS 2 QoS this project varies; durability is always volatile."""

    reliable: bool
    depth: int

    def __str__(self) -> str:
        kind = "reliable" if self.reliable else "best-effort"
        return f"{kind} keep-last {self.depth}"


SENSOR_QOS = QoS(reliable=False, depth=5)
DEFAULT_QOS = QoS(reliable=True, depth=10)

# ROS 2 topic names (absolute form only: nodes here do not use namespaces or remapping).
_TOPIC_RE = re.compile(r"^(/[A-Za-z_][A-Za-z0-9_]*)+$")


@cache
def topic_table() -> Mapping[str, tuple[type, QoS]]:
    """Every topic the project uses, with its message type and QoS."""
    table: dict[str, tuple[type, QoS]] = {}
    for cam in CAMERA_NAMES:
        table[camera_topic(cam)] = (Image, SENSOR_QOS)
    for radar in RADAR_NAMES:
        table[radar_topic(radar)] = (RadarScan, SENSOR_QOS)
    for us in ULTRASONIC_NAMES:
        table[ultrasonic_topic(us)] = (Range, SENSOR_QOS)
    # odometry and its acceleration are sensor streams too
    table[TOPIC_ODOMETRY] = (Odometry, SENSOR_QOS)
    table[TOPIC_ACCELERATION] = (AccelWithCovarianceStamped, SENSOR_QOS)
    for name, msg_type in (
        (TOPIC_COMMAND, AckermannDriveStamped),
        (TOPIC_DIAGNOSTICS, DiagnosticArray),
        (TOPIC_CLOCK, Clock),
        (TOPIC_TRACKS, TrackArray),
        (TOPIC_TRAJECTORY, Trajectory),
        (TOPIC_LOOP_TIMING, LoopTiming),
        (TOPIC_SAFETY_STATE, SafetyState),
        (TOPIC_SIM_STEP, SimStep),
        (TOPIC_SUPERVISOR_COMMAND, AckermannDriveStamped),
    ):
        table[name] = (msg_type, DEFAULT_QOS)
    return MappingProxyType(table)


def check_topic_name(topic: str) -> str:
    """``topic`` if it is an absolute ROS 2 topic name, else TransportError."""
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic):
        raise TransportError(
            f"invalid topic name {topic!r}: use an absolute ROS 2 name such as "
            "'/vehicle/odometry' (letters, digits and '_', each part not starting with a digit)"
        )
    return topic


def qos_for(topic: str) -> QoS:
    """The QoS of ``topic``: the table's entry, or reliable keep-last 10 for other topics."""
    entry = topic_table().get(check_topic_name(topic))
    return entry[1] if entry else DEFAULT_QOS


def topic_type(topic: str) -> type:
    """The message class of a topic in the table; TransportError for other topics."""
    entry = topic_table().get(check_topic_name(topic))
    if entry is None:
        raise TransportError(
            f"topic {topic!r} is not one of the project's topics; pass its message type "
            "explicitly (e.g. bus.subscribe(topic, Range))"
        )
    return entry[0]


def resolve(topic: str, msg_type: type | None) -> tuple[type, QoS]:
    """Message type and QoS for an endpoint on ``topic``, checking ``msg_type`` against the table.

    A known topic used with another type is refused here, at set-up, rather than showing up as
    "wrong type" drops at run time.
    """
    check_topic_name(topic)
    entry = topic_table().get(topic)
    if msg_type is None:
        if entry is None:
            topic_type(topic)  # raises with the explanation
        return entry  # type: ignore[return-value]
    try:
        name = ros_type(msg_type)
    except MessageError as e:
        raise TransportError(f"{msg_type!r} is not a message class: {e}") from None
    if entry is not None and entry[0] is not msg_type:
        raise TransportError(
            f"topic {topic!r} carries {ros_type(entry[0])}, not {name}"
        )
    return msg_type, entry[1] if entry else DEFAULT_QOS


def is_sensor_topic(topic: str) -> bool:
    """A sensor stream of the project's rig (best-effort, keep-last 5)."""
    entry = topic_table().get(topic)
    return entry is not None and entry[1] == SENSOR_QOS


def dds_topic_name(topic: str) -> str:
    """ROS 2's DDS topic for a ROS topic: ``/control/command`` -> ``rt/control/command``."""
    return "rt" + check_topic_name(topic)
