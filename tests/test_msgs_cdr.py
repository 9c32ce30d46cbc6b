"""edge_autopilot.msgs: layouts, CDR bytes against rosbags (the ROS 2 reference), malformed data."""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from functools import cache
from typing import Any

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from edge_autopilot.errors import MessageError
from edge_autopilot.msgs import (
    DEFAULT_DISTRO,
    DISTROS,
    MESSAGE_TYPES,
    Container,
    Distro,
    FieldKind,
    dds_type_name,
    deserialize,
    field_layout,
    message_type,
    msg_definition,
    msg_spec,
    ros_type,
    serialize,
)
from edge_autopilot.msgs.builtin_interfaces import Time
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray, DiagnosticStatus, KeyValue
from edge_autopilot.msgs.edge_autopilot_msgs import LoopTiming, SafetyState, SimStep
from edge_autopilot.msgs.geometry_msgs import PoseWithCovariance
from edge_autopilot.msgs.msgdef import msg_path, parse_msg
from edge_autopilot.msgs.nav_msgs import Odometry
from edge_autopilot.msgs.radar_msgs import RadarReturn, RadarScan
from edge_autopilot.msgs.sensor_msgs import Image, Range
from edge_autopilot.msgs.std_msgs import Header

OCTETS = ("uint8", "byte", "char")
STORES = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}
TYPE_NAMES = sorted(MESSAGE_TYPES)
_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1), "uint8": (0, 2**8 - 1), "byte": (0, 255), "char": (0, 255),
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
}
_STRINGS = ("", "a", "base_link", "Grüße → 東京", "x" * 13, "network")


# ---------------------------------------------------------------------------------------------
# Reference: rosbags' typestores, plus the types they lack registered from our .msg files


@cache
def reference_store(distro: Distro) -> Any:
    store = get_typestore(STORES[distro])
    extra: dict[str, Any] = {}
    for name in MESSAGE_TYPES:
        if name not in store.fielddefs:
            extra.update(get_types_from_msg(msg_path(name, distro).read_text(), name))
    store.register(extra)
    return store


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def random_primitive(rng: random.Random, prim: str) -> Any:
    if prim == "bool":
        return rng.random() < 0.5
    if prim in _INT_RANGES:
        lo, hi = _INT_RANGES[prim]
        return rng.choice((lo, hi, 0, rng.randint(lo, hi)))
    if rng.random() < 0.3:
        x = rng.choice((math.nan, math.inf, -math.inf, -0.0, 0.0))
    else:
        x = rng.uniform(-1e6, 1e6)
    return f32(x) if prim == "float32" else x


def random_message(msg_type: type, distro: Distro, rng: random.Random, depth: int = 0) -> Any:
    """Random content for every wire field: extremes, NaN/inf, non-ASCII, empty and full."""
    kwargs: dict[str, Any] = {}
    for f in field_layout(msg_type, distro):
        def one(f: Any = f) -> Any:
            if f.kind is FieldKind.PRIMITIVE:
                return random_primitive(rng, f.element_type)
            if f.kind is FieldKind.STRING:
                return rng.choice(_STRINGS)
            return random_message(message_type(f.element_type), distro, rng, depth + 1)

        if f.container is Container.SINGLE:
            kwargs[f.name] = one()
            continue
        n = f.length if f.container is Container.ARRAY else rng.randint(0, 3 if depth else 5)
        if f.kind is FieldKind.PRIMITIVE and f.element_type in OCTETS:
            kwargs[f.name] = bytes(rng.randrange(256) for _ in range(n))
        else:
            kwargs[f.name] = tuple(one() for _ in range(n))
    return msg_type(**kwargs)


def to_rosbags(msg: Any, distro: Distro) -> Any:
    """The same content as a rosbags message object."""
    cls = reference_store(distro).types[ros_type(type(msg))]
    kwargs: dict[str, Any] = {}
    for f in field_layout(type(msg), distro):
        value = getattr(msg, f.name)
        single = f.container is Container.SINGLE
        if f.kind is FieldKind.MESSAGE:
            kwargs[f.name] = (to_rosbags(value, distro) if single
                              else [to_rosbags(v, distro) for v in value])
        elif single and f.element_type == "byte":
            kwargs[f.name] = value - 256 if value > 127 else value  # rosbags: byte is int8
        elif single:
            kwargs[f.name] = value
        elif f.kind is FieldKind.STRING:
            kwargs[f.name] = list(value)
        elif f.element_type in OCTETS:
            kwargs[f.name] = np.frombuffer(bytes(value), np.uint8).copy()
        else:
            dtype = {"float32": np.float32, "float64": np.float64, "bool": np.bool_}
            kwargs[f.name] = np.array(value, dtype=dtype.get(f.element_type, f.element_type))
    return cls(**kwargs)


def from_rosbags(obj: Any, msg_type: type, distro: Distro) -> Any:
    """A rosbags message object as this package's dataclass."""
    kwargs: dict[str, Any] = {}
    for f in field_layout(msg_type, distro):
        value = getattr(obj, f.name)
        if f.kind is FieldKind.MESSAGE:
            sub = message_type(f.element_type)
            kwargs[f.name] = (from_rosbags(value, sub, distro) if f.container is Container.SINGLE
                              else tuple(from_rosbags(v, sub, distro) for v in value))
        elif f.container is Container.SINGLE:
            value = value.item() if isinstance(value, np.generic) else value
            kwargs[f.name] = value & 0xFF if f.element_type == "byte" else value
        elif f.element_type in OCTETS:
            kwargs[f.name] = bytes(np.asarray(value, np.uint8))
        elif f.kind is FieldKind.STRING:
            kwargs[f.name] = tuple(value)
        else:
            kwargs[f.name] = tuple(np.asarray(value).tolist())
    return msg_type(**kwargs)


def same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN (repr is exact for floats)."""
    return repr(a) == repr(b)


def check_against_rosbags(msg: Any, distro: Distro) -> bytes:
    store, name, cls = reference_store(distro), ros_type(type(msg)), type(msg)
    ours = serialize(msg, distro)
    theirs = bytes(store.serialize_cdr(to_rosbags(msg, distro), name))
    assert ours == theirs, f"{name} {distro}\nours   {ours.hex()}\ntheirs {theirs.hex()}"
    assert same(deserialize(theirs, cls, distro), msg)
    assert same(from_rosbags(store.deserialize_cdr(ours, name), cls, distro), msg)
    big = bytes(store.serialize_cdr(to_rosbags(msg, distro), name, little_endian=False))
    assert same(deserialize(big, cls, distro), msg)
    return ours


def sample_messages() -> list[Any]:
    """Hand-made messages of the kinds the stack sends."""
    rng = np.random.default_rng(7)
    returns = tuple(RadarReturn(*(float(v) for v in rng.standard_normal(5).astype(np.float32)))
                    for _ in range(64))
    return [
        Image(Header(Time(1_700_000_000, 999_999_999), "camera_front"), 96, 160, "rgb8", 0, 480,
              rng.integers(0, 256, (96, 160, 3), dtype=np.uint8).tobytes()),
        RadarScan(Header(Time(3, 10_000_000), "radar_front"), returns),
        Range(Header(Time(0, 1), "ultrasonic_rear_left"), Range.ULTRASOUND, f32(0.5), f32(0.2),
              f32(5.0), math.inf, 0.0),
        Odometry(Header(Time(-5, 7), "map"), "base_link",
                 PoseWithCovariance(covariance=tuple(float(v) for v in range(36)))),
        DiagnosticArray(Header(Time(9, 9), ""), (
            DiagnosticStatus(DiagnosticStatus.STALE, "camera", "no frames", "cam0",
                             (KeyValue("age_ms", "120"), KeyValue("", ""))),
            DiagnosticStatus(DiagnosticStatus.OK, "radar", "", "", ()))),
        LoopTiming(Header(Time(1, 0), "base_link"), 2**64 - 1, -3_000,
                   (1_000_000, 200_000, 300_000, 50_000, 40_000), 1_600_000, True, False, 3),
        SafetyState(Header(), SafetyState.MRM, ("ttc.low", "sensor.stale"), True, math.inf),
        SimStep(Header(Time(0, 10_000_000)), 1, ("/sensors/camera_front", "/sensors/radar_front")),
    ]


# ---------------------------------------------------------------------------------------------
# Bytes equal ROS 2's (rosbags) for every type, both distros


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("name", TYPE_NAMES)
def test_random_content_bytes_equal_rosbags(name: str, distro: Distro) -> None:
    rng = random.Random(f"{name}/{distro}")
    for _ in range(25):  # string lengths vary, so every alignment case comes up
        check_against_rosbags(random_message(MESSAGE_TYPES[name], distro, rng), distro)


@pytest.mark.parametrize("distro", DISTROS)
def test_default_and_sample_messages_equal_rosbags(distro: Distro) -> None:
    for cls in MESSAGE_TYPES.values():
        check_against_rosbags(cls(), distro)
    for msg in sample_messages():
        check_against_rosbags(msg, distro)


def test_header_and_known_bytes() -> None:
    data = serialize(Time(1, 2))
    assert data == b"\x00\x01\x00\x00" + struct.pack("<iI", 1, 2)
    header = serialize(Header(Time(1, 2), "ab"))
    assert header[12:] == struct.pack("<I", 3) + b"ab\x00"
    # 8-byte alignment is relative to the end of the encapsulation header
    odo = serialize(Odometry(Header(frame_id="m"), "b"))
    assert odo[4 + 8:4 + 14] == struct.pack("<I", 2) + b"m\x00"
    assert odo[4 + 16:4 + 22] == struct.pack("<I", 2) + b"b\x00"
    assert odo[4 + 22:4 + 24] == b"\x00\x00"  # padding up to the first float64 at 24


def test_octet_data_accepts_buffers_and_decodes_to_bytes() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    expected = serialize(Image(height=2, width=3, step=9, data=pixels.tobytes()))
    for data in (pixels, pixels.tobytes(), bytearray(pixels.tobytes()),
                 memoryview(pixels.tobytes()), np.asfortranarray(pixels).copy(order="F")):
        assert serialize(Image(height=2, width=3, step=9, data=data)) == expected
    assert deserialize(expected, Image).data == pixels.tobytes()
    assert deserialize(memoryview(expected), Image).data == pixels.tobytes()
    assert deserialize(bytearray(expected), Image).data == pixels.tobytes()
    with pytest.raises(MessageError):
        serialize(Image(data=pixels.astype(np.float32)))


# ---------------------------------------------------------------------------------------------
# Definitions: the .msg files are the one source of truth


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("name", TYPE_NAMES)
def test_msg_definition_equals_rosbags(name: str, distro: Distro) -> None:
    expected = reference_store(distro).generate_msgdef(name, ros_version=2)[0]
    assert msg_definition(MESSAGE_TYPES[name], distro) == expected


@pytest.mark.parametrize("name", TYPE_NAMES)
def test_dataclass_fields_equal_msg_fields(name: str) -> None:
    cls = MESSAGE_TYPES[name]
    have = [f.name for f in dataclasses.fields(cls)]
    per_distro = {d: [f.name for f in field_layout(cls, d)] for d in DISTROS}
    assert have == per_distro[DISTROS[-1]]  # the newest layout has every field
    for names in per_distro.values():  # older layouts lack fields, never reorder them
        assert [n for n in have if n in names] == names
    constants = {c.name: c.value for d in DISTROS for c in msg_spec(cls, d).constants}
    assert {c: getattr(cls, c) for c in constants} == constants
    class_vars = {n for n in vars(cls) if n.isupper() and n != "ROS_TYPE"}
    assert class_vars == set(constants)
    assert "__slots__" in vars(cls) and not hasattr(cls(), "__dict__")


def test_only_range_differs_between_distros() -> None:
    differ = [n for n, c in MESSAGE_TYPES.items()
              if field_layout(c, "humble") != field_layout(c, "jazzy")]
    assert differ == ["sensor_msgs/msg/Range"]
    assert [f.name for f in field_layout(Range, "jazzy")][-1] == "variance"


def test_names_and_lookup() -> None:
    assert DEFAULT_DISTRO == "humble" and DISTROS == ("humble", "jazzy")
    assert ros_type(Range) == "sensor_msgs/msg/Range"
    assert dds_type_name(Range) == "sensor_msgs::msg::dds_::Range_"
    assert dds_type_name(SimStep) == "edge_autopilot_msgs::msg::dds_::SimStep_"
    assert message_type("nav_msgs/msg/Odometry") is Odometry
    for name, cls in MESSAGE_TYPES.items():
        assert ros_type(cls) == name
        assert cls.__module__ == "edge_autopilot.msgs." + name.split("/")[0]
    with pytest.raises(MessageError):
        message_type("nav_msgs/msg/Nope")
    with pytest.raises(MessageError):
        ros_type(int)
    with pytest.raises(MessageError):
        serialize(object())
    with pytest.raises(MessageError):
        serialize(Time(), "rolling")  # type: ignore[arg-type]
    with pytest.raises(MessageError):
        field_layout(Time, "iron")  # type: ignore[arg-type]


def test_field_layout_describes_the_wire() -> None:
    layout = {f.name: f for f in field_layout(PoseWithCovariance, "humble")}
    cov = layout["covariance"]
    assert (cov.kind, cov.element_type, cov.container, cov.length) == (
        FieldKind.PRIMITIVE, "float64", Container.ARRAY, 36)
    pose = layout["pose"]
    assert (pose.kind, pose.element_type, pose.container) == (
        FieldKind.MESSAGE, "geometry_msgs/msg/Pose", Container.SINGLE)
    returns = field_layout(RadarScan, "humble")[1]
    assert (returns.kind, returns.element_type, returns.container) == (
        FieldKind.MESSAGE, "radar_msgs/msg/RadarReturn", Container.SEQUENCE)


@pytest.mark.parametrize("text", [
    "float32",  # no name
    "float32 x\nfloat32 x",  # duplicate
    "string<=5 s",  # bounded
    "int32[<=3] a",
    "int32[0] a",
    "int32[x] a",
    "uint8 A=zz",
    "string s hello",  # defaults only for single primitives
    "# only a comment",
    "Foo$ bar",
    "int32 class",  # a Python keyword cannot be a dataclass field
])
def test_bad_msg_text_is_rejected(text: str) -> None:
    with pytest.raises(MessageError):
        parse_msg(text, "pkg/msg/T")


def test_msg_parser_resolves_names_and_defaults() -> None:
    spec = parse_msg("Header h\nOther o\npkg2/X[] xs\nfloat64 w 1\nbool b true\n"
                     "int8 K=-3  # comment\n", "pkg/msg/T")
    kinds = [(f.element_type, f.default) for f in spec.fields]
    assert kinds == [("std_msgs/msg/Header", None), ("pkg/msg/Other", None),
                     ("pkg2/msg/X", None), ("float64", 1.0), ("bool", True)]
    assert spec.constants[0].value == -3


# ---------------------------------------------------------------------------------------------
# Distros


def test_range_humble_and_jazzy_bytes_differ_and_are_told_apart() -> None:
    msg = Range(Header(Time(1, 2), "us"), Range.ULTRASOUND, 0.5, 0.25, 4.0, math.inf, 0.125)
    humble, jazzy = serialize(msg, "humble"), serialize(msg, "jazzy")
    assert len(jazzy) == len(humble) + 4 and jazzy[:len(humble)] == humble
    assert deserialize(humble, Range, "humble").variance == 0.0  # not on the Humble wire
    assert deserialize(jazzy, Range, "jazzy") == msg
    with pytest.raises(MessageError, match="unexpected bytes"):
        deserialize(jazzy, Range, "humble")
    with pytest.raises(MessageError, match="truncated"):
        deserialize(humble, Range, "jazzy")


# ---------------------------------------------------------------------------------------------
# Malformed input: MessageError, never IndexError / struct.error / MemoryError


def test_every_truncation_is_rejected() -> None:
    for msg in sample_messages():
        data = serialize(msg)
        for n in range(len(data) - 1, -1, -max(1, len(data) // 300)):
            # up to 3 missing bytes may be trailing padding only if the message ends aligned
            with pytest.raises(MessageError):
                deserialize(data[:n], type(msg))


@pytest.mark.parametrize("header", [b"\x01\x00\x00\x00", b"\x00\x02\x00\x00",
                                    b"\x00\x03\x00\x00", b"\x00\x01\x01\x00", b"\x00\x01"])
def test_wrong_encapsulation_header_is_rejected(header: bytes) -> None:
    data = serialize(Header(Time(1, 2), "x"))
    with pytest.raises(MessageError, match=r"encapsulation|shorter"):
        deserialize(header + data[4:], Header)


def test_trailing_padding_allowed_garbage_rejected() -> None:
    data = serialize(Time(1, 2))
    for k in range(4):  # cyclonedds pads payloads to 4 bytes and says so in the options
        assert deserialize(data[:3] + bytes([k]) + data[4:] + bytes(k), Time) == Time(1, 2)
    for extra in (4, 5, 100):
        with pytest.raises(MessageError, match="unexpected bytes"):
            deserialize(data + bytes(extra), Time)


def test_bad_strings_are_rejected() -> None:
    data = bytearray(serialize(Header(Time(1, 2), "abc")))
    assert data[12:20] == struct.pack("<I", 4) + b"abc\x00"
    no_nul = bytearray(data)
    no_nul[19] = ord("d")
    with pytest.raises(MessageError, match="NUL"):
        deserialize(bytes(no_nul), Header)
    bad_utf8 = bytearray(data)
    bad_utf8[16] = 0xFF
    with pytest.raises(MessageError, match="UTF-8"):
        deserialize(bytes(bad_utf8), Header)
    zero_len = bytes(data[:12]) + struct.pack("<I", 0)
    with pytest.raises(MessageError):
        deserialize(zero_len, Header)
    too_long = bytes(data[:12]) + struct.pack("<I", 2**32 - 1) + b"abc\x00"
    with pytest.raises(MessageError, match="exceeds"):
        deserialize(too_long, Header)


@pytest.mark.parametrize("count", [5, 2**20, 2**32 - 1])
def test_endless_sequence_count_is_rejected_before_allocating(count: int) -> None:
    scan = serialize(RadarScan(Header(Time(1, 2), "r"), (RadarReturn(),) * 4))
    offset = 4 + 8 + 4 + 2 + 2  # stamp, frame_id "r", padding, then the count
    assert scan[offset:offset + 4] == struct.pack("<I", 4)
    bad = scan[:offset] + struct.pack("<I", count) + scan[offset + 4:]
    with pytest.raises(MessageError, match=r"sequence count|truncated"):
        deserialize(bad, RadarScan)
    image = bytearray(serialize(Image(data=b"abc")))
    image[-7:-3] = struct.pack("<I", count)
    with pytest.raises(MessageError, match="sequence count"):
        deserialize(bytes(image), Image)


def test_fuzzed_messages_raise_only_message_error() -> None:
    rng = random.Random(1234)
    corpus = [serialize(m) for m in sample_messages()]
    corpus += [serialize(random_message(MESSAGE_TYPES[n], "humble", random.Random(n)))
               for n in TYPE_NAMES]
    decoded = 0
    for _ in range(4000):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.5 and data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif op < 0.7:
                data = data[:rng.randrange(len(data) + 1)]
            elif op < 0.85 and len(data) >= 8:
                i = rng.randrange(4, len(data) - 3)
                data[i:i + 4] = struct.pack("<I", rng.choice((0, 1, 2**31, 2**32 - 1)))
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        for distro in DISTROS:
            cls = rng.choice(list(MESSAGE_TYPES.values()))
            try:
                deserialize(bytes(data), cls, distro)
                decoded += 1
            except MessageError:
                pass
    assert decoded > 0  # some flips land in values and still decode: that is fine


# ---------------------------------------------------------------------------------------------
# Encoding errors


@pytest.mark.parametrize("msg", [
    Time(sec=2**31),
    Time(nanosec=-1),
    Range(range=1e39),  # beyond float32
    Header(frame_id=b"bytes"),  # type: ignore[arg-type]
    Header(frame_id="\ud800"),  # lone surrogate: not encodable as UTF-8
    PoseWithCovariance(covariance=(0.0,) * 35),
    LoopTiming(stage_ns=(1.5,)),  # type: ignore[arg-type]
    Image(data=[256]),  # type: ignore[arg-type]
    RadarScan(returns=(RadarReturn(range="x"),)),  # type: ignore[arg-type]
    SafetyState(reasons=(3,)),  # type: ignore[arg-type]
])
def test_unencodable_values_raise_message_error(msg: object) -> None:
    with pytest.raises(MessageError):
        serialize(msg)


def test_sequences_accept_lists_and_arrays() -> None:
    a = LoopTiming(stage_ns=(1, 2, 3))
    assert serialize(LoopTiming(stage_ns=[1, 2, 3])) == serialize(a)  # type: ignore[arg-type]
    assert serialize(LoopTiming(stage_ns=np.array([1, 2, 3]))) == serialize(a)  # type: ignore[arg-type]
    cov = np.linspace(0.0, 1.0, 36)
    assert deserialize(serialize(PoseWithCovariance(covariance=cov)),  # type: ignore[arg-type]
                       PoseWithCovariance).covariance == tuple(cov.tolist())


# ---------------------------------------------------------------------------------------------
# field_layout is enough to build the Cyclone DDS type (what the dds transport does)


def to_idl(msg: Any, distro: Distro) -> Any:
    dds_types = pytest.importorskip("edge_autopilot.transport.dds_types")
    return dds_types.to_idl(msg, distro)


@pytest.mark.parametrize("distro", DISTROS)
def test_cyclonedds_type_from_field_layout_gives_the_same_bytes(distro: Distro) -> None:
    for name, cls in MESSAGE_TYPES.items():
        rng = random.Random(name)
        for msg in [cls()] + [random_message(cls, distro, rng) for _ in range(5)]:
            theirs = to_idl(msg, distro).serialize(use_version_2=False)
            assert theirs == serialize(msg, distro), name
            assert same(deserialize(theirs, cls, distro), msg)
