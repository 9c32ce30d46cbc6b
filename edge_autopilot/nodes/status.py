"""The loop's outputs besides the command: loop timing, safety state, diagnostics messages."""

from __future__ import annotations

import os
from typing import Any

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.diagnostic_msgs import DiagnosticArray, DiagnosticStatus, KeyValue
from edge_autopilot.msgs.edge_autopilot_msgs import (
    LoopTiming,
    SafetyState,
    Track,
    TrackArray,
    Trajectory,
    TrajectoryPoint,
)
from edge_autopilot.msgs.std_msgs import Header
from edge_autopilot.planning.types import HORIZON_T_S
from edge_autopilot.runtime.timing import CycleTimes
from edge_autopilot.safety.types import SafetyLevel
from edge_autopilot.transport.topics import (
    TOPIC_LOOP_TIMING,
    TOPIC_SAFETY_STATE,
    TOPIC_TRACKS,
    TOPIC_TRAJECTORY,
)


def header(t_ns: int, frame_id: str = "base_link") -> Header:
    return Header(stamp=convert.time_from_ns(t_ns), frame_id=frame_id)


def loop_timing_msg(t_ns: int, cycle: int, outcome: Any, times: CycleTimes, row: int,
                    networks_ran: int) -> LoopTiming:
    """The cycle's timing row (``times`` at ``row``) as the message; -1 marks a skipped stage."""
    return LoopTiming(
        header=header(t_ns), cycle=cycle,
        wake_latency_ns=int(times.wake_latency_ns[row]),
        stage_ns=tuple(int(x) for x in times.stage_ns[row]),
        end_to_end_ns=int(times.end_to_end_ns[row]),
        deadline_missed=bool(outcome.missed), fallback=bool(outcome.used_fallback),
        networks_ran=int(networks_ran))


def safety_state_msg(t_ns: int, decision: Any, guarded: bool, speed_cap_mps: float) -> SafetyState:
    """The monitor's verdict (``SafetyDecision``; None before the monitor's first cycle)."""
    if decision is None:
        return SafetyState(header=header(t_ns), level=int(SafetyLevel.NOMINAL), reasons=(),
                           command_replaced=guarded,
                           speed_cap_mps=float("inf"))
    return SafetyState(header=header(t_ns), level=int(decision.level),
                       reasons=tuple(decision.reasons), command_replaced=guarded,
                       speed_cap_mps=speed_cap_mps)


def diagnostics_msg(t_ns: int, name: str, level: int, message: str,
                    values: dict[str, str]) -> DiagnosticArray:
    status = DiagnosticStatus(level=level, name=name, message=message,
                              hardware_id="edge_autopilot",
                              values=tuple(KeyValue(key=k, value=v) for k, v in values.items()))
    return DiagnosticArray(header=header(t_ns), status=(status,))


def ready_msg(node_name: str) -> DiagnosticArray:
    """A node's answer to the simulator's handshake."""
    return diagnostics_msg(0, node_name, 0, "ready", {"pid": str(os.getpid())})


def tracks_msg(t_ns: int, tracks: Any) -> TrackArray:
    """The fusion stage's confirmed tracks (``TrackList``; None before the first fusion)."""
    if tracks is None:
        return TrackArray(header=header(t_ns))
    cols = (tracks.track_id.tolist(), tracks.x_m.tolist(), tracks.y_m.tolist(),
            tracks.vx_mps.tolist(), tracks.vy_mps.tolist(), tracks.pos_std_m.tolist(),
            tracks.vel_std_mps.tolist(), tracks.hits.tolist())
    return TrackArray(header=header(t_ns), tracks=tuple(
        Track(int(i), x, y, vx, vy, ps, vs, int(h)) for i, x, y, vx, vy, ps, vs, h in zip(
            *cols, strict=True)))


def trajectory_msg(t_ns: int, traj: Any, speed_mps: float) -> Trajectory:
    """The planning network's trajectory (accelerations and lateral offsets over the horizon)
    as points in the lane frame: speed and distance integrated from the current speed."""
    points = []
    v, x, t_prev = speed_mps, 0.0, 0.0
    for t, a, y in zip(HORIZON_T_S.tolist(), traj.accel_mps2.tolist(),
                       traj.lateral_offset_m.tolist(), strict=True):
        dt = t - t_prev
        v_next = max(0.0, v + a * dt)  # the plan never drives backwards
        x += 0.5 * (v + v_next) * dt
        v, t_prev = v_next, t
        points.append(TrajectoryPoint(t, x, y, v, a))
    return Trajectory(header=header(t_ns, "lane"), points=tuple(points), source="network")


def command_msg(t_ns: int, command: Any, pipeline: Any) -> Any:
    """The loop's command as it goes out, stamped with the cycle's time. ``speed`` carries the
    speed the command was computed at (information for the supervisor's stop profile; the
    command itself is the acceleration)."""
    inp = getattr(pipeline, "planning_input", None)
    speed_mps = inp.ego.speed_mps if inp is not None else 0.0
    return convert.command_to_msg(ControlCommand(command.steer_rad, command.accel_mps2, t_ns),
                                  speed_mps)


def loop_outputs(t_ns: int, cycle: int, outcome: Any, executive: Any, pipeline: Any,
                 degraded_cap_mps: float) -> list[tuple[str, Any]]:
    """What the loop publishes each cycle after its command, as (topic, message): its timing,
    the monitor's state, the tracks and (when the planning network ran) its trajectory. The
    loop node publishes these and a recording of an in-process run stores the same."""
    out: list[tuple[str, Any]] = []
    times = executive.times
    row = times.count - 1
    if row >= 0 and not times.overflowed:
        out.append((TOPIC_LOOP_TIMING, loop_timing_msg(t_ns, cycle, outcome, times, row,
                                                       pipeline.networks_ran)))
    decision = outcome.safety
    level = getattr(decision, "level", SafetyLevel.NOMINAL)
    cap = degraded_cap_mps if level >= SafetyLevel.DEGRADED else float("inf")
    out.append((TOPIC_SAFETY_STATE, safety_state_msg(t_ns, decision, outcome.guarded, cap)))
    out.append((TOPIC_TRACKS, tracks_msg(t_ns, pipeline.tracks)))
    traj = pipeline.trajectory
    if traj is not None:
        inp = pipeline.planning_input
        out.append((TOPIC_TRAJECTORY, trajectory_msg(
            t_ns, traj, inp.ego.speed_mps if inp is not None else 0.0)))
    return out


def degraded_cap_mps(pipeline: Any) -> float:
    """The speed cap the monitor holds in DEGRADED (inf for a stack without a monitor)."""
    safety = getattr(pipeline, "safety", None)
    return safety.config.degraded_speed_cap_mps if safety is not None else float("inf")
