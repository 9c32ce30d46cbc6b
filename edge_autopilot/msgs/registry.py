"""Every message class by ROS type name, and the name mappings (ROS 2 and DDS)."""

from __future__ import annotations

import dataclasses
from types import ModuleType

from edge_autopilot.errors import MessageError
from edge_autopilot.msgs import (
    ackermann_msgs,
    builtin_interfaces,
    diagnostic_msgs,
    edge_autopilot_msgs,
    geometry_msgs,
    nav_msgs,
    radar_msgs,
    rosgraph_msgs,
    sensor_msgs,
    std_msgs,
)
from edge_autopilot.msgs.msgdef import (
    DEFAULT_DISTRO,
    Distro,
    FieldSpec,
    MsgSpec,
    check_distro,
    full_definition,
    load_spec,
)

_MODULES: tuple[ModuleType, ...] = (
    builtin_interfaces, std_msgs, geometry_msgs, sensor_msgs, radar_msgs, nav_msgs,
    ackermann_msgs, diagnostic_msgs, rosgraph_msgs, edge_autopilot_msgs,
)


def _collect() -> dict[str, type]:
    found: dict[str, type] = {}
    for module in _MODULES:
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj)
                    and obj.__module__ == module.__name__ and "ROS_TYPE" in vars(obj)):
                found[obj.ROS_TYPE] = obj
    return found


MESSAGE_TYPES: dict[str, type] = _collect()
"""Every message class this package defines, by ROS type name ("pkg/msg/Name")."""


def ros_type(msg_type: type) -> str:
    """``Range`` -> ``"sensor_msgs/msg/Range"``."""
    name = getattr(msg_type, "ROS_TYPE", None)
    if not isinstance(name, str) or MESSAGE_TYPES.get(name) is not msg_type:
        raise MessageError(f"{msg_type!r} is not a message type of edge_autopilot.msgs")
    return name


def dds_type_name(msg_type: type) -> str:
    """The DDS type name ROS 2 uses: ``"sensor_msgs::msg::dds_::Range_"``."""
    pkg, _, name = ros_type(msg_type).split("/")
    return f"{pkg}::msg::dds_::{name}_"


def message_type(ros_type_name: str) -> type:
    """The message class for ``"pkg/msg/Name"`` (MessageError when unknown)."""
    try:
        return MESSAGE_TYPES[ros_type_name]
    except KeyError:
        raise MessageError(f"unknown message type {ros_type_name!r}; known: "
                           f"{', '.join(sorted(MESSAGE_TYPES))}") from None


def msg_spec(msg_type: type, distro: Distro = DEFAULT_DISTRO) -> MsgSpec:
    """The parsed .msg of ``msg_type`` in ``distro`` (constants and fields)."""
    return load_spec(ros_type(msg_type), check_distro(distro))


def field_layout(msg_type: type, distro: Distro = DEFAULT_DISTRO) -> tuple[FieldSpec, ...]:
    """The wire fields of ``msg_type`` in ``distro``, in order, as the codec uses them.

    Each ``FieldSpec`` has ``name``, ``kind`` (PRIMITIVE / STRING / MESSAGE), ``element_type``
    (primitive name, "string", or the nested type's "pkg/msg/Name", see ``message_type``),
    ``container`` (SINGLE / ARRAY / SEQUENCE) and ``length`` (fixed array length, else 0).
    """
    return msg_spec(msg_type, distro).fields


def msg_definition(msg_type: type, distro: Distro = DEFAULT_DISTRO) -> str:
    """The schema text rosbag2 stores for ``msg_type`` (MCAP schema encoding "ros2msg").

    Equal to rosbags' ``typestore.generate_msgdef(name, ros_version=2)[0]``: the type's own
    definition (normalized: no comments, constants first), then each nested type depth first
    as a line of 80 '=', ``MSG: pkg/Name`` and its definition.
    """
    return full_definition(ros_type(msg_type), check_distro(distro))
