"""builtin_interfaces/msg: Time and Duration (layouts in definitions/builtin_interfaces)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(slots=True)
class Time:
    """A point in time: ``sec`` (int32) + ``nanosec`` (uint32, < 1e9) since the epoch."""

    ROS_TYPE: ClassVar[str] = "builtin_interfaces/msg/Time"
    sec: int = 0
    nanosec: int = 0


@dataclass(slots=True)
class Duration:
    """A span of time: ``sec`` (int32) + ``nanosec`` (uint32, < 1e9)."""

    ROS_TYPE: ClassVar[str] = "builtin_interfaces/msg/Duration"
    sec: int = 0
    nanosec: int = 0
