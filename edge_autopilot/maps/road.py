"""Road geometry: a multi-lane road along a reference line of straight and constant-curvature
sections, with Frenet (s, d) <-> Cartesian (x, y) conversion.

Conventions
- World frame: x east, y north, z up (ROS REP 103), metres, headings in radians CCW from +x.
- The reference line is the road's right edge. ``d`` is the lateral offset to the left of it,
  so lane ``i`` (0 = rightmost) spans ``[i * w, (i + 1) * w]`` and its centre is ``(i + 0.5) * w``.
- Beyond both ends the road continues straight along the end tangents, so every point of the
  plane has a Frenet position and actors never fall off the map.

The per-point kernels are numba functions so that the camera renderer can call them per pixel;
the ``Road`` methods are thin vectorised wrappers over the same kernels (one implementation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from edge_autopilot.errors import RoadGeometryError

# Lane markings, after the US MUTCD (part 3A): 0.15 m wide, broken lines 3 m painted / 9 m gap.
MARKING_WIDTH_M = 0.15
DASH_PAINTED_M = 3.0
DASH_PERIOD_M = 12.0
SHOULDER_WIDTH_M = 0.6

_STRAIGHT_EPS = 1e-9


@dataclass(frozen=True)
class Section:
    """One piece of the reference line: straight when ``curvature_1pm`` is 0."""

    length_m: float
    curvature_1pm: float = 0.0


@nb.njit(cache=True, fastmath=False)
def _ref_pose(
    s: float,
    s0: np.ndarray,
    length: np.ndarray,
    kappa: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    h0: np.ndarray,
) -> tuple[float, float, float, float]:
    """Reference-line point, heading and curvature at arc length ``s``."""
    n = s0.shape[0]
    i = 0
    while i + 1 < n and s >= s0[i + 1]:
        i += 1
    u = s - s0[i]
    extra = 0.0
    if u < 0.0:  # before the start: straight extension
        extra = u
        u = 0.0
    elif u > length[i]:  # after the end: straight extension
        extra = u - length[i]
        u = length[i]
    k = kappa[i]
    if abs(k) < _STRAIGHT_EPS:
        h = h0[i]
        x = x0[i] + u * math.cos(h)
        y = y0[i] + u * math.sin(h)
    else:
        h = h0[i] + k * u
        x = x0[i] + (math.sin(h) - math.sin(h0[i])) / k
        y = y0[i] - (math.cos(h) - math.cos(h0[i])) / k
    if extra != 0.0:
        x += extra * math.cos(h)
        y += extra * math.sin(h)
        k = 0.0
    return x, y, h, k


@nb.njit(cache=True, fastmath=False)
def _wrap_angle(a: float) -> float:
    # floor rather than %: numba's Python-semantics float modulo is several times slower
    two_pi = 2.0 * math.pi
    return a - two_pi * math.floor((a + math.pi) / two_pi)


@nb.njit(cache=True, fastmath=False)
def _project(
    px: float,
    py: float,
    s0: np.ndarray,
    length: np.ndarray,
    kappa: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    h0: np.ndarray,
) -> tuple[float, float]:
    """Frenet (s, d) of point (px, py): the section whose normal through the point is nearest."""
    n = s0.shape[0]
    best_s = 0.0
    best_d = 0.0
    best_abs_d = np.inf
    for i in range(n):
        k = kappa[i]
        lo = -np.inf if i == 0 else 0.0
        hi = np.inf if i == n - 1 else length[i]
        if abs(k) < _STRAIGHT_EPS:
            dx = px - x0[i]
            dy = py - y0[i]
            c = math.cos(h0[i])
            sn = math.sin(h0[i])
            u = dx * c + dy * sn
            d = -dx * sn + dy * c
        else:
            # centre of curvature; k * (p - c) = (1 - k d) (sin h, -cos h)
            cx = x0[i] - math.sin(h0[i]) / k
            cy = y0[i] + math.cos(h0[i]) / k
            rx = k * (px - cx)
            ry = k * (py - cy)
            rn = math.hypot(rx, ry)
            h = math.atan2(rx, -ry)
            u = _wrap_angle(h - h0[i]) / k
            d = (1.0 - rn) / k
            if (u < 0.0 and i == 0) or (u > length[i] and i == n - 1):
                # beyond the road's ends the extension is straight, not the arc
                ex, ey, eh, _ = _ref_pose(
                    s0[i] + (0.0 if u < 0.0 else length[i]), s0, length, kappa, x0, y0, h0
                )
                dx = px - ex
                dy = py - ey
                c = math.cos(eh)
                sn = math.sin(eh)
                t = dx * c + dy * sn
                d = -dx * sn + dy * c
                u = (0.0 if u < 0.0 else length[i]) + t
        if u >= lo - 1e-9 and u <= hi + 1e-9 and abs(d) < best_abs_d:
            best_abs_d = abs(d)
            best_s = s0[i] + u
            best_d = d
    return best_s, best_d


@nb.njit(cache=True)
def _project_many(
    xs: np.ndarray,
    ys: np.ndarray,
    s0: np.ndarray,
    length: np.ndarray,
    kappa: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    h0: np.ndarray,
    out_s: np.ndarray,
    out_d: np.ndarray,
) -> None:
    for j in range(xs.shape[0]):
        out_s[j], out_d[j] = _project(xs[j], ys[j], s0, length, kappa, x0, y0, h0)


@nb.njit(cache=True)
def _place_many(
    ss: np.ndarray,
    ds: np.ndarray,
    s0: np.ndarray,
    length: np.ndarray,
    kappa: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    h0: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_h: np.ndarray,
    out_k: np.ndarray,
) -> None:
    for j in range(ss.shape[0]):
        x, y, h, k = _ref_pose(ss[j], s0, length, kappa, x0, y0, h0)
        out_x[j] = x - ds[j] * math.sin(h)
        out_y[j] = y + ds[j] * math.cos(h)
        out_h[j] = h
        out_k[j] = k


@nb.njit(cache=True, fastmath=True)
def surface_at(s: float, d: float, lane_count: int, lane_width_m: float) -> int:
    """What lies at Frenet (s, d): 0 grass, 1 asphalt, 2 lane marking (shared with the camera)."""
    road_right = -SHOULDER_WIDTH_M
    road_left = lane_count * lane_width_m + SHOULDER_WIDTH_M
    if d < road_right or d > road_left:
        return 0
    half = 0.5 * MARKING_WIDTH_M
    k = int(math.floor(d / lane_width_m + 0.5))
    if 0 <= k <= lane_count and abs(d - k * lane_width_m) <= half:
        if k == 0 or k == lane_count:
            return 2  # solid edge line
        # s mod period, written out: numba's float % is several times slower than floor
        if s - DASH_PERIOD_M * math.floor(s * (1.0 / DASH_PERIOD_M)) < DASH_PAINTED_M:
            return 2  # broken lane line
    return 1


def _is_plain_1d(a: object) -> bool:
    """Already what the kernels take: a contiguous float64 1-D array."""
    return (type(a) is np.ndarray and a.ndim == 1 and a.dtype == np.float64
            and a.flags.c_contiguous)


def _as_pair(a: np.ndarray | float, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Two contiguous float64 1-D arrays of one length (a scalar is repeated)."""
    # the loop's common cases (an array with an array, or with a float offset) without the
    # general path's half a dozen conversions per call; same values either way
    if _is_plain_1d(a):
        if _is_plain_1d(b) and b.shape == a.shape:  # type: ignore[union-attr]
            return a, b  # type: ignore[return-value]
        if type(b) is float:
            return a, np.full(a.shape, b)  # type: ignore[union-attr]
    a1 = np.ascontiguousarray(np.atleast_1d(a), dtype=np.float64)
    b1 = np.ascontiguousarray(np.atleast_1d(b), dtype=np.float64)
    if a1.shape != b1.shape:
        n = max(a1.shape[0], b1.shape[0])
        a1 = np.ascontiguousarray(np.broadcast_to(a1, (n,)))
        b1 = np.ascontiguousarray(np.broadcast_to(b1, (n,)))
    return a1, b1


class Road:
    """A road: reference line sections, lane count and width. Immutable after construction."""

    def __init__(
        self,
        sections: list[Section],
        lane_count: int = 3,
        lane_width_m: float = 3.5,
        start_x_m: float = 0.0,
        start_y_m: float = 0.0,
        start_heading_rad: float = 0.0,
    ) -> None:
        if not sections:
            raise RoadGeometryError("a road needs at least one section")
        if lane_count < 1:
            raise RoadGeometryError(f"lane_count must be >= 1, got {lane_count}")
        if lane_width_m <= 0.0:
            raise RoadGeometryError(f"lane_width_m must be > 0, got {lane_width_m}")
        width = lane_count * lane_width_m + SHOULDER_WIDTH_M
        for i, sec in enumerate(sections):
            if sec.length_m <= 0.0:
                raise RoadGeometryError(f"section {i}: length_m must be > 0, got {sec.length_m}")
            if sec.curvature_1pm > 0 and 1.0 / sec.curvature_1pm <= width:
                raise RoadGeometryError(
                    f"section {i}: radius {1.0 / sec.curvature_1pm:.1f} m is tighter than the road "
                    f"is wide ({width:.1f} m); the left lanes would fold over"
                )
            if sec.curvature_1pm < 0 and -1.0 / sec.curvature_1pm <= SHOULDER_WIDTH_M:
                raise RoadGeometryError(f"section {i}: radius too small")
        self.sections = tuple(sections)
        self.lane_count = int(lane_count)
        self.lane_width_m = float(lane_width_m)
        n = len(sections)
        self.length = np.array([sec.length_m for sec in sections], dtype=np.float64)
        self.kappa = np.array([sec.curvature_1pm for sec in sections], dtype=np.float64)
        self.s0 = np.concatenate(([0.0], np.cumsum(self.length)[:-1]))
        self.x0 = np.zeros(n)
        self.y0 = np.zeros(n)
        self.h0 = np.zeros(n)
        self._chain_section_starts(start_x_m, start_y_m, start_heading_rad)
        self.length_m = float(self.length.sum())
        # the kernels' arguments, in order, for numba callers (actors, camera)
        self.arrays: tuple[np.ndarray, ...] = (
            self.s0, self.length, self.kappa, self.x0, self.y0, self.h0
        )

    def _chain_section_starts(self, x: float, y: float, h: float) -> None:
        # each section starts where the previous one ends, tangent-continuous (G1)
        for i, sec in enumerate(self.sections):
            self.x0[i], self.y0[i], self.h0[i] = x, y, h
            k = sec.curvature_1pm
            if abs(k) < _STRAIGHT_EPS:
                x += sec.length_m * math.cos(h)
                y += sec.length_m * math.sin(h)
            else:
                h_end = h + k * sec.length_m
                x += (math.sin(h_end) - math.sin(h)) / k
                y -= (math.cos(h_end) - math.cos(h)) / k
                h = h_end

    # --- lanes --------------------------------------------------------------------------
    def lane_center_d(self, lane: int) -> float:
        return (lane + 0.5) * self.lane_width_m

    def lane_of(self, d_m: float) -> int:
        """Lane index containing lateral offset ``d_m``, clipped to the road's lanes."""
        return int(min(max(math.floor(d_m / self.lane_width_m), 0), self.lane_count - 1))

    @property
    def width_m(self) -> float:
        return self.lane_count * self.lane_width_m

    # --- frames -------------------------------------------------------------------------
    def to_cartesian(
        self, s_m: np.ndarray | float, d_m: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, heading of the reference line, curvature of the reference line) at (s, d)."""
        ss, ds = _as_pair(s_m, d_m)
        out = np.empty((4, ss.shape[0]))
        _place_many(ss, ds, *self.arrays, out[0], out[1], out[2], out[3])
        return out[0], out[1], out[2], out[3]

    def to_frenet(
        self, x_m: np.ndarray | float, y_m: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = _as_pair(x_m, y_m)
        out = np.empty((2, xs.shape[0]))
        _project_many(xs, ys, *self.arrays, out[0], out[1])
        return out[0], out[1]

    def pose_at(self, s_m: float, d_m: float = 0.0) -> tuple[float, float, float, float]:
        """Scalar (x, y, heading, curvature) at (s, d), without array allocation."""
        x, y, h, k = _ref_pose(float(s_m), *self.arrays)
        return x - d_m * math.sin(h), y + d_m * math.cos(h), h, k

    def frenet_of(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Scalar Frenet (s, d) of one point."""
        return _project(float(x_m), float(y_m), *self.arrays)

    def curvature_at(self, s_m: float) -> float:
        return _ref_pose(float(s_m), *self.arrays)[3]

    def heading_at(self, s_m: float) -> float:
        return _ref_pose(float(s_m), *self.arrays)[2]
