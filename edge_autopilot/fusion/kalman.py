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


@nb.njit(cache=True, inline="always")
def _invert_sym(s: np.ndarray, k: int, out: np.ndarray) -> bool:
    """Inverse of a symmetric 2x2 or 3x3 matrix into ``out``, closed form (no LAPACK call,
    no allocation); False when it is singular."""
    if k == 2:
        det = s[0, 0] * s[1, 1] - s[0, 1] * s[1, 0]
        if det <= 0.0:
            return False
        out[0, 0] = s[1, 1] / det
        out[1, 1] = s[0, 0] / det
        out[0, 1] = out[1, 0] = -s[0, 1] / det
        return True
    a, b, c = s[0, 0], s[0, 1], s[0, 2]
    d, e, f = s[1, 1], s[1, 2], s[2, 2]
    c00 = d * f - e * e
    c01 = c * e - b * f
    c02 = b * e - c * d
    det = a * c00 + b * c01 + c * c02
    if det <= 0.0:
        return False
    out[0, 0] = c00 / det
    out[0, 1] = out[1, 0] = c01 / det
    out[0, 2] = out[2, 0] = c02 / det
    out[1, 1] = (a * f - c * c) / det
    out[1, 2] = out[2, 1] = (b * c - a * e) / det
    out[2, 2] = (a * d - b * b) / det
    return True


@nb.njit(cache=True, inline="always")
def _innovation(x: np.ndarray, p: np.ndarray, z: np.ndarray, h: np.ndarray, r: np.ndarray,
                k: int, y: np.ndarray, pht: np.ndarray, s: np.ndarray) -> None:
    """Innovation y = z - Hx, P H^T (4 x k) and S = H P H^T + R (k x k), into scratch."""
    for a in range(k):
        acc = z[a]
        for b in range(4):
            acc -= h[a, b] * x[b]
        y[a] = acc
    for a in range(4):
        for c in range(k):
            acc = 0.0
            for b in range(4):
                acc += p[a, b] * h[c, b]
            pht[a, c] = acc
    for a in range(k):
        for c in range(k):
            acc = r[a, c]
            for b in range(4):
                acc += h[a, b] * pht[b, c]
            s[a, c] = acc


@nb.njit(cache=True)
def cost_matrix(x: np.ndarray, p: np.ndarray, n_tracks: int, z: np.ndarray, h: np.ndarray,
                r: np.ndarray, gate: float, out: np.ndarray) -> None:
    """Squared Mahalanobis distance of every (track, measurement) pair; inf outside the gate.

    ``z`` (m, k), ``h`` (m, k, 4), ``r`` (m, k, k): each measurement its own model.
    """
    k = z.shape[1]
    y = np.empty(3)
    pht = np.empty((4, 3))
    s = np.empty((3, 3))
    s_inv = np.empty((3, 3))
    for i in range(n_tracks):
        for j in range(z.shape[0]):
            # cheap Euclidean pre-gate before the matrix work
            dx = z[j, 0] - x[i, 0]
            dy = z[j, 1] - x[i, 1]
            if dx * dx + dy * dy > 100.0:
                out[i, j] = np.inf
                continue
            _innovation(x[i], p[i], z[j], h[j], r[j], k, y, pht, s)
            if not _invert_sym(s, k, s_inv):
                out[i, j] = np.inf
                continue
            d2 = 0.0
            for a in range(k):
                for b in range(k):
                    d2 += y[a] * s_inv[a, b] * y[b]
            out[i, j] = d2 if d2 < gate else np.inf


@nb.njit(cache=True)
def update(x: np.ndarray, p: np.ndarray, i: int, z: np.ndarray, h: np.ndarray,
           r: np.ndarray) -> None:
    """Kalman update of track ``i`` with one measurement: x += K y, P -= K S K^T."""
    k = z.shape[0]
    y = np.empty(3)
    pht = np.empty((4, 3))
    s = np.empty((3, 3))
    s_inv = np.empty((3, 3))
    gain = np.empty((4, 3))
    _innovation(x[i], p[i], z, h, r, k, y, pht, s)
    if not _invert_sym(s, k, s_inv):
        return
    for a in range(4):
        for c in range(k):
            acc = 0.0
            for b in range(k):
                acc += pht[a, b] * s_inv[b, c]
            gain[a, c] = acc
    for a in range(4):
        acc = 0.0
        for c in range(k):
            acc += gain[a, c] * y[c]
        x[i, a] += acc
    # P - K (P H^T)^T, symmetrised: the subtraction form, kept symmetric PD by averaging
    for a in range(4):
        for b in range(4):
            acc = 0.0
            for c in range(k):
                acc += gain[a, c] * pht[b, c]
            p[i, a, b] -= acc
    for a in range(4):
        for b in range(a + 1, 4):
            m = 0.5 * (p[i, a, b] + p[i, b, a])
            p[i, a, b] = m
            p[i, b, a] = m


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
