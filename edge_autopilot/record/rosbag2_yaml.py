"""The YAML that rosbag2 keeps beside its MCAP data, in the style of the distro that reads it.

Two pieces (rosbag2_storage ``qos.cpp``, ``yaml.hpp`` and rosbag2_storage_mcap):
- a channel's ``offered_qos_profiles`` metadata: a YAML *string* with the list of QoS profiles;
- the ``rosbag2`` metadata record, key ``serialized_metadata``: the bag's metadata.yaml body
  (without the ``rosbag2_bagfile_information`` wrapper).

The styles differ, and a Humble rosbag2 fails with "bad conversion" on Jazzy's: Humble writes
metadata version 5 with the QoS policies as integers (rmw enum values) and the profiles as a
string; Jazzy writes version 9 with the policies as names ("keep_last", "best_effort"), the
profiles as a list, and adds type_description_hash, custom_data and ros_distro. Durations that are
"infinite" are written as rmw's RMW_DURATION_INFINITE split into sec/nsec, as recorded bags show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from edge_autopilot.errors import RecordingError
from edge_autopilot.transport.topics import QoS

# metadata version each distro's rosbag2 writes
METADATA_VERSION = {"humble": 5, "jazzy": 9}
STORAGE_IDENTIFIER = "mcap"
SERIALIZATION_FORMAT = "cdr"

# rmw_qos_*_policy_t values (rmw/types.h)
_HISTORY_KEEP_LAST = 1
_RELIABILITY_RELIABLE, _RELIABILITY_BEST_EFFORT = 1, 2
_DURABILITY_VOLATILE = 2
_LIVELINESS_AUTOMATIC = 1
# RMW_DURATION_INFINITE (INT64_MAX ns) as rmw_time_t
_INFINITE = {"sec": 9223372036, "nsec": 854775807}


def check_distro(distro: str) -> int:
    """The metadata version for ``distro``; RecordingError for a distro we cannot write."""
    try:
        return METADATA_VERSION[distro]
    except KeyError:
        raise RecordingError(f"cannot write a rosbag2 recording for ROS distro {distro!r} "
                             f"(supported: {', '.join(METADATA_VERSION)})") from None


def _profile(qos: QoS, version: int) -> dict[str, Any]:
    if version >= 9:
        history: int | str = "keep_last"
        reliability: int | str = "reliable" if qos.reliable else "best_effort"
        durability: int | str = "volatile"
        liveliness: int | str = "automatic"
    else:
        history = _HISTORY_KEEP_LAST
        reliability = _RELIABILITY_RELIABLE if qos.reliable else _RELIABILITY_BEST_EFFORT
        durability = _DURABILITY_VOLATILE
        liveliness = _LIVELINESS_AUTOMATIC
    return {
        "history": history,
        "depth": qos.depth,
        "reliability": reliability,
        "durability": durability,
        "deadline": dict(_INFINITE),
        "lifespan": dict(_INFINITE),
        "liveliness": liveliness,
        "liveliness_lease_duration": dict(_INFINITE),
        "avoid_ros_namespace_conventions": False,
    }


# libyaml's emitter when PyYAML has it: the pure-Python one takes ~10 ms per channel
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(data: Any) -> str:
    # no line folding (yaml-cpp writes long scalars on one line; keep to what it reads for sure)
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=False,
                     width=2**31 - 1).rstrip("\n")


def qos_profiles_yaml(qos: QoS, distro: str) -> str:
    """The channel metadata ``offered_qos_profiles``: one profile, the one our publisher
    offers."""
    return _dump([_profile(qos, check_distro(distro))])


@dataclass(frozen=True)
class TopicRecord:
    name: str
    type: str  # pkg/msg/Name
    qos: QoS
    message_count: int


def bag_metadata_yaml(*, distro: str, file_name: str, topics: Sequence[TopicRecord],
                      starting_time_ns: int, duration_ns: int, message_count: int,
                      custom_data: Mapping[str, str] | None = None) -> str:
    """The ``serialized_metadata`` of the ``rosbag2`` metadata record (what ``ros2 bag info``
    prints for the file)."""
    version = check_distro(distro)
    topic_list = []
    for t in topics:
        meta: dict[str, Any] = {"name": t.name, "type": t.type,
                                "serialization_format": SERIALIZATION_FORMAT}
        profiles = [_profile(t.qos, version)]
        meta["offered_qos_profiles"] = profiles if version >= 9 else _dump(profiles)
        if version >= 7:
            # the RIHS01 hash of the type description; empty: unknown (rosbag2 accepts it)
            meta["type_description_hash"] = ""
        topic_list.append({"topic_metadata": meta, "message_count": t.message_count})
    body: dict[str, Any] = {
        "version": version,
        "storage_identifier": STORAGE_IDENTIFIER,
        "duration": {"nanoseconds": duration_ns},
        "starting_time": {"nanoseconds_since_epoch": starting_time_ns},
        "message_count": message_count,
        "topics_with_message_count": topic_list,
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [file_name],
        "files": [{
            "path": file_name,
            "starting_time": {"nanoseconds_since_epoch": starting_time_ns},
            "duration": {"nanoseconds": duration_ns},
            "message_count": message_count,
        }],
    }
    if version >= 6:
        body["custom_data"] = dict(custom_data) if custom_data else None
    if version >= 8:
        body["ros_distro"] = distro
    return _dump(body)
