"""The Bus API on the inproc transport, the topic/QoS table and the make_bus factory."""

from __future__ import annotations

import os
import threading
import time

import pytest

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import deserialize, ros_type, serialize
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray, DiagnosticStatus, KeyValue
from edge_autopilot.msgs.edge_autopilot_msgs import LoopTiming, SafetyState, SimStep, TrackArray
from edge_autopilot.msgs.geometry_msgs import AccelWithCovarianceStamped
from edge_autopilot.msgs.nav_msgs import Odometry
from edge_autopilot.msgs.radar_msgs import RadarReturn, RadarScan
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.sensors.calibration import ULTRASONIC_NAMES
from edge_autopilot.transport import (
    DEFAULT_QOS,
    SENSOR_QOS,
    make_bus,
    qos_for,
    topic_table,
    topic_type,
)
from edge_autopilot.transport.topics import dds_topic_name, is_sensor_topic

# inproc domains are per process: keep this module's traffic apart from other tests'
DOMAIN = 900_000 + os.getpid()
RANGE_TOPIC = "/sensing/ultrasonic/front_left_side/range"


def _cmd(speed: float) -> AckermannDriveStamped:
    msg = AckermannDriveStamped()
    msg.drive.speed = speed
    return msg


@pytest.fixture
def bus():
    with make_bus("inproc", domain_id=DOMAIN) as b:
        yield b


# --- topics and QoS ---


def test_sensor_topics_are_best_effort_keep_last_5():
    table = topic_table()
    for cam in ("front", "front_left", "front_right"):
        assert table[f"/sensing/camera/{cam}/image_raw"] == (Image, SENSOR_QOS)
    for radar in ("front", "rear_left", "rear_right"):
        assert table[f"/sensing/radar/{radar}/scan"] == (RadarScan, SENSOR_QOS)
    for name in ULTRASONIC_NAMES:
        assert table[f"/sensing/ultrasonic/{name}/range"] == (Range, SENSOR_QOS)
    assert table["/vehicle/odometry"] == (Odometry, SENSOR_QOS)
    assert table["/vehicle/acceleration"] == (AccelWithCovarianceStamped, SENSOR_QOS)
    assert is_sensor_topic("/vehicle/acceleration") and not is_sensor_topic("/control/command")
    assert (SENSOR_QOS.reliable, SENSOR_QOS.depth) == (False, 5)
    assert str(SENSOR_QOS) == "best-effort keep-last 5"


def test_other_topics_are_reliable_keep_last_10():
    expected = {
        "/control/command": AckermannDriveStamped,
        "/diagnostics": DiagnosticArray,
        "/clock": Clock,
        "/autopilot/tracks": TrackArray,
        "/autopilot/loop_timing": LoopTiming,
        "/autopilot/safety_state": SafetyState,
        "/autopilot/sim/step": SimStep,
        "/autopilot/supervisor/command": AckermannDriveStamped,
    }
    for topic, msg_type in expected.items():
        assert topic_type(topic) is msg_type
        assert qos_for(topic) == DEFAULT_QOS
    assert ros_type(topic_type("/autopilot/trajectory")) == "edge_autopilot_msgs/msg/Trajectory"
    assert (DEFAULT_QOS.reliable, DEFAULT_QOS.depth) == (True, 10)
    assert len(topic_table()) == 3 + 3 + len(ULTRASONIC_NAMES) + 2 + 9


def test_unknown_topics_need_a_type_and_get_the_reliable_default():
    assert qos_for("/my/own/topic") == DEFAULT_QOS
    with pytest.raises(TransportError, match="pass its message type"):
        topic_type("/my/own/topic")
    for bad in ("no/slash", "/trailing/", "/double//slash", "/9starts_with_digit", "", "/a-b"):
        with pytest.raises(TransportError, match="invalid topic name"):
            qos_for(bad)
    assert dds_topic_name("/control/command") == "rt/control/command"


# --- factory ---


def test_make_bus_refuses_unknown_kinds_and_options():
    with pytest.raises(TransportError, match="unknown transport 'carrier_pigeon'"):
        make_bus("carrier_pigeon")
    with pytest.raises(TransportError, match="bad option for transport 'inproc'"):
        make_bus("inproc", domian_id=3)
    with pytest.raises(TransportError, match="unknown ROS 2 distro"):
        make_bus("inproc", distro="rolling")


def test_ros2_without_rclpy_says_what_to_do():
    pytest.importorskip("edge_autopilot.transport.ros2")
    try:
        import rclpy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("rclpy is installed here")
    with pytest.raises(TransportError, match=r"needs rclpy .* use --transport dds"):
        make_bus("ros2")


# --- inproc semantics ---


def test_latest_and_take_all_keep_arrival_order(bus):
    sub = bus.subscribe(RANGE_TOPIC)
    pub = bus.publisher(RANGE_TOPIC)
    assert sub.latest() is None and sub.take_all() == []
    for r in (1.0, 2.0, 3.0):
        pub.publish(Range(range=r))
    assert sub.latest().range == 3.0
    assert [m.range for m in sub.take_all()] == [1.0, 2.0, 3.0]
    assert sub.take_all() == []  # drained
    assert sub.latest().range == 3.0  # the latest value stays
    pub.publish(Range(range=4.0))
    assert [m.range for m in sub.take_all()] == [4.0]
    assert sub.latest_t_ns > 0 and sub.received == 4 and pub.published == 4


def test_queue_is_bounded_by_the_qos_depth_and_counts_overflow(bus):
    sensor = bus.subscribe(RANGE_TOPIC)  # keep-last 5
    latest_only = bus.subscribe(RANGE_TOPIC, queue_size=0)
    pub = bus.publisher(RANGE_TOPIC)
    for i in range(8):
        pub.publish(Range(range=float(i)))
    assert [m.range for m in sensor.take_all()] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert sensor.dropped_overflow == 3
    assert latest_only.take_all() == [] and latest_only.latest().range == 7.0
    assert latest_only.dropped_overflow == 0
    with pytest.raises(TransportError, match="queue_size"):
        bus.subscribe(RANGE_TOPIC, queue_size=-1)


def test_several_message_types_reach_their_own_topics(bus):
    subs = {t: bus.subscribe(t) for t in ("/control/command", "/diagnostics", "/clock",
                                          "/sensing/radar/front/scan", "/vehicle/odometry")}
    diag = DiagnosticArray(status=(DiagnosticStatus(level=1, name="loop",
                                                    values=(KeyValue("k", "v"),)),))
    scan = RadarScan(returns=(RadarReturn(range=12.5, azimuth=0.25),))
    clock = Clock()
    clock.clock.sec = 7
    bus.publisher("/control/command").publish(_cmd(3.0))
    bus.publisher("/diagnostics").publish(diag)
    bus.publisher("/clock").publish(clock)
    bus.publisher("/sensing/radar/front/scan").publish(scan)
    assert subs["/control/command"].latest().drive.speed == 3.0
    assert subs["/diagnostics"].latest().status[0].values[0].value == "v"
    assert subs["/clock"].latest().clock.sec == 7
    assert subs["/sensing/radar/front/scan"].latest().returns[0].range == 12.5
    assert subs["/vehicle/odometry"].latest() is None


def test_wait_reports_each_new_arrival_once(bus):
    sub = bus.subscribe("/control/command")
    pub = bus.publisher("/control/command")
    assert sub.wait(0.01) is False
    threading.Timer(0.05, pub.publish, (_cmd(1.0),)).start()
    t0 = time.monotonic()
    assert sub.wait(2.0) is True
    assert time.monotonic() - t0 < 1.0
    assert sub.wait(0.01) is False  # nothing newer since
    pub.publish(_cmd(2.0))
    assert sub.wait(0.0) is True


def test_callbacks_run_after_buffering_and_their_errors_are_counted(bus):
    seen = []

    def callback(msg):
        seen.append(sub.latest() is msg)
        if msg.drive.speed < 0:
            raise ValueError("boom")

    sub = bus.subscribe("/control/command", callback=callback)
    pub = bus.publisher("/control/command")
    pub.publish(_cmd(-1.0))
    pub.publish(_cmd(1.0))
    assert seen == [True, True]
    assert sub.callback_errors == 1 and sub.received == 2


def test_types_are_checked_at_set_up_and_on_publish(bus):
    with pytest.raises(TransportError, match="carries ackermann_msgs/msg/AckermannDriveStamped"):
        bus.subscribe("/control/command", Range)
    with pytest.raises(TransportError, match="not a message class"):
        bus.subscribe("/my/topic", dict)
    bus.publisher("/my/topic", Range)
    with pytest.raises(TransportError, match="already carries sensor_msgs/msg/Range"):
        bus.subscribe("/my/topic", Odometry)
    pub = bus.publisher("/control/command")
    with pytest.raises(TransportError, match="cannot publish a Range"):
        pub.publish(Range())


def test_buses_of_one_domain_meet_and_other_domains_do_not():
    with make_bus("inproc", domain_id=DOMAIN + 1) as a, \
            make_bus("inproc", domain_id=DOMAIN + 1) as b, \
            make_bus("inproc", domain_id=DOMAIN + 2) as other:
        sub_b = b.subscribe("/control/command")
        sub_other = other.subscribe("/control/command")
        pub = a.publisher("/control/command")
        assert pub.subscriber_count() == 1
        pub.publish(_cmd(5.0))
        assert sub_b.latest().drive.speed == 5.0
        assert sub_other.latest() is None
        b.publisher("/my/shared", Range)
        with pytest.raises(TransportError, match="in this process"):
            a.subscribe("/my/shared", Odometry)
        b.close()
        assert pub.subscriber_count() == 0
        a.subscribe("/my/shared", Odometry)  # free again once b closed
    with pytest.raises(TransportError, match="closed"):
        a.subscribe("/control/command")


def test_serialize_mode_round_trips_through_the_wire_bytes():
    odom = Odometry(child_frame_id="base_link")
    odom.pose.pose.position.x = 1.5
    odom.twist.covariance = tuple(float(i) for i in range(36))
    rng = Range(range=2.0, variance=0.25)
    with make_bus("inproc", domain_id=DOMAIN + 3, serialize=True, distro="humble") as bus:
        odom_sub = bus.subscribe("/vehicle/odometry")
        range_sub = bus.subscribe(RANGE_TOPIC)
        bus.publisher("/vehicle/odometry").publish(odom)
        bus.publisher(RANGE_TOPIC).publish(rng)
        got = odom_sub.latest()
        assert got is not odom and got == odom
        assert range_sub.latest().variance == 0.0  # Humble's Range has no variance
    with make_bus("inproc", domain_id=DOMAIN + 3, serialize=True, distro="jazzy") as bus:
        range_sub = bus.subscribe(RANGE_TOPIC)
        bus.publisher(RANGE_TOPIC).publish(rng)
        assert range_sub.latest() == rng


def test_malformed_and_wrong_typed_bytes_are_counted_not_raised(bus):
    sub = bus.subscribe(RANGE_TOPIC)
    good = serialize(Range(range=1.0))
    assert bus.inject_raw(RANGE_TOPIC, "sensor_msgs/msg/Range", b"\x00\x01\x00\x00garbage") is False
    assert bus.inject_raw(RANGE_TOPIC, "sensor_msgs/msg/Range", b"") is False
    assert bus.inject_raw(RANGE_TOPIC, "sensor_msgs/msg/Range", good[:-3]) is False
    assert bus.inject_raw(RANGE_TOPIC, "nav_msgs/msg/Odometry", good) is False
    assert bus.inject_raw("/nobody/listens", "sensor_msgs/msg/Range", good) is False
    assert bus.inject_raw(RANGE_TOPIC, "sensor_msgs/msg/Range", good) is True
    s = sub.stats()
    assert (s.received, s.dropped_malformed, s.dropped_wrong_type) == (1, 3, 1)
    assert sub.latest() == deserialize(good, Range)


def test_stats_sum_up_the_bus(bus):
    bus.subscribe("/control/command")
    bus.subscribe("/control/command", queue_size=0)
    pub = bus.publisher("/control/command")
    pub.publish(_cmd(1.0))
    stats = bus.stats()
    assert stats.kind == "inproc"
    assert stats.published == {"/control/command": 1}
    assert [s.received for s in stats.subscriptions] == [1, 1]
    assert stats.as_dict()["subscriptions"][0]["type_name"] == \
        "ackermann_msgs/msg/AckermannDriveStamped"
