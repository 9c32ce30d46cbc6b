"""radar_msgs/msg: RadarReturn and RadarScan (ros-perception/radar_msgs layouts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class RadarReturn:
    """One detection in the radar's frame; all float32 on the wire."""

    ROS_TYPE: ClassVar[str] = "radar_msgs/msg/RadarReturn"
    range: float = 0.0  # m
    azimuth: float = 0.0  # rad, positive to the left
    elevation: float = 0.0  # rad, negative below the sensor
    doppler_velocity: float = 0.0  # m/s, negative when closing
    amplitude: float = 0.0  # dB


@dataclass(slots=True)
class RadarScan:
    """All detections of one radar cycle (a tuple after decoding)."""

    ROS_TYPE: ClassVar[str] = "radar_msgs/msg/RadarScan"
    header: Header = field(default_factory=Header)
    returns: tuple[RadarReturn, ...] = ()
