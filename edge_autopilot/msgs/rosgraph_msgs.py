"""rosgraph_msgs/msg: Clock, the simulated time published on /clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.builtin_interfaces import Time


@dataclass(slots=True)
class Clock:
    ROS_TYPE: ClassVar[str] = "rosgraph_msgs/msg/Clock"
    clock: Time = field(default_factory=Time)
