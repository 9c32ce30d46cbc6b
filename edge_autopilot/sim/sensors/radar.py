"""Front radar (77 GHz style): detections with range, azimuth, elevation, Doppler and amplitude.

Model, per scan:
- Scattering points on the faces of each actor box that face the radar: one per small object
  (pedestrian, cyclist, static), more along the visible faces of cars and trucks, so large
  objects give several returns from their outline (never from their centre).
- Amplitude from the radar equation: ``rcs_dbsm - 40 log10(range) + K``, the object's RCS split
  over its points. Detection probability falls off smoothly as the amplitude nears the detection
  threshold, so weak, far targets are missed more often.
- Occlusion: a point is hidden when a nearer object covers its azimuth.
- Doppler is the radial component of the relative velocity (target minus the radar's own
  velocity, which includes the yaw-rate term at the mount); negative when closing.
- Noise: range std ``range_noise_std_m + range_noise_per_m * range``, azimuth and Doppler std.
- Clutter: Poisson false alarms from static roadside scatterers (Doppler of a static point),
  uniform in azimuth over the field of view, mostly at short range.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import RadarCalibration
from edge_autopilot.sensors.samples import RadarScan
from edge_autopilot.sim.sensors.settings import RadarSettings
from edge_autopilot.sim.truth import KIND_RCS_DBSM, ActorKind, ActorsTruth, EgoTruth

# Amplitude offset K: puts a 10 dBsm car at 160 m 6 dB above the threshold, i.e. a car is seen
# out to the rated range (radar equation slope: 40 dB per decade of range).
THRESHOLD_DB = 0.0
AMPLITUDE_OFFSET_DB = THRESHOLD_DB + 6.0 - 10.0 + 40.0 * math.log10(160.0)
# Detection probability rolls off over a few dB around the threshold (Swerling-like fluctuation).
DETECTION_ROLLOFF_DB = 2.0
MIN_RANGE_M = 0.5
# Spacing of scattering points along a visible face of a car or truck.
POINT_SPACING_M = 2.0
MAX_POINTS_PER_FACE = 4
CLUTTER_AMPLITUDE_DB = (THRESHOLD_DB, THRESHOLD_DB + 12.0)
_SMALL_KINDS = (ActorKind.PEDESTRIAN, ActorKind.CYCLIST, ActorKind.STATIC)
_RCS_TABLE = np.array([KIND_RCS_DBSM[ActorKind(k)] for k in range(len(ActorKind))])


@nb.njit(cache=True)
def _scatter_points(
    cx: np.ndarray, cy: np.ndarray, yaw: np.ndarray, length: np.ndarray, width: np.ndarray,
    small: np.ndarray, out_x: np.ndarray, out_y: np.ndarray, out_owner: np.ndarray,
) -> int:
    """Scattering points of each box as seen from the origin (radar frame); returns the count.

    Points sit on faces whose outward normal points toward the radar; a small object gives the
    single nearest point of its outline.
    """
    m = 0
    for i in range(cx.shape[0]):
        c, s = math.cos(yaw[i]), math.sin(yaw[i])
        hl, hw = 0.5 * length[i], 0.5 * width[i]
        if small[i]:
            # nearest point of the box to the radar: clamp the radar into box coordinates
            lx = -(c * cx[i] + s * cy[i])
            ly = -(-s * cx[i] + c * cy[i])
            lx = min(max(lx, -hl), hl)
            ly = min(max(ly, -hw), hw)
            out_x[m] = cx[i] + c * lx - s * ly
            out_y[m] = cy[i] + s * lx + c * ly
            out_owner[m] = i
            m += 1
            continue
        # four faces: (normal in box frame, half extent along the face, face length)
        for f in range(4):
            if f == 0:
                nx, ny, ext, off = 1.0, 0.0, hw, hl
            elif f == 1:
                nx, ny, ext, off = -1.0, 0.0, hw, hl
            elif f == 2:
                nx, ny, ext, off = 0.0, 1.0, hl, hw
            else:
                nx, ny, ext, off = 0.0, -1.0, hl, hw
            wnx, wny = c * nx - s * ny, s * nx + c * ny
            fcx, fcy = cx[i] + wnx * off, cy[i] + wny * off
            if wnx * fcx + wny * fcy >= 0.0:
                continue  # faces away from the radar
            count = min(max(int(round(2.0 * ext / POINT_SPACING_M)), 1), MAX_POINTS_PER_FACE)
            tx, ty = -wny, wnx  # along the face
            for k in range(count):
                u = (-1.0 + (2.0 * k + 1.0) / count) * ext
                out_x[m] = fcx + tx * u
                out_y[m] = fcy + ty * u
                out_owner[m] = i
                m += 1
    return m


@nb.njit(cache=True)
def _returns(
    cx: np.ndarray, cy: np.ndarray, yaw: np.ndarray, length: np.ndarray, width: np.ndarray,
    height: np.ndarray, rcs_dbsm: np.ndarray, small: np.ndarray, rvx: np.ndarray,
    rvy: np.ndarray, mount_z: float, half_fov: float, max_range: float,
    r: np.ndarray, az: np.ndarray, el: np.ndarray, dop: np.ndarray, amp: np.ndarray,
    visible: np.ndarray,
) -> int:
    """Noise-free returns of all candidate objects in the radar frame; returns the count.

    ``rvx``/``rvy`` are each object's velocity relative to the radar, in radar axes.
    """
    n = cx.shape[0]
    cap = r.shape[0]
    px = np.empty(cap)
    py = np.empty(cap)
    owner = np.empty(cap, dtype=np.int64)
    m = _scatter_points(cx, cy, yaw, length, width, small, px, py, owner)
    # each object's azimuth extent (corners) and nearest range, for occlusion
    az_lo = np.full(n, np.inf)
    az_hi = np.full(n, -np.inf)
    r_near = np.full(n, np.inf)
    for i in range(n):
        c, s = math.cos(yaw[i]), math.sin(yaw[i])
        for k in range(4):
            lx = 0.5 * length[i] * (1.0 if k in (0, 3) else -1.0)
            ly = 0.5 * width[i] * (1.0 if k in (0, 1) else -1.0)
            x = cx[i] + c * lx - s * ly
            y = cy[i] + s * lx + c * ly
            a = math.atan2(y, x)
            az_lo[i] = min(az_lo[i], a)
            az_hi[i] = max(az_hi[i], a)
            r_near[i] = min(r_near[i], math.hypot(x, y))
    points = np.zeros(n, dtype=np.int64)
    for q in range(m):
        points[owner[q]] += 1
        r[q] = math.hypot(px[q], py[q])
        az[q] = math.atan2(py[q], px[q])
        r_near[owner[q]] = min(r_near[owner[q]], r[q])
    for q in range(m):
        i = owner[q]
        rq = max(r[q], 1e-6)
        hidden = False
        for j in range(n):
            if j != i and az_lo[j] <= az[q] <= az_hi[j] and r_near[j] < r[q] - 0.5:
                hidden = True
                break
        visible[q] = (not hidden and abs(az[q]) <= half_fov and r[q] >= MIN_RANGE_M
                      and r[q] <= max_range)
        # the object's RCS split over its points; radar equation
        amp[q] = (rcs_dbsm[i] - 10.0 * math.log10(points[i])
                  - 40.0 * math.log10(max(r[q], MIN_RANGE_M)) + AMPLITUDE_OFFSET_DB)
        dop[q] = (rvx[i] * px[q] + rvy[i] * py[q]) / rq
        el[q] = math.atan2(0.5 * height[i] - mount_z, rq)
    return m


class RadarModel:
    def __init__(self, calib: RadarCalibration, settings: RadarSettings) -> None:
        self.calib = calib
        self.settings = settings
        self._half_fov = 0.5 * math.radians(settings.fov_deg)
        self._small = np.array([ActorKind(k) in _SMALL_KINDS for k in range(len(ActorKind))])

    def _radar_pose(self, ego: EgoTruth) -> tuple[float, float, float, float, float]:
        """World position, yaw and world velocity of the radar."""
        c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
        mx, my = self.calib.x_m, self.calib.y_m
        x = ego.x_m + c * mx - s * my
        y = ego.y_m + s * mx + c * my
        # v = v_ego * heading + omega x r_mount (r_mount in world)
        rx, ry = c * mx - s * my, s * mx + c * my
        vx = ego.speed_mps * c - ego.yaw_rate_rps * ry
        vy = ego.speed_mps * s + ego.yaw_rate_rps * rx
        return x, y, ego.yaw_rad + self.calib.yaw_rad, vx, vy

    def measure(self, ego: EgoTruth, actors: ActorsTruth, stamp_ns: int,
                rng: np.random.Generator) -> RadarScan:
        st = self.settings
        px, py, pyaw, pvx, pvy = self._radar_pose(ego)
        c, s = math.cos(pyaw), math.sin(pyaw)
        # candidate objects, into the radar frame
        dx, dy = actors.x_m - px, actors.y_m - py
        cx, cy = c * dx + s * dy, -s * dx + c * dy
        reach = st.max_range_m + 0.5 * np.hypot(actors.length_m, actors.width_m)
        idx = np.flatnonzero((cx > -0.5 * actors.length_m) & (np.hypot(cx, cy) < reach))
        n_obj = idx.shape[0]
        cap = max(1, n_obj * 4 * MAX_POINTS_PER_FACE)
        r, az, el, dop, amp = (np.empty(cap) for _ in range(5))
        visible = np.empty(cap, dtype=np.bool_)
        m = 0
        if n_obj:
            wvx, wvy = actors.vx_mps[idx] - pvx, actors.vy_mps[idx] - pvy
            kinds = actors.kind[idx]
            m = _returns(cx[idx], cy[idx], actors.yaw_rad[idx] - pyaw, actors.length_m[idx],
                         actors.width_m[idx], actors.height_m[idx], _RCS_TABLE[kinds],
                         self._small[kinds], c * wvx + s * wvy, -s * wvx + c * wvy,
                         self.calib.z_m, self._half_fov, st.max_range_m, r, az, el, dop, amp,
                         visible)
        r, az, el, dop, amp, visible = r[:m], az[:m], el[:m], dop[:m], amp[:m], visible[:m]
        # the random draws have fixed sizes per point, so the stream stays aligned
        u_detect = rng.random(m)
        noise = rng.standard_normal((4, m))
        n_clutter = int(rng.poisson(st.clutter_rate)) if st.clutter_rate > 0 else 0
        clutter_u = rng.random((2, n_clutter))
        c_noise = rng.standard_normal((3, n_clutter))

        p_det = st.detection_prob / (1.0 + np.exp(-(amp - THRESHOLD_DB) / DETECTION_ROLLOFF_DB))
        keep = visible & (u_detect < p_det)
        # clutter from static roadside scatterers: the Doppler of a point fixed in the world
        c_r = MIN_RANGE_M + (0.5 * st.max_range_m - MIN_RANGE_M) * clutter_u[0]
        c_az = (rng.random(n_clutter) * 2.0 - 1.0) * self._half_fov
        c_dop = -(pvx * np.cos(c_az + pyaw) + pvy * np.sin(c_az + pyaw))
        c_amp = CLUTTER_AMPLITUDE_DB[0] + (CLUTTER_AMPLITUDE_DB[1] - CLUTTER_AMPLITUDE_DB[0]) \
            * clutter_u[1]
        az_std = math.radians(st.azimuth_noise_std_deg)
        all_r = np.concatenate((
            r[keep] + (st.range_noise_std_m + st.range_noise_per_m * r[keep]) * noise[0, keep],
            c_r + (st.range_noise_std_m + st.range_noise_per_m * c_r) * c_noise[0]))
        all_az = np.concatenate((az[keep] + az_std * noise[1, keep],
                                 c_az + az_std * c_noise[1]))
        all_dop = np.concatenate((dop[keep] + st.doppler_noise_std_mps * noise[2, keep],
                                  c_dop + st.doppler_noise_std_mps * c_noise[2]))
        all_amp = np.concatenate((amp[keep] + noise[3, keep], c_amp))
        all_el = np.concatenate((el[keep], np.zeros(n_clutter)))
        inside = (all_r >= MIN_RANGE_M) & (all_r <= st.max_range_m) & \
            (np.abs(all_az) <= self._half_fov)
        f32 = np.float32
        return RadarScan(
            sensor_id=self.calib.name,
            stamp_ns=stamp_ns,
            range_m=all_r[inside].astype(f32),
            azimuth_rad=all_az[inside].astype(f32),
            elevation_rad=all_el[inside].astype(f32),
            doppler_mps=all_dop[inside].astype(f32),
            amplitude_db=all_amp[inside].astype(f32),
        )
