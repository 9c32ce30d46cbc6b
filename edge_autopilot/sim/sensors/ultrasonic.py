"""Ultrasonic park-distance sensors: each reports the nearest echo inside its beam cone.

The beam is modelled as a 2-D wedge of half-angle ``half_angle_rad`` around the sensor's
boresight. For every edge of every nearby actor box the part inside the wedge is found
(Liang-Barsky clipping against the wedge's two half-planes) and its nearest point to the sensor
is the echo; the sensor reports the smallest. Closer than the minimum range (the blind zone
where the transducer is still ringing) reads as the minimum range, so an object touching the
bumper is never reported as "nothing"; beyond the maximum range reads +inf (no echo).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.constants import ULTRASONIC_MAX_RANGE_M
from edge_autopilot.sensors.calibration import UltrasonicCalibration
from edge_autopilot.sensors.samples import UltrasonicRange
from edge_autopilot.sim.sensors.settings import UltrasonicSettings
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth, box_corners

# Actors farther than this from the ego's rear axle cannot echo (sensor reach + car length).
_PREFILTER_M = ULTRASONIC_MAX_RANGE_M + 12.0


@nb.njit(cache=True)
def _clip_to_wedge(
    x0: float, y0: float, x1: float, y1: float, cos_a: float, sin_a: float
) -> tuple[float, float, bool]:
    """Parameter interval [t0, t1] of segment p0->p1 inside the wedge |bearing| <= a, x >= 0."""
    t0, t1 = 0.0, 1.0
    dx, dy = x1 - x0, y1 - y0
    # half-planes n . p <= 0: left edge (-sin a, cos a), right edge (-sin a, -cos a), x >= 0
    for nx, ny in ((-sin_a, cos_a), (-sin_a, -cos_a), (-1.0, 0.0)):
        f0 = nx * x0 + ny * y0
        fd = nx * dx + ny * dy
        if abs(fd) < 1e-12:
            if f0 > 0.0:
                return 0.0, 0.0, False
            continue
        t = -f0 / fd
        if fd > 0.0:
            t1 = min(t1, t)
        else:
            t0 = max(t0, t)
        if t0 > t1:
            return 0.0, 0.0, False
    return t0, t1, True


@nb.njit(cache=True)
def nearest_echo_m(
    sensor_x: float, sensor_y: float, sensor_yaw: float, half_angle: float,
    corners: np.ndarray,
) -> float:
    """Distance from the sensor to the nearest box outline point inside its cone (inf if none).

    ``corners`` is (n, 4, 2) in the world frame.
    """
    c, s = math.cos(sensor_yaw), math.sin(sensor_yaw)
    cos_a, sin_a = math.cos(half_angle), math.sin(half_angle)
    best = np.inf
    for i in range(corners.shape[0]):
        for e in range(4):
            ax = corners[i, e, 0] - sensor_x
            ay = corners[i, e, 1] - sensor_y
            bx = corners[i, (e + 1) % 4, 0] - sensor_x
            by = corners[i, (e + 1) % 4, 1] - sensor_y
            # into the sensor frame (x along the boresight)
            x0, y0 = c * ax + s * ay, -s * ax + c * ay
            x1, y1 = c * bx + s * by, -s * bx + c * by
            t0, t1, ok = _clip_to_wedge(x0, y0, x1, y1, cos_a, sin_a)
            if not ok:
                continue
            dx, dy = x1 - x0, y1 - y0
            len_sq = dx * dx + dy * dy
            t = 0.0 if len_sq < 1e-12 else -(x0 * dx + y0 * dy) / len_sq
            t = min(max(t, t0), t1)
            d = math.hypot(x0 + t * dx, y0 + t * dy)
            if d < best:
                best = d
    return best


class UltrasonicArray:
    def __init__(self, calibs: tuple[UltrasonicCalibration, ...],
                 settings: UltrasonicSettings) -> None:
        self.calibs = calibs
        self.settings = settings

    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> list[UltrasonicRange]:
        noise = rng.standard_normal(len(self.calibs)) * self.settings.range_noise_std_m
        near = np.hypot(actors.x_m - ego.x_m, actors.y_m - ego.y_m) < _PREFILTER_M
        corners = (
            box_corners(actors.x_m[near], actors.y_m[near], actors.yaw_rad[near],
                        actors.length_m[near], actors.width_m[near])
            if near.any() else np.zeros((0, 4, 2))
        )
        ce, se = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
        out: list[UltrasonicRange] = []
        for k, cal in enumerate(self.calibs):
            r = math.inf
            if corners.shape[0]:
                sx = ego.x_m + ce * cal.x_m - se * cal.y_m
                sy = ego.y_m + se * cal.x_m + ce * cal.y_m
                r = nearest_echo_m(sx, sy, ego.yaw_rad + cal.yaw_rad, cal.half_angle_rad,
                                   corners)
            if math.isfinite(r):
                r = max(r + float(noise[k]), cal.min_range_m)
                if r > cal.max_range_m:
                    r = math.inf
            out.append(UltrasonicRange(cal.name, stamp_ns, r, cal.min_range_m, cal.max_range_m,
                                       2.0 * cal.half_angle_rad))
        return out
