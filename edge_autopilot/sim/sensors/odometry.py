"""Odometry: wheel speed, IMU yaw rate and acceleration, and a fused pose, with white noise."""

from __future__ import annotations

import numpy as np

from edge_autopilot.sensors.samples import Odometry
from edge_autopilot.sim.sensors.settings import OdometrySettings
from edge_autopilot.sim.truth import EgoTruth


class OdometryModel:
    def __init__(self, settings: OdometrySettings) -> None:
        self.settings = settings

    def measure(self, ego: EgoTruth, stamp_ns: int, rng: np.random.Generator) -> Odometry:
        st = self.settings
        # one draw of five normals keeps the stream's consumption fixed per sample
        n = rng.standard_normal(5)
        return Odometry(
            stamp_ns=stamp_ns,
            x_m=ego.x_m + st.position_noise_std_m * float(n[0]),
            y_m=ego.y_m + st.position_noise_std_m * float(n[1]),
            yaw_rad=ego.yaw_rad,
            speed_mps=max(ego.speed_mps + st.speed_noise_std_mps * float(n[2]), 0.0),
            yaw_rate_rps=ego.yaw_rate_rps + st.yaw_rate_noise_std_rps * float(n[3]),
            accel_mps2=ego.accel_mps2 + st.accel_noise_std_mps2 * float(n[4]),
        )
