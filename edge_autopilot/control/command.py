"""The actuator command: what every driver (expert, stack, fallback, supervisor) produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """Front-wheel steering angle (positive left) and longitudinal acceleration."""

    steer_rad: float
    accel_mps2: float
    stamp_ns: int = 0
