"""Where each sensor sits on the vehicle and what it sees: extrinsics and intrinsics.

Shared by the simulator (to render and measure) and the stack (to project detections into the
vehicle frame). Positions are in the vehicle frame (rear axle centre, x forward, y left, z up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_autopilot.constants import (
    EGO_REAR_AXLE_TO_BACK_M,
    EGO_REAR_AXLE_TO_FRONT_M,
    EGO_WIDTH_M,
    ULTRASONIC_MAX_RANGE_M,
    ULTRASONIC_MIN_RANGE_M,
)


@dataclass(frozen=True)
class CameraCalibration:
    """Pinhole camera: optical axis along the mount's yaw, pitched down by ``pitch_rad``."""

    name: str
    width_px: int
    height_px: int
    hfov_rad: float
    x_m: float
    y_m: float
    z_m: float
    yaw_rad: float
    pitch_rad: float = 0.0

    @property
    def fx_px(self) -> float:
        return 0.5 * self.width_px / math.tan(0.5 * self.hfov_rad)

    @property
    def fy_px(self) -> float:
        return self.fx_px  # square pixels

    @property
    def cx_px(self) -> float:
        return 0.5 * self.width_px

    @property
    def cy_px(self) -> float:
        return 0.5 * self.height_px


@dataclass(frozen=True)
class RadarCalibration:
    name: str
    x_m: float
    y_m: float
    z_m: float
    yaw_rad: float


@dataclass(frozen=True)
class UltrasonicCalibration:
    name: str
    x_m: float
    y_m: float
    yaw_rad: float
    half_angle_rad: float
    min_range_m: float = ULTRASONIC_MIN_RANGE_M
    max_range_m: float = ULTRASONIC_MAX_RANGE_M


@dataclass(frozen=True)
class SensorRigCalibration:
    cameras: tuple[CameraCalibration, ...]
    radar: RadarCalibration
    ultrasonics: tuple[UltrasonicCalibration, ...]


CAMERA_NAMES = ("front", "front_left", "front_right")
ULTRASONIC_NAMES = (
    "front_left_side",
    "front_left_corner",
    "front_left_center",
    "front_right_center",
    "front_right_corner",
    "front_right_side",
    "rear_left_side",
    "rear_left_corner",
    "rear_left_center",
    "rear_right_center",
    "rear_right_corner",
    "rear_right_side",
)


def default_rig(camera_width_px: int = 160, camera_height_px: int = 96) -> SensorRigCalibration:
    """The reference vehicle's sensor set: 3 cameras, 1 front radar, 12 ultrasonics."""
    cam_x, cam_z = 1.6, 1.4  # behind the windscreen
    cameras = (
        CameraCalibration("front", camera_width_px, camera_height_px, math.radians(60.0),
                          cam_x, 0.0, cam_z, 0.0, math.radians(2.0)),
        CameraCalibration("front_left", camera_width_px, camera_height_px, math.radians(80.0),
                          cam_x, 0.3, cam_z, math.radians(55.0), math.radians(2.0)),
        CameraCalibration("front_right", camera_width_px, camera_height_px, math.radians(80.0),
                          cam_x, -0.3, cam_z, math.radians(-55.0), math.radians(2.0)),
    )
    # a 77 GHz front radar in the bumper; field of view and range are RadarSettings
    radar = RadarCalibration("front", EGO_REAR_AXLE_TO_FRONT_M, 0.0, 0.5, 0.0)
    half_w = 0.5 * EGO_WIDTH_M
    front_x = EGO_REAR_AXLE_TO_FRONT_M
    rear_x = -EGO_REAR_AXLE_TO_BACK_M
    # (x, y, yaw) per sensor, front bumper left to right then rear bumper left to right
    front = [
        (front_x - 0.55, half_w, math.radians(90.0)),
        (front_x - 0.15, half_w - 0.15, math.radians(45.0)),
        (front_x, 0.35, math.radians(5.0)),
        (front_x, -0.35, math.radians(-5.0)),
        (front_x - 0.15, -half_w + 0.15, math.radians(-45.0)),
        (front_x - 0.55, -half_w, math.radians(-90.0)),
    ]
    rear = [
        (rear_x + 0.45, half_w, math.radians(90.0)),
        (rear_x + 0.12, half_w - 0.15, math.radians(135.0)),
        (rear_x, 0.35, math.radians(175.0)),
        (rear_x, -0.35, math.radians(-175.0)),
        (rear_x + 0.12, -half_w + 0.15, math.radians(-135.0)),
        (rear_x + 0.45, -half_w, math.radians(-90.0)),
    ]
    ultrasonics = tuple(
        UltrasonicCalibration(name, x, y, yaw, math.radians(30.0))
        for name, (x, y, yaw) in zip(ULTRASONIC_NAMES, front + rear, strict=True)
    )
    return SensorRigCalibration(cameras, radar, ultrasonics)
