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
    """A radar's mount; ``fov_deg``/``max_range_m`` None means the scenario's radar settings
    (the front radar), a number fixes them for this unit (the shorter-range corner radars)."""

    name: str
    x_m: float
    y_m: float
    z_m: float
    yaw_rad: float
    fov_deg: float | None = None
    max_range_m: float | None = None


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
    radars: tuple[RadarCalibration, ...]  # the front radar first
    ultrasonics: tuple[UltrasonicCalibration, ...]

    @property
    def radar(self) -> RadarCalibration:
        """The front (long-range) radar."""
        return self.radars[0]


CAMERA_NAMES = ("front", "front_left", "front_right")
RADAR_NAMES = ("front", "rear_left", "rear_right")  # the front radar first
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
    """The reference vehicle's sensor set: 3 cameras, a front radar, 2 rear corner radars,
    12 ultrasonics."""
    cam_x, cam_z = 1.6, 1.4  # behind the windscreen
    cameras = (
        CameraCalibration("front", camera_width_px, camera_height_px, math.radians(60.0),
                          cam_x, 0.0, cam_z, 0.0, math.radians(2.0)),
        CameraCalibration("front_left", camera_width_px, camera_height_px, math.radians(80.0),
                          cam_x, 0.3, cam_z, math.radians(55.0), math.radians(2.0)),
        CameraCalibration("front_right", camera_width_px, camera_height_px, math.radians(80.0),
                          cam_x, -0.3, cam_z, math.radians(-55.0), math.radians(2.0)),
    )
    half_w = 0.5 * EGO_WIDTH_M
    # a 77 GHz long-range radar in the front bumper (field of view and range: RadarSettings),
    # and two short-range corner radars in the rear bumper looking back and out, the usual
    # blind-spot / lane-change-assist set (e.g. Continental SRR: about +-75 deg, 80-100 m);
    # without them no sensor sees a fast car closing from behind in the next lane
    corner_fov_deg, corner_range_m = 150.0, 80.0
    corner_x = -EGO_REAR_AXLE_TO_BACK_M
    radars = (
        RadarCalibration(RADAR_NAMES[0], EGO_REAR_AXLE_TO_FRONT_M, 0.0, 0.5, 0.0),
        RadarCalibration(RADAR_NAMES[1], corner_x, half_w - 0.1, 0.5, math.radians(135.0),
                         corner_fov_deg, corner_range_m),
        RadarCalibration(RADAR_NAMES[2], corner_x, -half_w + 0.1, 0.5, math.radians(-135.0),
                         corner_fov_deg, corner_range_m),
    )
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
    return SensorRigCalibration(cameras, radars, ultrasonics)
