"""Ultrasonic park-distance sensors: each reports the nearest echo inside its beam cone.

The beam is a 2-D wedge of half-angle ``half_angle_rad`` around the sensor's boresight. For
every edge of every nearby actor box, the part of the edge inside the wedge is found (Liang-Barsky
clipping against the wedge's two half-planes) and the nearest point of that part is the edge's
echo; the sensor reports the smallest. Clipping first matters: the nearest point of an edge that
crosses the cone boundary is often outside the cone, and the echo is then where the edge enters
the cone. Closer than the minimum range (the blind zone where the transducer is still ringing)
reads as the minimum range, so an object touching the bumper never reads as "nothing"; beyond
the maximum range reads +inf (no echo).

All sensors and all actors go through one numba kernel; actors that cannot be within reach of
any sensor are skipped first.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import UltrasonicCalibration
from edge_autopilot.sensors.samples import UltrasonicRange
from edge_autopilot.sim.sensors.settings import UltrasonicSettings
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth
from edge_autopilot.sim.wire import float32_exact


@nb.njit(cache=True)
def _clip_to_wedge(x0: float, y0: float, x1: float, y1: float, cos_a: float, sin_a: float
                   ) -> tuple[float, float, bool]:
    """Parameter interval [t0, t1] of the segment p0 -> p1 inside the wedge |bearing| <= a
    (a < 90 deg, apex at the origin, boresight +x); ok is False when no part is inside."""
    t0, t1 = 0.0, 1.0
    dx, dy = x1 - x0, y1 - y0
    # inside both half-planes n . p <= 0 with n = (-sin a, +cos a) (left boundary) and
    # n = (-sin a, -cos a) (right boundary); for a < 90 deg together they imply x >= 0
    for nx, ny in ((-sin_a, cos_a), (-sin_a, -cos_a)):
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
def nearest_echo_m(sensor_x: float, sensor_y: float, sensor_yaw: float, half_angle: float,
                   corners: np.ndarray) -> float:
    """Distance from the sensor to the nearest box outline point inside its cone (inf if none).

    ``corners`` is (n, 4, 2) (``truth.box_corners``) in the same frame as the sensor pose;
    ``half_angle`` must be below 90 deg.
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
            # the distance along a line is convex in t: the nearest point of the clipped part
            # is the foot of the perpendicular clamped into [t0, t1]
            dx, dy = x1 - x0, y1 - y0
            len_sq = dx * dx + dy * dy
            t = 0.0 if len_sq < 1e-12 else -(x0 * dx + y0 * dy) / len_sq
            t = min(max(t, t0), t1)
            best = min(best, math.hypot(x0 + t * dx, y0 + t * dy))
    return best


@nb.njit(cache=True)
def _box_corners_near(ego_x: float, ego_y: float, reach_m: float, ax: np.ndarray,
                      ay: np.ndarray, ayaw: np.ndarray, alength: np.ndarray,
                      awidth: np.ndarray) -> np.ndarray:
    """Corners (k, 4, 2) of the boxes that come within ``reach_m`` of the ego origin,
    counter-clockwise from front-left as ``truth.box_corners``."""
    n = ax.shape[0]
    corners = np.empty((n, 4, 2))
    k = 0
    for i in range(n):
        hl, hw = 0.5 * alength[i], 0.5 * awidth[i]
        if math.hypot(ax[i] - ego_x, ay[i] - ego_y) - math.hypot(hl, hw) > reach_m:
            continue
        c, s = math.cos(ayaw[i]), math.sin(ayaw[i])
        for q in range(4):
            lx = hl if q == 0 or q == 3 else -hl
            ly = hw if q == 0 or q == 1 else -hw
            corners[k, q, 0] = ax[i] + c * lx - s * ly
            corners[k, q, 1] = ay[i] + s * lx + c * ly
        k += 1
    return corners[:k]


@nb.njit(cache=True)
def _ranges_m(ego_x: float, ego_y: float, ego_yaw: float, mount: np.ndarray, reach_m: float,
              ax: np.ndarray, ay: np.ndarray, ayaw: np.ndarray, alength: np.ndarray,
              awidth: np.ndarray, noise_m: np.ndarray) -> np.ndarray:
    """Measured range of every sensor (inf = no echo).

    ``mount`` is (n_sensors, 6): x, y, yaw (vehicle frame), min range, max range, half angle.
    ``noise_m`` is each sensor's range noise for this sample.
    """
    corners = _box_corners_near(ego_x, ego_y, reach_m, ax, ay, ayaw, alength, awidth)
    c, s = math.cos(ego_yaw), math.sin(ego_yaw)
    out = np.full(mount.shape[0], np.inf)
    if corners.shape[0] == 0:
        return out
    for k in range(mount.shape[0]):
        mx, my, r_min, r_max = mount[k, 0], mount[k, 1], mount[k, 3], mount[k, 4]
        r = nearest_echo_m(ego_x + c * mx - s * my, ego_y + s * mx + c * my,
                           ego_yaw + mount[k, 2], mount[k, 5], corners)
        if r <= r_max:  # farther, the echo is too weak to clear the threshold
            r = max(r + noise_m[k], r_min)
            out[k] = r if r <= r_max else np.inf
    return out


class UltrasonicArray:
    def __init__(self, calibs: tuple[UltrasonicCalibration, ...],
                 settings: UltrasonicSettings) -> None:
        for cal in calibs:
            if not 0.0 < cal.half_angle_rad < 0.5 * math.pi:
                raise ValueError(f"ultrasonic {cal.name}: half angle must be in (0, 90) deg")
        self.calibs = calibs
        self.settings = settings
        self._mount = np.array([[c.x_m, c.y_m, c.yaw_rad, c.min_range_m, c.max_range_m,
                                 c.half_angle_rad] for c in calibs]).reshape(-1, 6)
        # farthest any echo can come from, measured from the ego origin (rear axle centre)
        self._reach_m = max((math.hypot(c.x_m, c.y_m) + c.max_range_m for c in calibs),
                            default=0.0)
        # sensor_msgs/Range carries float32: deliver that precision (same values in-process,
        # over DDS and from a recording)
        f32 = float32_exact
        self._fixed = [(c.name, f32(c.min_range_m), f32(c.max_range_m), f32(2.0 * c.half_angle_rad))
                       for c in calibs]

    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> list[UltrasonicRange]:
        # drawn for every sensor every time, so the stream's use does not depend on the scene
        noise_m = rng.standard_normal(len(self.calibs)) * self.settings.range_noise_std_m
        ranges = _ranges_m(ego.x_m, ego.y_m, ego.yaw_rad, self._mount, self._reach_m,
                           actors.x_m, actors.y_m, actors.yaw_rad, actors.length_m,
                           actors.width_m, noise_m).astype(np.float32).astype(np.float64).tolist()
        return [UltrasonicRange(name, stamp_ns, r, r_min, r_max, fov)
                for (name, r_min, r_max, fov), r in zip(self._fixed, ranges, strict=True)]
