"""Front radar (77 GHz automotive style): detections with range, azimuth, elevation, Doppler and
amplitude, in the radar's own frame (x along the boresight, azimuth positive to the left).

Model, per scan:
- Scattering points on the outline of each actor box, on the side facing the radar (never its
  centre). A pedestrian, cyclist or static object gives one point: the nearest point of its
  outline. A car or truck gives the nearest outline point, the corners of its visible faces
  (corners are strong reflectors) and points along each visible face every ~2 m, so a truck
  side-on gives many returns and a car head-on still gives three.
- Amplitude from the radar equation, ``rcs_dbsm - 40 log10(range) + K``, with the object's RCS
  split evenly over its points. Detection probability is ``detection_prob`` for a strong target
  and rolls off as the amplitude nears the detection threshold, so weak and far targets are
  missed more often.
- Occlusion: a point is hidden when the ray from the radar to it passes through another
  object's box first (exact ray/box test), so a partly covered object keeps the returns of its
  uncovered part.
- Doppler: the radial component of the relative velocity (target minus the radar's own world
  velocity, which includes the yaw-rate term at the mount), negative when closing.
- Noise: range std ``range_noise_std_m + range_noise_per_m * range``, azimuth, Doppler and
  amplitude std.
- Clutter: Poisson false alarms (mean ``clutter_rate``), uniform in azimuth over the field of
  view and in range, with the Doppler of a static roadside scatterer.

Determinism: every random number comes from the ``rng`` passed to ``measure``, drawn in a fixed
order whose sizes depend only on the scene, so equal inputs and equal rng states give identical
scans. Speed: two numba kernels (geometry, then noise); the Python side is a handful of calls.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import RadarCalibration
from edge_autopilot.sensors.samples import RadarScan
from edge_autopilot.sim.sensors.settings import RadarSettings
from edge_autopilot.sim.truth import KIND_RCS_DBSM, ActorKind, ActorsTruth, EgoTruth

# Amplitude offset K of the radar equation: puts a 10 dBsm car (one point) at 160 m 6 dB above
# the detection threshold, so a car is seen out to the rated range; the slope is 40 dB per decade
# of range (two-way spreading, R^-4: Skolnik, "Introduction to Radar Systems", ch. 2).
THRESHOLD_DB = 0.0
AMPLITUDE_OFFSET_DB = THRESHOLD_DB + 6.0 - 10.0 + 40.0 * math.log10(160.0)
# Detection probability is a logistic roll-off of a few dB around the threshold, standing in for
# the target fluctuation (Swerling) that makes marginal targets come and go.
DETECTION_ROLLOFF_DB = 2.0
# Spread of the reported amplitude about the radar equation (estimation noise of the peak).
AMPLITUDE_NOISE_STD_DB = 1.0
# Closer than this the radar's receiver is blanked (transmit leakage); nothing is reported.
MIN_RANGE_M = 0.5
# Scattering points along a visible face of a car or truck: about one per POINT_SPACING_M.
POINT_SPACING_M = 2.0
MAX_SEGMENTS_PER_FACE = 8
# The nearest outline point is dropped when a corner/face point already sits this close.
SAME_POINT_M = 0.5
# A point is only hidden by a box the ray enters at least this much nearer (boxes that touch
# must not hide each other's facing points).
OCCLUSION_MARGIN_M = 0.1
# Clutter amplitude: false alarms are threshold crossings of noise and weak roadside scatterers.
CLUTTER_AMPLITUDE_SPAN_DB = 12.0
# A box seen from outside shows at most two faces and three corners, plus the nearest point.
MAX_POINTS_PER_ACTOR = 1 + 3 + 2 * (MAX_SEGMENTS_PER_FACE - 1)

_SINGLE_POINT_KINDS = (ActorKind.PEDESTRIAN, ActorKind.CYCLIST, ActorKind.STATIC)
_RCS_DBSM_BY_KIND = np.array([KIND_RCS_DBSM[ActorKind(k)] for k in range(len(ActorKind))])
_SINGLE_POINT_BY_KIND = np.array([ActorKind(k) in _SINGLE_POINT_KINDS
                                  for k in range(len(ActorKind))])

# rows of the geometry kernel's output
_R, _AZ, _EL, _DOP, _AMP, _VISIBLE = range(6)


def radar_world_state(ego: EgoTruth, calib: RadarCalibration
                      ) -> tuple[float, float, float, float, float]:
    """World position (x, y), boresight yaw and world velocity (vx, vy) of the radar.

    The ego's speed is along its heading at the rear axle (the vehicle frame origin); the mount
    adds ``omega x r_mount``.
    """
    c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    arm_x = c * calib.x_m - s * calib.y_m
    arm_y = s * calib.x_m + c * calib.y_m
    vx = ego.speed_mps * c - ego.yaw_rate_rps * arm_y
    vy = ego.speed_mps * s + ego.yaw_rate_rps * arm_x
    return ego.x_m + arm_x, ego.y_m + arm_y, ego.yaw_rad + calib.yaw_rad, vx, vy


@nb.njit(cache=True)
def _ray_box_entry_m(ux: float, uy: float, cx: float, cy: float, bc: float, bs: float,
                     hl: float, hw: float) -> float:
    """Range at which the ray from the origin along unit (ux, uy) enters the box; inf if it
    misses or starts inside. Slab test in the box frame (centre cx, cy; axes cos/sin bc, bs)."""
    ox, oy = -(bc * cx + bs * cy), -(-bs * cx + bc * cy)
    dx, dy = bc * ux + bs * uy, -bs * ux + bc * uy
    t_in, t_out = -np.inf, np.inf
    for o, d, h in ((ox, dx, hl), (oy, dy, hw)):
        if abs(d) < 1e-12:
            if abs(o) > h:
                return np.inf
            continue
        t1, t2 = (-h - o) / d, (h - o) / d
        t_in = max(t_in, min(t1, t2))
        t_out = min(t_out, max(t1, t2))
    if t_in > t_out or t_in <= 0.0:
        return np.inf
    return t_in


@nb.njit(cache=True)
def _outline_points(ox: float, oy: float, hl: float, hw: float, single: bool,
                    out_lx: np.ndarray, out_ly: np.ndarray) -> int:
    """Scattering points in the box frame for a radar at (ox, oy) in that frame; the count.

    Edge e runs from corner e to corner e + 1 (corners counter-clockwise from front-left, as in
    ``truth.box_corners``): left, rear, right, front.
    """
    if abs(ox) <= hl and abs(oy) <= hw:
        return 0  # the radar is inside the box (a crash): no face points toward it
    # nearest outline point: the radar clamped into the box
    nx, ny = min(max(ox, -hl), hl), min(max(oy, -hw), hw)
    out_lx[0], out_ly[0] = nx, ny
    if single:
        return 1
    corner_x = (hl, -hl, -hl, hl)
    corner_y = (hw, hw, -hw, -hw)
    visible = (oy > hw, ox < -hl, oy < -hw, ox > hl)
    m = 1
    keep_nearest = True
    for k in range(4):
        # a corner is seen when either of its two faces is
        if not (visible[k] or visible[(k + 3) % 4]):
            continue
        px, py = corner_x[k], corner_y[k]
        if math.hypot(px - nx, py - ny) < SAME_POINT_M:
            keep_nearest = False
        out_lx[m], out_ly[m] = px, py
        m += 1
    for e in range(4):
        if not visible[e]:
            continue
        x0, y0 = corner_x[e], corner_y[e]
        x1, y1 = corner_x[(e + 1) % 4], corner_y[(e + 1) % 4]
        length = math.hypot(x1 - x0, y1 - y0)
        segments = min(max(round(length / POINT_SPACING_M), 1), MAX_SEGMENTS_PER_FACE)
        for j in range(1, segments):
            t = j / segments
            px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            if math.hypot(px - nx, py - ny) < SAME_POINT_M:
                keep_nearest = False
            out_lx[m], out_ly[m] = px, py
            m += 1
    if not keep_nearest:  # drop the duplicate: move the last point into slot 0
        m -= 1
        out_lx[0], out_ly[0] = out_lx[m], out_ly[m]
    return m


@nb.njit(cache=True)
def _true_returns(
    radar_x: float, radar_y: float, radar_yaw: float, radar_vx: float, radar_vy: float,
    mount_z: float, ax: np.ndarray, ay: np.ndarray, ayaw: np.ndarray, alength: np.ndarray,
    awidth: np.ndarray, aheight: np.ndarray, avx: np.ndarray, avy: np.ndarray,
    kind: np.ndarray, rcs_by_kind: np.ndarray, single_by_kind: np.ndarray, half_fov: float,
    max_range: float,
) -> tuple[np.ndarray, int]:
    """Noise-free returns of every scattering point, (6, capacity) rows r, az, el, doppler,
    amplitude, visible (1.0 / 0.0); and the number of points m."""
    c, s = math.cos(radar_yaw), math.sin(radar_yaw)
    n = ax.shape[0]
    # candidates: boxes that may reach into range in front of the radar, in the radar frame
    cand = np.empty(n, dtype=np.int64)
    cx = np.empty(n)
    cy = np.empty(n)
    bc = np.empty(n)
    bs = np.empty(n)
    n_cand = 0
    for i in range(n):
        dx, dy = ax[i] - radar_x, ay[i] - radar_y
        x, y = c * dx + s * dy, -s * dx + c * dy
        half_diag = 0.5 * math.hypot(alength[i], awidth[i])
        if x + half_diag < 0.0 or math.hypot(x, y) - half_diag > max_range:
            continue
        cand[n_cand] = i
        cx[n_cand], cy[n_cand] = x, y
        bc[n_cand], bs[n_cand] = math.cos(ayaw[i] - radar_yaw), math.sin(ayaw[i] - radar_yaw)
        n_cand += 1

    pts = np.zeros((6, max(n_cand * MAX_POINTS_PER_ACTOR, 1)))
    lx = np.empty(MAX_POINTS_PER_ACTOR)
    ly = np.empty(MAX_POINTS_PER_ACTOR)
    m = 0
    for j in range(n_cand):
        i = cand[j]
        hl, hw = 0.5 * alength[i], 0.5 * awidth[i]
        # the radar (origin) in the box frame
        ox, oy = -(bc[j] * cx[j] + bs[j] * cy[j]), -(-bs[j] * cx[j] + bc[j] * cy[j])
        k_pts = _outline_points(ox, oy, hl, hw, single_by_kind[kind[i]], lx, ly)
        if k_pts == 0:
            continue
        # relative velocity (target minus radar) in radar axes
        wvx, wvy = avx[i] - radar_vx, avy[i] - radar_vy
        rvx, rvy = c * wvx + s * wvy, -s * wvx + c * wvy
        # the object's RCS shared by its points
        amp0 = rcs_by_kind[kind[i]] - 10.0 * math.log10(k_pts) + AMPLITUDE_OFFSET_DB
        for q in range(k_pts):
            x = cx[j] + bc[j] * lx[q] - bs[j] * ly[q]
            y = cy[j] + bs[j] * lx[q] + bc[j] * ly[q]
            r = math.hypot(x, y)
            az = math.atan2(y, x)
            visible = MIN_RANGE_M <= r <= max_range and abs(az) <= half_fov
            if visible:
                ux, uy = x / r, y / r
                for o in range(n_cand):
                    if o != j and _ray_box_entry_m(
                        ux, uy, cx[o], cy[o], bc[o], bs[o], 0.5 * alength[cand[o]],
                        0.5 * awidth[cand[o]],
                    ) < r - OCCLUSION_MARGIN_M:
                        visible = False
                        break
            pts[_R, m] = r
            pts[_AZ, m] = az
            # the return from the object's mid-height, seen from the mount height
            pts[_EL, m] = math.atan2(0.5 * aheight[i] - mount_z, r)
            pts[_DOP, m] = (rvx * x + rvy * y) / max(r, 1e-9)
            pts[_AMP, m] = amp0 - 40.0 * math.log10(max(r, MIN_RANGE_M))
            pts[_VISIBLE, m] = 1.0 if visible else 0.0
            m += 1
    return pts, m


@nb.njit(cache=True)
def _noisy_scan(
    pts: np.ndarray, m: int, uniform: np.ndarray, normal: np.ndarray, n_clutter: int,
    self_vx: float, self_vy: float, range_std_m: float, range_std_per_m: float,
    az_std_rad: float, doppler_std_mps: float, detection_prob: float, half_fov: float,
    max_range: float,
) -> np.ndarray:
    """Detected returns with noise, then clutter: (5, k) float32 rows r, az, el, doppler, amp.

    ``uniform`` holds m + 3 n_clutter draws, ``normal`` 4 m + n_clutter; every point consumes
    its draws whether detected or not, so the stream's use depends only on the scene.
    ``self_vx``/``self_vy`` is the radar's own velocity in radar axes.
    """
    out = np.empty((5, m + n_clutter), dtype=np.float32)
    k = 0
    for q in range(m):
        if pts[_VISIBLE, q] == 0.0:
            continue
        amp = pts[_AMP, q]
        p_det = detection_prob / (1.0 + math.exp(-(amp - THRESHOLD_DB) / DETECTION_ROLLOFF_DB))
        if uniform[q] >= p_det:
            continue
        r_true = pts[_R, q]
        r = r_true + (range_std_m + range_std_per_m * r_true) * normal[4 * q]
        az = pts[_AZ, q] + az_std_rad * normal[4 * q + 1]
        # the radar reports only what its own range/angle gates hold
        if r < MIN_RANGE_M or r > max_range or abs(az) > half_fov:
            continue
        out[0, k] = r
        out[1, k] = az
        out[2, k] = pts[_EL, q]
        out[3, k] = pts[_DOP, q] + doppler_std_mps * normal[4 * q + 2]
        out[4, k] = amp + AMPLITUDE_NOISE_STD_DB * normal[4 * q + 3]
        k += 1
    for q in range(n_clutter):
        az = (2.0 * uniform[m + 3 * q] - 1.0) * half_fov
        out[0, k] = MIN_RANGE_M + (max_range - MIN_RANGE_M) * uniform[m + 3 * q + 1]
        out[1, k] = az
        out[2, k] = 0.0
        # a point fixed in the world closes at the radar's own speed along the line of sight
        out[3, k] = (-(self_vx * math.cos(az) + self_vy * math.sin(az))
                     + doppler_std_mps * normal[4 * m + q])
        out[4, k] = THRESHOLD_DB + CLUTTER_AMPLITUDE_SPAN_DB * uniform[m + 3 * q + 2]
        k += 1
    return out[:, :k]


class RadarModel:
    def __init__(self, calib: RadarCalibration, settings: RadarSettings) -> None:
        self.calib = calib
        self.settings = settings
        self._half_fov_rad = 0.5 * math.radians(settings.fov_deg)
        self._az_std_rad = math.radians(settings.azimuth_noise_std_deg)

    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> RadarScan:
        st = self.settings
        x, y, yaw, vx, vy = radar_world_state(ego, self.calib)
        pts, m = _true_returns(
            x, y, yaw, vx, vy, self.calib.z_m, actors.x_m, actors.y_m, actors.yaw_rad,
            actors.length_m, actors.width_m, actors.height_m, actors.vx_mps, actors.vy_mps,
            actors.kind, _RCS_DBSM_BY_KIND, _SINGLE_POINT_BY_KIND, self._half_fov_rad,
            st.max_range_m,
        )
        n_clutter = int(rng.poisson(st.clutter_rate)) if st.clutter_rate > 0.0 else 0
        uniform = rng.random(m + 3 * n_clutter)
        normal = rng.standard_normal(4 * m + n_clutter)
        c, s = math.cos(yaw), math.sin(yaw)
        out = _noisy_scan(
            pts, m, uniform, normal, n_clutter, c * vx + s * vy, -s * vx + c * vy,
            st.range_noise_std_m, st.range_noise_per_m, self._az_std_rad,
            st.doppler_noise_std_mps, st.detection_prob, self._half_fov_rad, st.max_range_m,
        )
        return RadarScan(self.calib.name, stamp_ns, out[0], out[1], out[2], out[3], out[4])
