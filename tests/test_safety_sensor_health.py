"""Sensor health: each fault fires with its code and level; clean samples stay quiet."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.sensor_health import SensorHealthMonitor
from edge_autopilot.safety.types import SafetyLevel
from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sensors.samples import CameraFrame, Odometry, RadarScan, UltrasonicRange

RIG = default_rig()
CFG = SafetyConfig()
MS = 1_000_000
RNG = np.random.default_rng(0)


def radar(t: int, n: int = 5, rng: np.random.Generator = RNG, sensor: str = "front",
          max_range_m: float = 150.0) -> RadarScan:
    f = np.float32
    return RadarScan(sensor, t, rng.uniform(5, max_range_m, n).astype(f),
                     rng.uniform(-0.7, 0.7, n).astype(f), np.zeros(n, f),
                     rng.normal(-10, 1, n).astype(f), rng.uniform(0, 30, n).astype(f))


def camera(t: int, name: str = "front", value: float | None = None) -> CameraFrame:
    if value is None:
        img = RNG.integers(40, 200, (96, 160, 3), dtype=np.uint8)
    else:
        img = np.full((96, 160, 3), value, dtype=np.uint8)
    return CameraFrame(name, t, img)


def uss(name: str, t: int, r: float) -> UltrasonicRange:
    return UltrasonicRange(name, t, r, 0.15, 5.5, math.radians(60.0))


def odo(t: int, rng: np.random.Generator = RNG) -> Odometry:
    n = rng.normal(0, 0.01, 6)
    return Odometry(t, 100.0 + n[0], 5.0 + n[1], 0.1 + n[2], 20.0 + n[3], n[4], n[5])


def codes(findings, key: str | None = None) -> dict[str, SafetyLevel]:
    return {f.code: f.level for f in findings if key is None or key in f.detail}


def feed_all(mon: SensorHealthMonitor, t: int) -> None:
    """Every sensor of the rig delivers a fresh clean sample at ``t``."""
    for cam in RIG.cameras:
        mon.update(camera(t, cam.name), t)
    for r in RIG.radars:
        mon.update(radar(t, sensor=r.name, max_range_m=r.max_range_m or 150.0), t)
    for u in RIG.ultrasonics:
        mon.update(uss(u.name, t, math.inf), t)
    mon.update(odo(t), t)


def test_clean_stream_is_quiet() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    for k in range(40):
        feed_all(mon, k * 10 * MS)
        assert mon.check(k * 10 * MS) == []


def test_stale_radar_requests_mrm_after_three_periods() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    feed_all(mon, 0)
    for t_ms in range(10, 300, 10):
        for s in (odo(t_ms * MS),):
            mon.update(s, t_ms * MS)
        found = codes(mon.check(t_ms * MS), "radar/front")
        if t_ms <= 150:
            assert found == {}
        else:
            assert found == {"sensor.stale": SafetyLevel.MRM}
            break


def test_a_sensor_that_never_delivers_goes_stale() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    assert mon.check(0) == []
    found = codes(mon.check(40 * MS))
    assert found == {"sensor.stale": SafetyLevel.MRM}  # odometry: 30 ms
    stale = {f.detail.split(":")[0] for f in mon.check(200 * MS)}
    assert len(stale) == 3 + 3 + 12 + 1


def test_camera_and_ultrasonic_faults_are_degraded_level() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    mon.update(uss("front_left_center", 0, math.nan), 0)
    assert codes(mon.check(0), "front_left_center") == {"sensor.nan": SafetyLevel.DEGRADED}


@pytest.mark.parametrize(("field", "value"), [("range_m", math.nan), ("doppler_mps", math.inf),
                                              ("azimuth_rad", -math.inf)])
def test_radar_nan_payload(field: str, value: float) -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    s = radar(0)
    getattr(s, field)[2] = value
    mon.update(s, 0)
    assert codes(mon.check(0), "radar/front") == {"sensor.nan": SafetyLevel.MRM}
    mon.update(radar(50 * MS), 50 * MS)  # a good scan clears it
    assert codes(mon.check(50 * MS), "radar/front") == {}


def test_out_of_range_payloads() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    s = radar(0)
    s.range_m[0] = 400.0
    mon.update(s, 0)
    mon.update(uss("front_right_center", 0, 0.05), 0)
    mon.update(uss("rear_left_side", 0, 7.0), 0)
    mon.update(uss("rear_right_side", 0, math.inf), 0)  # no echo: fine
    mon.update(Odometry(0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0), 0)
    found = mon.check(0)
    bad = {f.detail.split(":")[0] for f in found if f.code == "sensor.out_of_range"}
    assert bad == {"radar/front", "ultrasonic/front_right_center", "ultrasonic/rear_left_side",
                   "odometry"}


def test_frozen_radar_scan_is_detected() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    frozen = radar(0)
    for k in range(3):
        t = k * 50 * MS
        mon.update(RadarScan("front", t, frozen.range_m, frozen.azimuth_rad,
                             frozen.elevation_rad, frozen.doppler_mps, frozen.amplitude_db), t)
        found = codes(mon.check(t), "radar/front")
        assert found == ({"sensor.frozen": SafetyLevel.MRM} if k == 2 else {})


def test_frozen_ultrasonic_and_odometry() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    o = odo(0)
    for k in range(25):
        t = k * 50 * MS
        mon.update(uss("front_left_corner", t, 1.234), t)
        mon.update(Odometry(t, o.x_m, o.y_m, o.yaw_rad, o.speed_mps, o.yaw_rate_rps,
                            o.accel_mps2), t)
    found = mon.check(24 * 50 * MS)
    frozen = {f.detail.split(":")[0] for f in found if f.code == "sensor.frozen"}
    assert frozen == {"ultrasonic/front_left_corner", "odometry"}


def test_repeated_no_echo_and_blind_zone_are_not_frozen() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    for k in range(30):
        t = k * 50 * MS
        mon.update(uss("front_left_corner", t, math.inf), t)
        mon.update(uss("front_right_corner", t, 0.15), t)
        found = [f for f in mon.check(t) if "front_left_corner" in f.detail
                 or "front_right_corner" in f.detail]
        assert found == []


def test_camera_blackout_after_three_dark_frames_and_frozen_frames() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    for k in range(3):
        t = k * 33 * MS
        mon.update(camera(t, "front", 2.0), t)
        found = codes(mon.check(t), "camera/front")
        assert ("sensor.camera_blackout" in found) is (k == 2)
    assert found["sensor.camera_blackout"] == SafetyLevel.DEGRADED
    # a uniform grey frame (no texture, no noise) is a blackout too, and frozen after 4
    mon = SensorHealthMonitor(CFG, RIG)
    for k in range(4):
        mon.update(camera(k * 33 * MS, "front_left", 128.0), k * 33 * MS)
    found = codes(mon.check(3 * 33 * MS), "camera/front_left")
    assert set(found) == {"sensor.camera_blackout", "sensor.frozen"}


def test_bad_timestamps() -> None:
    mon = SensorHealthMonitor(CFG, RIG)
    mon.update(radar(500 * MS), 100 * MS)  # from the future
    assert codes(mon.check(100 * MS), "radar/front") == {"sensor.timestamp": SafetyLevel.MRM}
    mon = SensorHealthMonitor(CFG, RIG)
    mon.update(radar(100 * MS), 100 * MS)
    mon.update(radar(40 * MS), 110 * MS)  # went backwards
    assert codes(mon.check(110 * MS), "radar/front") == {"sensor.timestamp": SafetyLevel.MRM}
