"""Where each of the stack's sensor samples travels: its topics, and its ROS 2 messages.

One place maps ``edge_autopilot.sensors.samples`` to topics and messages and back, for the
simulator bridge, the loop node, the recorder and replay alike. Odometry travels as two
messages with the same stamp, because nav_msgs/Odometry has no acceleration:
``/vehicle/odometry`` and ``/vehicle/acceleration`` (geometry_msgs/AccelWithCovarianceStamped,
Autoware's convention); the receiving side joins them back into one sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge_autopilot.errors import MessageError
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.geometry_msgs import AccelWithCovarianceStamped
from edge_autopilot.msgs.nav_msgs import Odometry as OdometryMsg
from edge_autopilot.msgs.radar_msgs import RadarScan as RadarScanMsg
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.nodes.inbox import Inbox
from edge_autopilot.sensors.calibration import SensorRigCalibration
from edge_autopilot.sensors.samples import CameraFrame, RadarScan, SensorSample, UltrasonicRange
from edge_autopilot.transport.topics import TOPIC_ACCELERATION as ACCELERATION_TOPIC
from edge_autopilot.transport.topics import TOPIC_ODOMETRY as ODOMETRY_TOPIC
from edge_autopilot.transport.topics import camera_topic, radar_topic, ultrasonic_topic


def sample_messages(sample: SensorSample) -> list[tuple[str, Any]]:
    """The (topic, message) pairs that carry ``sample``, in publishing order."""
    if isinstance(sample, CameraFrame):
        return [(camera_topic(sample.sensor_id), convert.camera_to_msg(sample))]
    if isinstance(sample, RadarScan):
        return [(radar_topic(sample.sensor_id), convert.radar_to_msg(sample))]
    if isinstance(sample, UltrasonicRange):
        return [(ultrasonic_topic(sample.sensor_id), convert.ultrasonic_to_msg(sample))]
    return [(ODOMETRY_TOPIC, convert.odometry_to_msg(sample)),
            (ACCELERATION_TOPIC, convert.accel_to_msg(sample))]


class SensorTopics:
    """The rig's sensor topics with their message types, and the way back to samples."""

    def __init__(self, calibration: SensorRigCalibration) -> None:
        # topic -> (message type, sensor id)
        self.by_topic: dict[str, tuple[type, str]] = {}
        for cam in calibration.cameras:
            self.by_topic[camera_topic(cam.name)] = (Image, cam.name)
        for radar in calibration.radars:
            self.by_topic[radar_topic(radar.name)] = (RadarScanMsg, radar.name)
        for us in calibration.ultrasonics:
            self.by_topic[ultrasonic_topic(us.name)] = (Range, us.name)
        self.by_topic[ODOMETRY_TOPIC] = (OdometryMsg, "odometry")
        self.by_topic[ACCELERATION_TOPIC] = (AccelWithCovarianceStamped, "odometry")
        # odometry and acceleration waiting for their partner, by stamp
        self._odometry: dict[int, OdometryMsg] = {}
        self._accel: dict[int, AccelWithCovarianceStamped] = {}
        self.unpaired_dropped = 0

    def take_named(self, inbox: Inbox, topics: Sequence[str], wait_s: float
                   ) -> tuple[list[tuple[str, Any]], int, int]:
        """The messages a simulator step names, in its order, from ``inbox`` (each waited
        for up to ``wait_s``: they were published before the step): (topic, message) pairs,
        how many named topics are not the rig's, how many never came (a lost best-effort
        sample)."""
        received: list[tuple[str, Any]] = []
        unknown = lost = 0
        for topic in topics:
            if topic not in self.by_topic:
                unknown += 1
                continue
            msg = inbox.pop(topic, wait_s)
            if msg is None:
                lost += 1
                continue
            received.append((topic, msg))
        return received, unknown, lost

    def to_samples(self, received: list[tuple[str, Any]]) -> tuple[list[SensorSample], int]:
        """The stack's samples for messages received in this order, and how many messages
        could not be used (wrong topic, type or content). An odometry message becomes a
        sample when its acceleration (same stamp) has come too, in either order."""
        out: list[SensorSample] = []
        bad = 0
        for topic, msg in received:
            entry = self.by_topic.get(topic)
            if entry is None or not isinstance(msg, entry[0]):
                bad += 1
                continue
            msg_type, sensor_id = entry
            try:
                if msg_type is Image:
                    out.append(convert.camera_from_msg(msg, sensor_id))
                elif msg_type is RadarScanMsg:
                    out.append(convert.radar_from_msg(msg, sensor_id))
                elif msg_type is Range:
                    out.append(convert.ultrasonic_from_msg(msg, sensor_id))
                else:
                    joined = self._join(msg)
                    if joined is not None:
                        out.append(joined)
            except MessageError:
                bad += 1
        return out, bad

    def _join(self, msg: OdometryMsg | AccelWithCovarianceStamped) -> SensorSample | None:
        stamp = convert.time_to_ns(msg.header.stamp)
        if isinstance(msg, OdometryMsg):
            accel = self._accel.pop(stamp, None)
            if accel is None:
                self._hold(self._odometry, stamp, msg)
                return None
            return convert.odometry_from_msg(msg, accel)
        odometry = self._odometry.pop(stamp, None)
        if odometry is None:
            self._hold(self._accel, stamp, msg)
            return None
        return convert.odometry_from_msg(odometry, msg)

    def _hold(self, pending: dict[int, Any], stamp: int, msg: Any) -> None:
        pending[stamp] = msg
        # a partner lost on the way never comes: keep only the newest few
        while len(pending) > 4:
            del pending[min(pending)]
            self.unpaired_dropped += 1
