"""Recordings as files: the Jazzy layout, crash safety (interrupted and killed runs), and a
clear RecordingError for every file that cannot be used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mcap.reader import make_reader
from mcap.records import Channel, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import IndexType, Writer
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.errors import RecordingError
from edge_autopilot.msgs import msg_definition, serialize
from edge_autopilot.msgs.sensor_msgs import Range
from edge_autopilot.nodes.sample_topics import SensorTopics, sample_messages
from edge_autopilot.record import RunRecorder, open_recording
from edge_autopilot.record.mcap_writer import Rosbag2McapWriter, partial_path
from edge_autopilot.record.recorder import interrupted_path
from edge_autopilot.record.run_metadata import RUN_METADATA, run_metadata
from edge_autopilot.record.samples import cycle_samples
from edge_autopilot.sim.runner import ExpertDriver, run_scenario
from edge_autopilot.sim.scenario import builtin_scenario_paths, load_scenario
from edge_autopilot.sim.world import World


@pytest.fixture(scope="module")
def scenario() -> Any:
    path = next(p for p in builtin_scenario_paths() if p.stem == "stationary_car_50kph")
    return load_scenario(path).model_copy(update={"duration_s": 0.5})


@pytest.fixture(scope="module")
def expert_recording(tmp_path_factory: pytest.TempPathFactory, scenario: Any) -> Path:
    path = tmp_path_factory.mktemp("expert") / "expert.mcap"
    run_scenario(scenario, ExpertDriver(), tap=RunRecorder(path))
    return path


def test_jazzy_layout(tmp_path: Path, scenario: Any) -> None:
    path = tmp_path / "jazzy.mcap"
    run_scenario(scenario, ExpertDriver(), tap=RunRecorder(path, distro="jazzy"))
    with path.open("rb") as f:
        reader = make_reader(f)
        meta = yaml.safe_load(next(m for m in reader.iter_metadata()
                                   if m.name == "rosbag2").metadata["serialized_metadata"])
        summary = reader.get_summary()
        assert summary is not None
        ranges = [s for s in summary.schemas.values() if s.name == "sensor_msgs/msg/Range"]
    assert ranges[0].data.decode() == msg_definition(Range, "jazzy")  # with variance
    # what Jazzy's rosbag2 writes: version 9, QoS policies by name, the profiles as a list
    assert meta["version"] == 9 and meta["ros_distro"] == "jazzy"
    assert meta["custom_data"] == {"edge_autopilot.cycles": "50"}
    odo = next(t["topic_metadata"] for t in meta["topics_with_message_count"]
               if t["topic_metadata"]["name"] == "/vehicle/odometry")
    assert odo["offered_qos_profiles"][0]["reliability"] == "best_effort"
    assert odo["type_description_hash"] == ""
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as ar:
        n = sum(1 for conn, _, data in ar.messages()
                if ar.typestore.deserialize_cdr(data, conn.msgtype) is not None)
    with open_recording(path) as rec:
        assert rec.distro == "jazzy"
        assert n == sum(1 for _ in rec.messages())


def test_unsupported_distro_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="distro 'iron'"):
        RunRecorder(tmp_path / "x.mcap", "iron")
    assert list(tmp_path.iterdir()) == []


# --- crash safety -------------------------------------------------------------------------------


class FailingDriver(ExpertDriver):
    """Raises in the cycle at ``fail_at_ns`` (a crash, or Ctrl-C, in the middle of a run)."""

    def __init__(self, fail_at_ns: int, exc: type[BaseException] = RuntimeError) -> None:
        super().__init__()
        self.fail_at_ns = fail_at_ns
        self.exc = exc

    def step(self, world: World, samples: list[Any]) -> Any:
        if world.t_ns >= self.fail_at_ns:
            raise self.exc("boom")
        return super().step(world, samples)


def test_a_run_that_fails_is_kept_as_interrupted_not_under_the_final_name(
        tmp_path: Path, scenario: Any) -> None:
    path = tmp_path / "run.mcap"
    recorder = RunRecorder(path)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(scenario, FailingDriver(200_000_000, KeyboardInterrupt), tap=recorder)
    assert not path.exists() and not partial_path(path).exists()
    assert recorder.interrupted and recorder.saved_path == interrupted_path(path)
    with open_recording(recorder.saved_path) as rec:
        assert rec.run is not None
        assert (rec.run.complete, rec.run.cycles, rec.run.end_reason) == \
            (False, 20, "KeyboardInterrupt")
        assert sum(1 for m in rec.messages() if m.topic == "/autopilot/sim/step") == 20


def test_a_killed_run_leaves_only_a_partial_file_that_reads_as_truncated(
        tmp_path: Path, scenario: Any) -> None:
    path = tmp_path / "run.mcap"
    recorder = RunRecorder(path)
    world, driver = World(scenario), ExpertDriver()
    recorder.start(world, driver)
    samples: list[Any] = []
    for _ in range(30):  # the run, until the process dies (close() never comes)
        command = driver.step(world, samples)
        recorder.on_cycle(world.t_ns, samples, command, driver)
        samples = world.step(command)
    assert recorder._writer is not None
    recorder._writer._stream.flush()  # what the OS has of it when the process is killed
    assert not path.exists()
    with pytest.raises(RecordingError, match="truncated"):
        open_recording(partial_path(path))
    recorder._writer.abort()
    assert not partial_path(path).exists()


# --- unusable files -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording"):
        open_recording(tmp_path / "nope.mcap")
    with pytest.raises(RecordingError, match="not a file"):
        open_recording(tmp_path)


def test_garbage_file(tmp_path: Path) -> None:
    for name, data in (("text.mcap", b"hello, not a bag\n" * 10), ("empty.mcap", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(RecordingError, match="not an MCAP file"):
            open_recording(tmp_path / name)


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.999])
def test_truncated_recording(tmp_path: Path, expert_recording: Path, keep: float) -> None:
    data = expert_recording.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(RecordingError, match="truncated"):
        open_recording(cut)


def test_damaged_data_is_reported_when_read(tmp_path: Path, expert_recording: Path) -> None:
    data = bytearray(expert_recording.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 64] = bytes(64)
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="damaged"), open_recording(bad) as rec:
        for _ in rec.messages():
            pass


def _foreign_mcap(path: Path, profile: str = "ros2", metadata: dict[str, str] | None = None,
                  type_name: str = "std_msgs/msg/String") -> None:
    with path.open("wb") as f:
        w = Writer(f)
        w.start(profile=profile, library="test")
        if metadata is not None:
            w.add_metadata(RUN_METADATA, metadata)
        sid = w.register_schema(type_name, "ros2msg", b"string data\n")
        cid = w.register_channel("/chatter", "cdr", sid, {"offered_qos_profiles": ""})
        w.add_message(cid, 0, b"\x00\x01\x00\x00\x03\x00\x00\x00hi\x00", 0)
        w.finish()


def test_valid_mcap_not_made_by_us(tmp_path: Path) -> None:
    path = tmp_path / "other.mcap"
    _foreign_mcap(path)
    with pytest.raises(RecordingError, match="not recorded by edge_autopilot"):
        open_recording(path)
    # still listable as a rosbag2 file, its unknown type refused only when read
    with open_recording(path, require_edge_autopilot=False) as rec:
        assert rec.topics == {"/chatter": "std_msgs/msg/String"}
        with pytest.raises(RecordingError, match="std_msgs/msg/String"):
            list(rec.messages())
    _foreign_mcap(path, profile="")
    with pytest.raises(RecordingError, match="not a ROS 2 recording"):
        open_recording(path)


def test_unknown_type_in_our_recording(tmp_path: Path, scenario: Any) -> None:
    path = tmp_path / "odd.mcap"
    _foreign_mcap(path, metadata=run_metadata(scenario, 0, "stack", {}, "humble"),
                  type_name="foo_msgs/msg/Bar")
    with pytest.raises(RecordingError, match="cannot decode topic /chatter: type "
                                             "foo_msgs/msg/Bar"):
        open_recording(path)


def test_a_file_without_summary_is_read_by_scanning(tmp_path: Path,
                                                    expert_recording: Path) -> None:
    """Another writer may skip the summary section (schemas, channels, statistics, indexes at
    the end): the reader then goes through the file from the start."""
    bare = tmp_path / "bare.mcap"
    with expert_recording.open("rb") as src, bare.open("wb") as dst:
        w = Writer(dst, index_types=IndexType.NONE, repeat_channels=False, repeat_schemas=False,
                   use_statistics=False, use_summary_offsets=False)
        w.start(profile="ros2", library="test")
        for record in StreamReader(src).records:
            if isinstance(record, Schema):
                w.register_schema(record.name, record.encoding, record.data)
            elif isinstance(record, Channel):
                w.register_channel(record.topic, record.message_encoding, record.schema_id,
                                   record.metadata)
            elif isinstance(record, Message):
                w.add_message(record.channel_id, record.log_time, record.data,
                              record.publish_time, record.sequence)
            elif isinstance(record, Metadata):
                w.add_metadata(record.name, record.metadata)
        w.finish()
    with bare.open("rb") as f:
        assert make_reader(f).get_summary() is None
    with open_recording(expert_recording) as a, open_recording(bare) as b:
        assert b.run == a.run
        ma, mb = list(a.messages()), list(b.messages())
        assert [(m.topic, m.log_time_ns) for m in mb] == [(m.topic, m.log_time_ns) for m in ma]
        assert [serialize(m.msg, "humble") for m in mb] == \
            [serialize(m.msg, "humble") for m in ma]


def test_writer_refuses_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"must end in \.mcap"):
        Rosbag2McapWriter(tmp_path / "run.bag", "humble")
    with pytest.raises(RecordingError, match="does not exist"):
        Rosbag2McapWriter(tmp_path / "no" / "run.mcap", "humble")


# --- a cycle's messages back to samples ---------------------------------------------------------


def test_cycle_samples_follow_the_step_and_refuse_what_does_not_match(scenario: Any) -> None:
    world = World(scenario)
    for _ in range(3):  # a cycle with odometry, ultrasonics, radar and cameras
        samples = world.step(ControlCommand(0.0, 0.0))
    pairs = [p for s in samples for p in sample_messages(s)]
    step = [t for t, _ in pairs]
    topics = SensorTopics(world.calibration)
    got = cycle_samples(step, reversed(pairs), topics, "cycle 2")  # stored in another order
    assert [(type(s), s.sensor_id, s.stamp_ns) for s in got] == \
        [(type(s), s.sensor_id, s.stamp_ns) for s in samples]
    with pytest.raises(RecordingError, match="cycle 2: the step lists a message on"):
        cycle_samples(step, pairs[1:], topics, "cycle 2")
    with pytest.raises(RecordingError, match="not listed by the cycle's step"):
        cycle_samples(step[1:], pairs, topics, "cycle 2")
    odometry = [i for i, (t, _) in enumerate(pairs) if t == "/vehicle/acceleration"]
    assert odometry
    without_accel = [p for i, p in enumerate(pairs) if i not in odometry]
    with pytest.raises(RecordingError, match="odometry without its acceleration"):
        cycle_samples([t for t, _ in without_accel], without_accel, topics, "cycle 2")
