"""Ground truth of the simulated world at one instant.

Only the simulator, training and evaluation read this; the stack never sees it (it sees
``edge_autopilot.sensors.samples``). Actor data is held as parallel arrays so the sensor models
can work on all actors at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class ActorKind(IntEnum):
    CAR = 0
    TRUCK = 1
    PEDESTRIAN = 2
    CYCLIST = 3
    STATIC = 4


# Default box (length, width, height) in metres per kind.
KIND_DIMENSIONS_M: dict[ActorKind, tuple[float, float, float]] = {
    ActorKind.CAR: (4.6, 1.85, 1.5),
    ActorKind.TRUCK: (10.0, 2.5, 3.5),
    ActorKind.PEDESTRIAN: (0.5, 0.6, 1.75),
    ActorKind.CYCLIST: (1.8, 0.6, 1.7),
    ActorKind.STATIC: (0.8, 0.8, 0.8),
}

# Typical 77 GHz radar cross sections (dBsm): cars ~10, trucks ~20, pedestrians ~-8 (published
# measurements, e.g. Yamada et al., "Radar cross section for pedestrian in 76GHz band", 2005).
KIND_RCS_DBSM: dict[ActorKind, float] = {
    ActorKind.CAR: 10.0,
    ActorKind.TRUCK: 20.0,
    ActorKind.PEDESTRIAN: -8.0,
    ActorKind.CYCLIST: -2.0,
    ActorKind.STATIC: 3.0,
}

# Camera base colour (RGB 0..255) per kind; the renderer shades faces by their orientation.
KIND_COLOUR_RGB: dict[ActorKind, tuple[int, int, int]] = {
    ActorKind.CAR: (40, 70, 170),
    ActorKind.TRUCK: (200, 200, 205),
    ActorKind.PEDESTRIAN: (200, 60, 50),
    ActorKind.CYCLIST: (230, 180, 40),
    ActorKind.STATIC: (240, 120, 20),
}


@dataclass(slots=True)
class EgoTruth:
    """Ego pose and motion. (x, y) is the rear axle centre (the vehicle frame origin)."""

    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    accel_mps2: float
    yaw_rate_rps: float
    steer_rad: float
    s_m: float  # Frenet position of the rear axle centre
    d_m: float


@dataclass(slots=True)
class ActorsTruth:
    """All actors, as parallel arrays of length n. (x, y) is the box centre on the ground.

    ``vx_mps``/``vy_mps`` are world-frame velocities; ``speed_mps`` is their norm.
    """

    actor_id: tuple[str, ...]
    kind: np.ndarray  # int8 ActorKind
    x_m: np.ndarray
    y_m: np.ndarray
    yaw_rad: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    height_m: np.ndarray
    vx_mps: np.ndarray
    vy_mps: np.ndarray
    s_m: np.ndarray
    d_m: np.ndarray

    @property
    def count(self) -> int:
        return int(self.x_m.shape[0])

    @property
    def speed_mps(self) -> np.ndarray:
        return np.hypot(self.vx_mps, self.vy_mps)


def box_corners(
    x_m: np.ndarray, y_m: np.ndarray, yaw_rad: np.ndarray, length_m: np.ndarray, width_m: np.ndarray
) -> np.ndarray:
    """Corners of oriented boxes, shape (n, 4, 2), counter-clockwise from front-left."""
    c = np.cos(yaw_rad)[:, None]
    s = np.sin(yaw_rad)[:, None]
    hl = 0.5 * np.asarray(length_m)[:, None]
    hw = 0.5 * np.asarray(width_m)[:, None]
    lx = np.array([1.0, -1.0, -1.0, 1.0]) * hl
    ly = np.array([1.0, 1.0, -1.0, -1.0]) * hw
    out = np.empty((np.shape(x_m)[0], 4, 2))
    out[:, :, 0] = np.asarray(x_m)[:, None] + lx * c - ly * s
    out[:, :, 1] = np.asarray(y_m)[:, None] + lx * s + ly * c
    return out
