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
from edge_autopilot.sim.truth import KIND_RCS_DBSM, ActorKind, ActorsTruth, EgoTruth, box_corners

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
def _occluded(
    rng_m: np.ndarray, az: np.ndarray, owner: np.ndarray, n: int,
    az_lo: np.ndarray, az_hi: np.ndarray, r_near: np.ndarray,
) -> np.ndarray:
    """True where a nearer object's azimuth interval covers the point."""
    hidden = np.zeros(n, dtype=np.bool_)
    for p in range(n):
        for j in range(az_lo.shape[0]):
            if j == owner[p]:
                continue
            if az_lo[j] <= az[p] <= az_hi[j] and r_near[j] < rng_m[p] - 0.5:
                hidden[p] = True
                break
    return hidden


class RadarModel:
    def __init__(self, calib: RadarCalibration, settings: RadarSettings) -> None:
        self.calib = calib
        self.settings = settings
        self._half_fov = 0.5 * math.radians(settings.fov_deg)

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
        # actors into the radar frame
        dx, dy = actors.x_m - px, actors.y_m - py
        cx, cy = c * dx + s * dy, -s * dx + c * dy
        reach = st.max_range_m + 0.5 * np.hypot(actors.length_m, actors.width_m)
        cand = (cx > -0.5 * actors.length_m) & (np.hypot(cx, cy) < reach)
        idx = np.flatnonzero(cand)
        n_obj = idx.shape[0]
        cap = max(1, n_obj * 4 * MAX_POINTS_PER_FACE)
        pts_x, pts_y = np.empty(cap), np.empty(cap)
        owner = np.empty(cap, dtype=np.int64)
        small = np.isin(actors.kind[idx], _SMALL_KINDS)
        m = _scatter_points(cx[idx], cy[idx], actors.yaw_rad[idx] - pyaw,
                            actors.length_m[idx], actors.width_m[idx], small, pts_x, pts_y,
                            owner) if n_obj else 0
        pts_x, pts_y, owner = pts_x[:m], pts_y[:m], owner[:m]
        r = np.hypot(pts_x, pts_y)
        az = np.arctan2(pts_y, pts_x)
        # per-object azimuth extent (from its corners) and nearest range, for occlusion
        if n_obj:
            corners = box_corners(cx[idx], cy[idx], actors.yaw_rad[idx] - pyaw,
                                  actors.length_m[idx], actors.width_m[idx])
            corner_az = np.arctan2(corners[:, :, 1], corners[:, :, 0])
            r_near = np.hypot(corners[:, :, 0], corners[:, :, 1]).min(axis=1)
            np.minimum.at(r_near, owner, r)
            hidden = _occluded(r, az, owner, m, corner_az.min(axis=1), corner_az.max(axis=1),
                               r_near)
        else:
            hidden = np.zeros(0, dtype=bool)
        visible = (~hidden & (np.abs(az) <= self._half_fov) & (r >= MIN_RANGE_M)
                   & (r <= st.max_range_m))
        # amplitude: object RCS split over its points, radar equation
        kinds = actors.kind[idx][owner]
        points_per_obj = np.bincount(owner, minlength=n_obj)[owner] if m else np.zeros(0)
        rcs = _RCS_TABLE[kinds] - 10.0 * np.log10(np.maximum(points_per_obj, 1))
        amp = rcs - 40.0 * np.log10(np.maximum(r, MIN_RANGE_M)) + AMPLITUDE_OFFSET_DB
        # the random draws below have fixed sizes per point, so streams stay aligned
        u_detect = rng.random(m)
        p_det = st.detection_prob / (1.0 + np.exp(-(amp - THRESHOLD_DB) / DETECTION_ROLLOFF_DB))
        keep = visible & (u_detect < p_det)
        # Doppler: relative velocity projected on the line of sight (world frame)
        obj = idx[owner]
        rvx = actors.vx_mps[obj] - pvx
        rvy = actors.vy_mps[obj] - pvy
        los_x = c * pts_x - s * pts_y
        los_y = s * pts_x + c * pts_y
        doppler = (rvx * los_x + rvy * los_y) / np.maximum(r, 1e-6)
        elev = np.arctan2(0.5 * actors.height_m[obj] - self.calib.z_m, np.maximum(r, 1e-6))
        noise = rng.standard_normal((4, m))
        # clutter from static scatterers
        n_clutter = int(rng.poisson(st.clutter_rate)) if st.clutter_rate > 0 else 0
        c_r = MIN_RANGE_M + (0.5 * st.max_range_m - MIN_RANGE_M) * rng.random(n_clutter)
        c_az = (rng.random(n_clutter) * 2.0 - 1.0) * self._half_fov
        c_dop = -(pvx * np.cos(c_az + pyaw) + pvy * np.sin(c_az + pyaw))
        c_amp = CLUTTER_AMPLITUDE_DB[0] + (CLUTTER_AMPLITUDE_DB[1] - CLUTTER_AMPLITUDE_DB[0]) \
            * rng.random(n_clutter)
        c_noise = rng.standard_normal((3, n_clutter))

        rng_std = st.range_noise_std_m + st.range_noise_per_m * r
        az_std = math.radians(st.azimuth_noise_std_deg)
        det_r = r + rng_std * noise[0]
        det_az = az + az_std * noise[1]
        det_dop = doppler + st.doppler_noise_std_mps * noise[2]
        det_amp = amp + 1.0 * noise[3]
        c_std = st.range_noise_std_m + st.range_noise_per_m * c_r
        all_r = np.concatenate((det_r[keep], c_r + c_std * c_noise[0]))
        all_az = np.concatenate((det_az[keep], c_az + az_std * c_noise[1]))
        all_dop = np.concatenate((det_dop[keep], c_dop + st.doppler_noise_std_mps * c_noise[2]))
        all_amp = np.concatenate((det_amp[keep], c_amp))
        all_el = np.concatenate((elev[keep], np.zeros(n_clutter)))
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
