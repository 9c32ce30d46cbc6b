"""A rosbag2-compatible MCAP writer (what rosbag2_storage_mcap writes), on the ``mcap`` library.

- header profile ``ros2``; one schema per message type: name ``pkg/msg/Name``, encoding
  ``ros2msg``, data the full message definition with its dependencies;
- one channel per topic: message encoding ``cdr``, metadata ``offered_qos_profiles`` (the
  YAML of the publisher's QoS, see rosbag2_yaml);
- messages with log time = publish time (the simulated time, ns) and a per-topic sequence
  number starting at 1;
- on close, the ``rosbag2`` metadata record (``serialized_metadata``: what ``ros2 bag info``
  shows), then the summary (schemas, channels, statistics, chunk and metadata indexes).

Crash safety: everything is written to ``<name>.partial`` beside the final path and renamed to
the final name only by ``close()``, after the summary is on disk. A run killed mid-way leaves a
``.partial`` file (truncated, and said so by the reader), never a truncated file under the final
name.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from mcap.writer import LIBRARY_IDENTIFIER, CompressionType, Writer

from edge_autopilot import __version__
from edge_autopilot.errors import MessageError, RecordingError
from edge_autopilot.msgs import msg_definition, ros_type, serialize
from edge_autopilot.record.rosbag2_yaml import (
    SERIALIZATION_FORMAT,
    TopicRecord,
    bag_metadata_yaml,
    check_distro,
    qos_profiles_yaml,
)
from edge_autopilot.transport.topics import QoS, qos_for

PROFILE = "ros2"
SCHEMA_ENCODING = "ros2msg"
ROSBAG2_METADATA = "rosbag2"
PARTIAL_SUFFIX = ".partial"
_COMPRESSION = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4,
                "none": CompressionType.NONE}
# rosbag2_storage_mcap writes 768 KiB chunks; 1 MiB keeps a 30 Hz camera's frames of one
# chunk close together in time and the per-chunk overhead small
CHUNK_SIZE_BYTES = 1 << 20


def partial_path(path: Path) -> Path:
    """Where the recording is written until it is complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


class _Topic:
    __slots__ = ("channel_id", "count", "msg_class", "name", "qos", "type_name")

    def __init__(self, name: str, type_name: str, msg_class: type, qos: QoS,
                 channel_id: int) -> None:
        self.name = name
        self.type_name = type_name
        self.msg_class = msg_class
        self.qos = qos
        self.channel_id = channel_id
        self.count = 0


class Rosbag2McapWriter:
    """Write one rosbag2 MCAP file. ``compression``: chunk compression, "zstd" (default; ros2
    bag, Foxglove and rosbags all read it), "lz4" or "none"."""

    def __init__(self, path: str | Path, distro: str, compression: str = "zstd",
                 chunk_size_bytes: int = CHUNK_SIZE_BYTES) -> None:
        check_distro(distro)
        if compression not in _COMPRESSION:
            raise RecordingError(f"unknown MCAP chunk compression {compression!r} "
                                 f"(one of {', '.join(_COMPRESSION)})")
        self.path = Path(path)
        self.distro = distro
        if self.path.suffix != ".mcap":
            raise RecordingError(f"{self.path}: a recording's file name must end in .mcap "
                                 "(ros2 bag and Foxglove pick the storage by it)")
        if not self.path.parent.is_dir():
            raise RecordingError(f"{self.path}: directory {self.path.parent} does not exist")
        self.partial = partial_path(self.path)
        try:
            self._stream = open(self.partial, "wb")  # noqa: SIM115 - closed in close()/abort()
        except OSError as err:
            raise RecordingError(f"{self.path}: cannot write the recording: {err.strerror}"
                                 ) from None
        self._writer = Writer(self._stream, chunk_size=chunk_size_bytes,
                              compression=_COMPRESSION[compression])
        self._writer.start(profile=PROFILE,
                           library=f"edge_autopilot/{__version__} {LIBRARY_IDENTIFIER}")
        self._schemas: dict[str, int] = {}
        self._topics: dict[str, _Topic] = {}
        self._first_ns: int | None = None
        self._last_ns = 0
        self._count = 0
        self._closed = False

    # --- set-up ------------------------------------------------------------------------------
    def add_topic(self, topic: str, msg_class: type, qos: QoS | None = None) -> int:
        """Register ``topic`` (once); returns its channel id."""
        known = self._topics.get(topic)
        if known is not None:
            if known.msg_class is not msg_class:
                raise RecordingError(f"topic {topic} already carries {known.type_name}, "
                                     f"not {ros_type(msg_class)}")
            return known.channel_id
        type_name = ros_type(msg_class)
        schema_id = self._schemas.get(type_name)
        if schema_id is None:
            text = msg_definition(msg_class, self.distro)
            schema_id = self._writer.register_schema(type_name, SCHEMA_ENCODING,
                                                     text.encode("utf-8"))
            self._schemas[type_name] = schema_id
        qos = qos or qos_for(topic)
        channel_id = self._writer.register_channel(
            topic, SERIALIZATION_FORMAT, schema_id,
            {"offered_qos_profiles": qos_profiles_yaml(qos, self.distro)})
        self._topics[topic] = _Topic(topic, type_name, msg_class, qos, channel_id)
        return channel_id

    def add_metadata(self, name: str, data: dict[str, str]) -> None:
        self._writer.add_metadata(name, data)

    # --- per message -------------------------------------------------------------------------
    def write(self, topic: str, msg: Any, log_time_ns: int) -> None:
        """Serialize ``msg`` (CDR, this file's distro) and write it on ``topic`` (registered
        on first use)."""
        t = self._topics.get(topic)
        if t is None:
            self.add_topic(topic, type(msg))
            t = self._topics[topic]
        elif type(msg) is not t.msg_class:
            raise RecordingError(f"topic {topic} carries {t.type_name}, "
                                 f"got {type(msg).__name__}")
        try:
            data = serialize(msg, self.distro)
        except MessageError as err:
            raise RecordingError(f"cannot record a message on {topic}: {err}") from None
        t.count += 1
        self._writer.add_message(t.channel_id, log_time_ns, data, log_time_ns, t.count)
        if self._first_ns is None:
            self._first_ns = log_time_ns
        self._first_ns = min(self._first_ns, log_time_ns)
        self._last_ns = max(self._last_ns, log_time_ns)
        self._count += 1

    @property
    def message_count(self) -> int:
        return self._count

    # --- end ---------------------------------------------------------------------------------
    def close(self, custom_data: dict[str, str] | None = None, final: Path | None = None
              ) -> Path:
        """Write the rosbag2 metadata record and the summary, then move the file to its final
        name (``final`` instead of ``self.path`` if given). Returns where it is."""
        if self._closed:
            raise RecordingError(f"{self.path}: the recording is already closed")
        target = Path(final) if final is not None else self.path
        start = self._first_ns or 0
        duration = self._last_ns - start if self._count else 0
        topics = [TopicRecord(t.name, t.type_name, t.qos, t.count)
                  for t in self._topics.values()]
        self._writer.add_metadata(ROSBAG2_METADATA, {"serialized_metadata": bag_metadata_yaml(
            distro=self.distro, file_name=target.name, topics=topics, starting_time_ns=start,
            duration_ns=duration, message_count=self._count, custom_data=custom_data)})
        self._writer.finish()
        self._closed = True
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        os.replace(self.partial, target)
        return target

    def abort(self) -> None:
        """Stop without a complete file: the partial file is removed."""
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> Rosbag2McapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
