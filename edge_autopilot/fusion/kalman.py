"""Kalman filter kernels for many tracks at once (numba).

State per track: [x, y, vx, vy] in the odometry frame (world-fixed, so the ego's own motion
needs no compensation inside the filter), constant-velocity model with white-noise
acceleration (Bar-Shalom, "Estimation with Applications to Tracking and Navigation", 6.3.2).
Measurements are linear in the state: position [x, y], and radar Doppler, which is the
line-of-sight unit vector u times (v_target - v_radar): a row [0, 0, ux, uy] with the radar's
own velocity moved to the measurement side.
"""

from __future__ import annotations

import numba as nb
import numpy as np

STATE_DIM = 4


@nb.njit(cache=True)
def predict_cv(x: np.ndarray, p: np.ndarray, n: int, dt: np.ndarray, accel_psd: float) -> None:
    """Propagate the first ``n`` tracks in place, track i by ``dt[i]`` seconds (<= 0: no-op)."""
    for i in range(n):
        d = dt[i]
        if d <= 0.0:
            continue
        d2 = d * d
        q_pp = accel_psd * d2 * d / 3.0
        q_pv = accel_psd * d2 / 2.0
        q_vv = accel_psd * d
        x[i, 0] += d * x[i, 2]
        x[i, 1] += d * x[i, 3]
        # P <- F P F^T + Q with F = [[I, d I], [0, I]]: first rows (P F^T), then columns
        for a in range(4):
            p[i, a, 0] += d * p[i, a, 2]
            p[i, a, 1] += d * p[i, a, 3]
        for b in range(4):
            p[i, 0, b] += d * p[i, 2, b]
            p[i, 1, b] += d * p[i, 3, b]
        for a in range(2):
            p[i, a, a] += q_pp
            p[i, a, a + 2] += q_pv
            p[i, a + 2, a] += q_pv
            p[i, a + 2, a + 2] += q_vv


@nb.njit(cache=True)
def _innovation(x: np.ndarray, p: np.ndarray, z: np.ndarray, h: np.ndarray, r: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Innovation y, its covariance S and P H^T for one track and one measurement."""
    pht = p @ h.T
    s = h @ pht + r
    y = z - h @ x
    return y, s, pht


@nb.njit(cache=True)
def mahalanobis_sq(x: np.ndarray, p: np.ndarray, z: np.ndarray, h: np.ndarray,
                   r: np.ndarray) -> float:
    y, s, _ = _innovation(x, p, z, h, r)
    return float(y @ np.linalg.solve(s, y))


@nb.njit(cache=True)
def cost_matrix(x: np.ndarray, p: np.ndarray, n_tracks: int, z: np.ndarray, h: np.ndarray,
                r: np.ndarray, gate: float, out: np.ndarray) -> None:
    """Squared Mahalanobis distance of every (track, measurement) pair; inf outside the gate.

    ``z`` (m, k), ``h`` (m, k, 4), ``r`` (m, k, k): each measurement its own model.
    """
    for i in range(n_tracks):
        for j in range(z.shape[0]):
            # cheap Euclidean pre-gate before the matrix work
            dx = z[j, 0] - x[i, 0]
            dy = z[j, 1] - x[i, 1]
            if dx * dx + dy * dy > 100.0:
                out[i, j] = np.inf
                continue
            d2 = mahalanobis_sq(x[i], p[i], z[j], h[j], r[j])
            out[i, j] = d2 if d2 < gate else np.inf


@nb.njit(cache=True)
def update(x: np.ndarray, p: np.ndarray, i: int, z: np.ndarray, h: np.ndarray,
           r: np.ndarray) -> None:
    """Kalman update of track ``i`` with one measurement (Joseph form keeps P symmetric PD)."""
    y, s, pht = _innovation(x[i], p[i], z, h, r)
    k = pht @ np.linalg.inv(s)
    x[i] += k @ y
    ikh = np.eye(STATE_DIM) - k @ h
    p[i] = ikh @ p[i] @ ikh.T + k @ r @ k.T


@nb.njit(cache=True)
def greedy_assign(cost: np.ndarray, n_tracks: int, n_meas: int, track_of: np.ndarray) -> None:
    """Global-nearest-neighbour by greedy cheapest-pair-first: ``track_of[j]`` or -1.

    Greedy is within a few percent of the optimal assignment when gates are tight, and runs in
    O(n m log(n m)) with no allocation per pair (Blackman & Popoli 1999, 6.5).
    """
    for j in range(n_meas):
        track_of[j] = -1
    if n_tracks == 0 or n_meas == 0:
        return
    flat = cost[:n_tracks, :n_meas].ravel()
    order = np.argsort(flat)
    used_track = np.zeros(n_tracks, dtype=np.bool_)
    for q in order:
        c = flat[q]
        if not np.isfinite(c):
            break
        i, j = q // n_meas, q % n_meas
        if used_track[i] or track_of[j] >= 0:
            continue
        used_track[i] = True
        track_of[j] = i
