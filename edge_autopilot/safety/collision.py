"""The independent collision path: raw radar returns and ultrasonic echoes, no tracks.

Every radar return goes into the vehicle frame (calibration) and onto the ego's predicted path,
a circle of curvature yaw_rate / speed through the rear axle. A return is *in path* when its
lateral offset from that circle is within half the ego width plus a margin, ahead of the front
bumper and within ``corridor_max_s_m``. Static roadside scatterers (guard rails, signs) are
outside the corridor; a static object *in* the corridor is an obstacle and stays one.

Clutter (~2 Poisson false alarms per scan at random range/azimuth with a static-world Doppler)
is rejected by a 2-scan confirmation: an in-path return counts only when the previous scan (or
the one before, to ride through one missed detection) holds a return at the place where it
must have been, predicted with the return's own Doppler (range), the ego yaw rate (lateral),
and a similar Doppler. A real obstacle is thus flagged on the second scan that sees it (50 ms
after the first at 20 Hz); two independent false alarms lining up within the gates is rare
(benchmarked in tests/test_safety_collision.py).

From the nearest confirmed in-path return (distance d from the front bumper along the path,
range rate rr = Doppler, negative closing; the radar's Doppler is already relative):
- TTC = d / closing speed;
- required deceleration a_req = v_c^2 / (2 (d - v_c t_resp - margin)): the constant braking that
  stops the closing after the system's response time (object keeps its speed);
- RSS minimum safe distance (Shalev-Shwartz et al. 2017, Def. 1) with the lead's speed
  v_f = v_ego + rr.
Escalation (see SafetyConfig for the sources of the numbers):
- EMERGENCY: TTC < 1.0 s, or a_req >= 0.6 x tyre limit (the distance is below the braking
  distance at 60 % of emergency decel: only full braking now keeps a margin), or a front
  ultrasonic echo < 1.0 m while moving (or commanded) forward;
- DEGRADED: TTC < 2.0 s, or d below the RSS distance (the lead braking at the tyre limit now
  would leave us unable to stop even braking at 90 % of it after rho): the rule-based
  controller with a wider gap restores the distance.
MRM is not a collision response: its -1.5 m/s^3 onset is too slow for a threat ahead, and a
stop in lane does not help when the problem is a gap. MRM is for lost capability (sensors,
networks, timing).
Braking beyond the nominal -3.5 m/s^2 is *justified* (``brake_authority``) while a confirmed
object is within the RSS distance computed with nominal ego braking -- in the path, or in a
corridor ``brake_authority_margin_m`` wider (a pedestrian about to step in, a car about to cut
in: the planner may rightly brake before the object is in the path) -- or any collision
finding is active.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import (
    COLLISION_REQUIRED_DECEL,
    COLLISION_RSS_DISTANCE,
    COLLISION_TTC,
    COLLISION_ULTRASONIC_NEAR,
    Finding,
    SafetyLevel,
)
from edge_autopilot.sensors.calibration import SensorRigCalibration
from edge_autopilot.sensors.samples import RadarScan, UltrasonicRange

NO_FINDINGS: tuple[Finding, ...] = ()
# rows of the per-scan buffers kept for the confirmation: vehicle x, y, radar range,
# Doppler, support (consecutive scans seen)
_ROWS = 5


def rss_min_distance_m(v_rear_mps: float, v_front_mps: float, response_s: float,
                       accel_max_mps2: float, rear_brake_min_mps2: float,
                       front_brake_max_mps2: float) -> float:
    """RSS safe longitudinal distance, same direction (Shalev-Shwartz, Shammah, Shashua 2017,
    "On a Formal Model of Safe and Scalable Self-driving Cars", Definition 1). Brakes are
    positive magnitudes."""
    v_resp = v_rear_mps + response_s * accel_max_mps2
    d = (v_rear_mps * response_s + 0.5 * accel_max_mps2 * response_s * response_s
         + v_resp * v_resp / (2.0 * rear_brake_min_mps2)
         - v_front_mps * v_front_mps / (2.0 * front_brake_max_mps2))
    return max(d, 0.0)


def time_to_collision_s(distance_m: float, closing_mps: float, min_closing_mps: float) -> float:
    """Constant-velocity TTC; inf when not closing faster than ``min_closing_mps``."""
    if closing_mps <= min_closing_mps:
        return math.inf
    return max(distance_m, 0.0) / closing_mps


def required_decel_mps2(distance_m: float, closing_mps: float, response_s: float,
                        margin_m: float) -> float:
    """Braking (positive) that stops the closing ``margin_m`` short of the object after
    ``response_s`` at the current closing speed; inf when even that distance is gone."""
    if closing_mps <= 0.0:
        return 0.0
    room = distance_m - closing_mps * response_s - margin_m
    if room <= 0.0:
        return math.inf
    return closing_mps * closing_mps / (2.0 * room)


def path_coordinates(x_m: float, y_m: float, curvature_1pm: float) -> tuple[float, float]:
    """Arc length along, and lateral offset (positive left) from, the circle of
    ``curvature_1pm`` through the vehicle origin with heading +x."""
    if abs(curvature_1pm) < 1e-6:
        return x_m, y_m
    radius = 1.0 / curvature_1pm
    sign = 1.0 if radius > 0.0 else -1.0
    dist = math.hypot(x_m, y_m - radius)
    angle = math.atan2(x_m, abs(radius) - sign * y_m)
    return abs(radius) * angle, sign * (abs(radius) - dist)


@nb.njit(cache=True)
def _scan_kernel(r: np.ndarray, az: np.ndarray, dop: np.ndarray, amp: np.ndarray,
                 mount_x: float, mount_y: float, mount_yaw: float, max_range: float,
                 kappa: float, half_width: float, front_x: float, max_s: float,
                 yaw_rate: float, prev1: np.ndarray, n1: int, dt1: float, prev2: np.ndarray,
                 n2: int, dt2: float, gate_r: float, gate_r_per: float, gate_lat: float,
                 gate_lat_per: float, gate_dop: float, strong_db: float,
                 wide_half_width: float, out: np.ndarray
                 ) -> tuple[float, float, float, int, int, float, float]:
    """Store every valid return in ``out`` (rows x, y in the vehicle frame, range, Doppler,
    support = scans in a row it was seen at the predicted place), and find the nearest
    confirmed in-path return: (distance from the front bumper along the path, its Doppler, its
    lateral offset, returns in path, returns stored, and distance and Doppler of the nearest
    confirmed return in the wider ``wide_half_width`` corridor); distances inf when none.

    Confirmed: support >= 2 for a strong return (SNR >= ``strong_db``), >= 3 for a weak one.
    A match in the scan before the previous one also counts (one missed detection)."""
    best_d = np.inf
    best_dop = 0.0
    best_lat = 0.0
    wide_d = np.inf
    wide_dop = 0.0
    in_path = 0
    m = 0
    for i in range(r.shape[0]):
        ri, ai, di = float(r[i]), float(az[i]), float(dop[i])
        if not (ri > 0.0 and ri <= max_range and math.isfinite(ai) and math.isfinite(di)):
            continue
        ang = ai + mount_yaw
        x = mount_x + ri * math.cos(ang)
        y = mount_y + ri * math.sin(ang)
        # path coordinates (see path_coordinates)
        if abs(kappa) < 1e-6:
            s, lat = x, y
        else:
            rad = 1.0 / kappa
            sg = 1.0 if rad > 0.0 else -1.0
            s = abs(rad) * math.atan2(x, abs(rad) - sg * y)
            lat = sg * (abs(rad) - math.hypot(x, y - rad))
        d = s - front_x
        # only returns that are, or may soon be, near the path are followed from scan to scan
        # (a car cutting in is followed from the next lane); far-off clutter is not
        followed = abs(lat) <= wide_half_width + 3.0 and d >= -0.5 and s <= max_s
        support = 1.0
        if followed:
            g_r = gate_r + gate_r_per * ri
            g_lat = gate_lat + gate_lat_per * ri
            for k in range(2):
                prev = prev1 if k == 0 else prev2
                n = n1 if k == 0 else n2
                dt = dt1 if k == 0 else dt2
                if dt <= 0.0:
                    continue
                for j in range(n):
                    if prev[4, j] < support:
                        continue  # cannot raise the support
                    dj = prev[3, j]
                    if abs(ri - (prev[2, j] + 0.5 * (di + dj) * dt)) > g_r:
                        continue
                    if abs(di - dj) > gate_dop:
                        continue
                    if abs(y - (prev[1, j] - yaw_rate * dt * prev[0, j])) > g_lat:
                        continue
                    support = min(prev[4, j] + 1.0, 10.0)
        out[0, m] = x
        out[1, m] = y
        out[2, m] = ri
        out[3, m] = di
        out[4, m] = support
        m += 1
        if abs(lat) > wide_half_width or d < -0.5 or s > max_s:
            continue
        strong = amp[i] >= strong_db  # NaN: weak
        confirmed = support >= 3.0 or (strong and support >= 2.0)
        if confirmed and d < wide_d:
            wide_d = d
            wide_dop = di
        if abs(lat) > half_width:
            continue
        in_path += 1
        if confirmed and d < best_d:
            best_d = d
            best_dop = di
            best_lat = lat
    return best_d, best_dop, best_lat, in_path, m, wide_d, wide_dop


class CollisionMonitor:
    """Keeps the last radar scans and ultrasonic echoes; ``assess`` gives the findings."""

    def __init__(self, config: SafetyConfig, calibration: SensorRigCalibration,
                 capacity: int = 256) -> None:
        self.config = config
        c = config
        # the forward path is the front (long-range) radar's: the rear corner radars look
        # back and out, at nothing the ego can brake for (reversing is out of scope)
        radar = calibration.radar
        self.radar_id = radar.name
        self._mount = (radar.x_m, radar.y_m, radar.yaw_rad)
        self._max_range_m = radar.max_range_m if radar.max_range_m is not None \
            else config.radar_max_range_m
        self._half_width = c.ego_half_width_m + c.corridor_margin_m
        # three buffers in rotation: this scan, the previous, the one before
        self._buf = [np.zeros((_ROWS, capacity)) for _ in range(3)]
        self._n = [0, 0, 0]
        self._stamp = [-1, -1, -1]
        self._cur = 0
        # confirmed target from the latest scan that had one (distance at the scan's stamp)
        self.target_stamp_ns: int | None = None
        self.target_distance_at_stamp_m = math.inf
        self.target_range_rate_mps = 0.0
        self.target_lateral_m = 0.0
        self.in_path_returns = 0
        # nearest confirmed return in the wider brake-authority corridor (latest scan)
        self.wide_stamp_ns = -1
        self.wide_distance_at_stamp_m = math.inf
        self.wide_range_rate_mps = 0.0
        # per-cycle results (read by the monitor and the fallback)
        self.distance_m = math.inf
        self.closing_mps = 0.0
        self.ttc_s = math.inf
        self.required_decel_mps2 = 0.0
        self.rss_distance_m = 0.0
        self.brake_authority = False
        # ultrasonic near field: forward-looking sensors only (geometry, see _front_facing)
        self._uss_front = {u.name: self._front_facing(u.x_m, u.y_m, u.yaw_rad, u.half_angle_rad)
                           for u in calibration.ultrasonics}
        self._uss_near_count: dict[str, int] = {u.name: 0 for u in calibration.ultrasonics}
        self._uss_range: dict[str, float] = {u.name: math.inf for u in calibration.ultrasonics}
        self.ultrasonic_near_m = math.inf

    def _front_facing(self, x: float, y: float, yaw: float, half_angle: float) -> bool:
        """Whether an echo at the near-field distance can lie in front of the bumper inside
        the corridor: take the cone edge nearest to straight ahead (side and rear sensors
        fail this, the front centre and corner sensors pass)."""
        c = self.config
        inner = max(abs(yaw) - half_angle, 0.0)
        bearing = math.copysign(inner, yaw)
        px = x + c.ultrasonic_near_m * math.cos(bearing)
        py = y + c.ultrasonic_near_m * math.sin(bearing)
        return px > c.ego_front_x_m - 0.6 and abs(py) <= self._half_width

    # --- inputs --------------------------------------------------------------------------
    def update_radar(self, scan: RadarScan, speed_mps: float, yaw_rate_rps: float) -> None:
        """Process one scan (in arrival order) with the ego motion at about its stamp; scans
        of other radars than the front one are ignored."""
        if scan.sensor_id != self.radar_id:
            return
        c = self.config
        n_in = scan.count
        k = (self._cur + 1) % 3
        if self._buf[k].shape[1] < n_in:
            cap = max(n_in, 2 * self._buf[k].shape[1])
            self._buf = [np.zeros((_ROWS, cap)) for _ in range(3)]  # rare: a crowded scene
            self._n = [0, 0, 0]
        p1, p2 = self._cur, (self._cur + 2) % 3
        dt1 = (scan.stamp_ns - self._stamp[p1]) / 1e9 if self._stamp[p1] >= 0 else -1.0
        dt2 = (scan.stamp_ns - self._stamp[p2]) / 1e9 if self._stamp[p2] >= 0 else -1.0
        kappa = 0.0
        if speed_mps >= c.corridor_min_speed_mps:
            kappa = min(max(yaw_rate_rps / speed_mps, -c.corridor_max_curvature_1pm),
                        c.corridor_max_curvature_1pm)
        mx, my, myaw = self._mount
        d, dop, lat, in_path, m, wide_d, wide_dop = _scan_kernel(
            scan.range_m, scan.azimuth_rad, scan.doppler_mps, scan.amplitude_db, mx, my, myaw,
            self._max_range_m, kappa, self._half_width, c.ego_front_x_m, c.corridor_max_s_m,
            yaw_rate_rps, self._buf[p1], self._n[p1], dt1, self._buf[p2], self._n[p2], dt2,
            c.confirm_gate_range_m, c.confirm_gate_range_per_m, c.confirm_gate_lat_m,
            c.confirm_gate_lat_per_m, c.confirm_gate_doppler_mps, c.confirm_strong_snr_db,
            self._half_width + c.brake_authority_margin_m, self._buf[k])
        self._cur = k
        self._n[k] = m
        self._stamp[k] = scan.stamp_ns
        self.in_path_returns = in_path
        if math.isfinite(wide_d):  # kept through a missed detection, like the target
            self.wide_stamp_ns = scan.stamp_ns
            self.wide_distance_at_stamp_m = wide_d
            self.wide_range_rate_mps = wide_dop
        if math.isfinite(d):
            self.target_stamp_ns = scan.stamp_ns
            self.target_distance_at_stamp_m = max(d, 0.0)
            self.target_range_rate_mps = dop
            self.target_lateral_m = lat

    def update_ultrasonic(self, sample: UltrasonicRange) -> None:
        name = sample.sensor_id
        if name not in self._uss_front:
            return
        r = sample.range_m
        self._uss_range[name] = r
        near = self._uss_front[name] and r < self.config.ultrasonic_near_m  # NaN, inf: False
        self._uss_near_count[name] = self._uss_near_count[name] + 1 if near else 0

    def reset_target(self) -> None:
        self.target_stamp_ns = None
        self.target_distance_at_stamp_m = math.inf

    # --- per cycle -------------------------------------------------------------------------
    def assess(self, t_ns: int, speed_mps: float, commanded_accel_mps2: float
               ) -> tuple[Finding, ...]:
        c = self.config
        findings: list[Finding] | None = None
        self.distance_m, self.closing_mps = math.inf, 0.0
        self.ttc_s, self.required_decel_mps2, self.rss_distance_m = math.inf, 0.0, 0.0
        authority = False
        ts = self.target_stamp_ns
        if ts is not None and t_ns - ts > c.target_coast_ns + c.radar_period_ns:
            self.reset_target()  # no confirmation for too long (or the radar went quiet)
            ts = None
        if ts is not None:
            rr = self.target_range_rate_mps
            # predicted to now: the scan is ~50 ms old when it arrives
            d = max(self.target_distance_at_stamp_m + rr * (t_ns - ts) / 1e9, 0.0)
            closing = -rr
            v_front = max(speed_mps + rr, 0.0)
            self.distance_m, self.closing_mps = d, closing
            self.ttc_s = time_to_collision_s(d, closing, c.ttc_min_closing_mps)
            self.required_decel_mps2 = required_decel_mps2(d, closing, c.response_time_s,
                                                           c.stop_margin_m)
            self.rss_distance_m = rss_min_distance_m(
                speed_mps, v_front, c.rss_response_s, c.rss_accel_max_mps2,
                c.rss_ego_brake_min_mps2, c.rss_lead_brake_max_mps2)
            rss_nominal = rss_min_distance_m(
                speed_mps, v_front, c.rss_response_s, c.rss_accel_max_mps2,
                c.rss_nominal_brake_mps2, c.rss_lead_brake_max_mps2)
            authority = d < rss_nominal
            if self.ttc_s < c.ttc_degraded_s:
                level = (SafetyLevel.EMERGENCY if self.ttc_s < c.ttc_emergency_s
                         else SafetyLevel.DEGRADED)
                findings = [Finding(COLLISION_TTC, level,
                                    f"ttc {self.ttc_s:.2f} s at {d:.1f} m")]
            if self.required_decel_mps2 >= c.required_decel_emergency_mps2:
                findings = findings or []
                findings.append(Finding(COLLISION_REQUIRED_DECEL, SafetyLevel.EMERGENCY,
                                        f"needs {self.required_decel_mps2:.1f} m/s^2 at "
                                        f"{d:.1f} m closing {closing:.1f} m/s"))
            if d < self.rss_distance_m and closing > 0.0:
                findings = findings or []
                findings.append(Finding(COLLISION_RSS_DISTANCE, SafetyLevel.DEGRADED,
                                        f"{d:.1f} m < RSS {self.rss_distance_m:.1f} m"))
        wd = self.wide_distance_at_stamp_m
        if not authority and wd < math.inf and \
                t_ns - self.wide_stamp_ns <= c.target_coast_ns + c.radar_period_ns:
            # something confirmed beside the path (a pedestrian about to cross, a car about to
            # cut in) within the nominal-braking RSS distance: hard braking is justified too
            rr = self.wide_range_rate_mps
            authority = wd + rr * (t_ns - self.wide_stamp_ns) / 1e9 < rss_min_distance_m(
                speed_mps, max(speed_mps + rr, 0.0), c.rss_response_s, c.rss_accel_max_mps2,
                c.rss_nominal_brake_mps2, c.rss_lead_brake_max_mps2)
        moving_forward = speed_mps > c.standstill_speed_mps or commanded_accel_mps2 > 0.0
        near = math.inf
        for name, count in self._uss_near_count.items():
            if count >= c.ultrasonic_debounce_samples:
                near = min(near, self._uss_range[name])
        self.ultrasonic_near_m = near
        if near < math.inf and moving_forward:
            findings = findings or []
            findings.append(Finding(COLLISION_ULTRASONIC_NEAR, SafetyLevel.EMERGENCY,
                                    f"front echo {near:.2f} m at {speed_mps:.1f} m/s"))
        self.brake_authority = authority or near < math.inf or findings is not None
        return NO_FINDINGS if findings is None else tuple(findings)
