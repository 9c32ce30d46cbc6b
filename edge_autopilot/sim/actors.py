"""Actors: cars, trucks, pedestrians, cyclists and static obstacles, moving in the road's Frenet
frame under simple behaviours and triggered events.

State is held as parallel arrays so one step costs a few numpy operations whatever the number of
actors. Longitudinal motion: either a target-speed follower (``constant``) or the Intelligent
Driver Model (``idm``, Treiber, Hennecke & Helbing 2000) that follows the vehicle ahead in its
lane, the ego included. Events (brake, set_speed, lane_change, cross, stop) fire once, on a
time, gap or position trigger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from edge_autopilot.constants import EGO_LENGTH_M, EGO_REAR_AXLE_TO_FRONT_M, EGO_WIDTH_M
from edge_autopilot.maps.road import Road, _ref_pose, _wrap_angle
from edge_autopilot.sim.scenario import (
    ActorSpec,
    BrakeEvent,
    CrossEvent,
    LaneChangeEvent,
    SetSpeedEvent,
    StopEvent,
    Trigger,
)
from edge_autopilot.sim.truth import KIND_DIMENSIONS_M, ActorKind, ActorsTruth

# IDM parameters for passenger cars (Treiber & Kesting, "Traffic Flow Dynamics", table 11.2).
IDM_ACCEL_MPS2 = 1.5
IDM_COMFORT_DECEL_MPS2 = 2.0
IDM_TIME_HEADWAY_S = 1.5
IDM_MIN_GAP_M = 2.0
IDM_DELTA = 4.0
IDM_MAX_DECEL_MPS2 = 8.0

DEFAULT_ACCEL_MPS2 = 1.5
DEFAULT_DECEL_MPS2 = 3.0

KIND_BY_NAME = {
    "car": ActorKind.CAR,
    "truck": ActorKind.TRUCK,
    "pedestrian": ActorKind.PEDESTRIAN,
    "cyclist": ActorKind.CYCLIST,
    "static": ActorKind.STATIC,
}


@dataclass
class _PendingEvent:
    actor: int
    trigger: Trigger
    event: BrakeEvent | SetSpeedEvent | LaneChangeEvent | CrossEvent | StopEvent


class ActorSet:
    """All actors of a scenario and their behaviour state."""

    def __init__(self, specs: list[ActorSpec], road: Road) -> None:
        self.road = road
        n = len(specs)
        self.ids = tuple(a.id for a in specs)
        self.kind = np.array([KIND_BY_NAME[a.kind] for a in specs], dtype=np.int8)
        dims = [KIND_DIMENSIONS_M[ActorKind(k)] for k in self.kind]
        self.length_m = np.array(
            [a.length_m or d[0] for a, d in zip(specs, dims, strict=True)], dtype=np.float64
        )
        self.width_m = np.array(
            [a.width_m or d[1] for a, d in zip(specs, dims, strict=True)], dtype=np.float64
        )
        self.height_m = np.array(
            [a.height_m or d[2] for a, d in zip(specs, dims, strict=True)], dtype=np.float64
        )
        self.s_m = np.array([a.s_m for a in specs], dtype=np.float64)
        self.d_m = np.array(
            [
                road.lane_center_d(a.lane) + a.lane_offset_m if a.lane is not None else a.d_m
                for a in specs
            ],
            dtype=np.float64,
        )
        self.speed_mps = np.array([a.speed_mps for a in specs], dtype=np.float64)
        self.accel_mps2 = np.zeros(n)
        self.lat_speed_mps = np.zeros(n)
        self.target_speed_mps = np.array(
            [a.desired_speed_mps if a.desired_speed_mps is not None else a.speed_mps
             for a in specs],
            dtype=np.float64,
        )
        self.accel_limit_mps2 = np.full(n, DEFAULT_ACCEL_MPS2)
        self.decel_limit_mps2 = np.full(n, DEFAULT_DECEL_MPS2)
        self.uses_idm = np.array([a.behavior == "idm" for a in specs], dtype=bool)
        self.movable = self.kind != ActorKind.STATIC
        # fixed heading relative to the road, radians (nan = follow the motion)
        self.heading_offset_rad = np.array(
            [math.radians(a.heading_deg) if a.heading_deg is not None else math.nan
             for a in specs],
            dtype=np.float64,
        )
        self._yaw_rel_rad = np.where(
            np.isnan(self.heading_offset_rad), 0.0, self.heading_offset_rad
        )
        for i, a in enumerate(specs):
            if a.heading_deg is None and any(isinstance(e, CrossEvent) for e in a.events):
                first = next(e for e in a.events if isinstance(e, CrossEvent))
                self._yaw_rel_rad[i] = math.copysign(0.5 * math.pi, first.to_d_m - self.d_m[i])
        self._stop_at_s = np.full(n, math.nan)
        self._cross_to_d = np.full(n, math.nan)
        # active lane change: start time, duration, from and to offsets (nan start = none)
        self._lc_start_s = np.full(n, math.nan)
        self._lc_duration_s = np.ones(n)
        self._lc_from_d = np.zeros(n)
        self._lc_to_d = np.zeros(n)
        self._pending = [
            _PendingEvent(i, ev.at, ev) for i, a in enumerate(specs) for ev in a.events
        ]
        self.fired: list[tuple[float, str, str]] = []  # (t_s, actor id, event kind), for reports

    @property
    def count(self) -> int:
        return int(self.s_m.shape[0])

    # --- events ---------------------------------------------------------------------------
    def _gap_to_ego_m(self, i: int, ego_s_m: float) -> float:
        ego_front_s = ego_s_m + EGO_REAR_AXLE_TO_FRONT_M
        return float(self.s_m[i] - 0.5 * self.length_m[i] - ego_front_s)

    def _triggered(self, p: _PendingEvent, t_s: float, ego_s_m: float) -> bool:
        trig = p.trigger
        if trig.time_s is not None:
            return t_s >= trig.time_s - 1e-9
        if trig.gap_m_below is not None:
            return self._gap_to_ego_m(p.actor, ego_s_m) < trig.gap_m_below
        return ego_s_m >= trig.ego_s_m_above  # type: ignore[operator]

    def _fire(self, p: _PendingEvent, t_s: float) -> None:
        i, ev = p.actor, p.event
        if isinstance(ev, BrakeEvent | SetSpeedEvent):
            self._stop_at_s[i] = math.nan  # a later speed change ends a stop-at-point
        if isinstance(ev, BrakeEvent):
            self.uses_idm[i] = False
            self.target_speed_mps[i] = ev.to_speed_mps
            self.decel_limit_mps2[i] = ev.decel_mps2
        elif isinstance(ev, SetSpeedEvent):
            self.target_speed_mps[i] = ev.speed_mps
            self.accel_limit_mps2[i] = ev.accel_mps2
            self.decel_limit_mps2[i] = ev.accel_mps2
        elif isinstance(ev, StopEvent):
            self.uses_idm[i] = False
            self.target_speed_mps[i] = 0.0
            if ev.decel_mps2 is not None:
                self.decel_limit_mps2[i] = ev.decel_mps2
            else:
                self._stop_at_s[i] = ev.at_s_m
        elif isinstance(ev, LaneChangeEvent):
            self._lc_start_s[i] = t_s
            self._lc_duration_s[i] = ev.duration_s
            self._lc_from_d[i] = self.d_m[i]
            self._lc_to_d[i] = self.road.lane_center_d(ev.to_lane)
        elif isinstance(ev, CrossEvent):
            self._cross_to_d[i] = ev.to_d_m
            self.lat_speed_mps[i] = math.copysign(ev.speed_mps, ev.to_d_m - self.d_m[i])
        self.fired.append((t_s, self.ids[i], ev.do))

    def _update_events(self, t_s: float, ego_s_m: float) -> None:
        if not self._pending:
            return
        still: list[_PendingEvent] = []
        for p in self._pending:
            if self._triggered(p, t_s, ego_s_m):
                self._fire(p, t_s)
            else:
                still.append(p)
        self._pending = still

    # --- motion ---------------------------------------------------------------------------
    def step(self, t_s: float, dt_s: float, ego_s_m: float, ego_d_m: float,
             ego_speed_mps: float) -> None:
        """Advance all actors by ``dt_s``; ``t_s`` is the time at the start of the step."""
        if self.count == 0:
            return
        self._update_events(t_s, ego_s_m)
        ego_centre_s = ego_s_m + EGO_REAR_AXLE_TO_FRONT_M - 0.5 * EGO_LENGTH_M
        _advance(
            dt_s, t_s + dt_s, ego_centre_s, ego_d_m, ego_speed_mps,
            self.s_m, self.d_m, self.speed_mps, self.accel_mps2, self.lat_speed_mps,
            self.length_m, self.width_m, self.target_speed_mps, self.accel_limit_mps2,
            self.decel_limit_mps2, self.uses_idm, self.movable, self._stop_at_s,
            self._cross_to_d, self._lc_start_s, self._lc_duration_s, self._lc_from_d,
            self._lc_to_d, *self.road.arrays,
        )

    # --- truth ----------------------------------------------------------------------------
    def truth(self) -> ActorsTruth:
        n = self.count
        out = np.empty((5, n))
        _poses(self.s_m, self.d_m, self.speed_mps, self.lat_speed_mps,
               self.heading_offset_rad, self._yaw_rel_rad, *self.road.arrays,
               out[0], out[1], out[2], out[3], out[4])
        return ActorsTruth(
            actor_id=self.ids,
            kind=self.kind,
            x_m=out[0],
            y_m=out[1],
            yaw_rad=out[2],
            length_m=self.length_m,
            width_m=self.width_m,
            height_m=self.height_m,
            vx_mps=out[3],
            vy_mps=out[4],
            s_m=self.s_m.copy(),
            d_m=self.d_m.copy(),
        )


@nb.njit(cache=True)
def _idm_scalar(v: float, v_des: float, gap: float, closing: float) -> float:
    v0 = max(v_des, 0.1)
    free = 1.0 - (v / v0) ** IDM_DELTA
    if not math.isfinite(gap):
        return max(IDM_ACCEL_MPS2 * free, -IDM_MAX_DECEL_MPS2)
    s_star = IDM_MIN_GAP_M + max(
        0.0, v * IDM_TIME_HEADWAY_S
        + v * closing / (2.0 * math.sqrt(IDM_ACCEL_MPS2 * IDM_COMFORT_DECEL_MPS2)))
    return max(IDM_ACCEL_MPS2 * (free - (s_star / max(gap, 0.1)) ** 2), -IDM_MAX_DECEL_MPS2)


@nb.njit(cache=True)
def _smooth_step(x: float) -> tuple[float, float]:
    """Quintic 0->1 with zero velocity and acceleration at both ends, and its derivative."""
    if x <= 0.0:
        return 0.0, 0.0
    if x >= 1.0:
        return 1.0, 0.0
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x)), 30.0 * x * x * (1.0 - x) * (1.0 - x)


@nb.njit(cache=True)
def _advance(
    dt, t_end, ego_s, ego_d, ego_v,
    s, d, v, a, vd, length, width, target, acc_lim, dec_lim, uses_idm, movable, stop_at,
    cross_to, lc_start, lc_dur, lc_from, lc_to,
    s0, sec_len, kappa, x0, y0, h0,
):  # pragma: no cover - numba kernel, exercised through ActorSet
    n = s.shape[0]
    accel = np.empty(n)
    for i in range(n):
        if not movable[i]:
            accel[i] = 0.0
            continue
        if not math.isnan(stop_at[i]):
            # decelerate so as to stop exactly at the point
            dist = max(stop_at[i] - s[i], 0.01)
            dec_lim[i] = max(v[i] * v[i] / (2.0 * dist), 0.05)
            accel[i] = -dec_lim[i]
        elif v[i] > target[i]:
            # the event's deceleration, held until the target speed is met exactly
            accel[i] = -min(dec_lim[i], (v[i] - target[i]) / dt)
        else:
            accel[i] = min(acc_lim[i], (target[i] - v[i]) / dt)
        if uses_idm[i]:
            # nearest road user ahead with lateral overlap, the ego included (index n)
            best_gap = np.inf
            closing = 0.0
            for j in range(n + 1):
                if j == i:
                    continue
                if j < n:
                    sj, dj, lj, wj, vj = s[j], d[j], length[j], width[j], v[j]
                else:
                    sj, dj, lj, wj, vj = ego_s, ego_d, EGO_LENGTH_M, EGO_WIDTH_M, ego_v
                ds = sj - s[i]
                if ds <= 0.0 or abs(dj - d[i]) >= 0.5 * (wj + width[i]) + 0.2:
                    continue
                gap = ds - 0.5 * (lj + length[i])
                if gap < best_gap:
                    best_gap = gap
                    closing = v[i] - vj
            accel[i] = _idm_scalar(v[i], target[i], best_gap, closing)
    for i in range(n):
        new_v = max(v[i] + accel[i] * dt, 0.0)
        # on a curve, arc length at offset d runs at (1 - kappa d) of the reference's
        k = _ref_pose(s[i], s0, sec_len, kappa, x0, y0, h0)[3]
        scale = max(1.0 - k * d[i], 0.1)
        s[i] += 0.5 * (v[i] + new_v) * dt / scale
        a[i] = accel[i] if new_v > 0.0 else 0.0
        v[i] = new_v
        if not math.isnan(lc_start[i]):
            x = (t_end - lc_start[i]) / lc_dur[i]
            span = lc_to[i] - lc_from[i]
            frac, rate = _smooth_step(x)
            d[i] = lc_from[i] + span * frac
            vd[i] = span * rate / lc_dur[i]
            if x >= 1.0:
                lc_start[i] = np.nan
                vd[i] = 0.0
        elif not math.isnan(cross_to[i]):
            new_d = d[i] + vd[i] * dt
            if (new_d - cross_to[i]) * vd[i] >= 0.0:
                d[i] = cross_to[i]
                vd[i] = 0.0
                cross_to[i] = np.nan
            else:
                d[i] = new_d


@nb.njit(cache=True)
def _poses(
    s, d, v, vd, heading_offset, yaw_rel, s0, sec_len, kappa, x0, y0, h0,
    out_x, out_y, out_yaw, out_vx, out_vy,
):  # pragma: no cover - numba kernel, exercised through ActorSet
    for i in range(s.shape[0]):
        x, y, h, _ = _ref_pose(s[i], s0, sec_len, kappa, x0, y0, h0)
        ch = math.cos(h)
        sh = math.sin(h)
        out_x[i] = x - d[i] * sh
        out_y[i] = y + d[i] * ch
        moving = v[i] > 0.05 or abs(vd[i]) > 0.05
        if math.isnan(heading_offset[i]) and moving:
            yaw_rel[i] = math.atan2(vd[i], v[i])  # face the direction of motion
        out_yaw[i] = _wrap_angle(h + yaw_rel[i])
        out_vx[i] = v[i] * ch - vd[i] * sh
        out_vy[i] = v[i] * sh + vd[i] * ch
