"""geometry_msgs/msg: the pose, twist and accel types odometry needs.

Fixed arrays (``float64[36] covariance``) are tuples; serialize also takes any sequence of 36
numbers (a list, a numpy array).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs._types import ZERO_COVARIANCE
from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class Point:
    """Position (m)."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Point"
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(slots=True)
class Quaternion:
    """Orientation; the default is the identity (w = 1), as the ROS 2 .msg declares."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Quaternion"
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    w: float = 1.0


@dataclass(slots=True)
class Pose:
    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Pose"
    position: Point = field(default_factory=Point)
    orientation: Quaternion = field(default_factory=Quaternion)


@dataclass(slots=True)
class PoseWithCovariance:
    """Pose with its row-major 6x6 covariance (x, y, z, rot x, rot y, rot z)."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/PoseWithCovariance"
    pose: Pose = field(default_factory=Pose)
    covariance: tuple[float, ...] = ZERO_COVARIANCE


@dataclass(slots=True)
class Vector3:
    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Vector3"
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(slots=True)
class Twist:
    """Linear (m/s) and angular (rad/s) velocity."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Twist"
    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@dataclass(slots=True)
class TwistWithCovariance:
    """Twist with its row-major 6x6 covariance (vx, vy, vz, wx, wy, wz)."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/TwistWithCovariance"
    twist: Twist = field(default_factory=Twist)
    covariance: tuple[float, ...] = ZERO_COVARIANCE


@dataclass(slots=True)
class Accel:
    """Linear (m/s^2) and angular (rad/s^2) acceleration."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/Accel"
    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@dataclass(slots=True)
class AccelWithCovariance:
    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/AccelWithCovariance"
    accel: Accel = field(default_factory=Accel)
    covariance: tuple[float, ...] = ZERO_COVARIANCE


@dataclass(slots=True)
class AccelWithCovarianceStamped:
    """The ego acceleration next to nav_msgs/Odometry (which has none), as Autoware does."""

    ROS_TYPE: ClassVar[str] = "geometry_msgs/msg/AccelWithCovarianceStamped"
    header: Header = field(default_factory=Header)
    accel: AccelWithCovariance = field(default_factory=AccelWithCovariance)
