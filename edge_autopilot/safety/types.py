"""Safety levels, findings and reason codes.

A *finding* is one check's verdict for one cycle: a dotted reason code (its family first:
``envelope.``, ``collision.``, ``sensor.``, ``network.``, ``timing.``, ``supervisor.``), the
ladder level it requests, and a short human-readable detail. The ladder takes the highest level
requested in a cycle.

Published status follows diagnostic_msgs/DiagnosticStatus byte levels (ROS 2 common_interfaces):
OK=0, WARN=1, ERROR=2, STALE=3.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SafetyLevel(IntEnum):
    """Degradation ladder rungs, ordered by severity (DESIGN.md "Safety")."""

    NOMINAL = 0  # the candidate command goes out (within the envelope)
    DEGRADED = 1  # rule-based command with a speed cap and a larger gap
    MRM = 2  # minimal-risk manoeuvre: comfortable stop in lane
    EMERGENCY = 3  # full braking to the tyre limit


class DiagnosticLevel(IntEnum):
    """diagnostic_msgs/DiagnosticStatus level bytes."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


# --- reason codes --------------------------------------------------------------------------
# envelope: the command was changed to stay within the vehicle limits (a warning, no escalation)
ENVELOPE_ACCEL_LIMITED = "envelope.accel_limited"
ENVELOPE_STEER_LIMITED = "envelope.steer_limited"
ENVELOPE_STEER_RATE_LIMITED = "envelope.steer_rate_limited"
ENVELOPE_LAT_ACCEL_LIMITED = "envelope.lat_accel_limited"
ENVELOPE_LAT_JERK_LIMITED = "envelope.lat_jerk_limited"
# collision: the independent raw radar + ultrasonic path
COLLISION_TTC = "collision.ttc"
COLLISION_REQUIRED_DECEL = "collision.required_decel"
COLLISION_RSS_DISTANCE = "collision.rss_distance"
COLLISION_ULTRASONIC_NEAR = "collision.ultrasonic_near"
# sensor health
SENSOR_STALE = "sensor.stale"
SENSOR_NAN = "sensor.nan"
SENSOR_OUT_OF_RANGE = "sensor.out_of_range"
SENSOR_FROZEN = "sensor.frozen"
SENSOR_TIMESTAMP = "sensor.timestamp"  # stamp from the future or going backwards
SENSOR_CAMERA_BLACKOUT = "sensor.camera_blackout"
# network output plausibility
NETWORK_NAN = "network.nan"
NETWORK_OUT_OF_RANGE = "network.out_of_range"
NETWORK_PERCEPTION_RADAR_DISAGREE = "network.perception_radar_disagree"
NETWORK_EXCEPTION = "network.exception"  # a stage raised this cycle: the fallback went out
NETWORK_UNAVAILABLE = "network.unavailable"  # a network did not load: fallback-only driving
# loop timing
TIMING_DEADLINE_MISS = "timing.deadline_miss"
TIMING_CONSECUTIVE_MISSES = "timing.consecutive_misses"
# supervisor process (reserved for the watchdog; not produced by the in-loop monitor)
SUPERVISOR_HEARTBEAT_LOST = "supervisor.heartbeat_lost"
SUPERVISOR_TAKEOVER = "supervisor.takeover"

FAMILIES = ("envelope", "collision", "sensor", "network", "timing", "supervisor")


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``code`` (dotted reason), the ladder ``level`` it requests, and a
    short ``detail`` for logs (which sensor, the measured value)."""

    code: str
    level: SafetyLevel
    detail: str = ""

    @property
    def family(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def diagnostic_level(self) -> DiagnosticLevel:
        return finding_diagnostic_level(self)


def diagnostic_level(level: SafetyLevel) -> DiagnosticLevel:
    """The ladder level as a DiagnosticStatus level: NOMINAL -> OK, DEGRADED -> WARN,
    MRM and EMERGENCY -> ERROR (the function is lost; the vehicle is being stopped)."""
    if level == SafetyLevel.NOMINAL:
        return DiagnosticLevel.OK
    if level == SafetyLevel.DEGRADED:
        return DiagnosticLevel.WARN
    return DiagnosticLevel.ERROR


def finding_diagnostic_level(finding: Finding) -> DiagnosticLevel:
    """A finding is at least a WARN (it was reported for a reason); a stale sensor is STALE,
    as diagnostic_aggregator marks items whose data stopped coming."""
    if finding.code == SENSOR_STALE:
        return DiagnosticLevel.STALE
    return max(DiagnosticLevel.WARN, diagnostic_level(finding.level))


def max_level(findings: list[Finding] | tuple[Finding, ...]) -> SafetyLevel:
    level = SafetyLevel.NOMINAL
    for f in findings:
        if f.level > level:
            level = f.level
    return level
