"""Cyclone DDS types for the message classes, built from the .msg layouts (no IDL files).

Each ROS message becomes a final, keyless ``IdlStruct`` named as ROS 2 names it on DDS
(``sensor_msgs::msg::dds_::Range_``), with fields typed as rosidl's IDL does (``byte`` is octet,
``char`` is uint8). The DDS bus never serializes through these classes: it writes the codec's
bytes itself. They exist so that Cyclone can advertise the type, check samples (it validates
incoming CDR against the type before delivering it) and match ROS 2 peers; and so tests can
read and write with plain cyclonedds to prove the bytes agree.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as t

from edge_autopilot.msgs import Container, FieldKind, FieldSpec, field_layout, message_type
from edge_autopilot.msgs.msgdef import Distro, split_ros_type

_PRIMITIVES: dict[str, Any] = {
    "bool": bool,
    "byte": t.byte,
    "char": t.uint8,
    "int8": t.int8,
    "uint8": t.uint8,
    "int16": t.int16,
    "uint16": t.uint16,
    "int32": t.int32,
    "uint32": t.uint32,
    "int64": t.int64,
    "uint64": t.uint64,
    "float32": t.float32,
    "float64": t.float64,
}


def dds_name(ros_type_name: str) -> str:
    pkg, name = split_ros_type(ros_type_name)
    return f"{pkg}::msg::dds_::{name}_"


@cache
def idl_type(ros_type_name: str, distro: Distro) -> type[IdlStruct]:
    """The ``IdlStruct`` class for ``"pkg/msg/Name"`` in ``distro`` (one per process)."""
    msg_type = message_type(ros_type_name)
    fields = {f.name: _field_type(f, distro) for f in field_layout(msg_type, distro)}
    _, name = split_ros_type(ros_type_name)
    return make_idl_struct(f"{name}_", dds_name(ros_type_name), fields)


def _field_type(f: FieldSpec, distro: Distro) -> Any:
    if f.kind is FieldKind.PRIMITIVE:
        element: Any = _PRIMITIVES[f.element_type]
    elif f.kind is FieldKind.STRING:
        element = str
    else:
        element = idl_type(f.element_type, distro)
    if f.container is Container.ARRAY:
        return t.array[element, f.length]
    if f.container is Container.SEQUENCE:
        return t.sequence[element]
    return element


def to_idl(msg: Any, distro: Distro = "humble") -> Any:
    """Our message as a cyclonedds sample of its generated type (interop with plain Cyclone
    DDS programs, and the reference our raw bytes are checked against)."""
    kwargs = {}
    for f in field_layout(type(msg), distro):
        value = getattr(msg, f.name)
        if f.kind is FieldKind.MESSAGE:
            value = (to_idl(value, distro) if f.container is Container.SINGLE
                     else [to_idl(v, distro) for v in value])
        elif f.container is not Container.SINGLE:
            value = list(value)
        kwargs[f.name] = value
    return idl_type(type(msg).ROS_TYPE, distro)(**kwargs)


def from_idl(sample: Any, msg_type: type, distro: Distro = "humble") -> Any:
    """A cyclonedds sample of a generated type back to our message."""
    kwargs = {}
    for f in field_layout(msg_type, distro):
        value = getattr(sample, f.name)
        if f.kind is FieldKind.MESSAGE:
            nested = message_type(f.element_type)
            value = (from_idl(value, nested, distro) if f.container is Container.SINGLE
                     else tuple(from_idl(v, nested, distro) for v in value))
        elif f.container is not Container.SINGLE:
            value = bytes(value) if f.element_type in ("uint8", "byte", "char") else tuple(value)
        kwargs[f.name] = value
    return msg_type(**kwargs)
