"""The classical expert planner: IDM-style longitudinal control with an emergency-braking layer,
a curve speed limit, and lane choice with gap acceptance.

It is the teacher the planning network imitates and the reference the stack is measured
against, so it favours being predictable over being clever. Pure functions do the math; the
``ExpertPlanner`` class holds the only state (the lane it is heading for).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from edge_autopilot.constants import (
    ACCEL_MAX_MPS2,
    ACCEL_MIN_NOMINAL_MPS2,
    EGO_REAR_AXLE_TO_FRONT_M,
    EGO_WIDTH_M,
    EMERGENCY_DECEL_MPS2,
)
from edge_autopilot.planning.types import (
    HORIZON_T_S,
    PREVIEW_S_M,
    ObjectList,
    PlanningInput,
    Trajectory,
)


@dataclass(frozen=True)
class ExpertParams:
    # IDM (Treiber et al. 2000) tuned a little more conservative than traffic-flow defaults
    idm_accel_mps2: float = 1.5
    idm_comfort_decel_mps2: float = 2.5
    time_headway_s: float = 1.6
    standstill_gap_m: float = 4.0
    # emergency layer: brake harder than nominal only when the required decel says so
    stop_margin_m: float = 2.0
    actuator_delay_s: float = 0.3
    emergency_gain: float = 1.25
    # comfort in curves (ISO 15622-style ACC limit is 2-3 m/s^2 lateral)
    curve_lat_accel_mps2: float = 2.0
    curve_decel_limit_mps2: float = 2.5
    # corridor for "is this object in my path"
    corridor_margin_m: float = 0.35
    prediction_horizon_s: float = 4.0
    # lateral planning
    lateral_time_constant_s: float = 1.1
    lateral_speed_max_mps: float = 1.1
    # lane choice
    slow_lead_margin_mps: float = 4.0
    lane_change_lookahead_m: float = 80.0
    gap_accept_front_s: float = 1.2
    gap_accept_rear_s: float = 2.0
    gap_accept_min_m: float = 8.0


_PRED_T_S = np.arange(0.0, 4.01, 0.25)
# the planned path's sample times with "now" in front, for interpolating it at _PRED_T_S
_PATH_T_S = np.concatenate(([0.0], HORIZON_T_S))
# distances over which the curve limit must be reached at each preview point, doubled
# (v^2 = u^2 + 2 a d); constant, so computed once, not every cycle
_TWO_CURVE_DIST_M = 2.0 * np.maximum(PREVIEW_S_M, 5.0)


@functools.lru_cache(maxsize=8)
def _lateral_shape(time_constant_s: float, speed_max_mps: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lateral_plan's constants for one parameter set: the exponential's decay over
    HORIZON_T_S and the rate limit's lower and upper bounds (read-only arrays)."""
    decay = np.exp(-HORIZON_T_S / time_constant_s)
    low = -speed_max_mps * HORIZON_T_S
    high = speed_max_mps * HORIZON_T_S
    for a in (decay, low, high):
        a.setflags(write=False)
    return decay, low, high


def idm_accel(speed_mps: float, set_speed_mps: float, gap_m: float, lead_speed_mps: float,
              p: ExpertParams) -> float:
    """Intelligent Driver Model acceleration toward the set speed behind a lead (gap may be inf)."""
    v0 = max(set_speed_mps, 0.1)
    free = 1.0 - (speed_mps / v0) ** 4
    if not math.isfinite(gap_m):
        return p.idm_accel_mps2 * free
    s_star = p.standstill_gap_m + max(
        0.0,
        speed_mps * p.time_headway_s
        + speed_mps * (speed_mps - lead_speed_mps)
        / (2.0 * math.sqrt(p.idm_accel_mps2 * p.idm_comfort_decel_mps2)),
    )
    return p.idm_accel_mps2 * (free - (s_star / max(gap_m, 0.1)) ** 2)


def required_decel(speed_mps: float, gap_m: float, lead_speed_mps: float,
                   lead_accel_mps2: float, p: ExpertParams) -> float:
    """Deceleration (positive number) that just avoids the lead, given it keeps its braking.

    Two cases (as in RSS-style longitudinal reasoning): the lead stops, so the ego must stop
    within gap + the lead's stopping distance; or the lead keeps moving, so the ego must shed
    the speed difference within the gap. The delay term stands for the actuator's lag.
    """
    closing = speed_mps - lead_speed_mps
    room = gap_m - p.stop_margin_m - max(closing, 0.0) * p.actuator_delay_s
    if room <= 0.1:
        return -EMERGENCY_DECEL_MPS2 if closing > -0.5 or speed_mps > 0.5 else 0.0
    if lead_accel_mps2 < -0.3 or lead_speed_mps < 0.5:
        lead_stop_m = lead_speed_mps**2 / (2.0 * max(-lead_accel_mps2, 0.3))
        need_stop = speed_mps**2 / (2.0 * (room + lead_stop_m))
    else:
        need_stop = 0.0
    need_match = closing**2 / (2.0 * room) if closing > 0.0 else 0.0
    return max(need_stop, need_match)


def curve_accel(speed_mps: float, curvature_1pm: np.ndarray, p: ExpertParams) -> float:
    """Acceleration that brings the speed under each previewed point's curve limit in time."""
    kappa = np.abs(curvature_1pm)
    limit = np.sqrt(p.curve_lat_accel_mps2 / np.maximum(kappa, 1e-6))
    accel = (limit**2 - speed_mps**2) / _TWO_CURVE_DIST_M
    return float(max(accel.min(), -p.curve_decel_limit_mps2))


def lateral_plan(offset_m: float, target_m: float, p: ExpertParams) -> np.ndarray:
    """Lateral offset over HORIZON_T_S: exponential approach to the target, rate-limited."""
    decay, low, high = _lateral_shape(p.lateral_time_constant_s, p.lateral_speed_max_mps)
    ideal = target_m + (offset_m - target_m) * decay
    step = np.clip(ideal - offset_m, low, high)
    return offset_m + step


def in_path_mask(objects: ObjectList, offset_now_m: float, path_offset_m: np.ndarray,
                 ego_speed_mps: float, p: ExpertParams) -> np.ndarray:
    """Objects ahead whose predicted lateral position meets the ego's corridor.

    Prediction is constant velocity over a few seconds, so a car cutting in or a pedestrian
    stepping out counts as soon as its motion says it will be in the way.
    """
    if objects.count == 0:
        return np.zeros(0, dtype=bool)
    path_t = np.interp(_PRED_T_S, _PATH_T_S, np.concatenate(([offset_now_m], path_offset_m)))
    mask = np.empty(objects.count, dtype=bool)
    _in_path(objects.s_rel_m, objects.d_m, objects.v_s_mps, objects.v_d_mps, objects.length_m,
             objects.width_m, path_t, ego_speed_mps, p.corridor_margin_m, _PRED_T_S, mask)
    return mask


@nb.njit(cache=True)
def _in_path(s_rel_m: np.ndarray, d_m: np.ndarray, v_s_mps: np.ndarray, v_d_mps: np.ndarray,
             length_m: np.ndarray, width_m: np.ndarray, path_t_m: np.ndarray,
             ego_speed_mps: float, corridor_margin_m: float, pred_t_s: np.ndarray,
             out: np.ndarray) -> None:
    """in_path_mask's object-by-time test in one pass (it was a dozen (n, 17) numpy
    temporaries every cycle). Each value is computed with the operations, in the order, of
    the numpy form ``_in_path_numpy`` (numba adds no fused multiply-add or reassociation
    without fastmath), so the mask is the same."""
    for i in range(s_rel_m.shape[0]):
        half = 0.5 * (width_m[i] + EGO_WIDTH_M) + corridor_margin_m
        half_len = 0.5 * length_m[i]
        hit = False
        if s_rel_m[i] + half_len > EGO_REAR_AXLE_TO_FRONT_M:  # ahead now
            for k in range(pred_t_s.shape[0]):
                t = pred_t_s[k]
                d_pred = d_m[i] + v_d_mps[i] * t
                s_obj = s_rel_m[i] + v_s_mps[i] * t
                s_ego_front = EGO_REAR_AXLE_TO_FRONT_M + ego_speed_mps * t
                if abs(d_pred - path_t_m[k]) < half and s_obj + half_len > s_ego_front - 0.5:
                    hit = True
                    break
        out[i] = hit


def _in_path_numpy(objects: ObjectList, path_t_m: np.ndarray, ego_speed_mps: float,
                   p: ExpertParams) -> np.ndarray:
    """The numpy form of _in_path, kept as the reference the kernel is tested against."""
    d_pred = objects.d_m[:, None] + objects.v_d_mps[:, None] * _PRED_T_S[None, :]
    half = 0.5 * (objects.width_m[:, None] + EGO_WIDTH_M) + p.corridor_margin_m
    overlap = np.abs(d_pred - path_t_m[None, :]) < half
    # only while the object is still ahead of the ego's front at that time
    s_obj = objects.s_rel_m[:, None] + objects.v_s_mps[:, None] * _PRED_T_S[None, :]
    s_ego_front = EGO_REAR_AXLE_TO_FRONT_M + ego_speed_mps * _PRED_T_S[None, :]
    ahead_now = objects.s_rel_m + 0.5 * objects.length_m > EGO_REAR_AXLE_TO_FRONT_M
    ahead = s_obj + 0.5 * objects.length_m[:, None] > s_ego_front - 0.5
    return ahead_now & (overlap & ahead).any(axis=1)


def gaps_m(objects: ObjectList) -> np.ndarray:
    """Bumper-to-bumper gap from the ego's front to each object's rear."""
    return objects.s_rel_m - 0.5 * objects.length_m - EGO_REAR_AXLE_TO_FRONT_M


@nb.njit(cache=True)
def _interp_like_numpy(x: np.ndarray, xp: np.ndarray, fp: np.ndarray, out: np.ndarray) -> None:
    """``np.interp(x, xp, fp)`` for increasing ``xp``, with the operations of numpy's C loop
    (end values outside, the slope of the bracketing pair, the exact value at a knot)."""
    n = xp.shape[0]
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            out[i] = v
        elif v > xp[n - 1]:
            out[i] = fp[n - 1]
        elif v < xp[0]:
            out[i] = fp[0]
        else:
            j = 0
            while j + 1 < n and xp[j + 1] <= v:
                j += 1
            if j == n - 1 or xp[j] == v:
                out[i] = fp[j]
            else:
                slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
                r = slope * (v - xp[j]) + fp[j]
                if r != r:  # numpy retries from the right knot, then takes a flat segment
                    r = slope * (v - xp[j + 1]) + fp[j + 1]
                    if r != r and fp[j] == fp[j + 1]:
                        r = fp[j]
                out[i] = r


@nb.njit(cache=True)
def _plan_arrays(offset_m: float, target_m: float, decay: np.ndarray, low: np.ndarray,
                 high: np.ndarray, s_rel_m: np.ndarray, d_m: np.ndarray, v_s_mps: np.ndarray,
                 v_d_mps: np.ndarray, length_m: np.ndarray, width_m: np.ndarray,
                 speed_mps: float, corridor_margin_m: float, curvature_1pm: np.ndarray,
                 curve_lat_accel_mps2: float, speed_sq: float, two_curve_dist_m: np.ndarray,
                 path_t_s: np.ndarray, pred_t_s: np.ndarray, lateral: np.ndarray,
                 knots: np.ndarray, path_t_m: np.ndarray, mask: np.ndarray, gap: np.ndarray
                 ) -> tuple[float, int, float]:
    """The planner's array work in one pass: lateral_plan into ``lateral``, the in-path test
    into ``mask``, gaps_m into ``gap``; returns (the lowest curve acceleration before its
    limit, the number of objects in the path, the smallest gap among them, inf if none).

    Each value is computed with the operations, in the order, of the numpy forms it replaces
    (lateral_plan, in_path_mask, gaps_m, curve_accel; tests hold them equal bit for bit):
    np.clip and np.maximum keep NaN as numpy does, ``**2`` on arrays is numpy's x * x, and
    ``speed_sq`` comes in computed by Python as the numpy form's scalar ``speed ** 2`` was."""
    for k in range(decay.shape[0]):
        ideal = target_m + (offset_m - target_m) * decay[k]
        step = ideal - offset_m
        step = step if (step != step or step > low[k]) else low[k]  # numpy's clip: max, then
        step = step if (step != step or step < high[k]) else high[k]  # min, NaN passes
        lateral[k] = offset_m + step
    n = s_rel_m.shape[0]
    in_path = 0
    lead_gap = np.inf
    if n:
        knots[0] = offset_m
        knots[1:] = lateral
        _interp_like_numpy(pred_t_s, path_t_s, knots, path_t_m)
        _in_path(s_rel_m, d_m, v_s_mps, v_d_mps, length_m, width_m, path_t_m, speed_mps,
                 corridor_margin_m, pred_t_s, mask)
        for i in range(n):
            gap[i] = s_rel_m[i] - 0.5 * length_m[i] - EGO_REAR_AXLE_TO_FRONT_M
            if mask[i]:
                g = gap[i]
                # numpy's min: the first value, then any smaller one; a NaN wins and stays
                if in_path == 0 or (lead_gap == lead_gap and (g != g or g < lead_gap)):
                    lead_gap = g
                in_path += 1
    curve_min = np.inf
    for k in range(curvature_1pm.shape[0]):
        kappa = abs(curvature_1pm[k])
        kappa = kappa if (kappa >= 1e-6 or kappa != kappa) else 1e-6  # np.maximum
        limit = math.sqrt(curve_lat_accel_mps2 / kappa)
        accel = (limit * limit - speed_sq) / two_curve_dist_m[k]
        if k == 0 or (curve_min == curve_min and (accel != accel or accel < curve_min)):
            curve_min = accel
    return curve_min, in_path, lead_gap


class ExpertPlanner:
    def __init__(self, params: ExpertParams | None = None) -> None:
        self.p = params or ExpertParams()
        self.target_lane: int | None = None
        self._origin_lane: int | None = None

    def reset(self) -> None:
        self.target_lane = None
        self._origin_lane = None

    def choose_lane(self, inp: PlanningInput) -> float:
        """The behaviour layer: which lane to drive in, as the offset of its centre from the
        current lane's centre. Rule-based on purpose; the networks take it as an input."""
        lane = inp.lane
        if self.target_lane is None or self.target_lane >= lane.lane_count:
            self.target_lane = lane.lane_index
        if inp.allow_lane_change:
            self._choose_lane(inp)
        return (self.target_lane - lane.lane_index) * lane.lane_width_m

    def plan(self, inp: PlanningInput) -> Trajectory:
        p, lane, ego, obj = self.p, inp.lane, inp.ego, inp.objects
        target_offset = self.choose_lane(inp)
        decay, low, high = _lateral_shape(p.lateral_time_constant_s, p.lateral_speed_max_mps)
        n = obj.count
        lateral = np.empty(decay.shape[0])
        mask = np.empty(n, dtype=np.bool_)
        gap = np.empty(n)
        speed = ego.speed_mps
        curve_min, in_path, lead_gap = _plan_arrays(
            lane.offset_m, target_offset, decay, low, high, obj.s_rel_m, obj.d_m, obj.v_s_mps,
            obj.v_d_mps, obj.length_m, obj.width_m, speed, p.corridor_margin_m,
            lane.curvature_1pm, p.curve_lat_accel_mps2, speed**2, _TWO_CURVE_DIST_M,
            _PATH_T_S, _PRED_T_S, lateral, np.empty(_PATH_T_S.shape[0]),
            np.empty(_PRED_T_S.shape[0]), mask, gap)
        accel = idm_accel(speed, inp.set_speed_mps, math.inf, 0.0, p)
        if in_path:
            for i in np.flatnonzero(mask):
                accel = min(accel, self._object_accel(speed, inp.set_speed_mps, float(gap[i]),
                                                      float(obj.v_s_mps[i]),
                                                      float(obj.a_s_mps2[i])))
        accel = min(accel, float(max(curve_min, -p.curve_decel_limit_mps2)))
        return self._finish(accel, speed, lead_gap, lateral)

    def _object_accel(self, speed: float, set_speed: float, gap: float, lead_speed: float,
                      lead_accel: float) -> float:
        """The acceleration one object in the path allows: IDM behind it, no gentler than
        nominal braking, harder when the emergency layer says it must."""
        p = self.p
        a_idm = idm_accel(speed, set_speed, gap, lead_speed, p)
        need = required_decel(speed, gap, lead_speed, lead_accel, p)
        a_obj = max(a_idm, ACCEL_MIN_NOMINAL_MPS2)
        if need > 0.5:
            a_obj = min(a_obj, -need * p.emergency_gain)
        return a_obj

    def _finish(self, accel: float, speed: float, lead_gap: float, lateral: np.ndarray
                ) -> Trajectory:
        if speed < 0.3 and lead_gap < self.p.standstill_gap_m + 2.0:
            accel = min(accel, -1.0)  # hold the brake at a standstill behind something
        accel = float(min(max(accel, EMERGENCY_DECEL_MPS2), ACCEL_MAX_MPS2))
        # held over the horizon: the expert replans every cycle, so only the first value acts
        profile = np.full(HORIZON_T_S.shape, accel)
        return Trajectory(accel_mps2=profile, lateral_offset_m=lateral, lead_gap_m=lead_gap)

    def _plan_numpy(self, inp: PlanningInput) -> Trajectory:
        """``plan`` in numpy, kept as the reference the kernel is tested against."""
        p, lane, ego, obj = self.p, inp.lane, inp.ego, inp.objects
        target_offset = self.choose_lane(inp)
        lateral = lateral_plan(lane.offset_m, target_offset, p)
        speed = ego.speed_mps
        accel = idm_accel(speed, inp.set_speed_mps, math.inf, 0.0, p)
        lead_gap = math.inf
        if obj.count:
            mask = in_path_mask(obj, lane.offset_m, lateral, speed, p)
            if mask.any():
                gap = gaps_m(obj)
                idx = np.flatnonzero(mask)
                for i in idx:
                    accel = min(accel, self._object_accel(speed, inp.set_speed_mps,
                                                          float(gap[i]), float(obj.v_s_mps[i]),
                                                          float(obj.a_s_mps2[i])))
                lead_gap = float(gap[idx].min())
        accel = min(accel, curve_accel(speed, lane.curvature_1pm, p))
        return self._finish(accel, speed, lead_gap, lateral)

    # --- lane choice --------------------------------------------------------------------
    def _choose_lane(self, inp: PlanningInput) -> None:
        lane, obj, p = inp.lane, inp.objects, self.p
        if self.target_lane is not None and self.target_lane != lane.lane_index:
            # a change is under way: while still in the original lane, give it up if the gap
            # in the target lane has closed (a faster car arrived from behind)
            if lane.lane_index == self._origin_lane:
                centre = (self.target_lane - lane.lane_index) * lane.lane_width_m
                if not _gap_acceptable(obj, centre, lane.lane_width_m, inp.ego.speed_mps, p):
                    self.target_lane = lane.lane_index
            return
        if abs(lane.offset_m) > 0.5:
            return  # still settling into the lane
        current = _lane_lead(obj, 0.0, lane.lane_width_m)
        if current is None:
            return
        gap, lead_speed = current
        slow = lead_speed < inp.set_speed_mps - p.slow_lead_margin_mps
        if not (slow and gap < p.lane_change_lookahead_m):
            return
        for step in (1, -1):  # pass on the left first
            cand = lane.lane_index + step
            if not 0 <= cand < lane.lane_count:
                continue
            centre = step * lane.lane_width_m
            if not _gap_acceptable(obj, centre, lane.lane_width_m, inp.ego.speed_mps, p):
                continue
            other = _lane_lead(obj, centre, lane.lane_width_m)
            if other is None or (other[1] > lead_speed + 2.0 and other[0] > gap):
                self.target_lane = cand
                self._origin_lane = lane.lane_index
                return


def _lane_mask(obj: ObjectList, centre_m: float, lane_width_m: float) -> np.ndarray:
    return np.abs(obj.d_m - centre_m) < 0.5 * (lane_width_m + obj.width_m) - 0.3


def _lane_lead(obj: ObjectList, centre_m: float, lane_width_m: float) -> tuple[float, float] | None:
    if obj.count == 0:
        return None
    gap = gaps_m(obj)
    mask = _lane_mask(obj, centre_m, lane_width_m) & (gap > -0.5)
    if not mask.any():
        return None
    i = int(np.flatnonzero(mask)[np.argmin(gap[mask])])
    return float(gap[i]), float(obj.v_s_mps[i])


def _gap_acceptable(obj: ObjectList, centre_m: float, lane_width_m: float, speed_mps: float,
                    p: ExpertParams) -> bool:
    if obj.count == 0:
        return True
    mask = _lane_mask(obj, centre_m, lane_width_m)
    if not mask.any():
        return True
    front_gap = gaps_m(obj)[mask]
    rear_gap = (-(obj.s_rel_m[mask] + 0.5 * obj.length_m[mask]) - 0.95)  # behind our rear
    closing_rear = obj.v_s_mps[mask] - speed_mps
    need_front = np.maximum(p.gap_accept_min_m, p.gap_accept_front_s * speed_mps)
    need_rear = np.maximum(p.gap_accept_min_m, p.gap_accept_rear_s * np.maximum(closing_rear, 0)
                           + 5.0)
    ahead = obj.s_rel_m[mask] > 0.0
    ok = np.where(ahead, front_gap > need_front, rear_gap > need_rear)
    return bool(ok.all())
