"""Sensor samples as delivered to the stack (sim, DDS or ROS 2 alike).

Every sample carries ``stamp_ns``: the time the measurement was taken (ROS ``header.stamp``),
not the time it arrived; the difference is the sensor's latency. Frames: the vehicle frame is
ROS ``base_link`` (rear axle centre, x forward, y left, z up); world poses are x east, y north.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class CameraFrame:
    sensor_id: str
    stamp_ns: int
    image_rgb: np.ndarray  # (height, width, 3) uint8, row 0 at the top


@dataclass(slots=True)
class RadarScan:
    """One radar cycle's detections (radar_msgs/RadarScan layout), in the radar's own frame.

    Azimuth is positive to the left; doppler is the radial velocity, negative when closing.
    """

    sensor_id: str
    stamp_ns: int
    range_m: np.ndarray
    azimuth_rad: np.ndarray
    elevation_rad: np.ndarray
    doppler_mps: np.ndarray
    amplitude_db: np.ndarray

    @property
    def count(self) -> int:
        return int(self.range_m.shape[0])


@dataclass(slots=True)
class UltrasonicRange:
    """Nearest echo of one ultrasonic sensor (sensor_msgs/Range semantics: +inf = no echo)."""

    sensor_id: str
    stamp_ns: int
    range_m: float
    min_range_m: float
    max_range_m: float
    field_of_view_rad: float


@dataclass(slots=True)
class Odometry:
    """Ego motion (nav_msgs/Odometry content the stack uses)."""

    stamp_ns: int
    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    yaw_rate_rps: float
    accel_mps2: float
    sensor_id: str = field(default="odometry")


SensorSample = CameraFrame | RadarScan | UltrasonicRange | Odometry
