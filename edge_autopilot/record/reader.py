"""Read a recording back: its messages decoded with ``edge_autopilot.msgs``, and the run's
metadata (scenario, seed, driver, models, distro).

Every way a file can be unusable ends in one ``RecordingError`` that says what is wrong: no such
file, not an MCAP file, cut off (a run killed before the recording was closed), not recorded by
edge_autopilot, a type we cannot decode, damaged data. A complete file without a summary section
(a writer that skipped it) is still read, by scanning it from the start.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, NamedTuple

import yaml
from mcap.reader import SeekingReader
from mcap.records import Channel, Message, Metadata, Schema
from mcap.stream_reader import StreamReader

from edge_autopilot.errors import MessageError, RecordingError, ScenarioError
from edge_autopilot.msgs import DEFAULT_DISTRO, deserialize, message_type
from edge_autopilot.record.mcap_writer import PARTIAL_SUFFIX, PROFILE, ROSBAG2_METADATA
from edge_autopilot.record.run_metadata import (
    END_METADATA,
    RUN_METADATA,
    RunInfo,
    parse_run_metadata,
)

if TYPE_CHECKING:
    from edge_autopilot.sim.scenario import Scenario

MAGIC = b"\x89MCAP0\r\n"

# On damaged data the mcap library and the decompressors raise many kinds of exception (McapError,
# struct.error, zstd and lz4 errors, CRC mismatches, ...): every ``try`` around a library call is
# narrow, so whatever comes out of one is the file's fault
_READ_ERRORS = (Exception,)


class RecordedMessage(NamedTuple):
    topic: str
    log_time_ns: int
    msg: Any


@dataclass
class _Index:
    schemas: dict[int, Schema] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    metadata: list[Metadata] = field(default_factory=list)
    message_count: int | None = None


class Recording:
    """An open recording. Use ``open_recording``; close it (or use ``with``) when done."""

    def __init__(self, path: Path, stream: IO[bytes], reader: SeekingReader, index: _Index,
                 run: RunInfo | None, distro: str) -> None:
        self.path = path
        self._stream = stream
        self._reader = reader
        self.run = run
        self.distro = distro
        self.metadata: dict[str, dict[str, str]] = {m.name: dict(m.metadata)
                                                    for m in index.metadata}
        self.message_count = index.message_count
        self._classes: dict[int, type] = {}
        # topic -> why it cannot be decoded
        self.undecodable: dict[str, str] = {}
        self.topics: dict[str, str] = {}
        for cid, ch in index.channels.items():
            schema = index.schemas.get(ch.schema_id)
            type_name = schema.name if schema is not None else ""
            self.topics[ch.topic] = type_name
            problem = _decodability(ch, schema)
            if problem is None:
                try:
                    self._classes[cid] = message_type(type_name)
                except (MessageError, KeyError, ValueError):
                    problem = f"type {type_name} is not one edge_autopilot knows"
            if problem is not None:
                self.undecodable[ch.topic] = problem

    @property
    def bag_metadata(self) -> dict[str, Any] | None:
        """The ``rosbag2`` record's metadata (what ``ros2 bag info`` shows), parsed."""
        text = self.metadata.get(ROSBAG2_METADATA, {}).get("serialized_metadata")
        if text is None:
            return None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise RecordingError(f"{self.path}: the rosbag2 metadata is not valid YAML: {err}"
                                 ) from None
        return data if isinstance(data, dict) else None

    def scenario(self) -> Scenario:
        """The recorded scenario, rebuilt (RecordingError when the file has none)."""
        if self.run is None:
            raise RecordingError(f"{self.path}: not recorded by edge_autopilot: it carries no "
                                 "scenario")
        from edge_autopilot.sim.scenario import parse_scenario

        try:
            data = yaml.safe_load(self.run.scenario_yaml)
            return parse_scenario(data, source=f"{self.path} (recorded scenario)")
        except (yaml.YAMLError, ScenarioError) as err:
            raise RecordingError(f"{self.path}: the recorded scenario cannot be rebuilt: {err}"
                                 ) from None

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[RecordedMessage]:
        """Messages in file order (for our recordings: cycle by cycle, each cycle's messages in
        the order they were delivered and published), decoded."""
        wanted = None if topics is None else set(topics)
        if wanted is not None:
            bad = sorted(wanted & set(self.undecodable))
            if bad:
                raise RecordingError(f"{self.path}: cannot decode {bad[0]}: "
                                     f"{self.undecodable[bad[0]]}")
        it = self._reader.iter_messages(topics=None if wanted is None else list(wanted),
                                        log_time_order=False)
        while True:
            try:
                item = next(it, None)
            except _READ_ERRORS as err:
                raise RecordingError(f"{self.path}: damaged data after the last message read: "
                                     f"{_describe(err)}") from None
            if item is None:
                return
            _, channel, message = item
            cls = self._classes.get(channel.id)
            if cls is None:
                raise RecordingError(f"{self.path}: cannot decode {channel.topic}: "
                                     f"{self.undecodable.get(channel.topic, 'unknown channel')}")
            try:
                msg = deserialize(message.data, cls, self.distro)
            except MessageError as err:
                raise RecordingError(f"{self.path}: the message on {channel.topic} at "
                                     f"{message.log_time / 1e9:.3f} s does not decode: {err}"
                                     ) from None
            yield RecordedMessage(channel.topic, message.log_time, msg)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _describe(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _decodability(channel: Channel, schema: Schema | None) -> str | None:
    if channel.message_encoding != "cdr":
        return f"message encoding {channel.message_encoding!r} (not cdr)"
    if schema is None:
        return "no schema"
    if schema.encoding != "ros2msg":
        return f"schema encoding {schema.encoding!r} (not ros2msg)"
    return None


def _check_ends(path: Path, stream: IO[bytes]) -> None:
    """Magic at both ends: the start says it is MCAP at all, the end that it was closed."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    head = stream.read(len(MAGIC))
    if head != MAGIC:
        raise RecordingError(f"{path}: not an MCAP file (no MCAP magic at the start)")
    stream.seek(max(size - len(MAGIC), 0))
    if size < 2 * len(MAGIC) or stream.read(len(MAGIC)) != MAGIC:
        hint = ("" if path.name.endswith(PARTIAL_SUFFIX) else
                " - a recording is only complete once its run closes it")
        raise RecordingError(
            f"{path}: the recording is truncated (the MCAP footer is missing): the run that "
            f"wrote it was probably interrupted{hint}")


def _scan(path: Path, stream: IO[bytes]) -> _Index:
    """Read schemas, channels and metadata by going through the whole file (no summary)."""
    index = _Index()
    stream.seek(0)
    count = 0
    try:
        for record in StreamReader(stream, skip_magic=False).records:
            if isinstance(record, Schema):
                index.schemas[record.id] = record
            elif isinstance(record, Channel):
                index.channels[record.id] = record
            elif isinstance(record, Metadata):
                index.metadata.append(record)
            elif isinstance(record, Message):
                count += 1
    except _READ_ERRORS as err:
        raise RecordingError(f"{path}: damaged MCAP data: {_describe(err)}") from None
    index.message_count = count
    return index


def _index(path: Path, stream: IO[bytes], reader: SeekingReader) -> _Index:
    try:
        header = reader.get_header()
        summary = reader.get_summary()
    except _READ_ERRORS as err:
        raise RecordingError(f"{path}: damaged MCAP file: {_describe(err)}") from None
    if header.profile != PROFILE:
        raise RecordingError(f"{path}: not a ROS 2 recording (MCAP profile "
                             f"{header.profile!r}, expected {PROFILE!r})")
    if summary is None:
        return _scan(path, stream)
    index = _Index(dict(summary.schemas), dict(summary.channels))
    if summary.statistics is not None:
        index.message_count = summary.statistics.message_count
    try:
        index.metadata = list(reader.iter_metadata())
    except _READ_ERRORS as err:
        raise RecordingError(f"{path}: damaged MCAP metadata: {_describe(err)}") from None
    return index


def open_recording(path: str | Path, require_edge_autopilot: bool = True) -> Recording:
    """Open a recording for reading. With ``require_edge_autopilot`` (default) it must be one
    of ours (the run's metadata, every topic decodable); without, any rosbag2 MCAP opens and
    only its undecodable topics fail, when read."""
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p}: no such recording")
    if not p.is_file():
        raise RecordingError(f"{p}: not a file (a recording is one .mcap file)")
    try:
        stream = open(p, "rb")  # noqa: SIM115 - owned by the Recording, closed by it
    except OSError as err:
        raise RecordingError(f"{p}: cannot read the recording: {err.strerror}") from None
    try:
        _check_ends(p, stream)
        stream.seek(0)
        try:
            reader = SeekingReader(stream, validate_crcs=True)
        except _READ_ERRORS as err:
            raise RecordingError(f"{p}: damaged MCAP file: {_describe(err)}") from None
        index = _index(p, stream, reader)
        records = {m.name: dict(m.metadata) for m in index.metadata}
        run = None
        if RUN_METADATA in records:
            try:
                run = parse_run_metadata(records[RUN_METADATA], records.get(END_METADATA))
            except ValueError as err:
                raise RecordingError(f"{p}: the edge_autopilot metadata is damaged: {err}"
                                     ) from None
        elif require_edge_autopilot:
            raise RecordingError(
                f"{p}: not recorded by edge_autopilot (no {RUN_METADATA!r} metadata "
                "record): a replay needs the scenario, seed and models that an edge_autopilot "
                "recording carries")
        distro = run.distro if run is not None else _bag_distro(records)
        recording = Recording(p, stream, reader, index, run, distro)
        if require_edge_autopilot and recording.undecodable:
            topic, why = next(iter(sorted(recording.undecodable.items())))
            raise RecordingError(f"{p}: cannot decode topic {topic}: {why}")
        return recording
    except BaseException:
        stream.close()
        raise


def _bag_distro(records: dict[str, dict[str, str]]) -> str:
    """A foreign recording's distro, from rosbag2's metadata (Jazzy and later write it)."""
    text = records.get(ROSBAG2_METADATA, {}).get("serialized_metadata", "")
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        data = None
    distro = data.get("ros_distro") if isinstance(data, dict) else None
    return distro if distro in ("humble", "jazzy") else DEFAULT_DISTRO


def read_run_info(path: str | Path) -> RunInfo:
    """Only the run's metadata (scenario, seed, driver, models) of a recording."""
    with open_recording(path) as rec:
        assert rec.run is not None
        return rec.run
