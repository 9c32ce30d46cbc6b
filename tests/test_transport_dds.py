"""The dds transport: ROS 2 wire conventions over Cyclone DDS, on loopback only.

Every bus here uses the shipped loopback configuration (CYCLONEDDS_URI is removed for the
module) in a domain derived from the pid, so parallel sessions do not see each other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import fields, is_dataclass
from typing import Any

import pytest

pytest.importorskip("cyclonedds")

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import InstanceState, Policy, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import make_idl_struct
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import (
    deserialize,
    field_layout,
    ros_type,
    serialize,
)
from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
from edge_autopilot.msgs.diagnostic_msgs import (
    DiagnosticArray,
    DiagnosticStatus,
    KeyValue,
)
from edge_autopilot.msgs.edge_autopilot_msgs import (
    LoopTiming,
    SafetyState,
    Track,
    TrackArray,
)
from edge_autopilot.msgs.nav_msgs import Odometry
from edge_autopilot.msgs.radar_msgs import RadarReturn, RadarScan
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.msgs.std_msgs import Header
from edge_autopilot.transport import make_bus
from edge_autopilot.transport.dds import loopback_config
from edge_autopilot.transport.dds_types import from_idl, idl_type, to_idl

DOMAIN = 10 + os.getpid() % 200  # this module uses DOMAIN .. DOMAIN + 9 (all <= 232)
TIMEOUT_S = 5.0
ANY_STATE = SampleState.Any | ViewState.Any | InstanceState.Any
RANGE_TOPIC = "/sensing/ultrasonic/front_right_side/range"


@pytest.fixture(scope="module", autouse=True)
def _shipped_config_only():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CYCLONEDDS_URI", raising=False)
        yield


@pytest.fixture(scope="module")
def bus(_shipped_config_only):
    with make_bus("dds", domain_id=DOMAIN) as b:
        yield b


@pytest.fixture(scope="module")
def plain(bus):
    """A plain cyclonedds participant in the bus's domain: what any other DDS program sees."""
    return DomainParticipant(DOMAIN)


def _header(frame: str, sec: int = 1) -> Header:
    h = Header(frame_id=frame)
    h.stamp.sec, h.stamp.nanosec = sec, 500_000_000
    return h


def sample_messages() -> list[Any]:
    img = Image(header=_header("camera_front"), height=4, width=6, encoding="rgb8", step=18,
                data=bytes(range(72)))
    odom = Odometry(header=_header("odom"), child_frame_id="base_link")
    odom.pose.pose.position.x = 10.25
    odom.pose.pose.orientation.w = 1.0
    odom.pose.covariance = tuple(float(i) for i in range(36))
    odom.twist.twist.linear.x = 12.5
    cmd = AckermannDriveStamped(header=_header("base_link"))
    cmd.drive.steering_angle, cmd.drive.acceleration = 0.125, -2.5
    return [
        img, odom, cmd,
        Range(header=_header("us_front_right_side"), radiation_type=Range.ULTRASOUND,
              field_of_view=0.5, min_range=0.25, max_range=4.0, range=float("inf")),
        RadarScan(header=_header("radar_front"),
                  returns=(RadarReturn(12.5, 0.25, 0.0, -3.0, 20.0),
                           RadarReturn(80.0, -0.5, 0.125, 1.5, 7.0))),
        DiagnosticArray(header=_header(""), status=(DiagnosticStatus(
            level=1, name="fusion", message="radar late", hardware_id="ecu",
            values=(KeyValue("age_ms", "75"), KeyValue("ok", "no"))),)),
        TrackArray(header=_header("base_link"), tracks=(Track(id=7, x_m=20.0, vx_mps=-1.5,
                                                              pos_std_m=0.5, hits=3),)),
        LoopTiming(header=_header(""), cycle=2**40, wake_latency_ns=-35, stage_ns=(1, 2, 3),
                   end_to_end_ns=4_000_000, deadline_missed=True, networks_ran=3),
        SafetyState(header=_header(""), level=2, reasons=("ttc", "über"), speed_cap_mps=8.5),
    ]


# --- converting our dataclasses to and from cyclonedds' own IdlStruct samples ---


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _topic_for(msg: Any) -> str:
    return "/test/" + type(msg).__name__.lower()


def _expect(sub, n: int = 1) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while sub.received < n:
        assert time.monotonic() < deadline, f"nothing arrived on {sub.topic}"
        sub.wait(0.05)


def _wait_matched(entity, kind: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    get = (entity.get_matched_subscriptions if kind == "readers"
           else entity.get_matched_publications)
    while not get():
        assert time.monotonic() < deadline, f"no {kind} matched"
        time.sleep(0.01)


# --- tests ---


def test_several_message_types_round_trip(bus):
    msgs = sample_messages()
    subs = [bus.subscribe(_topic_for(m), type(m)) for m in msgs]
    for msg in msgs:
        pub = bus.publisher(_topic_for(msg), type(msg))
        assert pub.wait_for_subscribers(1, TIMEOUT_S)
        pub.publish(msg)
    for msg, sub in zip(msgs, subs, strict=True):
        _expect(sub)
        assert sub.latest() == deserialize(serialize(msg), type(msg))
        assert sub.stats().dropped_malformed == 0
    assert "shipped loopback config" in bus.config_source


def test_names_and_qos_are_what_a_ros2_node_expects(bus, plain):
    sensor = bus.publisher("/sensing/radar/rear_left/scan")
    command = bus.publisher("/control/command")
    for pub, reliability in ((sensor, Policy.Reliability.BestEffort),
                             (command, Policy.Reliability.Reliable(0))):
        data_type = idl_type(ros_type(pub.msg_type), "humble")
        reader = DataReader(plain, Topic(plain, "rt" + pub.topic, data_type))
        _wait_matched(reader, "writers")
        endpoint = reader.get_matched_publication_data(reader.get_matched_publications()[0])
        assert endpoint.topic_name == "rt" + pub.topic
        assert endpoint.type_name == {
            "/sensing/radar/rear_left/scan": "radar_msgs::msg::dds_::RadarScan_",
            "/control/command": "ackermann_msgs::msg::dds_::AckermannDriveStamped_"}[pub.topic]
        qos = endpoint.qos
        assert type(qos[Policy.Reliability]) is type(reliability)
        assert qos[Policy.Durability] == Policy.Durability.Volatile
        assert qos[Policy.History] == Policy.History.KeepLast(pub.qos.depth)
        assert qos[Policy.DataRepresentation] == Policy.DataRepresentation(
            use_cdrv0_representation=True, use_xcdrv2_representation=False)
        assert pub.subscriber_count() >= 1


def test_wire_bytes_are_the_codec_bytes_and_plain_cyclonedds_agrees(bus, plain):
    for msg in sample_messages():
        expected = serialize(msg)
        assert expected[:4] == b"\x00\x01\x00\x00"
        # cyclonedds' own XCDR1 serializer produces the very same bytes from the same values
        assert to_idl(msg).serialize(use_version_2=False) == expected, type(msg).__name__
        topic = _topic_for(msg) + "_wire"
        data_type = idl_type(ros_type(type(msg)), "humble")
        dds_topic = Topic(plain, "rt" + topic, data_type)
        raw_reader = DataReader(plain, dds_topic)
        typed_reader = DataReader(plain, dds_topic)
        pub = bus.publisher(topic, type(msg))
        assert pub.wait_for_subscribers(2, TIMEOUT_S)
        pub.publish(msg)
        deadline = time.monotonic() + TIMEOUT_S
        while not (taken := ddspy_take(raw_reader._ref, ANY_STATE, 8)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert [data for data, _ in taken] == [_padded(expected)]  # padded as rmw_cyclonedds
        deadline = time.monotonic() + TIMEOUT_S
        while not (samples := typed_reader.take(8)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert from_idl(samples[0], type(msg)) == deserialize(expected, type(msg))


def test_plain_cyclonedds_writers_reach_our_subscriptions(bus, plain):
    for msg in sample_messages():
        topic = _topic_for(msg) + "_in"
        sub = bus.subscribe(topic, type(msg))
        writer = DataWriter(plain, Topic(plain, "rt" + topic, idl_type(ros_type(type(msg)),
                                                                     "humble")))
        _wait_matched(writer, "readers")
        writer.write(to_idl(msg))
        _expect(sub)
        assert sub.latest() == deserialize(serialize(msg), type(msg))


def test_samples_our_decoder_rejects_are_counted(bus, plain):
    sub = bus.subscribe(RANGE_TOPIC)
    writer = DataWriter(plain, Topic(plain, "rt" + RANGE_TOPIC,
                                     idl_type("sensor_msgs/msg/Range", "humble")))
    _wait_matched(writer, "readers")
    good = serialize(Range(range=1.5))
    not_utf8 = serialize(Range(header=Header(frame_id="ab"))).replace(b"ab\x00", b"\xff\xfe\x00")
    # Valid CDR for the type, so Cyclone delivers them, but not valid messages:
    assert ddspy_write(writer._ref, _padded(not_utf8)) == 0
    assert ddspy_write(writer._ref, b"\x01\x01\x00\x00" + good[4:]) == 0  # bad encapsulation
    # Structurally broken CDR never gets this far: Cyclone refuses it (here at the writer;
    # from a remote writer, at our reader, uncounted).
    assert ddspy_write(writer._ref, b"\x00\x01\x00\x00" + b"\xff" * 13) < 0
    assert ddspy_write(writer._ref, _padded(good)) == 0
    _expect(sub)
    deadline = time.monotonic() + TIMEOUT_S
    while sub.dropped_malformed < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert (sub.received, sub.dropped_malformed, sub.dropped_wrong_type) == (1, 2, 0)
    assert sub.latest().range == 1.5


def test_a_same_shaped_type_under_another_name_is_counted_as_wrong(bus, plain):
    sub = bus.subscribe("/sensing/ultrasonic/rear_right_side/range")
    fields_ = {f.name: t for f, t in zip(
        field_layout(Range, "humble"),
        idl_type("sensor_msgs/msg/Range", "humble").__annotations__.values(), strict=True)}
    impostor = make_idl_struct("Range_", "impostor_msgs::msg::dds_::Range_", fields_)
    writer = DataWriter(plain, Topic(plain, "rt/sensing/ultrasonic/rear_right_side/range",
                                     impostor))
    _wait_matched(writer, "readers")  # Cyclone matches by structure (XTypes assignability)
    assert ddspy_write(writer._ref, serialize(Range(range=3.0))) == 0
    deadline = time.monotonic() + TIMEOUT_S
    while sub.dropped_wrong_type == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sub.received == 0 and sub.latest() is None


def test_two_processes_on_loopback_only(tmp_path):
    """An echo node in a second process relays pings; a Cyclone trace of our side shows that
    only 127.0.0.1 is used: the selected interface, our locators and the peer's."""
    domain = DOMAIN + 1
    trace = tmp_path / "cyclone.log"
    echo = subprocess.Popen(
        [sys.executable, "-m", "edge_autopilot.transport.latency", "--echo", "--kinds", "dds",
         "--type", "ackermann_msgs/msg/AckermannDriveStamped", "--option", f"domain_id={domain}"],
        stdin=subprocess.PIPE, text=True)
    try:
        with make_bus("dds", domain_id=domain, trace_file=str(trace)) as bus:
            pong = bus.subscribe("/latency/pong", AckermannDriveStamped)
            ping = bus.publisher("/latency/ping", AckermannDriveStamped)
            assert ping.wait_for_subscribers(1, 20.0), "the echo process never subscribed"
            msg = AckermannDriveStamped(header=_header("base_link", 42))
            msg.drive.speed = 7.5
            deadline = time.monotonic() + TIMEOUT_S
            while pong.received == 0:  # the echo's writer may match us a moment later
                assert time.monotonic() < deadline, "no reply from the echo process"
                ping.publish(msg)
                pong.wait(0.05)
            assert pong.latest() == msg
    finally:
        echo.stdin.close()
        assert echo.wait(timeout=10.0) == 0
    log = trace.read_text()
    assert re.search(r"selected interfaces: lo0? \(", log)  # and nothing else
    assert "ownip: udp/127.0.0.1" in log
    assert "Domain/General/AllowMulticast/#text: false" in log
    # the echo's participant, discovered, advertising loopback addresses only
    assert re.search(r"SPDP ST0 .* NEW .*\(data udp/127\.0\.0\.1:\d+@\d+ meta udp/127", log)
    locators = set(re.findall(r"udp/(\d+\.\d+\.\d+\.\d+):\d+", log))
    assert locators == {"127.0.0.1"}


def test_garbage_from_another_process_is_counted(bus):
    # A reliable topic: samples written once the writer has matched our reader are delivered
    # even if our side matches the writer a little later (best-effort would drop them).
    domain, topic = DOMAIN + 2, "/test/garbage/range"
    child = textwrap.dedent(f"""
        from cyclonedds._clayer import ddspy_write
        from cyclonedds.core import Policy, Qos
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.topic import Topic
        from cyclonedds.util import duration
        import time
        from edge_autopilot.msgs import serialize
        from edge_autopilot.msgs.sensor_msgs import Range
        from edge_autopilot.msgs.std_msgs import Header
        from edge_autopilot.transport.dds import _acquire_domain
        from edge_autopilot.transport.dds_types import idl_type
        _acquire_domain({domain}, None, None)  # the shipped loopback config
        dp = DomainParticipant({domain})
        qos = Qos(Policy.Reliability.Reliable(duration(milliseconds=100)),
                  Policy.History.KeepLast(10))
        w = DataWriter(dp, Topic(dp, "rt{topic}", idl_type("sensor_msgs/msg/Range", "humble")),
                       qos=qos)
        while not w.get_matched_subscriptions():
            time.sleep(0.01)
        bad = serialize(Range(header=Header(frame_id="ab"))).replace(b"ab\\x00", b"\\xfe\\xff\\x00")
        good = serialize(Range(range=4.25))
        assert ddspy_write(w._ref, bad + bytes(-len(bad) % 4)) == 0
        assert ddspy_write(w._ref, b"\\x00\\x01\\x00\\x07" + good[4:]) == 0
        assert ddspy_write(w._ref, good) == 0
        assert w.wait_for_acks(duration(seconds=10))
    """)
    with make_bus("dds", domain_id=domain) as rx:
        sub = rx.subscribe(topic, Range)
        proc = subprocess.run([sys.executable, "-c", child], timeout=30, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        _expect(sub)
        assert (sub.received, sub.dropped_malformed, sub.dropped_wrong_type) == (1, 2, 0)
        assert sub.latest().range == 4.25


def test_configuration_choices(monkeypatch, tmp_path):
    shipped = tmp_path / "mine.xml"
    shipped.write_text(loopback_config())
    monkeypatch.setenv("CYCLONEDDS_URI", f"file://{shipped}")
    with make_bus("dds", domain_id=DOMAIN + 3) as b:
        assert b.config_source == f"CYCLONEDDS_URI=file://{shipped}"
        with pytest.raises(TransportError, match="already open in this process"):
            make_bus("dds", domain_id=DOMAIN + 3, config=loopback_config())
    with pytest.raises(TransportError, match="add <Tracing> to that file"):
        make_bus("dds", domain_id=DOMAIN + 4, trace_file=str(tmp_path / "t.log"))
    monkeypatch.delenv("CYCLONEDDS_URI")
    with pytest.raises(TransportError, match="rejected the configuration"):
        make_bus("dds", domain_id=DOMAIN + 5, config="<CycloneDDS><Domain><Nonsense/>"
                                                     "</Domain></CycloneDDS>")
    with pytest.raises(TransportError, match="domain_id must be"):
        make_bus("dds", domain_id=300)


def test_jazzy_layout_and_manual_spinning():
    with make_bus("dds", domain_id=DOMAIN + 6, distro="jazzy", spin_thread=False) as bus:
        sub = bus.subscribe(RANGE_TOPIC)
        pub = bus.publisher(RANGE_TOPIC)
        assert pub.wait_for_subscribers(1, TIMEOUT_S)
        msg = Range(range=2.0, variance=0.0625)
        pub.publish(msg)
        deadline = time.monotonic() + TIMEOUT_S
        while sub.received == 0:
            assert time.monotonic() < deadline
            bus.spin_once(0.05)
        assert sub.latest() == msg  # variance is on the wire in Jazzy
        assert len(serialize(msg, "jazzy")) == len(serialize(msg, "humble")) + 4


def test_is_dataclass_conversion_helpers_cover_all_fields():
    # guards the helpers above: every sample survives to_idl/from_idl unchanged
    for msg in sample_messages():
        assert is_dataclass(msg) and fields(msg)
        assert from_idl(to_idl(msg), type(msg)) == deserialize(serialize(msg), type(msg))
