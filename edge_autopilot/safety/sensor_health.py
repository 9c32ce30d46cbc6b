"""Per-sensor health from the sample stream: stale, NaN/Inf, out of range, frozen, bad stamps,
camera blackout.

One small stateful ``SensorHealth`` per sensor: ``update(sample, t_ns)`` on every sample that
arrives (payload checks run once per sample, not per cycle), ``check(t_ns)`` every cycle (the
age check plus the verdicts on the latest payload). ``SensorHealthMonitor`` holds one per
sensor of the rig (3 cameras, the radars, 12 ultrasonics, odometry) and routes samples.

- stale: the latest sample's stamp is older than ``stale_periods`` x the sensor's period
  (before the first sample: since the monitor started);
- timestamp: a stamp ahead of the monitor's clock (beyond a tolerance) or going backwards;
  a repeated stamp is a duplicate delivery and is not counted as fresh;
- NaN/Inf: any non-finite payload value (ultrasonic +inf is sensor_msgs/Range "no echo");
- out of range: radar range beyond its rating or azimuth beyond its field of view; ultrasonic
  outside [min, max] of its calibration; odometry beyond physical bounds; camera frame of the
  wrong shape or type;
- frozen: a bit-identical payload for N samples in a row where sensor noise must change it
  (empty radar scans, ultrasonic no-echo / blind-zone readings are excluded: they repeat
  legitimately);
- camera blackout: a subsampled frame (every 8th pixel) with mean < 8/255 or std < 2/255 for
  3 frames in a row (covered lens, dead sensor, saturated glare).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import (
    SENSOR_CAMERA_BLACKOUT,
    SENSOR_FROZEN,
    SENSOR_NAN,
    SENSOR_OUT_OF_RANGE,
    SENSOR_STALE,
    SENSOR_TIMESTAMP,
    Finding,
)
from edge_autopilot.sensors.calibration import SensorRigCalibration
from edge_autopilot.sensors.samples import (
    CameraFrame,
    Odometry,
    RadarScan,
    SensorSample,
    UltrasonicRange,
)

NO_FINDINGS: tuple[Finding, ...] = ()


@nb.njit(cache=True)
def _radar_stats(r: np.ndarray, az: np.ndarray, el: np.ndarray, dop: np.ndarray,
                 amp: np.ndarray, prev: np.ndarray, n_prev: int
                 ) -> tuple[bool, float, float, float, bool]:
    """(all finite, min range, max range, max |azimuth|, ranges bit-identical to ``prev``),
    then ``prev`` holds this scan's ranges. One pass, no allocation."""
    n = r.shape[0]
    finite = True
    r_min, r_max, az_max = np.inf, -np.inf, 0.0
    same = n == n_prev
    for i in range(n):
        ri = float(r[i])
        if not (math.isfinite(ri) and math.isfinite(az[i]) and math.isfinite(el[i])
                and math.isfinite(dop[i]) and math.isfinite(amp[i])):
            finite = False
        r_min = min(r_min, ri)
        r_max = max(r_max, ri)
        az_max = max(az_max, abs(float(az[i])))
        if same and prev[i] != ri:
            same = False
        prev[i] = ri
    return finite, r_min, r_max, az_max, same


@nb.njit(cache=True)
def _frame_stats(img: np.ndarray, stride: int, prev: np.ndarray) -> tuple[float, float, bool]:
    """Mean and standard deviation (0..255) of every ``stride``-th pixel in both directions,
    all channels, and whether those pixels are bit-identical to ``prev`` (then updated)."""
    h, w, ch = img.shape
    total = 0.0
    total_sq = 0.0
    k = 0
    same = True
    for y in range(0, h, stride):
        for x in range(0, w, stride):
            for c in range(ch):
                v = img[y, x, c]
                fv = float(v)
                total += fv
                total_sq += fv * fv
                if k < prev.shape[0]:
                    if prev[k] != v:
                        same = False
                    prev[k] = v
                k += 1
    if k == 0:
        return 0.0, 0.0, False
    mean = total / k
    var = max(total_sq / k - mean * mean, 0.0)
    return mean, math.sqrt(var), same and k <= prev.shape[0]


def sample_kind(sample: SensorSample) -> str:
    if isinstance(sample, RadarScan):
        return "radar"
    if isinstance(sample, UltrasonicRange):
        return "ultrasonic"
    if isinstance(sample, CameraFrame):
        return "camera"
    return "odometry"


def sensor_key(kind: str, sensor_id: str) -> str:
    """``radar/front``, ``camera/front``, ``ultrasonic/front_left_side``, ``odometry``."""
    return "odometry" if kind == "odometry" else f"{kind}/{sensor_id}"


class SensorHealth:
    """Health of one sensor. ``limits`` holds the kind's range bounds:
    radar (max range, half fov), ultrasonic (min, max), camera (height, width)."""

    def __init__(self, key: str, kind: str, config: SafetyConfig,
                 limits: tuple[float, float] = (math.inf, math.inf),
                 level_key: str | None = None) -> None:
        self.key = key
        self.kind = kind
        self.config = config
        self.level = config.sensor_fault_levels[level_key or kind]
        self.limits = limits
        self.stale_after_ns = config.stale_after_ns(kind)
        self.frozen_after = config.frozen_after(kind)
        self.start_ns: int | None = None
        self.last_stamp_ns: int | None = None
        self.samples = 0
        # verdicts on the latest payload (kept until a new sample replaces them)
        self._payload: tuple[Finding, ...] = NO_FINDINGS
        self._prev: object = None  # previous scalar payload (ultrasonic, odometry)
        self._buf: np.ndarray | None = None  # previous array payload (radar ranges, pixels)
        self._n_prev = 0
        self._same = 0
        self._dark = 0

    # --- per sample ------------------------------------------------------------------------
    def update(self, sample: SensorSample, t_ns: int) -> None:
        if self.start_ns is None:
            self.start_ns = t_ns
        stamp = sample.stamp_ns
        last = self.last_stamp_ns
        if stamp > t_ns + self.config.future_stamp_tolerance_ns:
            self._payload = (Finding(SENSOR_TIMESTAMP, self.level,
                                     f"{self.key}: stamp {(stamp - t_ns) / 1e6:.1f} ms ahead"),)
            return
        if last is not None and stamp <= last:
            if stamp < last:
                self._payload = (Finding(SENSOR_TIMESTAMP, self.level,
                                         f"{self.key}: stamp went back "
                                         f"{(last - stamp) / 1e6:.1f} ms"),)
            return  # a duplicate is not fresh data
        self.last_stamp_ns = stamp
        self.samples += 1
        if isinstance(sample, RadarScan):
            self._payload = self._radar(sample)
        elif isinstance(sample, UltrasonicRange):
            self._payload = self._ultrasonic(sample)
        elif isinstance(sample, CameraFrame):
            self._payload = self._camera(sample)
        else:
            self._payload = self._odometry(sample)

    def _finding(self, code: str, detail: str) -> tuple[Finding, ...]:
        return (Finding(code, self.level, f"{self.key}: {detail}"),)

    def _frozen(self, same: bool) -> tuple[Finding, ...]:
        self._same = self._same + 1 if same else 0
        if self._same + 1 >= self.frozen_after:
            return self._finding(SENSOR_FROZEN, f"{self._same + 1} identical samples")
        return NO_FINDINGS

    def _radar(self, scan: RadarScan) -> tuple[Finding, ...]:
        n = scan.count
        if n == 0:
            self._same = 0
            self._n_prev = 0
            return NO_FINDINGS
        buf = self._buf
        if buf is None or buf.shape[0] < n:
            buf = self._buf = np.empty(max(n, 128))  # grows once for a crowded scene
            self._n_prev = 0
        finite, r_min, r_max, az_max, same = _radar_stats(
            scan.range_m, scan.azimuth_rad, scan.elevation_rad, scan.doppler_mps,
            scan.amplitude_db, buf, self._n_prev)
        self._n_prev = n
        if not finite:
            self._same = 0
            return self._finding(SENSOR_NAN, "non-finite values in the scan")
        max_range, half_fov = self.limits
        if r_min < 0.0 or r_max > 1.05 * max_range:
            found = self._finding(SENSOR_OUT_OF_RANGE, f"range {r_min:.1f}..{r_max:.1f} m")
        elif az_max > 1.1 * half_fov:
            found = self._finding(SENSOR_OUT_OF_RANGE,
                                  f"azimuth {az_max:.3f} rad beyond the field of view")
        else:
            found = NO_FINDINGS
        frozen = self._frozen(same)
        return found + frozen if frozen else found

    def _ultrasonic(self, u: UltrasonicRange) -> tuple[Finding, ...]:
        r = u.range_m
        if math.isnan(r) or r == -math.inf:
            self._prev, self._same = None, 0
            return self._finding(SENSOR_NAN, f"range {r!r}")
        if r == math.inf:  # no echo: legitimate, and repeats legitimately
            self._prev, self._same = None, 0
            return NO_FINDINGS
        lo, hi = self.limits
        if r < lo - 1e-6 or r > hi + 1e-6:
            self._prev, self._same = None, 0
            return self._finding(SENSOR_OUT_OF_RANGE, f"range {r:.3f} m outside [{lo}, {hi}]")
        if r <= lo:  # the blind zone reads as the minimum: repeats legitimately
            self._prev, self._same = None, 0
            return NO_FINDINGS
        same = self._prev == r
        self._prev = r
        return self._frozen(same)

    def _camera(self, frame: CameraFrame) -> tuple[Finding, ...]:
        img = frame.image_rgb
        height, width = self.limits
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[0] != height \
                or img.shape[1] != width:
            self._same, self._dark = 0, 0
            return self._finding(SENSOR_OUT_OF_RANGE,
                                 f"frame {img.shape} {img.dtype}, expected ({height}, {width}, 3)")
        c = self.config
        stride = c.blackout_stride_px
        if self._buf is None:
            count = -(-height // stride) * -(-width // stride) * 3
            self._buf = np.full(int(count), -1, dtype=np.int16)  # never equal to a pixel
        mean, std, same = _frame_stats(img, stride, self._buf)
        dark = mean < c.blackout_mean_max or std < c.blackout_std_max
        self._dark = self._dark + 1 if dark else 0
        found = NO_FINDINGS
        if self._dark >= c.blackout_frames:
            found = self._finding(SENSOR_CAMERA_BLACKOUT,
                                  f"mean {mean:.1f} std {std:.1f} over {self._dark} frames")
        frozen = self._frozen(same)
        return found + frozen if frozen else found

    def _odometry(self, o: Odometry) -> tuple[Finding, ...]:
        values = (o.x_m, o.y_m, o.yaw_rad, o.speed_mps, o.yaw_rate_rps, o.accel_mps2)
        if not all(math.isfinite(v) for v in values):
            self._prev, self._same = None, 0
            return self._finding(SENSOR_NAN, f"values {values!r}")
        c = self.config
        found = NO_FINDINGS
        if not (-0.5 <= o.speed_mps <= c.odometry_max_speed_mps) \
                or abs(o.yaw_rate_rps) > c.odometry_max_yaw_rate_rps \
                or abs(o.accel_mps2) > c.odometry_max_abs_accel_mps2:
            found = self._finding(SENSOR_OUT_OF_RANGE,
                                  f"speed {o.speed_mps:.2f} yaw rate {o.yaw_rate_rps:.3f} "
                                  f"accel {o.accel_mps2:.2f}")
        same = self._prev == values
        self._prev = values
        frozen = self._frozen(same)
        return found + frozen if frozen else found

    # --- per cycle -------------------------------------------------------------------------
    def check(self, t_ns: int) -> tuple[Finding, ...]:
        if self.start_ns is None:
            self.start_ns = t_ns
        ref = self.last_stamp_ns if self.last_stamp_ns is not None else self.start_ns
        age = t_ns - ref
        if age > self.stale_after_ns:
            what = "no sample yet" if self.last_stamp_ns is None else "latest sample"
            stale = (Finding(SENSOR_STALE, self.level,
                             f"{self.key}: {what}, {age / 1e6:.0f} ms old "
                             f"(limit {self.stale_after_ns / 1e6:.0f} ms)"),)
            return stale + self._payload if self._payload else stale
        return self._payload


class SensorHealthMonitor:
    """One ``SensorHealth`` per sensor of the rig, plus odometry."""

    def __init__(self, config: SafetyConfig, calibration: SensorRigCalibration) -> None:
        self.config = config
        sensors: list[SensorHealth] = []
        for cam in calibration.cameras:
            sensors.append(SensorHealth(sensor_key("camera", cam.name), "camera", config,
                                        (float(cam.height_px), float(cam.width_px))))
        for i, radar in enumerate(calibration.radars):
            # a unit's own rating where the calibration fixes it (corner radars), else the
            # front radar's configured one
            max_range = radar.max_range_m if radar.max_range_m is not None \
                else config.radar_max_range_m
            half_fov = math.radians(0.5 * radar.fov_deg) if radar.fov_deg is not None \
                else config.radar_half_fov_rad
            sensors.append(SensorHealth(sensor_key("radar", radar.name), "radar", config,
                                        (max_range, half_fov),
                                        "radar" if i == 0 else "radar_corner"))
        for u in calibration.ultrasonics:
            sensors.append(SensorHealth(sensor_key("ultrasonic", u.name), "ultrasonic", config,
                                        (u.min_range_m, u.max_range_m)))
        sensors.append(SensorHealth("odometry", "odometry", config))
        self.sensors = sensors
        self.by_key = {s.key: s for s in sensors}
        self._route: dict[tuple[type, str], SensorHealth] = {}

    def update(self, sample: SensorSample, t_ns: int) -> None:
        route = (type(sample), sample.sensor_id)
        health = self._route.get(route)
        if health is None:
            health = self.by_key.get(sensor_key(sample_kind(sample), sample.sensor_id))
            if health is None:
                return  # a sensor the rig does not have is not ours to judge
            self._route[route] = health
        health.update(sample, t_ns)

    def check(self, t_ns: int) -> list[Finding]:
        out: list[Finding] = []
        for s in self.sensors:
            found = s.check(t_ns)
            if found:
                out.extend(found)
        return out
