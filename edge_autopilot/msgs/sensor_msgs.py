"""sensor_msgs/msg: Image and Range (layouts in definitions/sensor_msgs and definitions/<distro>).

``Range.variance`` exists on the wire in Jazzy only: serializing for Humble leaves it out, and
decoding Humble bytes leaves it at its default 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge_autopilot.msgs._types import OctetData
from edge_autopilot.msgs.std_msgs import Header


@dataclass(slots=True)
class Image:
    """An uncompressed image. ``data`` is ``step * height`` octets (see ``OctetData``)."""

    ROS_TYPE: ClassVar[str] = "sensor_msgs/msg/Image"
    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    data: OctetData = b""


@dataclass(slots=True)
class Range:
    """One range reading (REP 117: ``range`` = +inf when nothing was detected)."""

    ROS_TYPE: ClassVar[str] = "sensor_msgs/msg/Range"
    ULTRASOUND: ClassVar[int] = 0
    INFRARED: ClassVar[int] = 1
    header: Header = field(default_factory=Header)
    radiation_type: int = 0
    field_of_view: float = 0.0
    min_range: float = 0.0
    max_range: float = 0.0
    range: float = 0.0
    variance: float = 0.0  # Jazzy and later only
