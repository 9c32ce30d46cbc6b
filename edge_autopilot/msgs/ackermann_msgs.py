"""ackermann_msgs/msg: AckermannDrive and AckermannDriveStamped (ros-drivers/ackermann_msgs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class AckermannDrive:
    """Drive command; all float32 on the wire."""

    ROS_TYPE: ClassVar[str] = "ackermann_msgs/msg/AckermannDrive"
    steering_angle: float = 0.0  # rad, positive left
    steering_angle_velocity: float = 0.0  # rad/s
    speed: float = 0.0  # m/s
    acceleration: float = 0.0  # m/s^2
    jerk: float = 0.0  # m/s^3


@dataclass(slots=True)
class AckermannDriveStamped:
    ROS_TYPE: ClassVar[str] = "ackermann_msgs/msg/AckermannDriveStamped"
    header: Header = field(default_factory=Header)
    drive: AckermannDrive = field(default_factory=AckermannDrive)
