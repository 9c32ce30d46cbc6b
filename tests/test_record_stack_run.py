"""A recorded 2 s stack run: a rosbag2 MCAP file (checked with mcap and rosbags), the run's
metadata, and replay: identical with the same models, divergent with planning missing."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader as RosbagsReader
from rosbags.typesys import Stores, get_typestore

from edge_autopilot.errors import ModelError
from edge_autopilot.msgs import field_layout, message_type, msg_definition
from edge_autopilot.perception.onnx_session import load_manifest
from edge_autopilot.record import RunRecorder, format_replay, open_recording, replay
from edge_autopilot.record.mcap_writer import partial_path
from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import builtin_scenario_paths, load_scenario
from edge_autopilot.transport.topics import (
    TOPIC_COMMAND,
    TOPIC_DIAGNOSTICS,
    TOPIC_LOOP_TIMING,
    TOPIC_SAFETY_STATE,
    TOPIC_SIM_STEP,
    is_sensor_topic,
)

DURATION_S = 2.0
CYCLES = 200


@pytest.fixture(scope="module")
def scenario() -> Any:
    path = next(p for p in builtin_scenario_paths() if p.stem == "cut_in_short_gap")
    return load_scenario(path).model_copy(update={"duration_s": DURATION_S})


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, scenario: Any) -> Path:
    path = tmp_path_factory.mktemp("rec") / "run.mcap"
    recorder = RunRecorder(path)
    result = run_scenario(scenario, StackDriver(default_models_dir()), tap=recorder)
    assert result.cycles == CYCLES
    assert recorder.saved_path == path and not recorder.interrupted
    assert not partial_path(path).exists()
    return path


# --- the file, as mcap sees it ----------------------------------------------------------------


def test_mcap_layout_is_rosbag2(recording: Path) -> None:
    with recording.open("rb") as f:
        reader = make_reader(f)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        schemas = {s.id: s for s in summary.schemas.values()}
        for schema in schemas.values():
            assert schema.encoding == "ros2msg"
            # the full definition with dependencies, as rosbag2 stores it
            assert schema.data.decode() == msg_definition(message_type(schema.name), "humble")
        topics = {}
        for ch in summary.channels.values():
            assert ch.message_encoding == "cdr"
            profiles = yaml.safe_load(ch.metadata["offered_qos_profiles"])
            assert isinstance(profiles, list) and len(profiles) == 1
            qos = profiles[0]
            sensor = is_sensor_topic(ch.topic)
            # rmw enum values, as Humble writes them: best effort 2 / reliable 1, volatile 2
            assert (qos["reliability"], qos["depth"]) == ((2, 5) if sensor else (1, 10))
            assert qos["durability"] == 2 and qos["history"] == 1
            assert qos["deadline"] == {"sec": 9223372036, "nsec": 854775807}
            topics[ch.topic] = schemas[ch.schema_id].name
        counts = Counter()
        seqs: dict[str, list[int]] = {}
        last_t = -1
        for _, channel, message in reader.iter_messages(log_time_order=False):
            counts[channel.topic] += 1
            seqs.setdefault(channel.topic, []).append(message.sequence)
            assert message.publish_time == message.log_time >= last_t  # sim time, in order
            last_t = message.log_time
        stats = summary.statistics
        assert stats.message_count == sum(counts.values())
        assert stats.message_start_time == 0
        assert stats.message_end_time == (CYCLES - 1) * 10_000_000
    assert topics[TOPIC_COMMAND] == "ackermann_msgs/msg/AckermannDriveStamped"
    assert topics["/sensing/camera/front/image_raw"] == "sensor_msgs/msg/Image"
    assert topics["/sensing/radar/front/scan"] == "radar_msgs/msg/RadarScan"
    for topic in (TOPIC_SIM_STEP, TOPIC_COMMAND, TOPIC_LOOP_TIMING, TOPIC_SAFETY_STATE):
        assert counts[topic] == CYCLES
    assert counts[TOPIC_DIAGNOSTICS] == DURATION_S  # 1 Hz
    for topic, seq in seqs.items():
        assert seq == list(range(1, len(seq) + 1)), topic


def test_rosbag2_metadata_record(recording: Path) -> None:
    with recording.open("rb") as f:
        reader = make_reader(f)
        records = {m.name: m.metadata for m in reader.iter_metadata()}
        summary = reader.get_summary()
    assert summary is not None and summary.statistics is not None
    meta = yaml.safe_load(records["rosbag2"]["serialized_metadata"])
    assert meta["version"] == 5 and meta["storage_identifier"] == "mcap"
    assert meta["message_count"] == summary.statistics.message_count
    assert meta["starting_time"] == {"nanoseconds_since_epoch": 0}
    assert meta["duration"] == {"nanoseconds": (CYCLES - 1) * 10_000_000}
    assert meta["relative_file_paths"] == [recording.name]
    assert meta["files"][0]["path"] == recording.name
    assert meta["files"][0]["message_count"] == meta["message_count"]
    assert meta["compression_format"] == meta["compression_mode"] == ""
    by_id = {ch.topic: cid for cid, ch in summary.channels.items()}
    for entry in meta["topics_with_message_count"]:
        tm = entry["topic_metadata"]
        assert tm["serialization_format"] == "cdr"
        # Humble: the profiles as a YAML string (the channel's metadata, verbatim)
        assert isinstance(tm["offered_qos_profiles"], str)
        assert entry["message_count"] == \
            summary.statistics.channel_message_counts[by_id[tm["name"]]]
    # the Humble layout has none of the later fields
    assert not {"custom_data", "ros_distro"} & set(meta)


def test_run_metadata(recording: Path, scenario: Any) -> None:
    with open_recording(recording) as rec:
        run = rec.run
        assert run is not None
        assert rec.scenario() == scenario
    assert (run.seed, run.driver, run.distro, run.cycles, run.complete) == \
        (scenario.seed, "stack", "humble", CYCLES, True)
    manifest = load_manifest(default_models_dir())
    assert run.models_sha256 == {name: spec.sha256.lower()
                                 for name, spec in manifest.models.items()}


# --- rosbags (the ROS 2 reference implementation in Python) -----------------------------------


def _same(ours: Any, theirs: Any, where: str) -> None:
    """Our decoded message equals rosbags', field by field of the Humble layout (bit for bit
    for floats)."""
    if dataclasses.is_dataclass(ours):
        for f in field_layout(type(ours), "humble"):
            _same(getattr(ours, f.name), getattr(theirs, f.name), f"{where}.{f.name}")
    elif isinstance(ours, (bytes, bytearray)):
        assert bytes(np.asarray(theirs, dtype=np.uint8)) == bytes(ours), where
    elif isinstance(ours, tuple):
        theirs = list(theirs)
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(ours, float):
        b = float(theirs)
        assert (math.isnan(ours) and math.isnan(b)) or \
            np.float64(ours).tobytes() == np.float64(b).tobytes(), where
    else:
        assert ours == theirs, where


def test_rosbags_reads_the_file_and_decodes_every_message_like_we_do(recording: Path) -> None:
    # rosbags 0.11 opens a single .mcap file directly (no bag directory needed)
    with RosbagsReader(recording) as bag:
        assert bag.message_count > 0
        qos = {c.topic: c.ext.offered_qos_profiles for c in bag.connections}
        assert qos["/sensing/camera/front/image_raw"][0].depth == 5
        assert qos[TOPIC_COMMAND][0].reliability.name == "RELIABLE"
    with open_recording(recording) as rec:
        ours = list(rec.messages())
    # the Humble typestore; the types it lacks (radar_msgs, ackermann_msgs, ours) are
    # registered from the schemas in the file, which checks that rosbags parses them
    with AnyReader([recording], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as ar:
        raw = list(ar.messages())
        assert len(raw) == len(ours)
        for (conn, t_ns, data), (topic, log_ns, msg) in zip(raw, ours, strict=True):
            assert (conn.topic, t_ns) == (topic, log_ns)
            _same(msg, ar.typestore.deserialize_cdr(data, conn.msgtype), topic)


# --- replay ------------------------------------------------------------------------------------


def test_replay_with_the_same_models_is_identical(recording: Path) -> None:
    report = replay(recording)
    s = report.summary
    assert (report.cycles_replayed, report.commands_recorded) == (CYCLES, CYCLES)
    assert s.cycles_compared == CYCLES and s.differing_cycles == 0, format_replay(report)
    assert s.verdict == "identical" and report.identical
    assert report.model_changes == {} and report.model_errors == []
    assert json.loads(json.dumps(report.to_json()))["divergence"]["differing_cycles"] == 0
    assert "IDENTICAL" in format_replay(report)


def test_replay_without_the_planning_network_diverges(recording: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(default_models_dir(), models)
    (models / "planning.onnx").unlink()
    report = replay(recording, models)
    assert report.model_changes == {"planning": "not loaded in the replay (fallback)"}
    assert any("planning.onnx" in e for e in report.model_errors)
    s = report.summary
    assert s.cycles_compared == CYCLES
    assert s.differing_cycles > CYCLES // 2
    assert s.verdict == "divergent" and s.cycles_over_accel > 0
    text = format_replay(report)
    assert "DIVERGENT" in text and "planning: not loaded" in text
    with pytest.raises(ModelError, match="models directory not found"):
        replay(recording, tmp_path / "no_such_models")
