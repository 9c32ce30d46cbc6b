"""nav_msgs/msg: Odometry (layout in definitions/nav_msgs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.geometry_msgs import PoseWithCovariance, TwistWithCovariance
from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class Odometry:
    """Pose in ``header.frame_id`` and twist in ``child_frame_id``."""

    ROS_TYPE: ClassVar[str] = "nav_msgs/msg/Odometry"
    header: Header = field(default_factory=Header)
    child_frame_id: str = ""
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = field(default_factory=TwistWithCovariance)
