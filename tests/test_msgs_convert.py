"""edge_autopilot.msgs.convert: samples/commands <-> ROS 2 messages, exact over the wire."""

from __future__ import annotations

import math
import random
from typing import Any, TypeVar

import numpy as np
import pytest

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import MessageError
from edge_autopilot.msgs import DISTROS, Distro, deserialize, serialize
from edge_autopilot.msgs.builtin_interfaces import Time
from edge_autopilot.msgs.convert import (
    accel_to_msg,
    camera_from_msg,
    camera_to_msg,
    command_from_msg,
    command_to_msg,
    odometry_from_msg,
    odometry_to_msg,
    quaternion_to_yaw,
    radar_from_msg,
    radar_to_msg,
    time_from_ns,
    time_to_ns,
    ultrasonic_from_msg,
    ultrasonic_to_msg,
    yaw_to_quaternion,
)
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.sensors.samples import CameraFrame, Odometry, RadarScan, UltrasonicRange

T = TypeVar("T")


def wire(msg: T, distro: Distro) -> T:
    """``msg`` after a trip through CDR bytes."""
    return deserialize(serialize(msg, distro), type(msg), distro)


def f32(x: float) -> float:
    return float(np.float32(x))


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


# --- time ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ns", [0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789,
                                (2**31 - 1) * 10**9 + 999_999_999])
def test_time_round_trip_is_exact(ns: int) -> None:
    t = time_from_ns(ns)
    assert 0 <= t.nanosec < 10**9
    assert time_to_ns(wire(t, "humble")) == ns


@pytest.mark.parametrize("ns", [-1, -(10**9), 2**31 * 10**9])
def test_time_out_of_range_is_rejected(ns: int) -> None:
    with pytest.raises(MessageError):
        time_from_ns(ns)


@pytest.mark.parametrize("t", [Time(-1, 0), Time(0, 10**9), Time(1, 2**32 - 1)])
def test_invalid_time_is_rejected(t: Time) -> None:
    with pytest.raises(MessageError):
        time_to_ns(t)


# --- camera ----------------------------------------------------------------------------------


@pytest.mark.parametrize("distro", DISTROS)
def test_camera_round_trip_is_exact(distro: Distro) -> None:
    img = np.random.default_rng(1).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    frame = CameraFrame("front", 123_456_789_012, img)
    msg = camera_to_msg(frame)
    assert (msg.encoding, msg.height, msg.width, msg.step, msg.header.frame_id) == (
        "rgb8", 96, 160, 480, "camera_front")
    for back in (camera_from_msg(wire(msg, distro), "front"), camera_from_msg(wire(msg, distro))):
        assert back.sensor_id == "front" and back.stamp_ns == frame.stamp_ns
        assert back.image_rgb.dtype == np.uint8 and back.image_rgb.shape == img.shape
        assert np.array_equal(back.image_rgb, img)
        back.image_rgb[0, 0, 0] ^= 1  # owned, writable pixels
    img[0, 0, 0] ^= 1
    assert msg.data[0] != img[0, 0, 0]  # the message holds a copy


def test_camera_accepts_padded_rows() -> None:
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = img.reshape(2, 9)
    msg = Image(camera_to_msg(CameraFrame("a", 5, img)).header, 2, 3, "rgb8", 0, 12,
                padded.tobytes())
    assert np.array_equal(camera_from_msg(msg).image_rgb, img)


@pytest.mark.parametrize("change", [
    {"encoding": "bgr8"}, {"encoding": "mono8"}, {"step": 8}, {"height": 3}, {"width": 0},
    {"data": b"\x00" * 17},
])
def test_camera_wrong_encoding_or_size_is_rejected(change: dict[str, Any]) -> None:
    msg = camera_to_msg(CameraFrame("a", 5, np.zeros((2, 3, 3), np.uint8)))
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(MessageError):
        camera_from_msg(wire(msg, "humble"))


def test_camera_bad_frame_and_frame_ids_are_rejected() -> None:
    with pytest.raises(MessageError):
        camera_to_msg(CameraFrame("a", 0, np.zeros((2, 3), np.uint8)))
    with pytest.raises(MessageError):
        camera_to_msg(CameraFrame("a", -1, np.zeros((2, 3, 3), np.uint8)))
    msg = camera_to_msg(CameraFrame("a", 0, np.zeros((2, 3, 3), np.uint8)))
    msg.header.frame_id = "optical"
    with pytest.raises(MessageError, match="sensor_id"):
        camera_from_msg(msg)
    assert camera_from_msg(msg, "a").sensor_id == "a"


# --- radar -----------------------------------------------------------------------------------


def _radar(n: int, seed: int) -> RadarScan:
    rng = np.random.default_rng(seed)
    # float32, as the simulator's radar (and a real radar's driver) delivers them
    cols = [rng.uniform(lo, hi, n).astype(np.float32)
            for lo, hi in ((0.5, 200.0), (-0.8, 0.8), (-0.1, 0.1), (-40.0, 40.0), (-20.0, 30.0))]
    return RadarScan("front", 3_000_000_000 + seed, *cols)


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("n", [0, 1, 64])
def test_radar_round_trip_is_exact(distro: Distro, n: int) -> None:
    scan = _radar(n, n)
    msg = radar_to_msg(scan)
    assert msg.header.frame_id == "radar_front" and len(msg.returns) == n
    if n:
        r = msg.returns[0]
        assert (r.range, r.azimuth, r.doppler_velocity, r.amplitude) == (
            scan.range_m[0], scan.azimuth_rad[0], scan.doppler_mps[0], scan.amplitude_db[0])
    back = radar_from_msg(wire(msg, distro))
    assert (back.sensor_id, back.stamp_ns, back.count) == ("front", scan.stamp_ns, n)
    for a, b in ((back.range_m, scan.range_m), (back.azimuth_rad, scan.azimuth_rad),
                 (back.elevation_rad, scan.elevation_rad), (back.doppler_mps, scan.doppler_mps),
                 (back.amplitude_db, scan.amplitude_db)):
        assert a.dtype == np.float32 and bits(a) == bits(b)


def test_radar_mismatched_arrays_are_rejected() -> None:
    scan = _radar(3, 0)
    scan.doppler_mps = scan.doppler_mps[:2]
    with pytest.raises(MessageError):
        radar_to_msg(scan)


# --- ultrasonic ------------------------------------------------------------------------------


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("range_m", [math.inf, f32(0.37), f32(5.5), -math.inf])
def test_ultrasonic_round_trip_is_exact(distro: Distro, range_m: float) -> None:
    sample = UltrasonicRange("rear_left", 10_000_000, range_m, f32(0.15), f32(5.5), f32(1.2))
    msg = wire(ultrasonic_to_msg(sample), distro)
    assert msg.header.frame_id == "ultrasonic_rear_left"
    assert msg.radiation_type == Range.ULTRASOUND and msg.variance == 0.0
    assert ultrasonic_from_msg(msg) == sample


def test_ultrasonic_range_jazzy_has_variance_humble_not() -> None:
    msg = ultrasonic_to_msg(UltrasonicRange("a", 0, 1.0, 0.1, 5.0, 1.0))
    assert len(serialize(msg, "jazzy")) == len(serialize(msg, "humble")) + 4


def test_infrared_range_is_rejected() -> None:
    msg = ultrasonic_to_msg(UltrasonicRange("a", 0, 1.0, 0.1, 5.0, 1.0))
    msg.radiation_type = Range.INFRARED
    with pytest.raises(MessageError, match="ULTRASOUND"):
        ultrasonic_from_msg(msg)


# --- odometry --------------------------------------------------------------------------------


def test_yaw_quaternion_round_trip_is_bit_exact() -> None:
    rng = random.Random(2024)
    yaws = [rng.uniform(-math.pi, math.pi) for _ in range(50_000)]
    yaws += [rng.uniform(-2 * math.pi, 2 * math.pi) for _ in range(10_000)]
    yaws += [rng.uniform(-1e-6, 1e-6) for _ in range(5_000)]
    yaws += [0.0, -0.0, math.pi, -math.pi, 2 * math.pi, -2 * math.pi, 1e-300, math.pi / 2]
    for yaw in yaws:
        q = yaw_to_quaternion(yaw)
        back = quaternion_to_yaw(q)
        assert back == yaw and math.copysign(1.0, back) == math.copysign(1.0, yaw), yaw
        assert abs(q.z * q.z + q.w * q.w - 1.0) < 1e-15 and q.x == q.y == 0.0


def test_non_finite_yaw_stays_non_finite() -> None:
    for yaw in (math.nan, math.inf, -math.inf):
        assert math.isnan(quaternion_to_yaw(yaw_to_quaternion(yaw)))


@pytest.mark.parametrize("distro", DISTROS)
def test_odometry_round_trip_is_exact(distro: Distro) -> None:
    rng = random.Random(7)
    for i in range(2000):
        odo = Odometry(i * 10_000_000, rng.uniform(-1e4, 1e4), rng.uniform(-1e4, 1e4),
                       rng.uniform(-math.pi, math.pi), rng.uniform(0.0, 40.0),
                       rng.uniform(-1.0, 1.0), rng.uniform(-8.0, 3.0))
        msg, accel = odometry_to_msg(odo), accel_to_msg(odo)
        assert (msg.header.frame_id, msg.child_frame_id, accel.header.frame_id) == (
            "map", "base_link", "base_link")
        assert odometry_from_msg(wire(msg, distro), wire(accel, distro)) == odo


def test_odometry_needs_the_acceleration_of_the_same_stamp() -> None:
    odo = Odometry(10, 1.0, 2.0, 0.3, 4.0, 0.1, -1.0)
    later = Odometry(20, 1.0, 2.0, 0.3, 4.0, 0.1, -1.0)
    with pytest.raises(MessageError, match="stamps must match"):
        odometry_from_msg(odometry_to_msg(odo), accel_to_msg(later))


# --- control command -------------------------------------------------------------------------


@pytest.mark.parametrize("distro", DISTROS)
def test_command_round_trip_is_exact_for_float32_values(distro: Distro) -> None:
    rng = random.Random(3)
    for i in range(500):
        cmd = ControlCommand(f32(rng.uniform(-0.6, 0.6)), f32(rng.uniform(-8.0, 2.0)), i * 10**7)
        msg = command_to_msg(cmd, speed_mps=f32(12.5))
        assert msg.header.frame_id == "base_link" and msg.drive.speed == f32(12.5)
        assert command_from_msg(wire(msg, distro)) == cmd


def test_command_with_negative_stamp_is_rejected() -> None:
    with pytest.raises(MessageError):
        command_to_msg(ControlCommand(0.0, 0.0, -5))
