"""Sensor model settings: rates, latencies, noise, dropouts, clutter.

These are part of the scenario schema (``sensors:`` in a scenario file); every field has a
default close to a production sensor, so a scenario only names what it changes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from edge_autopilot.constants import (
    CAMERA_RATE_HZ,
    ODOMETRY_RATE_HZ,
    RADAR_RATE_HZ,
    ULTRASONIC_RATE_HZ,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    rate_hz: float = Field(CAMERA_RATE_HZ, gt=0, le=100)
    latency_ms: float = Field(35.0, ge=0, le=500)
    width_px: int = Field(160, ge=32, le=1920)
    height_px: int = Field(96, ge=24, le=1080)
    pixel_noise_std: float = Field(3.0, ge=0, le=100, description="Gaussian noise, 0..255 scale")
    brightness: float = Field(1.0, gt=0, le=3, description="global illumination gain")
    dropout_prob: float = Field(0.0, ge=0, le=1, description="chance a frame is not delivered")


class RadarSettings(_Strict):
    rate_hz: float = Field(RADAR_RATE_HZ, gt=0, le=100)
    latency_ms: float = Field(50.0, ge=0, le=500)
    fov_deg: float = Field(90.0, gt=0, le=180)
    max_range_m: float = Field(160.0, gt=1, le=400)
    range_noise_std_m: float = Field(0.10, ge=0, description="at 0 m")
    range_noise_per_m: float = Field(0.002, ge=0, description="added std per metre of range")
    azimuth_noise_std_deg: float = Field(0.3, ge=0)
    doppler_noise_std_mps: float = Field(0.1, ge=0)
    detection_prob: float = Field(
        0.95, ge=0, le=1, description="for a strong target at close range"
    )
    clutter_rate: float = Field(2.0, ge=0, description="mean false alarms per scan (Poisson)")
    dropout_prob: float = Field(0.0, ge=0, le=1)


class UltrasonicSettings(_Strict):
    rate_hz: float = Field(ULTRASONIC_RATE_HZ, gt=0, le=100)
    latency_ms: float = Field(20.0, ge=0, le=500)
    range_noise_std_m: float = Field(0.02, ge=0)
    dropout_prob: float = Field(0.0, ge=0, le=1)


class OdometrySettings(_Strict):
    rate_hz: float = Field(ODOMETRY_RATE_HZ, gt=0, le=1000)
    latency_ms: float = Field(5.0, ge=0, le=500)
    speed_noise_std_mps: float = Field(0.02, ge=0)
    yaw_rate_noise_std_rps: float = Field(0.002, ge=0)
    accel_noise_std_mps2: float = Field(0.05, ge=0)
    position_noise_std_m: float = Field(0.02, ge=0)


class SensorSettings(_Strict):
    camera: CameraSettings = CameraSettings()
    radar: RadarSettings = RadarSettings()
    ultrasonic: UltrasonicSettings = UltrasonicSettings()
    odometry: OdometrySettings = OdometrySettings()
