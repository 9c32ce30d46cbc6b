"""Multi-object tracker: gating, global-nearest-neighbour association, a constant-velocity
Kalman filter per track, and M-of-N track management.

Track life: a measurement no track claims starts a tentative track; it is confirmed after
``confirm_hits`` updates and deleted when it is still unconfirmed after ``confirm_window_s``,
when it has gone ``delete_after_s`` without an update, or when its position uncertainty grows
past ``max_position_std_m``. State arrays are preallocated for ``capacity`` tracks; the numba
kernels in ``kalman.py`` do the per-track math.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from edge_autopilot.fusion.kalman import cost_matrix, greedy_assign, predict_cv, update
from edge_autopilot.fusion.measurements import MeasurementBatch, Pose2D

# chi-square 99 % gates for 2 and 3 degrees of freedom
GATE_CHI2 = {2: 9.21, 3: 11.34}


@dataclass(frozen=True)
class TrackerParams:
    capacity: int = 64
    accel_psd: float = 2.0  # (m/s^2)^2 / Hz: road users that brake and turn
    initial_speed_std_mps: float = 6.0
    confirm_hits: int = 4
    confirm_window_s: float = 0.4
    delete_after_s: float = 0.6
    max_position_std_m: float = 6.0
    # a measurement no track claims but this close to a track is another part of the same
    # (extended) object, e.g. a truck's side seen by the radar: it starts no new track
    birth_exclusion_m: float = 4.0
    # two confirmed tracks this close with similar velocity are one object: the younger goes
    merge_distance_m: float = 2.0
    merge_speed_diff_mps: float = 2.0


@dataclass(slots=True)
class TrackList:
    """Confirmed tracks in the vehicle frame at one instant (parallel arrays)."""

    stamp_ns: int
    track_id: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    vx_mps: np.ndarray  # world-frame velocity expressed in vehicle axes (not relative)
    vy_mps: np.ndarray
    pos_std_m: np.ndarray
    vel_std_mps: np.ndarray  # RMS of the two velocity components' standard deviations
    hits: np.ndarray

    @property
    def count(self) -> int:
        return int(self.x_m.shape[0])


@nb.njit(cache=True)
def _prune(x, cov, t_ns, last_ns, ids, hits, born_ns, confirmed, n, now_ns, delete_after_ns,
           max_pos_var, confirm_window_ns, merge_d, merge_dv):  # pragma: no cover - kernel
    """Drop stale, unconfirmable, too-uncertain and duplicate tracks; returns the new count."""
    keep = np.ones(n, dtype=np.bool_)
    for i in range(n):
        stale = now_ns - last_ns[i] > delete_after_ns
        lost = cov[i, 0, 0] + cov[i, 1, 1] > max_pos_var
        unconfirmable = not confirmed[i] and now_ns - born_ns[i] > confirm_window_ns
        keep[i] = not (stale or lost or unconfirmable)
    # a confirmed track that shadows an older confirmed one is the same object
    for i in range(n):
        if not keep[i] or not confirmed[i]:
            continue
        for j in range(n):
            if j == i or not keep[j] or not confirmed[j] or ids[j] > ids[i]:
                continue
            dx, dy = x[i, 0] - x[j, 0], x[i, 1] - x[j, 1]
            dvx, dvy = x[i, 2] - x[j, 2], x[i, 3] - x[j, 3]
            close = dx * dx + dy * dy < merge_d * merge_d
            if close and dvx * dvx + dvy * dvy < merge_dv * merge_dv:
                keep[i] = False
                break
    k = 0
    for i in range(n):
        if keep[i]:
            if k != i:
                x[k] = x[i]
                cov[k] = cov[i]
                t_ns[k] = t_ns[i]
                last_ns[k] = last_ns[i]
                ids[k] = ids[i]
                hits[k] = hits[i]
                born_ns[k] = born_ns[i]
                confirmed[k] = confirmed[i]
            k += 1
    return k


@nb.njit(cache=True)
def _process(x, cov, t_ns, last_ns, ids, hits, born_ns, confirmed, n, next_id, z, h, r,
             stamp_ns, gate, accel_psd, v0_var, confirm_hits, birth_exclusion, births, cost,
             assign):  # pragma: no cover - kernel
    """Predict, associate, update and give birth for one batch; returns (n, next_id, dropped)."""
    m = z.shape[0]
    dt = np.empty(n)
    for i in range(n):
        dt[i] = (stamp_ns - t_ns[i]) / 1e9
        if stamp_ns > t_ns[i]:
            t_ns[i] = stamp_ns
    # a measurement older than a track's state updates it as it is (no retrodiction)
    predict_cv(x, cov, n, dt, accel_psd)
    cost_matrix(x, cov, n, z, h, r, gate, cost)
    greedy_assign(cost, n, m, assign)
    for j in range(m):
        i = assign[j]
        if i >= 0:
            update(x, cov, i, z[j], h[j], r[j])
            hits[i] += 1
            last_ns[i] = stamp_ns
            if hits[i] >= confirm_hits:
                confirmed[i] = True
    n_before = n
    dropped = 0
    cap = x.shape[0]
    for j in range(m):
        if assign[j] >= 0 or not births:
            continue
        near = False
        for i in range(n_before):
            dx, dy = x[i, 0] - z[j, 0], x[i, 1] - z[j, 1]
            if dx * dx + dy * dy < birth_exclusion * birth_exclusion:
                near = True
                break
        if near:
            continue
        if n >= cap:
            dropped += 1
            continue
        i = n
        n += 1
        x[i, :] = 0.0
        x[i, 0], x[i, 1] = z[j, 0], z[j, 1]
        cov[i, :, :] = 0.0
        cov[i, :2, :2] = r[j, :2, :2]
        cov[i, 2, 2] = v0_var
        cov[i, 3, 3] = v0_var
        if z.shape[1] == 3:
            # radar Doppler already pins the velocity along the line of sight
            ux, uy = h[j, 2, 2], h[j, 2, 3]
            x[i, 2], x[i, 3] = ux * z[j, 2], uy * z[j, 2]
            rd = r[j, 2, 2]
            cov[i, 2, 2] = rd * ux * ux + v0_var * uy * uy
            cov[i, 3, 3] = rd * uy * uy + v0_var * ux * ux
            cov[i, 2, 3] = cov[i, 3, 2] = (rd - v0_var) * ux * uy
        t_ns[i] = stamp_ns
        last_ns[i] = stamp_ns
        born_ns[i] = stamp_ns
        ids[i] = next_id
        next_id += 1
        hits[i] = 1
        confirmed[i] = False
    return n, next_id, dropped


class Tracker:
    def __init__(self, params: TrackerParams | None = None) -> None:
        self.p = params or TrackerParams()
        cap = self.p.capacity
        self.x = np.zeros((cap, 4))
        self.cov = np.zeros((cap, 4, 4))
        self.t_ns = np.zeros(cap, dtype=np.int64)
        self.last_update_ns = np.zeros(cap, dtype=np.int64)
        self.ids = np.zeros(cap, dtype=np.int64)
        self.hits = np.zeros(cap, dtype=np.int64)
        self.born_ns = np.zeros(cap, dtype=np.int64)
        self.confirmed = np.zeros(cap, dtype=np.bool_)
        self.n = 0
        self._next_id = 1
        self._cost = np.empty((cap, 64))
        self._assign = np.empty(64, dtype=np.int64)
        self.dropped_births = 0
        self._out = np.empty((cap, 7))
        self._out_cov = np.empty((cap, 4, 4))

    def _state(self) -> tuple[np.ndarray, ...]:
        return (self.x, self.cov, self.t_ns, self.last_update_ns, self.ids, self.hits,
                self.born_ns, self.confirmed)

    def prune(self, now_ns: int) -> None:
        """Drop stale, unconfirmable, too-uncertain and duplicate tracks."""
        p = self.p
        self.n = _prune(*self._state(), self.n, now_ns, int(p.delete_after_s * 1e9),
                        2.0 * p.max_position_std_m**2, int(p.confirm_window_s * 1e9),
                        p.merge_distance_m, p.merge_speed_diff_mps)

    def process(self, batch: MeasurementBatch) -> None:
        """Associate one sensor's measurements with the tracks and update them."""
        m = batch.count
        if m == 0:
            return
        if m > self._cost.shape[1]:
            self._cost = np.empty((self.p.capacity, m))
            self._assign = np.empty(m, dtype=np.int64)
        self.prune(batch.stamp_ns)
        p = self.p
        self.n, self._next_id, dropped = _process(
            *self._state(), self.n, self._next_id, batch.z, batch.h, batch.r, batch.stamp_ns,
            GATE_CHI2[batch.z.shape[1]], p.accel_psd, p.initial_speed_std_mps**2,
            p.confirm_hits, p.birth_exclusion_m, batch.births, self._cost, self._assign)
        self.dropped_births += dropped

    # --- output -------------------------------------------------------------------------------
    def tracks(self, now_ns: int, pose: Pose2D) -> TrackList:
        """Confirmed tracks predicted to ``now_ns``, in the vehicle frame of ``pose``.

        The arrays are views of a buffer the next call overwrites: copy what must be kept.
        """
        self.prune(now_ns)
        k = _output(self.x, self.cov, self.t_ns, self.confirmed, self.n, now_ns,
                    self.p.accel_psd, pose.x_m, pose.y_m, pose.yaw_rad, self._out,
                    self._out_cov)
        o = self._out
        idx = o[:k, 0].astype(np.int64)
        return TrackList(
            stamp_ns=now_ns,
            track_id=self.ids[idx],
            x_m=o[:k, 1],
            y_m=o[:k, 2],
            vx_mps=o[:k, 3],
            vy_mps=o[:k, 4],
            pos_std_m=o[:k, 5],
            vel_std_mps=o[:k, 6],
            hits=self.hits[idx],
        )


@nb.njit(cache=True)
def _output(x, cov, t_ns, confirmed, n, now_ns, accel_psd, px, py, pyaw, out, scratch_cov
            ):  # pragma: no cover - kernel
    """Rows (track index, x, y, vx, vy, pos_std, vel_std) of confirmed tracks, predicted to
    ``now_ns`` and in the vehicle frame; returns the row count."""
    c, s = math.cos(pyaw), math.sin(pyaw)
    k = 0
    one = np.empty((1, 4))
    one_cov = scratch_cov[:1]
    dt = np.empty(1)
    for i in range(n):
        if not confirmed[i]:
            continue
        one[0] = x[i]
        one_cov[0] = cov[i]
        dt[0] = (now_ns - t_ns[i]) / 1e9
        predict_cv(one, one_cov, 1, dt, accel_psd)
        dx, dy = one[0, 0] - px, one[0, 1] - py
        out[k, 0] = i  # index; the caller maps it to id and hits
        out[k, 1] = c * dx + s * dy
        out[k, 2] = -s * dx + c * dy
        out[k, 3] = c * one[0, 2] + s * one[0, 3]
        out[k, 4] = -s * one[0, 2] + c * one[0, 3]
        out[k, 5] = math.sqrt(0.5 * (one_cov[0, 0, 0] + one_cov[0, 1, 1]))
        out[k, 6] = math.sqrt(0.5 * (one_cov[0, 2, 2] + one_cov[0, 3, 3]))
        k += 1
    return k
