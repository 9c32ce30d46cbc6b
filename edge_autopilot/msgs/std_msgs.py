"""std_msgs/msg: Header (layout in definitions/std_msgs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.builtin_interfaces import Time


@dataclass(slots=True)
class Header:
    """Measurement time and coordinate frame of stamped data."""

    ROS_TYPE: ClassVar[str] = "std_msgs/msg/Header"
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""
