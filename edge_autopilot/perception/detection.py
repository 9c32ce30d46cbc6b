"""Camera object detections: the perception network's contract and its decoding.

The network (CenterNet-style, Zhou et al., "Objects as Points", 2019) takes the camera frames
as they arrive, a uint8 batch ``images`` [B, 96, 160, 3] (NHWC, RGB), and returns on a grid of
stride 4 (24 x 40 cells):

- ``heatmap``   [B, 5, 24, 40]: per ActorKind, the probability that an object's label point
  falls in the cell (sigmoid applied inside the network);
- ``offset``    [B, 2, 24, 40]: where in the cell, (column, row) in cells, 0..1;
- ``log_depth`` [B, 1, 24, 40]: ln(depth_m / fx_px), depth along the optical axis.

The label point of an object is its reference point (the point of its ground footprint
nearest the camera: what radar sees too, and what the tracker tracks) lifted to half the
object's height. Depth is regressed divided by the focal length because that is what the image
shows (apparent size and height above the horizon scale with fx / depth), so one network
serves cameras of different fields of view without being told which camera a frame is from.

Decoding turns peaks into positions in the vehicle frame: the pixel gives the ray through the
calibration (pitch included), the depth its length. numpy and one numba kernel (the peak search
and the gathers at the peaks); no torch, no simulator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import CameraCalibration

# --- the network's contract (shared by training and runtime) ---------------------------------
INPUT_HEIGHT_PX = 96
INPUT_WIDTH_PX = 160
INPUT_CHANNELS = 3
STRIDE_PX = 4
GRID_HEIGHT = INPUT_HEIGHT_PX // STRIDE_PX
GRID_WIDTH = INPUT_WIDTH_PX // STRIDE_PX
# heatmap channel c is ActorKind c (edge_autopilot.sim.truth; the stack does not import sim)
CLASS_NAMES: tuple[str, ...] = ("car", "truck", "pedestrian", "cyclist", "static")
NUM_CLASSES = len(CLASS_NAMES)
# class groups for metrics and for consumers that need less detail than the kind
CLASS_GROUPS: dict[str, tuple[int, ...]] = {"vehicle": (0, 1), "vulnerable": (2, 3),
                                            "static": (4,)}
INPUT_NAME = "images"
HEATMAP_NAME = "heatmap"
OFFSET_NAME = "offset"
LOG_DEPTH_NAME = "log_depth"
OUTPUT_NAMES: tuple[str, ...] = (HEATMAP_NAME, OFFSET_NAME, LOG_DEPTH_NAME)
MAX_RANGE_M = 80.0  # objects are labelled (and trusted) out to this horizontal range
DEFAULT_SCORE_THRESHOLD = 0.3
# A near object spans many cells and can raise several peaks; of detections of one camera this
# close together in the vehicle frame (m, or this share of their range), the strongest stays.
NMS_MIN_M = 1.5
NMS_RANGE_FRAC = 0.05
# Position uncertainty of a detection, along and across its bearing. Depth: from the shipped
# network's held-out range error (mean 3.5 % of range, metrics.perception in the manifest),
# rounded up. Bearing: not yet measured; about a pixel of the wide side cameras.
DEPTH_STD_FRAC = 0.06
DEPTH_STD_MIN_M = 0.3
BEARING_STD_RAD = math.radians(0.5)
ACROSS_STD_MIN_M = 0.15


@dataclass(slots=True)
class CameraDetections:
    """n detections from a batch of frames; camera is the frame's index in the batch.

    x_m, y_m: the object's reference point in the vehicle frame. range_m and bearing_rad are
    horizontal, from the camera's mount, with the bearing measured in the vehicle frame
    (0 = forward, positive to the left). std_along_m / std_across_m: 1-sigma position
    uncertainty along and across the bearing (depth is the weak direction)."""

    camera: np.ndarray  # int32
    class_id: np.ndarray  # int32, an ActorKind value
    confidence: np.ndarray  # float32, 0..1
    x_m: np.ndarray
    y_m: np.ndarray
    range_m: np.ndarray
    bearing_rad: np.ndarray
    std_along_m: np.ndarray
    std_across_m: np.ndarray
    u_px: np.ndarray  # where in the image (column, row; pixel i spans [i, i + 1))
    v_px: np.ndarray

    @property
    def count(self) -> int:
        return int(self.x_m.shape[0])

    @classmethod
    def empty(cls) -> CameraDetections:
        i, f = np.zeros(0, np.int32), np.zeros(0)
        return cls(i, i.copy(), np.zeros(0, np.float32), f, f.copy(), f.copy(), f.copy(),
                   f.copy(), f.copy(), f.copy(), f.copy())

    def select(self, keep: np.ndarray) -> CameraDetections:
        """The detections where ``keep`` (a mask or indices) says so."""
        return CameraDetections(*(getattr(self, name)[keep] for name in self.__slots__))


@functools.lru_cache(maxsize=16)
def camera_params(calibrations: tuple[CameraCalibration, ...]) -> np.ndarray:
    """(n, 10) per camera: fx, fy, cx, cy, cos yaw, sin yaw, cos pitch, sin pitch, mount x,
    mount y. Cached (calibrations are frozen), so decoding a cycle computes none of it."""
    out = np.empty((len(calibrations), 10))
    for k, c in enumerate(calibrations):
        out[k] = (c.fx_px, c.fy_px, c.cx_px, c.cy_px, math.cos(c.yaw_rad), math.sin(c.yaw_rad),
                  math.cos(c.pitch_rad), math.sin(c.pitch_rad), c.x_m, c.y_m)
    out.setflags(write=False)
    return out


def pixel_to_vehicle(params: np.ndarray, u_px: np.ndarray, v_px: np.ndarray,
                     depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal offset (dx, dy) in the vehicle frame from the camera mount to the point at
    optical-axis depth ``depth_m`` seen at pixel (u, v); ``params`` rows from camera_params.

    Camera frame: x forward, y left, z up, so the ray through (u, v) is (1, a, b) with
    a = -(u - cx) / fx and b = -(v - cy) / fy; pitch (down) then yaw take it to the vehicle
    frame, as the renderer does."""
    fx, fy, cx, cy, cyaw, syaw, cp, sp = (params[:, k] for k in range(8))
    a = -(u_px - cx) / fx
    b = -(v_px - cy) / fy
    fwd = cp + sp * b  # the ray's forward component after pitch (its vertical one is unused)
    dx = depth_m * (cyaw * fwd - syaw * a)
    dy = depth_m * (syaw * fwd + cyaw * a)
    return dx, dy


def _peaks(heat: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    """(batch, row, column) of cells that are the maximum of their 3x3 neighbourhood and at
    least ``threshold``; ``heat`` is (B, H, W). Shifted maxima, no per-pixel Python."""
    b, h, w = heat.shape
    padded = np.full((b, h + 2, w + 2), -np.inf, dtype=heat.dtype)
    padded[:, 1:-1, 1:-1] = heat
    # separable 3x3 max: over columns, then over rows
    row_max = np.maximum(np.maximum(padded[:, :, :-2], padded[:, :, 1:-1]), padded[:, :, 2:])
    pooled = np.maximum(np.maximum(row_max[:, :-2], row_max[:, 1:-1]), row_max[:, 2:])
    return np.nonzero((heat >= pooled) & (heat >= threshold))


def _suppress_duplicates(camera: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                         range_m: np.ndarray) -> np.ndarray:
    """Mask of detections to keep (sorted by camera, then confidence): one closer than
    max(NMS_MIN_M, NMS_RANGE_FRAC * range) to a stronger one of its camera is dropped. All
    pairs at once ("fast NMS": a dropped detection still suppresses, which only matters for
    chains of three, rare at a handful of detections a frame)."""
    dist = np.hypot(dx[:, None] - dx[None, :], dy[:, None] - dy[None, :])
    radius = np.maximum(NMS_MIN_M, NMS_RANGE_FRAC * range_m)
    stronger = np.tri(camera.size, k=-1, dtype=bool)  # [i, j]: j before i, so stronger
    close = stronger & (camera[:, None] == camera[None, :]) & (dist < radius[:, None])
    return ~close.any(axis=1)


@nb.njit(cache=True)
def _nan_max(a: float, b: float) -> float:
    """np.maximum on two scalars: NaN if either is NaN."""
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


@nb.njit(cache=True)
def _peak_candidates(heatmap: np.ndarray, offset: np.ndarray, log_depth: np.ndarray,
                     threshold: float) -> tuple[np.ndarray, ...]:
    """Everything decode needs from the grids, in one pass, without per-cycle temporaries the
    size of the grid: the peaks of the class-wise maximum (as ``_peaks``), ordered by frame,
    then by confidence (highest first, ties in grid order: ``np.lexsort((-conf, b))``), with
    the strongest class (first of equals: ``argmax``), the cell offsets and the log depth there.

    Returns (b, row, col, conf, class_id, offset_col, offset_row, log_depth). Every operation is
    a comparison or a copy (no arithmetic), so the values are those of the numpy version."""
    nb_, nc, h, w = heatmap.shape
    heat = np.empty((nb_, h, w), dtype=heatmap.dtype)
    for b in range(nb_):
        for r in range(h):
            for c in range(w):
                m = heatmap[b, 0, r, c]
                for k in range(1, nc):
                    m = _nan_max(m, heatmap[b, k, r, c])
                heat[b, r, c] = m
    # flat indices of the peaks, in grid (C) order as np.nonzero gives them
    flat = np.empty(nb_ * h * w, dtype=np.int64)
    n = 0
    for b in range(nb_):
        for r in range(h):
            for c in range(w):
                v = heat[b, r, c]
                if not v >= threshold:
                    continue
                # the 3x3 neighbourhood's maximum, outside the grid counting as -inf
                pooled = -np.inf
                for rr in range(max(r - 1, 0), min(r + 2, h)):
                    for cc in range(max(c - 1, 0), min(c + 2, w)):
                        pooled = _nan_max(pooled, heat[b, rr, cc])
                if v >= pooled:
                    flat[n] = (b * h + r) * w + c
                    n += 1
    # stable insertion sort by (frame, -confidence): a handful of peaks per frame
    for i in range(1, n):
        f = flat[i]
        bf = f // (h * w)
        vf = heat.ravel()[f]
        j = i - 1
        while j >= 0:
            g = flat[j]
            bg = g // (h * w)
            if bg > bf or (bg == bf and heat.ravel()[g] < vf):
                flat[j + 1] = g
                j -= 1
            else:
                break
        flat[j + 1] = f
    bi = np.empty(n, dtype=np.int64)
    ri = np.empty(n, dtype=np.int64)
    ci = np.empty(n, dtype=np.int64)
    conf = np.empty(n, dtype=heatmap.dtype)
    class_id = np.empty(n, dtype=np.int32)
    off_col = np.empty(n, dtype=offset.dtype)
    off_row = np.empty(n, dtype=offset.dtype)
    logd = np.empty(n, dtype=log_depth.dtype)
    for i in range(n):
        f = flat[i]
        b = f // (h * w)
        r = (f // w) % h
        c = f % w
        bi[i], ri[i], ci[i] = b, r, c
        conf[i] = heat[b, r, c]
        best = 0
        best_v = heatmap[b, 0, r, c]
        for k in range(1, nc):  # argmax: first maximum, a NaN counting as the maximum
            if best_v != best_v:
                break
            v = heatmap[b, k, r, c]
            if v != v or v > best_v:
                best, best_v = k, v
        class_id[i] = best
        off_col[i] = offset[b, 0, r, c]
        off_row[i] = offset[b, 1, r, c]
        logd[i] = log_depth[b, 0, r, c]
    return bi, ri, ci, conf, class_id, off_col, off_row, logd


def _batch_outputs(outputs: Sequence[np.ndarray], calibrations: tuple[CameraCalibration, ...]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heatmap, offset, log depth) of a batch, which must have a calibration per frame."""
    heatmap, offset, log_depth = outputs[0], outputs[1], outputs[2]
    if heatmap.shape[0] != len(calibrations):
        raise ValueError(f"batch of {heatmap.shape[0]} frames but {len(calibrations)} "
                         "calibrations")
    return heatmap, offset, log_depth


def decode(outputs: Sequence[np.ndarray], calibrations: tuple[CameraCalibration, ...],
           score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> CameraDetections:
    """The network's outputs (in OUTPUT_NAMES order) for a batch whose frame k came from
    ``calibrations[k]`` -> detections, ordered by camera, then by confidence (highest first).

    One detection per local maximum of the class-wise maximum of the heatmap (so that one
    object scoring in two classes, e.g. car and truck, is reported once, as the higher), less
    the weaker of detections that land on one spot (see NMS_MIN_M).

    The arithmetic runs in numba kernels with the operations, in the order, of the numpy
    form ``_decode_numpy`` (tests hold the two equal bit for bit); the transcendental
    functions (exp, hypot, arctan2) stay numpy calls, so their results cannot differ."""
    heatmap, offset, log_depth = _batch_outputs(outputs, calibrations)
    bi, ri, ci, conf, class_id, off_col, off_row, logd = _peak_candidates(
        heatmap, offset, log_depth, score_threshold)
    if bi.size == 0:
        return CameraDetections.empty()
    params = camera_params(calibrations)
    u_px, v_px, dx, dy = _place_peaks(bi, ri, ci, off_col, off_row,
                                      np.exp(logd.astype(np.float64)), params)
    range_m = np.hypot(dx, dy)
    dist_m = np.hypot(dx[:, None] - dx[None, :], dy[:, None] - dy[None, :])
    keep = np.flatnonzero(_keep_mask(bi, dist_m, range_m))
    dx, dy, range_m = dx[keep], dy[keep], range_m[keep]
    camera, x_m, y_m, std_along_m, std_across_m = _finish(bi[keep], dx, dy, range_m, params)
    return CameraDetections(
        camera=camera,
        class_id=class_id[keep],
        confidence=conf[keep].astype(np.float32),
        x_m=x_m,
        y_m=y_m,
        range_m=range_m,
        bearing_rad=np.arctan2(dy, dx),
        std_along_m=std_along_m,
        std_across_m=std_across_m,
        u_px=u_px[keep],
        v_px=v_px[keep],
    )


@nb.njit(cache=True)
def _place_peaks(bi: np.ndarray, ri: np.ndarray, ci: np.ndarray, off_col: np.ndarray,
                 off_row: np.ndarray, exp_log_depth: np.ndarray, params: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel (u, v) and offset (dx, dy) from the camera mount of each peak: decode's
    sub-pixel position, depth and ``pixel_to_vehicle``, operation for operation.
    ``exp_log_depth``: exp of the network's log depth (computed by numpy)."""
    n = bi.shape[0]
    u_px = np.empty(n)
    v_px = np.empty(n)
    dx = np.empty(n)
    dy = np.empty(n)
    for i in range(n):
        p = params[bi[i]]
        fx, fy, cx, cy, cyaw, syaw, cp, sp = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        u = (ci[i] + np.float64(off_col[i])) * STRIDE_PX
        v = (ri[i] + np.float64(off_row[i])) * STRIDE_PX
        depth = exp_log_depth[i] * fx
        a = -(u - cx) / fx
        b = -(v - cy) / fy
        fwd = cp + sp * b
        u_px[i], v_px[i] = u, v
        dx[i] = depth * (cyaw * fwd - syaw * a)
        dy[i] = depth * (syaw * fwd + cyaw * a)
    return u_px, v_px, dx, dy


@nb.njit(cache=True)
def _keep_mask(camera: np.ndarray, dist_m: np.ndarray, range_m: np.ndarray) -> np.ndarray:
    """``_suppress_duplicates`` given the pairwise distances (computed by numpy)."""
    n = camera.shape[0]
    keep = np.ones(n, dtype=np.bool_)
    for i in range(n):
        radius = _nan_max(NMS_MIN_M, NMS_RANGE_FRAC * range_m[i])
        for j in range(i):  # j before i: stronger
            if camera[i] == camera[j] and dist_m[i, j] < radius:
                keep[i] = False
                break
    return keep


@nb.njit(cache=True)
def _finish(bi: np.ndarray, dx: np.ndarray, dy: np.ndarray, range_m: np.ndarray,
            params: np.ndarray) -> tuple[np.ndarray, ...]:
    """Camera index, position in the vehicle frame and position uncertainty of the kept
    detections (decode's last step, operation for operation)."""
    n = bi.shape[0]
    camera = np.empty(n, dtype=np.int32)
    x_m = np.empty(n)
    y_m = np.empty(n)
    std_along = np.empty(n)
    std_across = np.empty(n)
    for i in range(n):
        camera[i] = bi[i]
        x_m[i] = params[bi[i], 8] + dx[i]
        y_m[i] = params[bi[i], 9] + dy[i]
        std_along[i] = _nan_max(DEPTH_STD_FRAC * range_m[i], DEPTH_STD_MIN_M)
        std_across[i] = _nan_max(BEARING_STD_RAD * range_m[i], ACROSS_STD_MIN_M)
    return camera, x_m, y_m, std_along, std_across


def _decode_peaks(heatmap: np.ndarray, offset: np.ndarray, log_depth: np.ndarray,
                  threshold: float) -> tuple[np.ndarray, ...]:
    """The numpy form of ``_peak_candidates`` (what decode did before the kernel), kept as
    the reference the kernel is tested against."""
    heat = heatmap.max(axis=1)
    bi, ri, ci = _peaks(heat, threshold)
    conf = heat[bi, ri, ci]
    order = np.lexsort((-conf, bi))
    bi, ri, ci, conf = bi[order], ri[order], ci[order], conf[order]
    class_id = heatmap[bi, :, ri, ci].argmax(axis=1).astype(np.int32)
    return (bi, ri, ci, conf, class_id, offset[bi, 0, ri, ci], offset[bi, 1, ri, ci],
            log_depth[bi, 0, ri, ci])


def _decode_numpy(outputs: Sequence[np.ndarray], calibrations: tuple[CameraCalibration, ...],
           score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> CameraDetections:
    """The numpy form of ``decode``, kept as the reference its kernels are tested against."""
    heatmap, offset, log_depth = _batch_outputs(outputs, calibrations)
    bi, ri, ci, conf, class_id, off_col, off_row, logd = _decode_peaks(
        heatmap, offset, log_depth, score_threshold)
    if bi.size == 0:
        return CameraDetections.empty()
    u_px = (ci + off_col.astype(np.float64)) * STRIDE_PX
    v_px = (ri + off_row.astype(np.float64)) * STRIDE_PX
    params = camera_params(calibrations)[bi]
    depth_m = np.exp(logd.astype(np.float64)) * params[:, 0]
    dx, dy = pixel_to_vehicle(params, u_px, v_px, depth_m)
    range_m = np.hypot(dx, dy)
    keep = _suppress_duplicates(bi, dx, dy, range_m)
    bi, class_id, conf, u_px, v_px = bi[keep], class_id[keep], conf[keep], u_px[keep], v_px[keep]
    params, dx, dy, range_m = params[keep], dx[keep], dy[keep], range_m[keep]
    return CameraDetections(
        camera=bi.astype(np.int32),
        class_id=class_id,
        confidence=conf.astype(np.float32),
        x_m=params[:, 8] + dx,
        y_m=params[:, 9] + dy,
        range_m=range_m,
        bearing_rad=np.arctan2(dy, dx),
        std_along_m=np.maximum(DEPTH_STD_FRAC * range_m, DEPTH_STD_MIN_M),
        std_across_m=np.maximum(BEARING_STD_RAD * range_m, ACROSS_STD_MIN_M),
        u_px=u_px,
        v_px=v_px,
    )
