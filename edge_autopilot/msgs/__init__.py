"""ROS 2 messages for edge_autopilot: dataclasses with the exact ROS 2 layouts, a CDR codec, and
the .msg definitions (package data under ``definitions/``, the one source of truth).

    from edge_autopilot.msgs import serialize, deserialize
    from edge_autopilot.msgs.sensor_msgs import Range
    data = serialize(Range(range=float("inf")), "jazzy")   # bytes ROS 2 Jazzy sends
    msg = deserialize(data, Range, "jazzy")

Python field types: int/float/bool/str for single primitives and strings; tuples for fixed arrays
and sequences (any sequence is accepted when encoding); ``bytes`` for ``uint8[]``/``byte[]``/
``char[]`` (any uint8 buffer, e.g. a numpy array, is accepted when encoding); nested messages as
their dataclasses. Layouts are per distro ("humble", "jazzy"); fields a distro lacks are neither
sent nor read (they keep their defaults).
"""

from __future__ import annotations

from edge_autopilot.msgs.cdr import deserialize, serialize
from edge_autopilot.msgs.msgdef import (
    DEFAULT_DISTRO,
    DISTROS,
    ConstantSpec,
    Container,
    Distro,
    FieldKind,
    FieldSpec,
    MsgSpec,
)
from edge_autopilot.msgs.registry import (
    MESSAGE_TYPES,
    dds_type_name,
    field_layout,
    message_type,
    msg_definition,
    msg_spec,
    ros_type,
)

__all__ = [
    "DEFAULT_DISTRO",
    "DISTROS",
    "MESSAGE_TYPES",
    "ConstantSpec",
    "Container",
    "Distro",
    "FieldKind",
    "FieldSpec",
    "MsgSpec",
    "dds_type_name",
    "deserialize",
    "field_layout",
    "message_type",
    "msg_definition",
    "msg_spec",
    "ros_type",
    "serialize",
]
