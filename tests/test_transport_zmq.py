"""The zmq transport: loopback TCP between buses and processes, garbage on the wire counted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

zmq = pytest.importorskip("zmq")

from edge_autopilot.errors import TransportError  # noqa: E402
from edge_autopilot.msgs import deserialize, serialize  # noqa: E402
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped  # noqa: E402
from edge_autopilot.msgs.diagnostic_msgs import (  # noqa: E402
    DiagnosticArray,
    DiagnosticStatus,
    KeyValue,
)
from edge_autopilot.msgs.nav_msgs import Odometry  # noqa: E402
from edge_autopilot.msgs.sensor_msgs import Image, Range  # noqa: E402
from edge_autopilot.msgs.std_msgs import Header  # noqa: E402
from edge_autopilot.transport import make_bus  # noqa: E402
from edge_autopilot.transport.zmqbus import domain_ports  # noqa: E402

# A domain of our own: other sessions' buses on this host use other port ranges.
DOMAIN = 100 + os.getpid() % 120
RANGE_TOPIC = "/sensing/ultrasonic/rear_left_corner/range"
TIMEOUT_S = 5.0


def _image() -> Image:
    img = Image(height=96, width=160, encoding="rgb8", step=480,
                data=bytes(range(256)) * 180)
    img.header.frame_id = "camera_front"
    img.header.stamp.sec = 12
    return img


def _odometry() -> Odometry:
    odom = Odometry(child_frame_id="base_link")
    odom.header.frame_id = "odom"
    odom.pose.pose.position.x = 3.25
    odom.twist.twist.linear.x = 12.5
    odom.pose.covariance = tuple(0.5 * i for i in range(36))
    return odom


@pytest.fixture(scope="module")
def bus():
    with make_bus("zmq", domain_id=DOMAIN) as b:
        yield b


def _expect(sub, n: int = 1) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while sub.received < n:
        assert time.monotonic() < deadline, f"nothing arrived on {sub.topic}"
        sub.wait(0.05)


def test_messages_cross_the_socket_as_the_codec_encodes_them(bus):
    msgs = {
        "/sensing/camera/front/image_raw": _image(),
        "/vehicle/odometry": _odometry(),
        "/control/command": AckermannDriveStamped(),
        "/diagnostics": DiagnosticArray(status=(DiagnosticStatus(
            level=2, name="fusion", message="stale radar", values=(KeyValue("age_ms", "75"),)),)),
    }
    subs = {topic: bus.subscribe(topic) for topic in msgs}
    for topic, msg in msgs.items():
        pub = bus.publisher(topic)
        assert pub.wait_for_subscribers(1, TIMEOUT_S)  # a bus hears itself, as a ROS node does
        pub.publish(msg)
    for topic, msg in msgs.items():
        _expect(subs[topic])
        # what inproc's serialize mode would deliver: the codec's round trip
        assert subs[topic].latest() == deserialize(serialize(msg), type(msg))
    assert bus.endpoint.startswith("tcp://127.0.0.1:")


def test_take_all_over_the_wire_is_in_order(bus):
    sub = bus.subscribe("/control/command")
    pub = bus.publisher("/control/command")
    assert pub.wait_for_subscribers(1, TIMEOUT_S)
    sub.take_all()
    target = sub.received + 7
    for i in range(7):
        msg = AckermannDriveStamped()
        msg.drive.speed = float(i)
        pub.publish(msg)
    _expect(sub, target)
    assert [m.drive.speed for m in sub.take_all()][-7:] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_garbage_on_the_wire_is_counted_and_the_bus_keeps_running(bus):
    sub = bus.subscribe(RANGE_TOPIC)
    ctx = zmq.Context.instance()
    rogue = ctx.socket(zmq.XPUB)
    rogue.setsockopt(zmq.LINGER, 0)
    for port in domain_ports(DOMAIN):  # a free slot: the bus's SUB socket dials every one
        try:
            rogue.bind(f"tcp://127.0.0.1:{port}")
            break
        except zmq.ZMQError:
            continue
    try:
        # On connecting, the bus's SUB socket sends its subscriptions, one message per topic.
        deadline = time.monotonic() + TIMEOUT_S
        wanted = b"\x01" + RANGE_TOPIC.encode()
        while not (rogue.poll(100) and rogue.recv() == wanted):
            assert time.monotonic() < deadline, "the bus never subscribed at the rogue socket"
        topic, name = RANGE_TOPIC.encode(), b"sensor_msgs/msg/Range"
        good = serialize(Range(range=2.5))
        not_utf8 = serialize(Range(header=Header(frame_id="ab"))).replace(b"ab\x00",
                                                                          b"\xff\xfe\x00")
        rogue.send_multipart([topic, name, b"\x00\x01\x00\x00\xde\xad"])  # truncated CDR
        rogue.send_multipart([topic, name, os.urandom(64)])  # noise
        rogue.send_multipart([topic, name, not_utf8])  # a frame_id that is not UTF-8
        rogue.send_multipart([topic, b"nav_msgs/msg/Odometry", good])  # wrong type
        rogue.send_multipart([topic, b"\xff\xfe", good])  # unreadable type name
        rogue.send_multipart([topic])  # too few frames
        rogue.send_multipart([topic, name, good, b"extra"])  # too many frames
        rogue.send_multipart([topic, name, good])  # and then a good one
        _expect(sub)
    finally:
        rogue.close()
    s = sub.stats()
    assert (s.received, s.dropped_malformed, s.dropped_wrong_type) == (1, 5, 2), s
    assert sub.latest().range == 2.5


def test_two_processes_talk_through_an_echo_node(bus):
    """A second process (the latency tool's echo node) relays /latency/ping to /latency/pong."""
    echo = subprocess.Popen(
        [sys.executable, "-m", "edge_autopilot.transport.latency", "--echo", "--kinds", "zmq",
         "--type", "nav_msgs/msg/Odometry", "--option", f"domain_id={DOMAIN}"],
        stdin=subprocess.PIPE, text=True)
    try:
        pong = bus.subscribe("/latency/pong", Odometry)
        ping = bus.publisher("/latency/ping", Odometry)
        assert ping.wait_for_subscribers(1, 20.0), "the echo process never subscribed"
        msg = _odometry()
        deadline = time.monotonic() + TIMEOUT_S
        while pong.received == 0:  # its publisher may need a moment to reach our SUB socket
            assert time.monotonic() < deadline, "no reply from the echo process"
            ping.publish(msg)
            pong.wait(0.05)
        assert pong.latest() == msg
    finally:
        echo.stdin.close()
        assert echo.wait(timeout=10.0) == 0


def test_subscriber_count_follows_buses_coming_and_going(bus):
    pub = bus.publisher("/autopilot/safety_state")
    assert pub.subscriber_count() == 0
    first = make_bus("zmq", domain_id=DOMAIN)
    second = make_bus("zmq", domain_id=DOMAIN)
    try:
        first.subscribe("/autopilot/safety_state")
        second.subscribe("/autopilot/safety_state")
        assert pub.wait_for_subscribers(2, TIMEOUT_S)
        first.close()
        deadline = time.monotonic() + TIMEOUT_S
        while pub.subscriber_count() != 1:
            assert time.monotonic() < deadline, "a departed subscriber is still counted"
            time.sleep(0.02)
    finally:
        first.close()
        second.close()


def test_manual_spinning_without_a_receive_thread():
    with make_bus("zmq", domain_id=DOMAIN, spin_thread=False) as bus:
        sub = bus.subscribe("/clock")
        pub = bus.publisher("/clock")
        deadline = time.monotonic() + TIMEOUT_S
        while sub.received == 0:
            assert time.monotonic() < deadline
            pub.publish(pub.msg_type())
            bus.spin_once(0.02)
        assert sub.latest().clock.sec == 0
    with make_bus("zmq", domain_id=DOMAIN) as threaded, \
            pytest.raises(TransportError, match="spin_once is for"):
        threaded.spin_once(0.0)


def test_ports_stay_in_range():
    assert domain_ports(0) == range(17400, 17432)
    with pytest.raises(TransportError, match="domain_id"):
        domain_ports(500)
