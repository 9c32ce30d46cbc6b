"""Pinhole RGB cameras rendered from the world: sky, road surface, lane markings, grass, and
actors as shaded 3-D boxes, with distance haze, global brightness and pixel noise.

Speed (about 0.05-0.07 ms a 160x96 frame on one core) comes from what never changes:
- The ground is flat and the camera is fixed to the car, so every pixel's ground point in the
  vehicle frame is constant. With no camera roll, a row's ground points lie on a line (affine in
  the column) and so do a column's, and the ground point is bilinear in (column, lambda)
  between a few "knot" rows and columns, lambda being fixed per row. So the road's Frenet
  (s, d) is computed exactly (``road._project``, with only the sections in reach) at about 100
  knots per frame and interpolated in between; the knot rows are spaced so that on a 150 m
  radius curve the interpolation is off by less than about half a pixel.
- Along a row, (s, d) is piecewise linear, so the surface is classified only where a run of
  one surface starts; a run's length comes from the distance to the next boundary (road edge,
  marking band, dash end), and a run is one byte copy from a pre-coloured line of the row.
- Colours (haze per row and brightness included) are baked in at construction; noise is a
  window of a fixed, pre-drawn noise bank at an offset drawn from ``rng``.
- Actor boxes are rasterised face by face (near-plane clipped, convex spans) against an
  inverse-depth buffer, so each covered pixel costs a compare and a store, and the nearest
  surface wins. The ground never hides a box standing on it, so the buffer only holds actor
  depths and is reset over the boxes' rectangles afterwards.

Pixel convention (also of ``project_points_*``): column i spans [i, i + 1), centre i + 0.5,
row 0 at the top; a pixel shows what the ray through its centre sees, except that a lane
marking is drawn wherever it crosses the pixel, so that far lines stay continuous.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.maps.road import (
    DASH_PAINTED_M,
    DASH_PERIOD_M,
    MARKING_WIDTH_M,
    SHOULDER_WIDTH_M,
    Road,
    _project,
    surface_at,
)
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
# a marking is widened by the pixel's footprint across the row and down the column, the
# latter capped at this many pixels across
FOOTPRINT_DOWN_MAX_PX = 2.0
NOISE_BANK_FRAMES = 2  # noise bank size, in frames; each frame takes a window at a random offset
_NOISE_BANK_SEED = 0x5EED_CA3E
_NEAR_PLANE_M = 0.05  # box faces are clipped here (camera frame x, m)
_UNIFORM_MARGIN_M = 1e-6  # runs stop this far (m) short of a boundary, against rounding
# A box's faces as corner cycles (corners as in box_corners_3d: front-left, front-right,
# rear-right, rear-left at the base, then the same on top): front, rear, left, right, top.
# The base is never seen: cameras are above the ground.
_BOX_FACES = np.array([[0, 1, 5, 4], [2, 3, 7, 6], [3, 0, 4, 7], [1, 2, 6, 5], [4, 5, 6, 7]],
                      dtype=np.int64)
_FACE_SHADE = (SHADE_END, SHADE_END, SHADE_SIDE, SHADE_SIDE, SHADE_TOP)
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
def _pixels_within(room: float, step: float) -> int:
    """Pixels 0, 1, ... whose offset i * step is below room (at least pixel 0)."""
    if step * 1e9 <= room:
        return 1 << 30
    return max(int(math.ceil(room / step)), 1)


@nb.njit(cache=True)
def _surface_run(s: float, d: float, step_s: float, step_d: float, footprint_d: float,
                 lane_count: int, lane_width_m: float) -> tuple[int, int]:
    """The surface seen at a ground pixel, and how many pixels from this one on (at least 1)
    surely see the same, (s, d) moving by (step_s, step_d) a pixel.

    A marking is drawn where it crosses any part of the pixel (its band is widened by half the
    pixel's extent in d, ``footprint_d``, each side), so that far lines, narrower than a pixel,
    stay continuous instead of breaking up into dots; inside a band the road's ``surface_at``
    at the line's centre decides (solid edge line, or dash or gap of a broken line). Elsewhere
    ``surface_at`` decides at the pixel. A run ends a margin short of the next boundary, and a
    pixel within that margin of one is a run of its own, so rounding cannot mislabel a run."""
    eps = _UNIFORM_MARGIN_M
    w = lane_width_m
    half = min(0.5 * (MARKING_WIDTH_M + footprint_d), 0.45 * w)
    road_right = -SHOULDER_WIDTH_M
    road_left = lane_count * w + SHOULDER_WIDTH_M
    k = int(math.floor(d / w + 0.5))  # nearest line
    if 0 <= k <= lane_count and abs(d - k * w) <= half:
        kind = surface_at(s, k * w, lane_count, w)
        lo, hi = k * w - half, k * w + half
        dashed = 0 < k < lane_count
    else:
        kind = surface_at(s, d, lane_count, w)
        dashed = False
        if d < road_right:
            lo, hi = -np.inf, min(road_right, -half)
        elif d > road_left:
            lo, hi = max(road_left, lane_count * w + half), np.inf
        else:  # asphalt between the bands of the lines below and above (or the road edges)
            j = min(int(math.floor(d / w)), lane_count)
            lo = max(j * w + half, road_right) if j >= 0 else road_right
            hi = min((j + 1) * w - half, road_left) if j + 1 <= lane_count else road_left
    if d - lo <= eps or hi - d <= eps:
        return kind, 1
    room = hi - d if step_d > 0.0 else d - lo
    n = _pixels_within(room - eps, abs(step_d))
    if dashed:  # painted 3 m of every 12 m: the run also ends where the paint does
        base = DASH_PERIOD_M * math.floor(s * (1.0 / DASH_PERIOD_M))
        lo_s, hi_s = (base, base + DASH_PAINTED_M) if s - base < DASH_PAINTED_M else \
            (base + DASH_PAINTED_M, base + DASH_PERIOD_M)
        if s - lo_s <= eps or hi_s - s <= eps:
            return kind, 1
        room_s = hi_s - s if step_s > 0.0 else s - lo_s
        n = min(n, _pixels_within(room_s - eps, abs(step_s)))
    return kind, n


@nb.njit(cache=True)
def _copy_run(img_flat: np.ndarray, row_start: int, lines_flat: np.ndarray, line_start: int,
              u_lo: int, u_hi: int) -> None:
    """Pixels u_lo..u_hi-1 of an image row from a pre-coloured line (flat byte offsets)."""
    # unsigned offsets: numba then skips negative-index wraparound and copies ~3x faster
    dst = np.uint64(row_start + 3 * u_lo)
    src = np.uint64(line_start + 3 * u_lo)
    for b in range(np.uint64(3 * (u_hi - u_lo))):
        img_flat[dst + b] = lines_flat[src + b]


@nb.njit(cache=True)
def _render_ground(
    row_v: np.ndarray, row_knot: np.ndarray, row_lambda: np.ndarray, row_dlambda: np.ndarray,
    knot_u: np.ndarray, knot_s: np.ndarray, knot_d: np.ndarray, lines: np.ndarray,
    lane_count: int, lane_width_m: float, img: np.ndarray,
) -> None:
    """Every pixel of the ground rows. Along a row, (s, d) is interpolated linearly between
    the knot columns; it is classified only at the start of each run of one surface, whose
    length comes from the distance to the next boundary, and each run is one copy from the
    row's pre-coloured line of that surface (lines[r, kind], RGB bytes)."""
    n_cols = knot_u.shape[0]
    img_flat = img.reshape(-1)
    lines_flat = lines.reshape(-1)
    line_len = lines.shape[2]
    row_len = img.shape[1] * 3
    for r in range(row_v.shape[0]):
        row_start = row_v[r] * row_len
        k = row_knot[r]
        lam = row_lambda[r]
        dlam = row_dlambda[r]  # lambda's change over the pixel's height
        s_a = knot_s[k, 0] + lam * (knot_s[k + 1, 0] - knot_s[k, 0])
        d_a = knot_d[k, 0] + lam * (knot_d[k + 1, 0] - knot_d[k, 0])
        run_kind = -1
        run_u = 0
        for c in range(n_cols - 1):
            s_b = knot_s[k, c + 1] + lam * (knot_s[k + 1, c + 1] - knot_s[k, c + 1])
            d_b = knot_d[k, c + 1] + lam * (knot_d[k + 1, c + 1] - knot_d[k, c + 1])
            u_a, u_b = knot_u[c], knot_u[c + 1]
            inv = 1.0 / (u_b - u_a)
            step_s, step_d = (s_b - s_a) * inv, (d_b - d_a) * inv
            # the pixel's extent in d: across it plus down it, the latter capped where lines
            # converge near the horizon (else far rows would turn all marking)
            down = dlam * max(abs(knot_d[k + 1, c] - knot_d[k, c]),
                              abs(knot_d[k + 1, c + 1] - knot_d[k, c + 1]))
            footprint = abs(step_d) + min(down, FOOTPRINT_DOWN_MAX_PX * abs(step_d))
            n = u_b - u_a + (1 if c == n_cols - 2 else 0)  # the last knot's column too
            i = 0
            while i < n:
                s = s_a + i * step_s
                d = d_a + i * step_d
                kind, run = _surface_run(s, d, step_s, step_d, footprint, lane_count,
                                         lane_width_m)
                if kind != run_kind:  # a run ends where the surface changes
                    if run_kind >= 0:
                        _copy_run(img_flat, row_start, lines_flat,
                                  (r * 3 + run_kind) * line_len, run_u, u_a + i)
                    run_kind, run_u = kind, u_a + i
                i += run
            s_a, d_a = s_b, d_b
        _copy_run(img_flat, row_start, lines_flat, (r * 3 + run_kind) * line_len, run_u,
                  knot_u[n_cols - 1] + 1)


@nb.njit(cache=True)
def _clip_near(poly: np.ndarray, n: int, out: np.ndarray) -> int:
    """Clip a convex polygon (camera frame, n vertices) to the half space in front of the near
    plane (Sutherland-Hodgman against one plane); returns the vertex count written to out."""
    m = 0
    for i in range(n):
        j = (i + 1) % n
        a_in = poly[i, 0] >= _NEAR_PLANE_M
        if a_in:
            for k in range(3):
                out[m, k] = poly[i, k]
            m += 1
        if a_in != (poly[j, 0] >= _NEAR_PLANE_M):
            f = (_NEAR_PLANE_M - poly[i, 0]) / (poly[j, 0] - poly[i, 0])
            for k in range(3):
                out[m, k] = poly[i, k] + f * (poly[j, k] - poly[i, k])
            out[m, 0] = _NEAR_PLANE_M
            m += 1
    return m


@nb.njit(cache=True)
def _row_span(uv: np.ndarray, n: int, y: float) -> tuple[float, float]:
    """Where the horizontal line at y crosses a convex polygon's outline (empty: lo > hi)."""
    lo, hi = np.inf, -np.inf
    for i in range(n):
        ua, va = uv[i, 0], uv[i, 1]
        ub, vb = uv[(i + 1) % n, 0], uv[(i + 1) % n, 1]
        if (va <= y <= vb) or (vb <= y <= va):
            if va == vb:
                x0, x1 = min(ua, ub), max(ua, ub)
            else:
                x0 = ua + (y - va) * (ub - ua) / (vb - va)
                x1 = x0
            lo, hi = min(lo, x0), max(hi, x1)
    return lo, hi


@nb.njit(cache=True)
def _draw_face(
    uv: np.ndarray, n: int, plane: np.ndarray, colour: np.ndarray, fx: float, cx: float,
    cy: float, gain: float, img: np.ndarray, inv_depth: np.ndarray, rect: np.ndarray,
) -> None:
    """Fill a projected convex face: the pixels whose centres it covers, where it is nearer
    than what is there. plane = (p0, p1, p2) with 1/depth = p0 + p1 a_u + p2 b_v for the ray
    (1, a_u, b_v), exact for a planar face. rect (u_lo, u_hi, v_lo, v_hi) grows to cover it."""
    h, w = inv_depth.shape
    v_min, v_max = np.inf, -np.inf
    for i in range(n):
        v_min, v_max = min(v_min, uv[i, 1]), max(v_max, uv[i, 1])
    v_lo = max(int(math.ceil(v_min - 0.5)), 0)
    v_hi = min(int(math.floor(v_max - 0.5)), h - 1)
    for v in range(v_lo, v_hi + 1):
        x_lo, x_hi = _row_span(uv, n, v + 0.5)
        u_lo = max(int(math.ceil(x_lo - 0.5)), 0)
        u_hi = min(int(math.floor(x_hi - 0.5)), w - 1)
        if u_lo > u_hi:
            continue
        rect[0], rect[1] = min(rect[0], u_lo), max(rect[1], u_hi + 1)
        rect[2], rect[3] = min(rect[2], v), max(rect[3], v + 1)
        b_v = -(v + 0.5 - cy) / fx
        row_w = plane[0] + plane[2] * b_v
        # haze (small on a box: its depth range is short) is taken once per span, at its middle
        a_mid = -(0.5 * (u_lo + u_hi + 1) - cx) / fx
        inv_t_mid = row_w + plane[1] * a_mid
        range_m = math.sqrt(1.0 + a_mid * a_mid + b_v * b_v) / max(inv_t_mid, 1e-9)
        haze = min(range_m * (1.0 / HAZE_DISTANCE_M), 1.0)
        cr = _shade_u8(colour[0], HAZE_RGB[0], haze, gain)
        cg = _shade_u8(colour[1], HAZE_RGB[1], haze, gain)
        cb = _shade_u8(colour[2], HAZE_RGB[2], haze, gain)
        for u in range(u_lo, u_hi + 1):
            inv_t = np.float32(row_w + plane[1] * (-(u + 0.5 - cx) / fx))
            if inv_t > inv_depth[v, u]:
                inv_depth[v, u] = inv_t
                img[v, u, 0] = cr
                img[v, u, 1] = cg
                img[v, u, 2] = cb


@nb.njit(cache=True)
def _shade_u8(colour: float, haze_colour: float, haze: float, gain: float) -> np.uint8:
    x = (colour + (haze_colour - colour) * haze) * gain + 0.5
    return np.uint8(min(max(x, 0.0), 255.0))


@nb.njit(cache=True)
def _draw_box(
    corners: np.ndarray, normals: np.ndarray, visible: np.ndarray, base_rgb: np.ndarray,
    fx: float, cx: float, cy: float, gain: float, img: np.ndarray, inv_depth: np.ndarray,
    rect: np.ndarray, scratch: np.ndarray,
) -> None:
    """Draw the faces of one box that face the camera (corners and face normals in the
    camera frame). A convex box's front faces tile its outline without overlapping.
    ``scratch`` is (16, 3) working space, passed in so that no box allocates."""
    quad = scratch[0:4]
    clipped = scratch[4:9]
    uv = scratch[9:14, :2]
    plane = scratch[14]
    colour = scratch[15]
    for f in range(_BOX_FACES.shape[0]):
        if not visible[f]:
            continue
        for i in range(4):
            for k in range(3):
                quad[i, k] = corners[_BOX_FACES[f, i], k]
        n = _clip_near(quad, 4, clipped)
        if n < 3:
            continue
        for i in range(n):
            uv[i, 0] = cx - fx * clipped[i, 1] / clipped[i, 0]
            uv[i, 1] = cy - fx * clipped[i, 2] / clipped[i, 0]
        # the face's plane n . p = c through its first corner; along the ray t (1, a, b):
        # 1 / t = (n0 + n1 a + n2 b) / c
        c = (normals[f, 0] * quad[0, 0] + normals[f, 1] * quad[0, 1]
             + normals[f, 2] * quad[0, 2])
        if c == 0.0:
            continue  # seen exactly edge-on
        for k in range(3):
            plane[k] = normals[f, k] / c
            colour[k] = base_rgb[k] * _FACE_SHADE[f]
        _draw_face(uv, n, plane, colour, fx, cx, cy, gain, img, inv_depth, rect)


@nb.njit(cache=True)
def _render_actors(
    ego_x: float, ego_y: float, ego_yaw: float, ax: np.ndarray, ay: np.ndarray,
    ayaw: np.ndarray, length: np.ndarray, width: np.ndarray, height: np.ndarray,
    kind: np.ndarray, cam_pos: np.ndarray, cam_rot: np.ndarray, fx: float, cx: float,
    cy: float, gain: float, img: np.ndarray, inv_depth: np.ndarray,
) -> None:
    """All actor boxes, rasterised face by face against an inverse-depth buffer (the nearest
    surface wins); nearest box first, so that farther ones mostly fail the depth test.
    ``inv_depth`` is 0 (infinitely far) everywhere on entry and is left so."""
    h, w = inv_depth.shape
    n = ax.shape[0]
    ce, se = math.cos(ego_yaw), math.sin(ego_yaw)
    bx = np.empty(n)
    by = np.empty(n)
    for i in range(n):  # into the vehicle frame
        dx, dy = ax[i] - ego_x, ay[i] - ego_y
        bx[i] = ce * dx + se * dy
        by[i] = -se * dx + ce * dy
    order = np.argsort(bx * bx + by * by)
    rects = np.empty((n, 4), dtype=np.int64)
    corners = np.empty((8, 3))
    normals = np.empty((5, 3))
    visible = np.empty(5, dtype=np.bool_)
    scratch = np.empty((16, 3))
    n_colours = _KIND_COLOURS.shape[0]
    for i in order:
        rects[i, 0], rects[i, 1], rects[i, 2], rects[i, 3] = w, 0, h, 0
        yaw = ayaw[i] - ego_yaw
        c, s = math.cos(yaw), math.sin(yaw)
        hl, hw = 0.5 * length[i], 0.5 * width[i]
        # the camera in the box's frame (origin at its base centre) decides the faces seen
        ox, oy = cam_pos[0] - bx[i], cam_pos[1] - by[i]
        o_x, o_y = c * ox + s * oy, -s * ox + c * oy
        visible[0], visible[1] = o_x > hl, o_x < -hl
        visible[2], visible[3] = o_y > hw, o_y < -hw
        visible[4] = cam_pos[2] > height[i]
        for k in range(8):
            lx = hl if k in (0, 1, 4, 5) else -hl
            ly = hw if k in (0, 3, 4, 7) else -hw
            px = bx[i] + c * lx - s * ly - cam_pos[0]
            py = by[i] + s * lx + c * ly - cam_pos[1]
            pz = (height[i] if k >= 4 else 0.0) - cam_pos[2]
            for a in range(3):  # p_cam = R^T (p - cam_pos)
                corners[k, a] = cam_rot[0, a] * px + cam_rot[1, a] * py + cam_rot[2, a] * pz
        for f in range(5):  # outward normals: +x, -x, +y, -y (box frame), +z
            nx = (1.0, -1.0, 0.0, 0.0, 0.0)[f]
            ny = (0.0, 0.0, 1.0, -1.0, 0.0)[f]
            vx, vy, vz = c * nx - s * ny, s * nx + c * ny, 1.0 if f == 4 else 0.0
            for a in range(3):
                normals[f, a] = cam_rot[0, a] * vx + cam_rot[1, a] * vy + cam_rot[2, a] * vz
        colour = _KIND_COLOURS[min(max(int(kind[i]), 0), n_colours - 1)]
        _draw_box(corners, normals, visible, colour, fx, cx, cy, gain, img, inv_depth,
                  rects[i], scratch)
    for i in range(n):
        inv_depth[rects[i, 2]:rects[i, 3], rects[i, 0]:rects[i, 1]] = 0.0


@nb.njit(cache=True)
def _add_noise(img: np.ndarray, bank: np.ndarray, offset: int) -> None:
    """img += a window of the (integer) noise bank, saturating to 0..255. In float32 because
    numba widens small integers to int64, which vectorises poorly."""
    flat = img.reshape(-1)
    window = bank[offset:offset + flat.shape[0]]
    lo, hi = np.float32(0.0), np.float32(255.0)
    for i in range(flat.shape[0]):
        x = np.float32(flat[i]) + np.float32(window[i])
        flat[i] = np.uint8(min(max(x, lo), hi))


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
        self._inv_depth = np.zeros((self.height_px, self.width_px), dtype=np.float32)

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
            self._row_dlambda = np.zeros(0)
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
            # between the row's top and bottom edges (the top one may be at the horizon)
            _, _, edge_depth = self._ground_points(np.array(self.cx_px),
                                                   np.append(rows, rows[-1] + 1))
            extent = np.nan_to_num(np.abs(edge_depth[:-1] - edge_depth[1:]), posinf=1e9)
            self._row_dlambda = np.where(d1 != d0, extent / np.abs(span), 0.0)
        kx, ky, _ = self._ground_points(self.knot_u[None, :] + 0.5,
                                        self.knot_rows[:, None] + 0.5)
        self._knot_x = np.ascontiguousarray(kx)
        self._knot_y = np.ascontiguousarray(ky)
        self._knot_s = np.empty_like(self._knot_x)
        self._knot_d = np.empty_like(self._knot_x)
        # the road sections a frame needs lie within this arc length of the ego's s: the
        # knots' reach, plus room for the reference line (the road's right edge) being longer
        # than the ego's own path on the outside of a curve
        self._reach_m = 1.25 * float(np.hypot(kx, ky).max(initial=0.0)) + 20.0
        # palettes per ground row (grass, asphalt, marking), hazed by the row's distance
        haze = np.minimum(range_m[rows] / HAZE_DISTANCE_M, 1.0)
        pal = np.stack([_mix(c, HAZE_RGB, haze) for c in (GRASS_RGB, ASPHALT_RGB, MARKING_RGB)],
                       axis=1)
        # ... as whole pre-coloured rows, so that a run of one surface is a plain copy
        lines = np.repeat(_to_u8(pal, self._gain)[:, :, None, :], w, axis=2)
        self._lines = np.ascontiguousarray(lines.reshape(rows.size, 3, w * 3))

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
        """Gaussian noise, rounded to whole levels as an 8-bit sensor would deliver it, drawn
        once from a fixed seed: a frame takes a window of it at an offset drawn from its rng,
        instead of drawing 46k normals per frame."""
        frame_len = self.height_px * self.width_px * 3
        std = float(self.settings.pixel_noise_std)
        self._noise_offsets = frame_len * (NOISE_BANK_FRAMES - 1) + 1
        if std > 0.0:
            normals = np.random.default_rng(_NOISE_BANK_SEED).standard_normal(
                frame_len * NOISE_BANK_FRAMES)
            noise = np.rint(std * normals)
            # the smallest type that holds 6 sigma: the bank is read every frame, and a big one
            # pushes the rest of the frame's working set out of the cache
            dtype = np.int8 if 6.0 * std <= 127.0 else np.int16
            lim = np.iinfo(dtype).max
            self._noise_bank = np.clip(noise, -lim, lim).astype(dtype)
        else:
            self._noise_bank = np.zeros(0, dtype=np.int8)

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
            _render_ground(self.ground_rows, self._row_knot, self._row_lambda,
                           self._row_dlambda, self.knot_u,
                           self._knot_s, self._knot_d, self._lines, road.lane_count,
                           road.lane_width_m, img)
        if actors.x_m.shape[0]:
            _render_actors(ego.x_m, ego.y_m, ego.yaw_rad, actors.x_m, actors.y_m,
                           actors.yaw_rad, actors.length_m, actors.width_m, actors.height_m,
                           actors.kind, self.position, self.rotation, self.fx_px, self.cx_px,
                           self.cy_px, self._gain, img, self._inv_depth)
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
