"""The in-loop safety monitor: run once per cycle, after the stack produced its candidate.

    monitor.update_samples(samples)           # everything that arrived since the last cycle
    decision = monitor.check(t_ns, candidate, rule_based, ego, timing, network)
    publish(decision.command)

``check`` processes the new samples (sensor health, raw radar/ultrasonic collision path),
checks the candidate (network or fallback) against the envelope and the networks' outputs for
plausibility, counts deadline misses, feeds the ladder with every finding, and picks the
command for the ladder's level: the limited candidate (NOMINAL), the capped rule-based command
(DEGRADED), the comfortable stop (MRM) or full braking (EMERGENCY). Whatever happens, the
command that leaves is finite and within the steering limits.

Independence: the monitor reads only raw samples (and the two commands); it never sees the
tracker's tracks or the networks' internals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.collision import CollisionMonitor
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.envelope import limit_command, limit_steer
from edge_autopilot.safety.fallback import (
    degraded_accel_cap_mps2,
    degraded_command,
    emergency_command,
    mrm_command,
)
from edge_autopilot.safety.ladder import DegradationLadder
from edge_autopilot.safety.network_check import NetworkCheck, NetworkOutputs
from edge_autopilot.safety.sensor_health import SensorHealthMonitor
from edge_autopilot.safety.timing_check import CycleTiming, TimingCheck
from edge_autopilot.safety.types import (
    DiagnosticLevel,
    Finding,
    SafetyLevel,
    diagnostic_level,
)
from edge_autopilot.sensors.calibration import SensorRigCalibration, default_rig
from edge_autopilot.sensors.samples import Odometry, RadarScan, SensorSample, UltrasonicRange


@dataclass(slots=True)
class EgoState:
    """Ego motion for this cycle (from odometry)."""

    speed_mps: float
    yaw_rate_rps: float
    accel_mps2: float = 0.0


@dataclass(frozen=True, slots=True)
class SafetyDecision:
    command: ControlCommand
    level: SafetyLevel
    findings: tuple[Finding, ...]
    diagnostic_level: DiagnosticLevel
    reasons: tuple[str, ...]  # the codes that put the ladder at ``level``


class SafetyMonitor:
    def __init__(self, config: SafetyConfig | None = None,
                 calibration: SensorRigCalibration | None = None,
                 set_speed_mps: float | None = None) -> None:
        self.config = config or SafetyConfig()
        self.calibration = calibration or default_rig()
        self.set_speed_mps = set_speed_mps
        self.health = SensorHealthMonitor(self.config, self.calibration)
        self.collision = CollisionMonitor(self.config, self.calibration)
        self.network = NetworkCheck(self.config)
        self.timing = TimingCheck(self.config)
        self.ladder = DegradationLadder(self.config)
        self._pending: list[SensorSample] = []
        self._odo: Odometry | None = None
        self.prev_command: ControlCommand | None = None
        self.cycles = 0

    # --- inputs ----------------------------------------------------------------------------
    def update_samples(self, samples: list[SensorSample]) -> None:
        """The samples that arrived since the last cycle, in arrival order (never blocks; they
        are processed by the next ``check``, which knows the time)."""
        self._pending.extend(samples)

    def _ingest(self, t_ns: int) -> None:
        health, collision = self.health, self.collision
        for s in self._pending:
            health.update(s, t_ns)
            if isinstance(s, Odometry):
                if (self._odo is None or s.stamp_ns > self._odo.stamp_ns) and \
                        math.isfinite(s.speed_mps) and math.isfinite(s.yaw_rate_rps):
                    self._odo = s
            elif isinstance(s, RadarScan):
                odo = self._odo
                speed, yaw_rate = (odo.speed_mps, odo.yaw_rate_rps) if odo else (0.0, 0.0)
                collision.update_radar(s, speed, yaw_rate)
            elif isinstance(s, UltrasonicRange):
                collision.update_ultrasonic(s)
        self._pending.clear()

    # --- per cycle -------------------------------------------------------------------------
    def check(self, t_ns: int, candidate: ControlCommand, rule_based: ControlCommand,
              ego: EgoState | None = None, timing: CycleTiming | None = None,
              network: NetworkOutputs | None = None) -> SafetyDecision:
        c = self.config
        self._ingest(t_ns)
        if ego is None:
            odo = self._odo
            ego = EgoState(odo.speed_mps, odo.yaw_rate_rps, odo.accel_mps2) if odo \
                else EgoState(0.0, 0.0, 0.0)
        speed = ego.speed_mps if math.isfinite(ego.speed_mps) else 0.0
        standstill = speed <= c.standstill_speed_mps

        findings = self.health.check(t_ns)
        col = self.collision
        found = col.assess(t_ns, speed, candidate.accel_mps2)
        if found:
            findings.extend(found)
        found = self.network.check(candidate, network,
                                   col.distance_m if math.isfinite(col.distance_m) else None)
        if found:
            findings.extend(found)
        found = self.timing.check(timing)
        if found:
            findings.extend(found)
        prev = self.prev_command
        limited, found = limit_command(candidate, prev, speed, c, col.brake_authority)
        if found:
            findings.extend(found)

        level = self.ladder.update(findings, t_ns, standstill)

        if level == SafetyLevel.NOMINAL:
            command = limited
        else:
            prev_steer = prev.steer_rad if prev is not None else 0.0
            prev_accel = prev.accel_mps2 if prev is not None else 0.0
            rule = rule_based
            if not (math.isfinite(rule.steer_rad) and math.isfinite(rule.accel_mps2)):
                rule = ControlCommand(prev_steer if math.isfinite(prev_steer) else 0.0,
                                      0.0, t_ns)
            if level == SafetyLevel.DEGRADED:
                cap = degraded_accel_cap_mps2(speed, self.set_speed_mps, col.distance_m,
                                              -col.closing_mps, c)
                command, _ = limit_command(degraded_command(rule, prev_accel, cap, c), prev,
                                           speed, c, col.brake_authority)
            else:
                command = mrm_command(rule, prev_accel, speed, c) if level == SafetyLevel.MRM \
                    else emergency_command(rule, c)
                steer, _ = limit_steer(command.steer_rad, prev_steer if prev else None,
                                       speed, c)
                command = ControlCommand(steer, command.accel_mps2, t_ns)
        self.prev_command = command
        self.cycles += 1
        diag = diagnostic_level(level)
        if findings and diag == DiagnosticLevel.OK:
            diag = DiagnosticLevel.WARN
        return SafetyDecision(command, level, tuple(findings), diag, self.ladder.reasons)
