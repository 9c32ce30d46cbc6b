"""The command envelope: every command that leaves the stack fits the vehicle limits.

Pure function. Longitudinal: accel within [ACCEL_MIN_NOMINAL, ACCEL_MAX]; braking beyond the
nominal limit passes only when the independent collision path grants ``brake_authority`` (an
object in the path justifies it), so a network cannot phantom-brake at the tyre limit.
Lateral (kinematic bicycle model, wheelbase L; a_lat = v^2 tan(delta) / L):
- steering angle within the mechanical stop, steering rate within the actuator's rate;
- |a_lat| <= LAT_ACCEL_MAX  ->  |tan delta| <= a_max L / v^2           (ISO 11270)
- |d a_lat / dt| <= LAT_JERK_MAX  ->  |d tan delta| <= j_max L dt / v^2 per cycle, against
  the previous command (at constant speed).
The lateral-acceleration bound wins over the rate limits when both cannot hold (speed rose
while steering): lateral acceleration is the safety limit, jerk the comfort one.
A NaN/Inf command is replaced (previous steering held, zero acceleration) and reported as
``network.nan`` requesting MRM; limiting is reported as a WARN (level NOMINAL) finding.
"""

from __future__ import annotations

import math

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import (
    ENVELOPE_ACCEL_LIMITED,
    ENVELOPE_LAT_ACCEL_LIMITED,
    ENVELOPE_LAT_JERK_LIMITED,
    ENVELOPE_STEER_LIMITED,
    ENVELOPE_STEER_RATE_LIMITED,
    NETWORK_NAN,
    Finding,
    SafetyLevel,
)

NO_FINDINGS: tuple[Finding, ...] = ()
_MIN_SPEED_FOR_LATERAL_MPS = 0.5  # below, v^2 makes the lateral bounds vacuous anyway


def steer_bounds_rad(speed_mps: float, config: SafetyConfig) -> tuple[float, float]:
    """(angle bound from the mechanical stop, angle bound from lateral acceleration)."""
    v2 = max(speed_mps, _MIN_SPEED_FOR_LATERAL_MPS) ** 2
    lat = math.atan(config.lat_accel_max_mps2 * config.wheelbase_m / v2)
    return config.max_steer_rad, lat


def limit_steer(steer_rad: float, prev_steer_rad: float | None, speed_mps: float,
                config: SafetyConfig) -> tuple[float, str | None]:
    """Steering angle within every lateral limit; the code of the binding limit (or None when
    the change is below the reporting tolerance)."""
    stop, lat = steer_bounds_rad(speed_mps, config)
    out = min(max(steer_rad, -stop), stop)
    code: str | None = ENVELOPE_STEER_LIMITED if out != steer_rad else None
    if abs(out) > lat:
        out = math.copysign(lat, out)
        code = ENVELOPE_LAT_ACCEL_LIMITED
    if prev_steer_rad is not None and math.isfinite(prev_steer_rad):
        dt = config.dt_s
        rate_step = config.max_steer_rate_rps * dt
        lo, hi = prev_steer_rad - rate_step, prev_steer_rad + rate_step
        rate_code = ENVELOPE_STEER_RATE_LIMITED
        v2 = max(speed_mps, _MIN_SPEED_FOR_LATERAL_MPS) ** 2
        dtan = config.lat_jerk_max_mps3 * config.wheelbase_m * dt / v2
        tan_prev = math.tan(prev_steer_rad)
        j_lo, j_hi = math.atan(tan_prev - dtan), math.atan(tan_prev + dtan)
        if j_hi - j_lo < hi - lo:
            lo, hi, rate_code = j_lo, j_hi, ENVELOPE_LAT_JERK_LIMITED
        if out < lo or out > hi:
            out = min(max(out, lo), hi)
            code = rate_code
        if abs(out) > lat:  # the safety bound wins over the comfort one
            out = math.copysign(lat, out)
            code = ENVELOPE_LAT_ACCEL_LIMITED
    if code is not None and abs(out - steer_rad) < config.steer_report_tol_rad:
        code = None
    return out, code


def limit_command(
    command: ControlCommand,
    prev: ControlCommand | None,
    speed_mps: float,
    config: SafetyConfig,
    brake_authority: bool = False,
) -> tuple[ControlCommand, tuple[Finding, ...]]:
    """``command`` within the envelope, and the findings saying what was changed."""
    steer, accel = command.steer_rad, command.accel_mps2
    findings: list[Finding] | None = None
    if not (math.isfinite(steer) and math.isfinite(accel)):
        findings = [Finding(NETWORK_NAN, SafetyLevel.MRM,
                            f"command steer={steer!r} accel={accel!r}")]
        prev_steer = prev.steer_rad if prev is not None else 0.0
        steer = prev_steer if math.isfinite(prev_steer) else 0.0
        accel = 0.0
    prev_steer_rad = prev.steer_rad if prev is not None else None
    out_steer, steer_code = limit_steer(steer, prev_steer_rad, speed_mps, config)
    lower = config.emergency_decel_mps2 if brake_authority else config.accel_min_nominal_mps2
    out_accel = min(max(accel, lower), config.accel_max_mps2)
    if steer_code is not None:
        findings = findings or []
        findings.append(Finding(steer_code, SafetyLevel.NOMINAL,
                                f"steer {steer:.4f} -> {out_steer:.4f} rad at {speed_mps:.1f} m/s"))
    if abs(out_accel - accel) >= config.accel_report_tol_mps2:
        findings = findings or []
        findings.append(Finding(ENVELOPE_ACCEL_LIMITED, SafetyLevel.NOMINAL,
                                f"accel {accel:.2f} -> {out_accel:.2f} m/s^2"))
    if out_steer == command.steer_rad and out_accel == command.accel_mps2 and findings is None:
        return command, NO_FINDINGS
    return (ControlCommand(out_steer, out_accel, command.stamp_ns),
            NO_FINDINGS if findings is None else tuple(findings))
