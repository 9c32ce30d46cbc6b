"""Safety: the in-loop monitor (independent of the networks), the degradation ladder and the
fallback commands. See DESIGN.md "Safety" and ``monitor.py`` for how a cycle runs."""

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.ladder import DegradationLadder, LadderState, transition
from edge_autopilot.safety.monitor import EgoState, SafetyDecision, SafetyMonitor
from edge_autopilot.safety.network_check import NetworkOutputs
from edge_autopilot.safety.timing_check import CycleTiming
from edge_autopilot.safety.types import DiagnosticLevel, Finding, SafetyLevel

__all__ = [
    "CycleTiming",
    "DegradationLadder",
    "DiagnosticLevel",
    "EgoState",
    "Finding",
    "LadderState",
    "NetworkOutputs",
    "SafetyConfig",
    "SafetyDecision",
    "SafetyLevel",
    "SafetyMonitor",
    "transition",
]
