"""diagnostic_msgs/msg: KeyValue, DiagnosticStatus, DiagnosticArray.

``byte`` fields and constants are Python ints (0..255) here, not rclpy's 1-byte ``bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class KeyValue:
    ROS_TYPE: ClassVar[str] = "diagnostic_msgs/msg/KeyValue"
    key: str = ""
    value: str = ""


@dataclass(slots=True)
class DiagnosticStatus:
    """State of one component; ``level`` is one of OK, WARN, ERROR, STALE."""

    ROS_TYPE: ClassVar[str] = "diagnostic_msgs/msg/DiagnosticStatus"
    OK: ClassVar[int] = 0
    WARN: ClassVar[int] = 1
    ERROR: ClassVar[int] = 2
    STALE: ClassVar[int] = 3
    level: int = 0
    name: str = ""
    message: str = ""
    hardware_id: str = ""
    values: tuple[KeyValue, ...] = ()


@dataclass(slots=True)
class DiagnosticArray:
    ROS_TYPE: ClassVar[str] = "diagnostic_msgs/msg/DiagnosticArray"
    header: Header = field(default_factory=Header)
    status: tuple[DiagnosticStatus, ...] = ()
