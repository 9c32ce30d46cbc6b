"""One exceptions module for the package: every user-facing failure is one of these.

Each carries a message written for the person at the terminal; the CLI prints it without a
stack trace and exits non-zero.
"""

from __future__ import annotations


class EdgeAutopilotError(Exception):
    """Base class of every error the package raises on purpose."""


class ScenarioError(EdgeAutopilotError):
    """A scenario file is missing, unreadable or invalid."""


class ConfigError(EdgeAutopilotError):
    """A configuration value or parameter file is invalid."""


class RoadGeometryError(EdgeAutopilotError):
    """A road description cannot be built (e.g. offset beyond a curve's radius)."""


class ModelError(EdgeAutopilotError):
    """A network file or its manifest is missing, corrupt or does not match."""


class MessageError(EdgeAutopilotError):
    """A ROS 2 message cannot be encoded, or received bytes are not a valid message."""


class TransportError(EdgeAutopilotError):
    """A transport (inproc, zmq, dds, ros2) cannot be set up or used as asked."""


class RecordingError(EdgeAutopilotError):
    """A recording (rosbag2 MCAP) is missing, unreadable, or lacks what a replay needs."""


class SchedulingError(EdgeAutopilotError):
    """The OS refused the loop's CPU pinning, real-time priority or memory locking."""
