"""edge_autopilot_msgs/msg: the stack's own messages.

Their .msg files (definitions/edge_autopilot_msgs/msg/*.msg) are package data, so a ROS 2 user can
build a rosidl interface package named ``edge_autopilot_msgs`` from them; units are in the .msg
comments and in the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class Track:
    """One fused object track in the vehicle frame (base_link)."""

    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/Track"
    id: int = 0
    x_m: float = 0.0
    y_m: float = 0.0
    vx_mps: float = 0.0
    vy_mps: float = 0.0
    pos_std_m: float = 0.0
    vel_std_mps: float = 0.0
    hits: int = 0


@dataclass(slots=True)
class TrackArray:
    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/TrackArray"
    header: Header = field(default_factory=Header)
    tracks: tuple[Track, ...] = ()


@dataclass(slots=True)
class TrajectoryPoint:
    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/TrajectoryPoint"
    t_s: float = 0.0
    x_m: float = 0.0
    y_m: float = 0.0
    speed_mps: float = 0.0
    accel_mps2: float = 0.0


@dataclass(slots=True)
class Trajectory:
    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/Trajectory"
    header: Header = field(default_factory=Header)
    points: tuple[TrajectoryPoint, ...] = ()
    source: str = ""  # "network"


@dataclass(slots=True)
class LoopTiming:
    """Timing of one loop cycle; ``stage_ns`` is indexed by the STAGE_* constants."""

    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/LoopTiming"
    STAGE_PERCEPTION: ClassVar[int] = 0
    STAGE_FUSION: ClassVar[int] = 1
    STAGE_PLANNING: ClassVar[int] = 2
    STAGE_CONTROL: ClassVar[int] = 3
    STAGE_SAFETY: ClassVar[int] = 4
    RAN_PERCEPTION: ClassVar[int] = 1
    RAN_PLANNING: ClassVar[int] = 2
    RAN_CONTROL: ClassVar[int] = 4
    header: Header = field(default_factory=Header)
    cycle: int = 0
    wake_latency_ns: int = 0
    stage_ns: tuple[int, ...] = ()
    end_to_end_ns: int = 0
    deadline_missed: bool = False
    fallback: bool = False
    networks_ran: int = 0


@dataclass(slots=True)
class SafetyState:
    """The safety monitor's degradation level and why."""

    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/SafetyState"
    NOMINAL: ClassVar[int] = 0
    DEGRADED: ClassVar[int] = 1
    MRM: ClassVar[int] = 2
    EMERGENCY: ClassVar[int] = 3
    header: Header = field(default_factory=Header)
    level: int = 0
    reasons: tuple[str, ...] = ()
    command_replaced: bool = False
    speed_cap_mps: float = float("inf")


@dataclass(slots=True)
class SimStep:
    """Sent after a simulated cycle's sensor messages: their topics in delivery order."""

    ROS_TYPE: ClassVar[str] = "edge_autopilot_msgs/msg/SimStep"
    header: Header = field(default_factory=Header)
    cycle: int = 0
    topics: tuple[str, ...] = ()
