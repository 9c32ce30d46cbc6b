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
    hits: np.ndarray

    @property
    def count(self) -> int:
        return int(self.x_m.shape[0])


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
        self.confirmed = np.zeros(cap, dtype=bool)
        self.n = 0
        self._next_id = 1
        self._cost = np.empty((cap, 256))
        self._assign = np.empty(256, dtype=np.int64)
        self.dropped_births = 0

    # --- per batch --------------------------------------------------------------------------
    def _predict_to(self, t_ns: int) -> None:
        n = self.n
        dt = (t_ns - self.t_ns[:n]) / 1e9
        # a measurement older than a track's state updates it as it is (no retrodiction)
        predict_cv(self.x, self.cov, n, dt, self.p.accel_psd)
        self.t_ns[:n] = np.maximum(self.t_ns[:n], t_ns)

    def process(self, batch: MeasurementBatch) -> None:
        """Associate one sensor's measurements with the tracks and update them."""
        m = batch.count
        if m == 0:
            return
        if m > self._cost.shape[1]:
            self._cost = np.empty((self.p.capacity, m))
            self._assign = np.empty(m, dtype=np.int64)
        self.prune(batch.stamp_ns)
        self._predict_to(batch.stamp_ns)
        gate = GATE_CHI2[batch.z.shape[1]]
        cost = self._cost
        cost_matrix(self.x, self.cov, self.n, batch.z, batch.h, batch.r, gate, cost)
        greedy_assign(cost, self.n, m, self._assign)
        for j in range(m):
            i = int(self._assign[j])
            if i >= 0:
                update(self.x, self.cov, i, batch.z[j], batch.h[j], batch.r[j])
                self.hits[i] += 1
                self.last_update_ns[i] = batch.stamp_ns
        self._confirm()
        for j in np.flatnonzero(self._assign[:m] < 0):
            self._birth(batch, int(j))

    def _confirm(self) -> None:
        n = self.n
        self.confirmed[:n] |= self.hits[:n] >= self.p.confirm_hits

    def _birth(self, batch: MeasurementBatch, j: int) -> None:
        if self.n >= self.p.capacity:
            self.dropped_births += 1
            return
        i = self.n
        self.n += 1
        self.x[i] = 0.0
        self.x[i, :2] = batch.z[j, :2]
        self.cov[i] = 0.0
        self.cov[i, :2, :2] = batch.r[j, :2, :2]
        v0 = self.p.initial_speed_std_mps**2
        self.cov[i, 2, 2] = self.cov[i, 3, 3] = v0
        if batch.z.shape[1] == 3:
            # radar Doppler already pins the velocity along the line of sight
            u = batch.h[j, 2, 2:]
            self.x[i, 2:] = u * batch.z[j, 2]
            across = np.array([-u[1], u[0]])
            self.cov[i, 2:, 2:] = batch.r[j, 2, 2] * np.outer(u, u) + v0 * np.outer(across,
                                                                                  across)
        self.t_ns[i] = batch.stamp_ns
        self.last_update_ns[i] = batch.stamp_ns
        self.ids[i] = self._next_id
        self._next_id += 1
        self.hits[i] = 1
        self.born_ns[i] = batch.stamp_ns
        self.confirmed[i] = False

    def prune(self, now_ns: int) -> None:
        """Drop stale, unconfirmable and too-uncertain tracks (compacting the arrays)."""
        n = self.n
        if n == 0:
            return
        age_s = (now_ns - self.last_update_ns[:n]) / 1e9
        pos_var = self.cov[:n, 0, 0] + self.cov[:n, 1, 1]
        keep = (age_s <= self.p.delete_after_s) & \
            (pos_var <= 2.0 * self.p.max_position_std_m**2) & \
            (self.confirmed[:n] | ((now_ns - self.born_ns[:n]) / 1e9 <= self.p.confirm_window_s))
        idx = np.flatnonzero(keep)
        k = idx.shape[0]
        if k == n:
            return
        for arr in (self.x, self.cov, self.t_ns, self.last_update_ns, self.ids, self.hits,
                    self.born_ns, self.confirmed):
            arr[:k] = arr[idx]
        self.n = k

    # --- output -------------------------------------------------------------------------------
    def tracks(self, now_ns: int, pose: Pose2D) -> TrackList:
        """Confirmed tracks predicted to ``now_ns``, in the vehicle frame of ``pose``."""
        self.prune(now_ns)
        sel = np.flatnonzero(self.confirmed[: self.n])
        x = self.x[sel].copy()
        cov = self.cov[sel].copy()
        dt = (now_ns - self.t_ns[sel]) / 1e9
        predict_cv(x, cov, sel.shape[0], dt, self.p.accel_psd)
        c, s = math.cos(pose.yaw_rad), math.sin(pose.yaw_rad)
        dx, dy = x[:, 0] - pose.x_m, x[:, 1] - pose.y_m
        return TrackList(
            stamp_ns=now_ns,
            track_id=self.ids[sel].copy(),
            x_m=c * dx + s * dy,
            y_m=-s * dx + c * dy,
            vx_mps=c * x[:, 2] + s * x[:, 3],
            vy_mps=-s * x[:, 2] + c * x[:, 3],
            pos_std_m=np.sqrt(0.5 * (cov[:, 0, 0] + cov[:, 1, 1])),
            hits=self.hits[sel].copy(),
        )
