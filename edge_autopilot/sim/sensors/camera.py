"""Pinhole RGB cameras rendered from the world: sky, road surface, lane markings, grass, and
actors as shaded 3-D boxes, with distance haze, global brightness and pixel noise.

Speed comes from three facts:
- The ground is flat and the camera is fixed to the car, so each pixel's ray and its ground
  intersection in the vehicle frame never change: they are computed once.
- The road's Frenet coordinates are smooth over the ground, so they are evaluated exactly on a
  coarse vehicle-frame grid once per capture (shared by all cameras of the car) and
  interpolated bilinearly per pixel; on a 250 m curve a 5 m cell is off by about 1 cm.
- Actor boxes are ray-cast only over the pixels of their projected bounding rectangle, against
  a depth buffer, so the nearest surface wins.
"""

from __future__ import annotations

import math
import weakref

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import CameraCalibration
from edge_autopilot.sensors.samples import CameraFrame
from edge_autopilot.sim.road import Road, _project, surface_at
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import KIND_COLOUR_RGB, ActorKind, ActorsTruth, EgoTruth

# Colours (RGB, 0..255) of the scene.
SKY_HORIZON_RGB = (200.0, 215.0, 230.0)
SKY_ZENITH_RGB = (90.0, 130.0, 200.0)
GRASS_RGB = (70.0, 120.0, 50.0)
ASPHALT_RGB = (95.0, 95.0, 100.0)
MARKING_RGB = (235.0, 235.0, 225.0)
HAZE_RGB = SKY_HORIZON_RGB
HAZE_DISTANCE_M = 250.0  # haze reaches 100 % here (linear in distance)
MAX_GROUND_RANGE_M = 220.0  # beyond this the ground is drawn as haze
# Face brightness: top lit from above, front/back and sides darker (fixed sun overhead-ish).
SHADE_TOP, SHADE_FRONT_BACK, SHADE_SIDE = 1.0, 0.78, 0.62

# Vehicle-frame grid on which the road's Frenet coordinates are evaluated exactly: fine near
# the car where markings are large in the image, coarse far away where they are sub-pixel.
GRID_X_M = np.concatenate((np.arange(-24.0, 40.0, 4.0), np.arange(40.0, 231.0, 10.0)))
GRID_Y_M = np.concatenate((np.array([-160.0, -110.0, -70.0, -45.0, -30.0, -22.0]),
                           np.arange(-16.0, 16.1, 4.0),
                           np.array([22.0, 30.0, 45.0, 70.0, 110.0, 160.0])))

KNOT_SPACING_PX = 8  # columns between exact (s, d) knots along a ground row
NOISE_BANK_FRAMES = 4
# the 12 edges of a box, as corner index pairs (corners: 4 at the base, then 4 on top, in the
# order of box_corners_3d)
_BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                       [0, 4], [1, 5], [2, 6], [3, 7]])
_NEAR_PLANE_M = 0.05  # noise bank size, in frames; each frame takes a random window
_KIND_COLOURS = np.array([KIND_COLOUR_RGB[ActorKind(k)] for k in range(len(ActorKind))],
                         dtype=np.float32)


def camera_rotation(calib: CameraCalibration) -> np.ndarray:
    """Rotation camera frame (x forward, y left, z up) -> vehicle frame: yaw, then pitch down."""
    cy, sy = math.cos(calib.yaw_rad), math.sin(calib.yaw_rad)
    cp, sp = math.cos(calib.pitch_rad), math.sin(calib.pitch_rad)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])  # +pitch tilts x down
    return rz @ ry


@nb.njit(cache=True)
def _frenet_grid(
    ego_x: float, ego_y: float, ego_yaw: float, gx: np.ndarray, gy: np.ndarray,
    nodes: np.ndarray, s0: np.ndarray, length: np.ndarray, kappa: np.ndarray, x0: np.ndarray,
    y0: np.ndarray, h0: np.ndarray, out_s: np.ndarray, out_d: np.ndarray,
) -> None:
    """Exact Frenet (s, d) at the listed grid nodes (flat indices into the (gx, gy) grid)."""
    c, s = math.cos(ego_yaw), math.sin(ego_yaw)
    ny = gy.shape[0]
    for q in range(nodes.shape[0]):
        i, j = nodes[q] // ny, nodes[q] % ny
        wx = ego_x + c * gx[i] - s * gy[j]
        wy = ego_y + s * gx[i] + c * gy[j]
        out_s[i, j], out_d[i, j] = _project(wx, wy, s0, length, kappa, x0, y0, h0)


@nb.njit(cache=True, fastmath=True)
def _render_ground(
    rows: np.ndarray, knot_u: np.ndarray, cell_i: np.ndarray, cell_j: np.ndarray,
    weights: np.ndarray, row_haze: np.ndarray, grid_s: np.ndarray, grid_d: np.ndarray,
    lane_count: int, lane_width: float, rgb: np.ndarray,
) -> None:
    """Road surface on the ground rows (the sky is already in ``rgb``), hazed by distance.

    With no camera roll every image row meets the ground along a line and at one distance, and
    the ground point is affine in the column; so (s, d) is interpolated from the Frenet grid at
    a few knots per row and linearly between them.
    """
    n_knots = knot_u.shape[0]
    for r in range(rows.shape[0]):
        v = rows[r]
        h = row_haze[r]
        for k in range(n_knots - 1):
            s_a = 0.0
            d_a = 0.0
            s_b = 0.0
            d_b = 0.0
            for end in range(2):
                q = r * n_knots + k + end
                i, j = cell_i[q], cell_j[q]
                w00, w01, w10, w11 = weights[q, 0], weights[q, 1], weights[q, 2], weights[q, 3]
                s = (grid_s[i, j] * w00 + grid_s[i, j + 1] * w01 + grid_s[i + 1, j] * w10
                     + grid_s[i + 1, j + 1] * w11)
                d = (grid_d[i, j] * w00 + grid_d[i, j + 1] * w01 + grid_d[i + 1, j] * w10
                     + grid_d[i + 1, j + 1] * w11)
                if end == 0:
                    s_a, d_a = s, d
                else:
                    s_b, d_b = s, d
            u0, u1 = knot_u[k], knot_u[k + 1]
            span = u1 - u0
            for u in range(int(u0), int(u1)):
                f = (u + 0.5 - u0) / span  # pixel centre between the knots at u0 and u1
                kind = surface_at(s_a + (s_b - s_a) * f, d_a + (d_b - d_a) * f,
                                  lane_count, lane_width)
                if kind == 0:
                    cr, cg, cb = GRASS_RGB
                elif kind == 1:
                    cr, cg, cb = ASPHALT_RGB
                else:
                    cr, cg, cb = MARKING_RGB
                rgb[v, u, 0] = cr + (HAZE_RGB[0] - cr) * h
                rgb[v, u, 1] = cg + (HAZE_RGB[1] - cg) * h
                rgb[v, u, 2] = cb + (HAZE_RGB[2] - cb) * h


@nb.njit(cache=True, fastmath=True)
def _slab(o: float, d: float, lo: float, hi: float) -> tuple[float, float]:
    """Entry and exit parameters of a ray in one slab (inf/-inf when parallel and outside)."""
    if abs(d) < 1e-12:
        if lo <= o <= hi:
            return -np.inf, np.inf
        return np.inf, -np.inf
    inv = 1.0 / d
    t1 = (lo - o) * inv
    t2 = (hi - o) * inv
    return (t1, t2) if t1 < t2 else (t2, t1)


@nb.njit(cache=True, fastmath=True)
def _render_box(
    ray_dir: np.ndarray, origin: np.ndarray, centre: np.ndarray, yaw: float,
    half_l: float, half_w: float, height: float, colour: np.ndarray,
    u_lo: int, u_hi: int, v_lo: int, v_hi: int, rgb: np.ndarray, depth: np.ndarray,
) -> None:
    """Ray-cast one box (vehicle frame; base on the ground) over a pixel rectangle."""
    c, s = math.cos(yaw), math.sin(yaw)
    ox, oy = origin[0] - centre[0], origin[1] - centre[1]
    lox, loy, loz = c * ox + s * oy, -s * ox + c * oy, origin[2]
    for v in range(v_lo, v_hi):
        for u in range(u_lo, u_hi):
            dx, dy, dz = ray_dir[v, u, 0], ray_dir[v, u, 1], ray_dir[v, u, 2]
            ax0, ax1 = _slab(lox, c * dx + s * dy, -half_l, half_l)
            ay0, ay1 = _slab(loy, -s * dx + c * dy, -half_w, half_w)
            az0, az1 = _slab(loz, dz, 0.0, height)
            t_near = max(ax0, ay0, az0)
            t_far = min(ax1, ay1, az1)
            if t_near > t_far or t_near <= 0.0 or t_near >= depth[v, u]:
                continue
            if t_near == az0:
                shade = SHADE_TOP
            elif t_near == ax0:
                shade = SHADE_FRONT_BACK
            else:
                shade = SHADE_SIDE
            haze = min(t_near / HAZE_DISTANCE_M, 1.0)
            for k in range(3):
                col = colour[k] * shade
                rgb[v, u, k] = col + (HAZE_RGB[k] - col) * haze
            depth[v, u] = t_near


@nb.njit(cache=True)
def _screen_rect_kernel(pts_cam: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                        w: int, h: int) -> tuple[int, int, int, int]:
    """Pixel rectangle covering a box given by its 8 corners in the camera frame; edges that
    cross the near plane are clipped there, so a box beside the camera gets the bounds of its
    visible part. An empty rectangle (lo >= hi) when nothing is in view."""
    u_min, u_max, v_min, v_max = np.inf, -np.inf, np.inf, -np.inf
    any_front = False
    for e in range(_BOX_EDGES.shape[0]):
        a = _BOX_EDGES[e, 0]
        b = _BOX_EDGES[e, 1]
        za, zb = pts_cam[a, 0], pts_cam[b, 0]
        for end in range(3):
            if end == 0:
                if za <= _NEAR_PLANE_M:
                    continue
                px, py, pz = pts_cam[a, 0], pts_cam[a, 1], pts_cam[a, 2]
            elif end == 1:
                if zb <= _NEAR_PLANE_M:
                    continue
                px, py, pz = pts_cam[b, 0], pts_cam[b, 1], pts_cam[b, 2]
            else:
                if (za > _NEAR_PLANE_M) == (zb > _NEAR_PLANE_M):
                    continue
                f = (_NEAR_PLANE_M - za) / (zb - za)
                px = _NEAR_PLANE_M
                py = pts_cam[a, 1] + f * (pts_cam[b, 1] - pts_cam[a, 1])
                pz = pts_cam[a, 2] + f * (pts_cam[b, 2] - pts_cam[a, 2])
            any_front = True
            u = cx - fx * py / px
            v = cy - fy * pz / px
            u_min, u_max = min(u_min, u), max(u_max, u)
            v_min, v_max = min(v_min, v), max(v_max, v)
    if not any_front:
        return 0, 0, 0, 0
    u_lo = max(int(math.floor(u_min)), 0)
    u_hi = min(int(math.ceil(u_max)) + 1, w)
    v_lo = max(int(math.floor(v_min)), 0)
    v_hi = min(int(math.ceil(v_max)) + 1, h)
    return u_lo, u_hi, v_lo, v_hi


@nb.njit(cache=True)
def _render_boxes(
    ray_dir: np.ndarray, origin: np.ndarray, rotation: np.ndarray, fx: float, fy: float,
    cx: float, cy: float, bx: np.ndarray, by: np.ndarray, byaw: np.ndarray,
    length: np.ndarray, width: np.ndarray, height: np.ndarray, kind: np.ndarray,
    colours: np.ndarray, rgb: np.ndarray, depth: np.ndarray,
) -> None:
    """All actor boxes (vehicle frame), nearest first so farther pixels fail the depth test."""
    h, w = depth.shape
    n = bx.shape[0]
    dist = np.empty(n)
    for i in range(n):
        dist[i] = math.hypot(bx[i], by[i])
    corners = np.empty((8, 3))
    cam = np.empty((8, 3))
    for i in np.argsort(dist):
        c, s = math.cos(byaw[i]), math.sin(byaw[i])
        hl, hw = 0.5 * length[i], 0.5 * width[i]
        for k in range(8):
            lx = hl if k in (0, 1, 4, 5) else -hl
            ly = hw if k in (0, 3, 4, 7) else -hw
            corners[k, 0] = bx[i] + c * lx - s * ly - origin[0]
            corners[k, 1] = by[i] + s * lx + c * ly - origin[1]
            corners[k, 2] = (height[i] if k >= 4 else 0.0) - origin[2]
        # into the camera frame: p_cam = R^T (p - origin)
        for k in range(8):
            for a in range(3):
                cam[k, a] = (rotation[0, a] * corners[k, 0] + rotation[1, a] * corners[k, 1]
                             + rotation[2, a] * corners[k, 2])
        u_lo, u_hi, v_lo, v_hi = _screen_rect_kernel(cam, fx, fy, cx, cy, w, h)
        if u_lo >= u_hi or v_lo >= v_hi:
            continue
        _render_box(ray_dir, origin, np.array([bx[i], by[i]]), byaw[i], hl, hw,
                    height[i], colours[kind[i]], u_lo, u_hi, v_lo, v_hi, rgb, depth)


@nb.njit(cache=True, fastmath=True)
def _finish(rgb: np.ndarray, gain: float, noise: np.ndarray, offset: int, std: float,
            out: np.ndarray) -> None:
    """Brightness, noise and quantisation to uint8 (flat loops so they vectorise)."""
    flat_in = rgb.reshape(-1)
    flat_out = out.reshape(-1)
    g = np.float32(gain)
    sd = np.float32(std)
    for n in range(flat_in.shape[0]):
        x = flat_in[n] * g + sd * noise[offset + n] + np.float32(0.5)
        flat_out[n] = np.uint8(min(max(x, np.float32(0.0)), np.float32(255.0)))


class _FrenetGridCache:
    """Frenet (s, d) on the vehicle-frame grid for the latest ego pose, shared by all cameras."""

    def __init__(self, road: Road) -> None:
        self.road = road
        self.gx = GRID_X_M
        self.gy = GRID_Y_M
        self.s = np.empty((self.gx.size, self.gy.size))
        self.d = np.empty_like(self.s)
        self._pose: tuple[float, float, float] | None = None
        # only nodes some camera interpolates from are evaluated
        self._needed = np.zeros(self.s.shape, dtype=bool)
        self._nodes = np.zeros(0, dtype=np.int64)

    def require(self, cell_i: np.ndarray, cell_j: np.ndarray) -> None:
        """Mark the four corner nodes of these cells as needed."""
        for di in (0, 1):
            for dj in (0, 1):
                self._needed[cell_i + di, cell_j + dj] = True
        self._nodes = np.flatnonzero(self._needed.ravel()).astype(np.int64)
        self._pose = None

    def update(self, ego: EgoTruth) -> None:
        pose = (ego.x_m, ego.y_m, ego.yaw_rad)
        if pose == self._pose:
            return
        # only the sections that can be in view: the kernel loops over every section it gets
        r = self.road
        reach = float(np.hypot(GRID_X_M[-1], GRID_Y_M[-1]))
        lo = np.searchsorted(r.s0, ego.s_m - reach, side="right") - 1
        hi = np.searchsorted(r.s0, ego.s_m + reach, side="right")
        sl = slice(max(int(lo), 0), max(int(hi), 1))
        _frenet_grid(ego.x_m, ego.y_m, ego.yaw_rad, self.gx, self.gy, self._nodes,
                     *(a[sl] for a in r.arrays), self.s, self.d)
        self._pose = pose


_GRIDS: weakref.WeakKeyDictionary[Road, _FrenetGridCache] = weakref.WeakKeyDictionary()


def _grid_for(road: Road) -> _FrenetGridCache:
    grid = _GRIDS.get(road)
    if grid is None:
        grid = _GRIDS[road] = _FrenetGridCache(road)
    return grid


class CameraModel:
    def __init__(self, calib: CameraCalibration, settings: CameraSettings, road: Road) -> None:
        self.calib = calib
        self.settings = settings
        self.road = road
        self.width_px = settings.width_px
        self.height_px = settings.height_px
        self.fx_px = 0.5 * self.width_px / math.tan(0.5 * calib.hfov_rad)
        self.fy_px = self.fx_px
        self.cx_px = 0.5 * self.width_px
        self.cy_px = 0.5 * self.height_px
        self.rotation = camera_rotation(calib)  # camera -> vehicle
        self.position = np.array([calib.x_m, calib.y_m, calib.z_m])
        self._grid = _grid_for(road)
        self._precompute_rays()
        bank = np.random.default_rng(0x5EED).standard_normal(
            NOISE_BANK_FRAMES * self.height_px * self.width_px * 3)
        self._noise_bank = bank.astype(np.float32)
        self._rgb = np.empty((self.height_px, self.width_px, 3), dtype=np.float32)
        self._depth = np.empty((self.height_px, self.width_px))

    def _precompute_rays(self) -> None:
        u = np.arange(self.width_px) + 0.5
        v = np.arange(self.height_px) + 0.5
        uu, vv = np.meshgrid(u, v)
        cam = np.stack([np.ones_like(uu), -(uu - self.cx_px) / self.fx_px,
                        -(vv - self.cy_px) / self.fy_px], axis=-1)
        cam /= np.linalg.norm(cam, axis=-1, keepdims=True)
        rays = cam @ self.rotation.T  # unit rays in the vehicle frame, (H, W, 3)
        self.ray_dir = np.ascontiguousarray(rays)
        dz = rays[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dz < -1e-6, self.position[2] / -dz, np.inf)
        self.ground_t = np.where(np.isfinite(t), t, np.inf)
        finite_t = np.where(np.isfinite(t), t, 0.0)
        self.ground_x = self.position[0] + finite_t * rays[..., 0]
        self.ground_y = self.position[1] + finite_t * rays[..., 1]
        # ground rows, and per row the knots (columns) where (s, d) is taken from the grid, with
        # their grid cell and bilinear weights: all fixed for a camera fixed to the car
        centre_col = self.width_px // 2
        row_t = self.ground_t[:, centre_col]
        rows = np.flatnonzero(row_t < MAX_GROUND_RANGE_M)
        self.rows = rows.astype(np.int64)
        self.knot_u = np.unique(np.append(np.arange(0, self.width_px, KNOT_SPACING_PX),
                                          self.width_px)).astype(np.float64)
        # knot k sits at the left edge of column knot_u[k]: the ground point there is the
        # average of the pixel centres either side (the ground point is affine in u)
        gx_ext = np.concatenate((2 * self.ground_x[:, :1] - self.ground_x[:, 1:2],
                                 self.ground_x,
                                 2 * self.ground_x[:, -1:] - self.ground_x[:, -2:-1]), axis=1)
        gy_ext = np.concatenate((2 * self.ground_y[:, :1] - self.ground_y[:, 1:2],
                                 self.ground_y,
                                 2 * self.ground_y[:, -1:] - self.ground_y[:, -2:-1]), axis=1)
        k = self.knot_u.astype(np.int64)  # column k's centre is at index k + 1 of *_ext
        px = (0.5 * (gx_ext[rows][:, k] + gx_ext[rows][:, k + 1])).reshape(-1)
        py = (0.5 * (gy_ext[rows][:, k] + gy_ext[rows][:, k + 1])).reshape(-1)
        i = np.clip(np.searchsorted(GRID_X_M, px, side="right") - 1, 0, GRID_X_M.size - 2)
        j = np.clip(np.searchsorted(GRID_Y_M, py, side="right") - 1, 0, GRID_Y_M.size - 2)
        ax = np.clip((px - GRID_X_M[i]) / (GRID_X_M[i + 1] - GRID_X_M[i]), 0.0, 1.0)
        ay = np.clip((py - GRID_Y_M[j]) / (GRID_Y_M[j + 1] - GRID_Y_M[j]), 0.0, 1.0)
        self.cell_i, self.cell_j = i.astype(np.int64), j.astype(np.int64)
        self.weights = np.stack([(1 - ax) * (1 - ay), (1 - ax) * ay, ax * (1 - ay), ax * ay],
                                axis=1)
        self.row_haze = np.minimum(row_t[rows] / HAZE_DISTANCE_M, 1.0)
        self._grid.require(self.cell_i, self.cell_j)
        self.background_depth = np.where(self.ground_t < MAX_GROUND_RANGE_M, self.ground_t,
                                         np.inf)
        # sky: horizon colour blending to the zenith colour with the ray's elevation
        elev = np.clip(rays[..., 2], 0.0, 1.0)[..., None] ** 0.6
        sky = np.array(SKY_HORIZON_RGB) * (1 - elev) + np.array(SKY_ZENITH_RGB) * elev
        self.sky_rgb = sky.astype(np.float32)

    # --- projection ------------------------------------------------------------------------
    def project_points_vehicle(self, pts_vehicle: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, 3) vehicle-frame points -> (u_px, v_px, depth_m along the optical axis)."""
        p = (np.asarray(pts_vehicle, dtype=np.float64) - self.position) @ self.rotation
        depth = p[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.cx_px - self.fx_px * p[:, 1] / depth
            v = self.cy_px - self.fy_px * p[:, 2] / depth
        return u, v, depth

    def project_points_world(self, ego: EgoTruth, pts_world: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.project_points_vehicle(world_to_vehicle(ego, pts_world))

    # --- rendering -------------------------------------------------------------------------
    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> CameraFrame:
        grid = self._grid
        grid.update(ego)
        rgb, depth = self._rgb, self._depth
        np.copyto(rgb, self.sky_rgb)
        np.copyto(depth, self.background_depth)
        _render_ground(self.rows, self.knot_u, self.cell_i, self.cell_j, self.weights,
                       self.row_haze, grid.s, grid.d, self.road.lane_count,
                       self.road.lane_width_m, rgb)
        if actors.count:
            self._render_actors(ego, actors, rgb, depth)
        frame_len = self.height_px * self.width_px * 3
        offset = int(rng.integers(0, self._noise_bank.size - frame_len + 1))
        image = np.empty((self.height_px, self.width_px, 3), dtype=np.uint8)
        _finish(rgb, self.settings.brightness, self._noise_bank, offset,
                self.settings.pixel_noise_std, image)
        return CameraFrame(self.calib.name, stamp_ns, image)

    def _render_actors(self, ego: EgoTruth, actors: ActorsTruth, rgb: np.ndarray,
                       depth: np.ndarray) -> None:
        c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
        dx, dy = actors.x_m - ego.x_m, actors.y_m - ego.y_m
        _render_boxes(self.ray_dir, self.position, self.rotation, self.fx_px, self.fy_px,
                      self.cx_px, self.cy_px, c * dx + s * dy, -s * dx + c * dy,
                      actors.yaw_rad - ego.yaw_rad, actors.length_m, actors.width_m,
                      actors.height_m, actors.kind, _KIND_COLOURS, rgb, depth)




def world_to_vehicle(ego: EgoTruth, pts_world: np.ndarray) -> np.ndarray:
    """(n, 3) world points -> vehicle frame (rear axle origin, x forward)."""
    p = np.asarray(pts_world, dtype=np.float64)
    c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    dx, dy = p[:, 0] - ego.x_m, p[:, 1] - ego.y_m
    return np.stack([c * dx + s * dy, -s * dx + c * dy, p[:, 2]], axis=1)


def box_corners_3d(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, length: np.ndarray,
                   width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """(n, 8, 3) corners of boxes standing on the ground."""
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    lx = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=np.float64) * (0.5 * length[:, None])
    ly = np.array([1, -1, -1, 1, 1, -1, -1, 1], dtype=np.float64) * (0.5 * width[:, None])
    lz = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.float64) * height[:, None]
    out = np.empty((x.shape[0], 8, 3))
    out[..., 0] = x[:, None] + c * lx - s * ly
    out[..., 1] = y[:, None] + s * lx + c * ly
    out[..., 2] = lz
    return out
