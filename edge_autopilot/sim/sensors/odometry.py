"""Odometry: wheel speed, IMU yaw rate and acceleration, and a fused pose, with white noise."""

from __future__ import annotations

import math

import numpy as np

from edge_autopilot.sensors.samples import Odometry
from edge_autopilot.sim.sensors.settings import OdometrySettings
from edge_autopilot.sim.truth import EgoTruth

# The fused pose's heading noise per metre of its position noise. OdometrySettings has no heading
# field, so the heading follows the position quality at the ratio of a reference GNSS/INS (OxTS
# RT3000 v3 datasheet, 1 sigma: 0.02 m position with RTK, 0.1 deg heading): 0.1 deg at the
# default 0.02 m, and exact when the position is exact.
HEADING_NOISE_RAD_PER_POSITION_NOISE_M = math.radians(0.1) / 0.02


def heading_noise_std_rad(settings: OdometrySettings) -> float:
    return HEADING_NOISE_RAD_PER_POSITION_NOISE_M * settings.position_noise_std_m


def wheel_speed_mps(true_speed_mps: float, noise_mps: float) -> float:
    """Wheel-speed sensors count tooth edges: a wheel at rest reads exactly zero and the reading
    is never negative (the vehicle model has no reverse)."""
    if true_speed_mps <= 0.0:
        return 0.0
    return max(true_speed_mps + noise_mps, 0.0)


class OdometryModel:
    def __init__(self, settings: OdometrySettings) -> None:
        self.settings = settings
        self._yaw_std_rad = heading_noise_std_rad(settings)

    def measure(self, ego: EgoTruth, stamp_ns: int, rng: np.random.Generator) -> Odometry:
        st = self.settings
        # one draw of six normals keeps the stream's use fixed per sample
        x_n, y_n, yaw_n, v_n, w_n, a_n = rng.standard_normal(6).tolist()
        return Odometry(
            stamp_ns=stamp_ns,
            x_m=ego.x_m + st.position_noise_std_m * x_n,
            y_m=ego.y_m + st.position_noise_std_m * y_n,
            yaw_rad=ego.yaw_rad + self._yaw_std_rad * yaw_n,
            speed_mps=wheel_speed_mps(ego.speed_mps, st.speed_noise_std_mps * v_n),
            yaw_rate_rps=ego.yaw_rate_rps + st.yaw_rate_noise_std_rps * w_n,
            accel_mps2=ego.accel_mps2 + st.accel_noise_std_mps2 * a_n,
        )
