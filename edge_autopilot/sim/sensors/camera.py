"""Pinhole RGB cameras rendered from the world: sky, road surface, lane markings, grass, and
actors as shaded 3-D boxes, with distance haze, global brightness and pixel noise.

Speed comes from what never changes:
- The ground is flat and the camera is fixed to the car, so every pixel's ground point in the
  vehicle frame is constant. With no camera roll, a row's ground points lie on a line (affine in
  the column) and a column's on a line too, so the ground point is bilinear in (column, lambda)
  between a few "knot" rows and columns, lambda being fixed per row. The road's Frenet (s, d)
  is therefore computed exactly (``road._project``) only at the knots, about 130 per frame, and
  interpolated per pixel; the knot rows are spaced so that on a 150 m radius curve the error
  stays under about half a pixel.
- Along a stretch of a row, d is linear, so a stretch whose d range lies wholly on grass or
  between two markings is filled with one colour; only stretches a boundary crosses are
  classified pixel by pixel (with the road's own ``surface_at``).
- Colours per row (haze and brightness included) are baked into uint8 palettes at construction;
  noise is a window of a fixed, pre-drawn integer noise bank at an offset drawn from ``rng``.
- Actor boxes are ray-cast only over their projected, near-plane-clipped screen rectangle,
  against a depth buffer, so the nearest surface wins; the ground never hides a box standing
  on it, so the buffer only holds actor depths and is reset over those rectangles.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.maps.road import MARKING_WIDTH_M, SHOULDER_WIDTH_M, Road, _project, surface_at
from edge_autopilot.sensors.calibration import CameraCalibration
from edge_autopilot.sensors.samples import CameraFrame
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import KIND_COLOUR_RGB, ActorKind, ActorsTruth, EgoTruth

# Colours (RGB, 0..255) of the scene.
SKY_HORIZON_RGB = (200.0, 215.0, 230.0)
SKY_ZENITH_RGB = (90.0, 130.0, 200.0)
GRASS_RGB = (70.0, 120.0, 50.0)
ASPHALT_RGB = (95.0, 95.0, 100.0)
MARKING_RGB = (235.0, 235.0, 225.0)
HAZE_RGB = SKY_HORIZON_RGB  # so that far ground fades into the horizon without a seam
HAZE_DISTANCE_M = 250.0  # haze reaches 100 % here (linear in distance)
MAX_GROUND_RANGE_M = 220.0  # beyond this the ground is drawn as haze
# Face brightness: a sun high overhead lights the top most, the ends less, the sides least.
SHADE_TOP, SHADE_END, SHADE_SIDE = 1.0, 0.78, 0.62

KNOT_SPACING_PX = 16  # columns between exact (s, d) knots along a row
# Knot rows are spaced so that bilinear interpolation of (s, d) is off by at most this on a
# curve of this radius (error ~ L^2 / 8R over a knot interval L, in pixels at its near end).
KNOT_ERROR_PX = 0.5
KNOT_REFERENCE_RADIUS_M = 150.0
NOISE_BANK_FRAMES = 2  # noise bank size, in frames; each frame takes a window at a random offset
_NOISE_BANK_SEED = 0x5EED_CA3E
_NEAR_PLANE_M = 0.05  # box edges are clipped here when working out their screen rectangle
_UNIFORM_MARGIN_M = 1e-6  # keeps the uniform-stretch test conservative against rounding
# the 12 edges of a box, as corner index pairs (4 base corners, then the 4 above them)
_BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                       [0, 4], [1, 5], [2, 6], [3, 7]], dtype=np.int64)
_KIND_COLOURS = np.array([KIND_COLOUR_RGB[k] for k in ActorKind], dtype=np.float64)


# --- geometry helpers (plain numpy) ----------------------------------------------------------
def camera_rotation(calib: CameraCalibration) -> np.ndarray:
    """Rotation camera frame (x forward, y left, z up) -> vehicle frame: yaw, then pitch down."""
    cy, sy = math.cos(calib.yaw_rad), math.sin(calib.yaw_rad)
    cp, sp = math.cos(calib.pitch_rad), math.sin(calib.pitch_rad)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])  # +pitch tilts x down
    return rz @ ry


def world_to_vehicle(ego: EgoTruth, pts_world: np.ndarray) -> np.ndarray:
    """(n, 3) world points -> vehicle frame (rear axle origin, x forward, z up)."""
    p = np.asarray(pts_world, dtype=np.float64).reshape(-1, 3)
    c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    dx, dy = p[:, 0] - ego.x_m, p[:, 1] - ego.y_m
    return np.stack([c * dx + s * dy, -s * dx + c * dy, p[:, 2]], axis=1)


def box_corners_3d(x_m: np.ndarray, y_m: np.ndarray, yaw_rad: np.ndarray, length_m: np.ndarray,
                   width_m: np.ndarray, height_m: np.ndarray) -> np.ndarray:
    """(n, 8, 3) corners of boxes standing on the ground: 4 at the base, then the 4 above."""
    c, s = np.cos(yaw_rad)[:, None], np.sin(yaw_rad)[:, None]
    lx = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=np.float64) * (0.5 * length_m[:, None])
    ly = np.array([1, -1, -1, 1, 1, -1, -1, 1], dtype=np.float64) * (0.5 * width_m[:, None])
    lz = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.float64) * height_m[:, None]
    out = np.empty((x_m.shape[0], 8, 3))
    out[..., 0] = x_m[:, None] + c * lx - s * ly
    out[..., 1] = y_m[:, None] + s * lx + c * ly
    out[..., 2] = lz
    return out


def _choose_knot_rows(rows: np.ndarray, range_m: np.ndarray, fx_px: float) -> np.ndarray:
    """Knot rows among the ground rows, each as far from the previous as the interpolation error
    allows; the nearest and farthest ground rows are always knots. Ascending row order."""
    nearest = len(rows) - 1  # rows run top (far) to bottom (near)
    knots = [nearest]
    i = nearest
    while i > 0:
        near = range_m[i]
        j = i - 1
        while j > 0 and (fx_px * (range_m[j - 1] - near) ** 2
                         / (8.0 * KNOT_REFERENCE_RADIUS_M * near)) <= KNOT_ERROR_PX:
            j -= 1
        knots.append(j)
        i = j
    return rows[np.array(knots[::-1], dtype=np.int64)]


def _mix(a: tuple[float, ...], b: tuple[float, ...], f: np.ndarray) -> np.ndarray:
    """Colour a blended towards b by fraction f (any shape), with a trailing RGB axis."""
    f = np.asarray(f, dtype=np.float64)[..., None]
    return np.asarray(a) * (1.0 - f) + np.asarray(b) * f


def _to_u8(rgb: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(np.rint(rgb * gain), 0.0, 255.0).astype(np.uint8)


# --- kernels -----------------------------------------------------------------------------------
@nb.njit(cache=True)
def _frenet_at_knots(
    ego_x: float, ego_y: float, ego_yaw: float, knot_x: np.ndarray, knot_y: np.ndarray,
    s0: np.ndarray, length: np.ndarray, kappa: np.ndarray, x0: np.ndarray, y0: np.ndarray,
    h0: np.ndarray, out_s: np.ndarray, out_d: np.ndarray,
) -> None:
    """Exact Frenet (s, d) of the knots' ground points (vehicle frame) at this ego pose."""
    c, s = math.cos(ego_yaw), math.sin(ego_yaw)
    for i in range(knot_x.shape[0]):
        for j in range(knot_x.shape[1]):
            wx = ego_x + c * knot_x[i, j] - s * knot_y[i, j]
            wy = ego_y + s * knot_x[i, j] + c * knot_y[i, j]
            out_s[i, j], out_d[i, j] = _project(wx, wy, s0, length, kappa, x0, y0, h0)


@nb.njit(cache=True)
def _uniform_surface(lo_m: float, hi_m: float, lane_count: int, lane_width_m: float) -> int:
    """The surface when every d in [lo_m, hi_m] has the same one whatever s (0 grass,
    1 asphalt), else -1. Conservative: a d range near a boundary answers -1."""
    eps = _UNIFORM_MARGIN_M
    road_right = -SHOULDER_WIDTH_M
    road_left = lane_count * lane_width_m + SHOULDER_WIDTH_M
    if hi_m < road_right - eps or lo_m > road_left + eps:
        return 0
    if lo_m < road_right + eps or hi_m > road_left - eps:
        return -1
    half = 0.5 * MARKING_WIDTH_M
    k = int(math.floor(lo_m / lane_width_m))  # the lines k and k + 1 bracket lo_m
    if 0 <= k <= lane_count and lo_m <= k * lane_width_m + half + eps:
        return -1
    if 0 <= k + 1 <= lane_count and hi_m >= (k + 1) * lane_width_m - half - eps:
        return -1
    return 1


@nb.njit(cache=True)
def _fill_stretch(
    img: np.ndarray, v: int, u_lo: int, u_hi: int, s_lo: float, d_lo: float, step_s: float,
    step_d: float, palette: np.ndarray, lane_count: int, lane_width_m: float,
) -> None:
    """Ground colours for pixels u_lo..u_hi-1 of row v, (s, d) linear from (s_lo, d_lo)."""
    d_last = d_lo + (u_hi - 1 - u_lo) * step_d
    kind = _uniform_surface(min(d_lo, d_last), max(d_lo, d_last), lane_count, lane_width_m)
    if kind >= 0:
        r, g, b = palette[kind, 0], palette[kind, 1], palette[kind, 2]
        for u in range(u_lo, u_hi):
            img[v, u, 0] = r
            img[v, u, 1] = g
            img[v, u, 2] = b
        return
    for u in range(u_lo, u_hi):
        i = u - u_lo
        kind = surface_at(s_lo + i * step_s, d_lo + i * step_d, lane_count, lane_width_m)
        img[v, u, 0] = palette[kind, 0]
        img[v, u, 1] = palette[kind, 1]
        img[v, u, 2] = palette[kind, 2]


@nb.njit(cache=True)
def _render_ground(
    row_v: np.ndarray, row_knot: np.ndarray, row_lambda: np.ndarray, knot_u: np.ndarray,
    knot_s: np.ndarray, knot_d: np.ndarray, palettes: np.ndarray, lane_count: int,
    lane_width_m: float, img: np.ndarray,
) -> None:
    """Every pixel of the ground rows: (s, d) interpolated from the knots, then coloured."""
    n_cols = knot_u.shape[0]
    for r in range(row_v.shape[0]):
        v = row_v[r]
        k = row_knot[r]
        lam = row_lambda[r]
        s_a = knot_s[k, 0] + lam * (knot_s[k + 1, 0] - knot_s[k, 0])
        d_a = knot_d[k, 0] + lam * (knot_d[k + 1, 0] - knot_d[k, 0])
        for c in range(n_cols - 1):
            s_b = knot_s[k, c + 1] + lam * (knot_s[k + 1, c + 1] - knot_s[k, c + 1])
            d_b = knot_d[k, c + 1] + lam * (knot_d[k + 1, c + 1] - knot_d[k, c + 1])
            u_a, u_b = knot_u[c], knot_u[c + 1]
            inv = 1.0 / (u_b - u_a)
            # the last stretch also takes the last knot's own column
            u_end = u_b + 1 if c == n_cols - 2 else u_b
            _fill_stretch(img, v, u_a, u_end, s_a, d_a, (s_b - s_a) * inv, (d_b - d_a) * inv,
                          palettes[r], lane_count, lane_width_m)
            s_a, d_a = s_b, d_b


@nb.njit(cache=True)
def _slab(o: float, d: float, lo: float, hi: float) -> tuple[float, float]:
    """Entry and exit ray parameters through one slab (empty when parallel and outside)."""
    if abs(d) < 1e-12:
        if lo <= o <= hi:
            return -np.inf, np.inf
        return np.inf, -np.inf
    inv = 1.0 / d
    t1 = (lo - o) * inv
    t2 = (hi - o) * inv
    return (t1, t2) if t1 < t2 else (t2, t1)


@nb.njit(cache=True)
def _screen_rect(cam_pts: np.ndarray, fx: float, cx: float, cy: float, w: int, h: int
                 ) -> tuple[int, int, int, int]:
    """Pixel rectangle (u_lo, u_hi, v_lo, v_hi) covering a box given by its 8 corners in the
    camera frame. Edges crossing the near plane are clipped there, so a box beside or around
    the camera gets the bounds of its visible part; empty (lo >= hi) when none is in front."""
    u_min, u_max, v_min, v_max = np.inf, -np.inf, np.inf, -np.inf
    any_front = False
    for e in range(_BOX_EDGES.shape[0]):
        a, b = _BOX_EDGES[e, 0], _BOX_EDGES[e, 1]
        xa, xb = cam_pts[a, 0], cam_pts[b, 0]
        for end in range(3):
            if end == 0:
                if xa <= _NEAR_PLANE_M:
                    continue
                px, py, pz = xa, cam_pts[a, 1], cam_pts[a, 2]
            elif end == 1:
                if xb <= _NEAR_PLANE_M:
                    continue
                px, py, pz = xb, cam_pts[b, 1], cam_pts[b, 2]
            else:
                if (xa > _NEAR_PLANE_M) == (xb > _NEAR_PLANE_M):
                    continue
                f = (_NEAR_PLANE_M - xa) / (xb - xa)
                px = _NEAR_PLANE_M
                py = cam_pts[a, 1] + f * (cam_pts[b, 1] - cam_pts[a, 1])
                pz = cam_pts[a, 2] + f * (cam_pts[b, 2] - cam_pts[a, 2])
            any_front = True
            u = cx - fx * py / px
            v = cy - fx * pz / px
            u_min, u_max = min(u_min, u), max(u_max, u)
            v_min, v_max = min(v_min, v), max(v_max, v)
    if not any_front:
        return 0, 0, 0, 0
    # pixel centres are at i + 0.5; widen by one pixel so rounding can never clip the box
    u_lo = max(int(math.floor(u_min)) - 1, 0)
    u_hi = min(int(math.ceil(u_max)) + 1, w)
    v_lo = max(int(math.floor(v_min)) - 1, 0)
    v_hi = min(int(math.ceil(v_max)) + 1, h)
    return u_lo, u_hi, v_lo, v_hi


@nb.njit(cache=True)
def _cast_box(
    m: np.ndarray, o: np.ndarray, half_l: float, half_w: float, height: float,
    colour: np.ndarray, fx: float, cx: float, cy: float, gain: float,
    u_lo: int, u_hi: int, v_lo: int, v_hi: int, img: np.ndarray, depth: np.ndarray,
) -> None:
    """Ray-cast one box over a pixel rectangle. In the box's frame (origin at its base centre)
    the pixel's ray is o + t * m @ (1, a_u, b_v), so t is the depth along the optical axis."""
    for v in range(v_lo, v_hi):
        b_v = -(v + 0.5 - cy) / fx
        for u in range(u_lo, u_hi):
            a_u = -(u + 0.5 - cx) / fx
            dx = m[0, 0] + a_u * m[0, 1] + b_v * m[0, 2]
            dy = m[1, 0] + a_u * m[1, 1] + b_v * m[1, 2]
            dz = m[2, 0] + a_u * m[2, 1] + b_v * m[2, 2]
            ax0, ax1 = _slab(o[0], dx, -half_l, half_l)
            ay0, ay1 = _slab(o[1], dy, -half_w, half_w)
            az0, az1 = _slab(o[2], dz, 0.0, height)
            t_near = max(ax0, ay0, az0)
            t_far = min(ax1, ay1, az1)
            if t_near > t_far or t_near <= 0.0 or t_near >= depth[v, u]:
                continue
            if t_near == az0:
                shade = SHADE_TOP
            elif t_near == ax0:
                shade = SHADE_END
            else:
                shade = SHADE_SIDE
            range_m = t_near * math.sqrt(1.0 + a_u * a_u + b_v * b_v)
            haze = min(range_m / HAZE_DISTANCE_M, 1.0)
            for k in range(3):
                col = colour[k] * shade
                x = (col + (HAZE_RGB[k] - col) * haze) * gain + 0.5
                img[v, u, k] = np.uint8(min(max(x, 0.0), 255.0))
            depth[v, u] = t_near


@nb.njit(cache=True)
def _render_actors(
    ego_x: float, ego_y: float, ego_yaw: float, ax: np.ndarray, ay: np.ndarray,
    ayaw: np.ndarray, length: np.ndarray, width: np.ndarray, height: np.ndarray,
    kind: np.ndarray, cam_pos: np.ndarray, cam_rot: np.ndarray, fx: float, cx: float,
    cy: float, gain: float, img: np.ndarray, depth: np.ndarray,
) -> None:
    """All actor boxes, nearest first (so farther pixels mostly fail the depth test early).
    ``depth`` is +inf everywhere on entry and is left so."""
    h, w = depth.shape
    n = ax.shape[0]
    ce, se = math.cos(ego_yaw), math.sin(ego_yaw)
    bx = np.empty(n)
    by = np.empty(n)
    for i in range(n):  # into the vehicle frame
        dx, dy = ax[i] - ego_x, ay[i] - ego_y
        bx[i] = ce * dx + se * dy
        by[i] = -se * dx + ce * dy
    order = np.argsort(bx * bx + by * by)
    rects = np.zeros((n, 4), dtype=np.int64)
    cam = np.empty((8, 3))
    m = np.empty((3, 3))
    o = np.empty(3)
    n_colours = _KIND_COLOURS.shape[0]
    for i in order:
        yaw = ayaw[i] - ego_yaw
        c, s = math.cos(yaw), math.sin(yaw)
        hl, hw = 0.5 * length[i], 0.5 * width[i]
        for k in range(8):
            lx = hl if k in (0, 1, 4, 5) else -hl
            ly = hw if k in (0, 3, 4, 7) else -hw
            px = bx[i] + c * lx - s * ly - cam_pos[0]
            py = by[i] + s * lx + c * ly - cam_pos[1]
            pz = (height[i] if k >= 4 else 0.0) - cam_pos[2]
            for a in range(3):  # p_cam = R^T (p - cam_pos)
                cam[k, a] = cam_rot[0, a] * px + cam_rot[1, a] * py + cam_rot[2, a] * pz
        u_lo, u_hi, v_lo, v_hi = _screen_rect(cam, fx, cx, cy, w, h)
        if u_lo >= u_hi or v_lo >= v_hi:
            continue
        rects[i, 0], rects[i, 1], rects[i, 2], rects[i, 3] = u_lo, u_hi, v_lo, v_hi
        # box frame <- vehicle frame is the yaw rotation transposed: m = Rb^T R_cam
        for a in range(3):
            m[0, a] = c * cam_rot[0, a] + s * cam_rot[1, a]
            m[1, a] = -s * cam_rot[0, a] + c * cam_rot[1, a]
            m[2, a] = cam_rot[2, a]
        ox, oy = cam_pos[0] - bx[i], cam_pos[1] - by[i]
        o[0] = c * ox + s * oy
        o[1] = -s * ox + c * oy
        o[2] = cam_pos[2]
        colour = _KIND_COLOURS[min(max(int(kind[i]), 0), n_colours - 1)]
        _cast_box(m, o, hl, hw, height[i], colour, fx, cx, cy, gain,
                  u_lo, u_hi, v_lo, v_hi, img, depth)
    for i in range(n):
        depth[rects[i, 2]:rects[i, 3], rects[i, 0]:rects[i, 1]] = np.inf


@nb.njit(cache=True)
def _add_noise(img: np.ndarray, bank: np.ndarray, offset: int) -> None:
    """img += bank window, saturating to 0..255 (flat integer loop, so it vectorises)."""
    flat = img.reshape(-1)
    for i in range(flat.shape[0]):
        x = np.int16(flat[i]) + bank[offset + i]
        flat[i] = np.uint8(min(max(x, np.int16(0)), np.int16(255)))


# --- the model -------------------------------------------------------------------------------
class CameraModel:
    """One simulated camera. Construction precomputes everything that depends only on the
    calibration and settings; ``measure`` renders a new image for an ego pose and actors."""

    def __init__(self, calib: CameraCalibration, settings: CameraSettings, road: Road) -> None:
        self.calib = calib
        self.settings = settings
        self.road = road
        self.width_px = int(settings.width_px)
        self.height_px = int(settings.height_px)
        self.fx_px = 0.5 * self.width_px / math.tan(0.5 * calib.hfov_rad)
        self.fy_px = self.fx_px  # square pixels
        self.cx_px = 0.5 * self.width_px
        self.cy_px = 0.5 * self.height_px
        self.rotation = camera_rotation(calib)  # camera frame -> vehicle frame
        self.position = np.array([calib.x_m, calib.y_m, calib.z_m])
        self._gain = float(settings.brightness)
        self._build_ground()
        self._background = self._build_background()
        self._build_noise_bank()
        self._depth = np.full((self.height_px, self.width_px), np.inf)

    # --- construction --------------------------------------------------------------------
    def _ground_points(self, u_px: np.ndarray, v_px: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vehicle-frame ground points (x, y) of the rays through (u_px, v_px) and their depth
        along the optical axis (inf where the ray does not come down to the ground)."""
        ray = np.stack(np.broadcast_arrays(np.ones_like(u_px * v_px),
                                           -(u_px - self.cx_px) / self.fx_px,
                                           -(v_px - self.cy_px) / self.fy_px), axis=-1)
        ray_vehicle = ray @ self.rotation.T
        dz = ray_vehicle[..., 2]
        down = dz < -1e-9
        depth = np.where(down, self.position[2] / np.where(down, -dz, 1.0), np.inf)
        t = np.where(down, depth, 0.0)
        gx = self.position[0] + t * ray_vehicle[..., 0]
        gy = self.position[1] + t * ray_vehicle[..., 1]
        return gx, gy, depth

    def _build_ground(self) -> None:
        h, w = self.height_px, self.width_px
        v_centres = np.arange(h) + 0.5
        gx, gy, depth = self._ground_points(np.array(self.cx_px), v_centres)
        range_m = np.where(np.isfinite(depth),
                           np.hypot(gx - self.position[0], gy - self.position[1]), np.inf)
        rows = np.flatnonzero(range_m <= MAX_GROUND_RANGE_M).astype(np.int64)
        self.ground_rows = rows
        self.knot_u = np.unique(np.append(np.arange(0, w, KNOT_SPACING_PX), w - 1)
                                ).astype(np.int64)
        if rows.size == 0:  # a camera looking up sees no ground
            self.knot_rows = rows
            self._row_knot = rows
            self._row_lambda = np.zeros(0)
        else:
            self.knot_rows = _choose_knot_rows(rows, range_m[rows], self.fx_px)
            # each ground row lies between knot rows k and k + 1 at lambda, measured in depth:
            # the ground point is affine in depth along a column, so this is exact
            k = np.clip(np.searchsorted(self.knot_rows, rows, side="right") - 1, 0,
                        max(self.knot_rows.size - 2, 0))
            self._row_knot = k.astype(np.int64)
            if self.knot_rows.size == 1:
                self.knot_rows = np.repeat(self.knot_rows, 2)  # one row: interpolate nothing
            d0, d1 = depth[self.knot_rows[k]], depth[self.knot_rows[k + 1]]
            span = np.where(d1 != d0, d1 - d0, 1.0)
            self._row_lambda = np.where(d1 != d0, (depth[rows] - d0) / span, 0.0)
        kx, ky, _ = self._ground_points(self.knot_u[None, :] + 0.5,
                                        self.knot_rows[:, None] + 0.5)
        self._knot_x = np.ascontiguousarray(kx)
        self._knot_y = np.ascontiguousarray(ky)
        self._knot_s = np.empty_like(self._knot_x)
        self._knot_d = np.empty_like(self._knot_x)
        # the road sections a frame needs reach this far (arc length >= distance)
        self._reach_m = float(np.hypot(kx, ky).max(initial=0.0)) + 10.0
        # palettes per ground row (grass, asphalt, marking), hazed by the row's distance
        haze = np.minimum(range_m[rows] / HAZE_DISTANCE_M, 1.0)
        pal = np.stack([_mix(c, HAZE_RGB, haze) for c in (GRASS_RGB, ASPHALT_RGB, MARKING_RGB)],
                       axis=1)
        self._palettes = np.ascontiguousarray(_to_u8(pal, self._gain))

    def _build_background(self) -> np.ndarray:
        """Sky above the horizon (horizon colour blending to the zenith with elevation), haze
        below it beyond the drawn ground; the ground rows are overwritten every frame."""
        u = np.arange(self.width_px) + 0.5
        v = np.arange(self.height_px) + 0.5
        ray = np.stack(np.broadcast_arrays(np.ones((self.height_px, self.width_px)),
                                           -(u[None, :] - self.cx_px) / self.fx_px,
                                           -(v[:, None] - self.cy_px) / self.fy_px), axis=-1)
        ray_vehicle = ray @ self.rotation.T
        sin_elev = ray_vehicle[..., 2] / np.linalg.norm(ray_vehicle, axis=-1)
        elev = np.clip(sin_elev, 0.0, 1.0) ** 0.6
        return _to_u8(_mix(SKY_HORIZON_RGB, SKY_ZENITH_RGB, elev), self._gain)

    def _build_noise_bank(self) -> None:
        """Gaussian noise rounded to integers, drawn once from a fixed seed: a frame takes a
        window of it at an rng-drawn offset, instead of drawing 46k normals per frame."""
        frame_len = self.height_px * self.width_px * 3
        std = float(self.settings.pixel_noise_std)
        self._noise_offsets = frame_len * (NOISE_BANK_FRAMES - 1) + 1
        if std > 0.0:
            normals = np.random.default_rng(_NOISE_BANK_SEED).standard_normal(
                frame_len * NOISE_BANK_FRAMES)
            self._noise_bank = np.clip(np.rint(std * normals), -255, 255).astype(np.int16)
        else:
            self._noise_bank = np.zeros(0, dtype=np.int16)

    # --- projection ------------------------------------------------------------------------
    def project_points_vehicle(self, pts_vehicle: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, 3) vehicle-frame points -> (u_px, v_px, depth_m). Pixel column i spans
        [i, i + 1) (centre i + 0.5), row 0 at the top; depth is along the optical axis, <= 0
        for points behind the camera (their u, v are meaningless)."""
        p = (np.asarray(pts_vehicle, dtype=np.float64).reshape(-1, 3) - self.position)
        p = p @ self.rotation  # R^T (p - c), row-wise
        depth_m = p[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            u_px = self.cx_px - self.fx_px * p[:, 1] / depth_m
            v_px = self.cy_px - self.fy_px * p[:, 2] / depth_m
        return u_px, v_px, depth_m

    def project_points_world(self, ego: EgoTruth, pts_world: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, 3) world points (z up from the ground) -> (u_px, v_px, depth_m)."""
        return self.project_points_vehicle(world_to_vehicle(ego, pts_world))

    # --- rendering -------------------------------------------------------------------------
    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> CameraFrame:
        """Render a new (H, W, 3) uint8 RGB image; one draw from ``rng`` (the noise offset)."""
        offset = int(rng.random() * self._noise_offsets)
        img = self._background.copy()
        if self.ground_rows.size:
            self._update_knots(ego)
            road = self.road
            _render_ground(self.ground_rows, self._row_knot, self._row_lambda, self.knot_u,
                           self._knot_s, self._knot_d, self._palettes, road.lane_count,
                           road.lane_width_m, img)
        if actors.x_m.shape[0]:
            _render_actors(ego.x_m, ego.y_m, ego.yaw_rad, actors.x_m, actors.y_m,
                           actors.yaw_rad, actors.length_m, actors.width_m, actors.height_m,
                           actors.kind, self.position, self.rotation, self.fx_px, self.cx_px,
                           self.cy_px, self._gain, img, self._depth)
        if self._noise_bank.size:
            _add_noise(img, self._noise_bank, offset)
        return CameraFrame(self.calib.name, stamp_ns, img)

    def _update_knots(self, ego: EgoTruth) -> None:
        # only the sections within reach: the projection loops over every section it is given
        road = self.road
        lo = int(np.searchsorted(road.s0, ego.s_m - self._reach_m, side="right")) - 1
        hi = int(np.searchsorted(road.s0, ego.s_m + self._reach_m, side="right"))
        lo, hi = max(lo, 0), max(hi, lo + 1)
        s0, length, kappa, x0, y0, h0 = road.arrays
        _frenet_at_knots(ego.x_m, ego.y_m, ego.yaw_rad, self._knot_x, self._knot_y,
                         s0[lo:hi], length[lo:hi], kappa[lo:hi], x0[lo:hi], y0[lo:hi],
                         h0[lo:hi], self._knot_s, self._knot_d)
