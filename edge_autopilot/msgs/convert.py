"""Conversions between the stack's samples/commands and ROS 2 messages.

Round trips are exact: ``x_from_msg(x_to_msg(s)) == s`` bit for bit whenever the sample's values
are representable in the wire types (the simulator rounds float32 fields itself, see
``edge_autopilot.sim.wire``). Values the wire cannot carry exactly are rounded to nearest.

Conventions (frames are REP 103/105; stamps are the measurement times, ``stamp_ns >= 0``):

- camera: ``sensor_msgs/Image`` "rgb8", ``step = width * 3``, frame ``camera_<sensor_id>``;
- radar: ``radar_msgs/RadarScan`` (float32), frame ``radar_<sensor_id>``; azimuth positive left,
  doppler negative when closing, ``amplitude`` carries ``amplitude_db``;
- ultrasonic: ``sensor_msgs/Range`` ULTRASOUND, frame ``ultrasonic_<sensor_id>``, ``range = +inf``
  for no echo (REP 117); Jazzy's ``variance`` is 0 (unknown);
- odometry: ``nav_msgs/Odometry`` (frame "map", child "base_link": pose x, y and yaw about z,
  ``twist.linear.x`` = speed, ``twist.angular.z`` = yaw rate) plus, because nav_msgs/Odometry has
  no acceleration and the stack needs it (planner features, safety monitor, sensor health),
  ``geometry_msgs/AccelWithCovarianceStamped`` with the same stamp, frame "base_link",
  ``accel.accel.linear.x`` = longitudinal acceleration (Autoware's /localization/acceleration);
- command: ``ackermann_msgs/AckermannDriveStamped`` (float32): ``steering_angle`` = steer_rad,
  ``acceleration`` = accel_mps2. ``speed`` is not part of the command (see ``command_to_msg``).
"""

from __future__ import annotations

import math

import numpy as np

from edge_autopilot.constants import NS_PER_S
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import MessageError
from edge_autopilot.msgs.ackermann_msgs import AckermannDrive, AckermannDriveStamped
from edge_autopilot.msgs.builtin_interfaces import Time
from edge_autopilot.msgs.geometry_msgs import (
    Accel,
    AccelWithCovariance,
    AccelWithCovarianceStamped,
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Twist,
    TwistWithCovariance,
    Vector3,
)
from edge_autopilot.msgs.nav_msgs import Odometry as OdometryMsg
from edge_autopilot.msgs.radar_msgs import RadarReturn
from edge_autopilot.msgs.radar_msgs import RadarScan as RadarScanMsg
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.msgs.std_msgs import Header
from edge_autopilot.sensors.samples import CameraFrame, Odometry, RadarScan, UltrasonicRange

_INT32_MAX = 2**31 - 1
MAP_FRAME = "map"
BASE_FRAME = "base_link"
CAMERA_PREFIX, RADAR_PREFIX, ULTRASONIC_PREFIX = "camera_", "radar_", "ultrasonic_"
RGB8 = "rgb8"


# --- time ------------------------------------------------------------------------------------


def time_from_ns(stamp_ns: int) -> Time:
    """``stamp_ns`` (>= 0) as builtin_interfaces/Time, exactly."""
    stamp_ns = int(stamp_ns)
    if stamp_ns < 0 or stamp_ns // NS_PER_S > _INT32_MAX:
        raise MessageError(f"stamp {stamp_ns} ns is outside builtin_interfaces/Time's range "
                           f"[0, 2^31 s) for stamps of this stack")
    sec, nanosec = divmod(stamp_ns, NS_PER_S)
    return Time(sec, nanosec)


def time_to_ns(stamp: Time) -> int:
    """builtin_interfaces/Time as ``stamp_ns``; negative or non-normalized times are rejected."""
    if stamp.sec < 0 or not 0 <= stamp.nanosec < NS_PER_S:
        raise MessageError(f"time {stamp.sec} s + {stamp.nanosec} ns is not a valid stamp "
                           f"(need sec >= 0 and 0 <= nanosec < 1e9)")
    return stamp.sec * NS_PER_S + stamp.nanosec


def _header(stamp_ns: int, frame_id: str) -> Header:
    return Header(time_from_ns(stamp_ns), frame_id)


def _sensor_id(frame_id: str, prefix: str, sensor_id: str | None) -> str:
    """The sensor id given, else the one the frame id names (``radar_front`` -> ``front``)."""
    if sensor_id is not None:
        return sensor_id
    if not frame_id.startswith(prefix) or len(frame_id) == len(prefix):
        raise MessageError(f"frame_id {frame_id!r} does not name a sensor ({prefix}<id>); "
                           "pass sensor_id")
    return frame_id[len(prefix):]


# --- camera ----------------------------------------------------------------------------------


def camera_to_msg(frame: CameraFrame) -> Image:
    """An rgb8 sensor_msgs/Image; ``data`` is a copy, so the frame's buffer may be reused."""
    img = frame.image_rgb
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise MessageError(f"camera {frame.sensor_id}: image must be (height, width, 3) uint8, "
                           f"not {img.shape} {img.dtype}")
    height, width = int(img.shape[0]), int(img.shape[1])
    return Image(_header(frame.stamp_ns, CAMERA_PREFIX + frame.sensor_id), height, width, RGB8,
                 0, width * 3, img.tobytes())


def camera_from_msg(msg: Image, sensor_id: str | None = None) -> CameraFrame:
    """A CameraFrame (owned, writable pixels) from an rgb8 image; rows may be padded (step)."""
    sid = _sensor_id(msg.header.frame_id, CAMERA_PREFIX, sensor_id)
    row = msg.width * 3
    if msg.encoding != RGB8:
        raise MessageError(f"camera {sid}: encoding {msg.encoding!r} is not supported (rgb8 only)")
    data = np.frombuffer(msg.data, np.uint8) if not isinstance(msg.data, np.ndarray) \
        else msg.data.reshape(-1)
    if msg.height <= 0 or msg.width <= 0 or msg.step < row or data.size != msg.step * msg.height:
        raise MessageError(f"camera {sid}: {msg.width}x{msg.height} rgb8 with step {msg.step} "
                           f"does not match {data.size} data bytes")
    pixels = data.reshape(msg.height, msg.step)[:, :row].reshape(msg.height, msg.width, 3)
    return CameraFrame(sid, time_to_ns(msg.header.stamp), pixels.copy())


# --- radar -----------------------------------------------------------------------------------


def radar_to_msg(scan: RadarScan) -> RadarScanMsg:
    """A radar_msgs/RadarScan; the five arrays become float32 fields of each return."""
    n = scan.count
    columns = (scan.range_m, scan.azimuth_rad, scan.elevation_rad, scan.doppler_mps,
               scan.amplitude_db)
    if any(np.shape(c) != (n,) for c in columns):
        raise MessageError(f"radar {scan.sensor_id}: detection arrays differ in length")
    # float32 -> Python float is exact, so these are exactly the values the wire carries
    rows = np.array(columns, dtype=np.float32).T.tolist()
    returns = tuple(RadarReturn(*r) for r in rows)
    return RadarScanMsg(_header(scan.stamp_ns, RADAR_PREFIX + scan.sensor_id), returns)


def radar_from_msg(msg: RadarScanMsg, sensor_id: str | None = None) -> RadarScan:
    """A RadarScan with float32 arrays, as the simulator's and a real radar's driver deliver
    them (the same dtype keeps the stack's arithmetic, and so its commands, identical)."""
    sid = _sensor_id(msg.header.frame_id, RADAR_PREFIX, sensor_id)
    table = np.array([(r.range, r.azimuth, r.elevation, r.doppler_velocity, r.amplitude)
                      for r in msg.returns], dtype=np.float32).reshape(-1, 5)
    cols = np.ascontiguousarray(table.T)
    return RadarScan(sid, time_to_ns(msg.header.stamp), cols[0], cols[1], cols[2], cols[3],
                     cols[4])


# --- ultrasonic ------------------------------------------------------------------------------


def ultrasonic_to_msg(sample: UltrasonicRange) -> Range:
    """A sensor_msgs/Range (ULTRASOUND); variance (Jazzy only on the wire) is 0 = unknown."""
    return Range(_header(sample.stamp_ns, ULTRASONIC_PREFIX + sample.sensor_id),
                 Range.ULTRASOUND, sample.field_of_view_rad, sample.min_range_m,
                 sample.max_range_m, sample.range_m, 0.0)


def ultrasonic_from_msg(msg: Range, sensor_id: str | None = None) -> UltrasonicRange:
    sid = _sensor_id(msg.header.frame_id, ULTRASONIC_PREFIX, sensor_id)
    if msg.radiation_type != Range.ULTRASOUND:
        raise MessageError(f"ultrasonic {sid}: radiation_type {msg.radiation_type} is not "
                           "ULTRASOUND")
    return UltrasonicRange(sid, time_to_ns(msg.header.stamp), msg.range, msg.min_range,
                           msg.max_range, msg.field_of_view)


# --- odometry --------------------------------------------------------------------------------


def yaw_to_quaternion(yaw_rad: float) -> Quaternion:
    """Rotation about z whose ``quaternion_to_yaw`` is ``yaw_rad`` bit for bit.

    The textbook (0, 0, sin(yaw/2), cos(yaw/2)) decodes back exactly for about 92% of yaws;
    for the rest a neighbour of z and w a few ulps away (still a unit quaternion to ~1e-16)
    does. Exact for every finite yaw in [-2 pi, 2 pi] except subnormal ones; non-finite yaw gives
    a NaN quaternion (decodes to NaN, which sensor health flags).
    """
    half = yaw_rad * 0.5
    if not math.isfinite(half):
        return Quaternion(0.0, 0.0, math.nan, math.nan)
    z0, w0 = math.sin(half), math.cos(half)
    if math.atan2(z0, w0) == half:
        return Quaternion(0.0, 0.0, z0, w0)
    for reach in range(1, 5):
        for z in _neighbours(z0, reach):
            for w in _neighbours(w0, reach):
                if math.atan2(z, w) == half:
                    return Quaternion(0.0, 0.0, z, w)
    return Quaternion(0.0, 0.0, z0, w0)  # not reached for normal yaws (see the tests)


def _neighbours(x: float, reach: int) -> list[float]:
    out, lo, hi = [x], x, x
    for _ in range(reach):
        lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
        out += (lo, hi)
    return out


def quaternion_to_yaw(q: Quaternion) -> float:
    """Yaw (rad) of a rotation about z: ``2 * atan2(z, w)`` (x and y are ignored)."""
    return 2.0 * math.atan2(q.z, q.w)


def odometry_to_msg(odo: Odometry) -> OdometryMsg:
    """nav_msgs/Odometry of the sample (all float64: exact). Its accel goes in ``accel_to_msg``."""
    pose = PoseWithCovariance(Pose(Point(odo.x_m, odo.y_m, 0.0), yaw_to_quaternion(odo.yaw_rad)))
    twist = TwistWithCovariance(Twist(Vector3(odo.speed_mps, 0.0, 0.0),
                                      Vector3(0.0, 0.0, odo.yaw_rate_rps)))
    return OdometryMsg(_header(odo.stamp_ns, MAP_FRAME), BASE_FRAME, pose, twist)


def accel_to_msg(odo: Odometry) -> AccelWithCovarianceStamped:
    """The sample's longitudinal acceleration, stamped like its nav_msgs/Odometry."""
    accel = AccelWithCovariance(Accel(Vector3(odo.accel_mps2, 0.0, 0.0)))
    return AccelWithCovarianceStamped(_header(odo.stamp_ns, BASE_FRAME), accel)


def odometry_from_msg(msg: OdometryMsg, accel: AccelWithCovarianceStamped,
                      sensor_id: str = "odometry") -> Odometry:
    """The sample from nav_msgs/Odometry and the acceleration message of the same stamp."""
    stamp_ns = time_to_ns(msg.header.stamp)
    if accel.header.stamp != msg.header.stamp:
        raise MessageError(f"odometry at {stamp_ns} ns paired with acceleration at "
                           f"{time_to_ns(accel.header.stamp)} ns: stamps must match")
    pose, twist = msg.pose.pose, msg.twist.twist
    return Odometry(stamp_ns, pose.position.x, pose.position.y,
                    quaternion_to_yaw(pose.orientation), twist.linear.x, twist.angular.z,
                    accel.accel.accel.linear.x, sensor_id)


# --- control command -------------------------------------------------------------------------


def command_to_msg(command: ControlCommand, speed_mps: float = 0.0) -> AckermannDriveStamped:
    """ackermann_msgs/AckermannDriveStamped of the command (float32 fields).

    The stack commands acceleration, not a speed set point: ``speed`` carries ``speed_mps``
    (pass the vehicle speed the command was computed at; 0 when not given) for information
    only, and ``command_from_msg`` ignores it. A third-party driver that treats ``speed`` as a
    set point (ackermann_msgs' own semantics) needs an adapter. Steering rate and jerk are 0.
    """
    drive = AckermannDrive(command.steer_rad, 0.0, speed_mps, command.accel_mps2, 0.0)
    return AckermannDriveStamped(_header(command.stamp_ns, BASE_FRAME), drive)


def command_from_msg(msg: AckermannDriveStamped) -> ControlCommand:
    return ControlCommand(msg.drive.steering_angle, msg.drive.acceleration,
                          time_to_ns(msg.header.stamp))
