"""rosbag2 MCAP recording of a run, and replay of a recording through the loop.

    from edge_autopilot.record import RunRecorder, replay, format_replay
    run_scenario(scenario, driver, tap=RunRecorder("run.mcap"))   # record
    print(format_replay(replay("run.mcap", models_dir)))          # replay and compare

Modules: ``recorder`` (the run tap), ``mcap_writer`` (rosbag2-compatible MCAP on ``mcap``),
``reader`` (decode a recording; RecordingError for unusable files), ``replay`` (the stack on
recorded inputs), ``divergence`` (two command streams -> a summary; no I/O, shared with OTA
shadow mode).
"""

from __future__ import annotations

from edge_autopilot.record.divergence import (
    ACCEL_DIVERGENCE_MPS2,
    STEER_DIVERGENCE_RAD,
    CommandStream,
    DivergenceSummary,
    compare_commands,
)
from edge_autopilot.record.reader import RecordedMessage, Recording, open_recording
from edge_autopilot.record.recorder import RunRecorder
from edge_autopilot.record.replay import ReplayReport, format_replay, replay

__all__ = [
    "ACCEL_DIVERGENCE_MPS2",
    "STEER_DIVERGENCE_RAD",
    "CommandStream",
    "DivergenceSummary",
    "RecordedMessage",
    "Recording",
    "ReplayReport",
    "RunRecorder",
    "compare_commands",
    "format_replay",
    "open_recording",
    "replay",
]
