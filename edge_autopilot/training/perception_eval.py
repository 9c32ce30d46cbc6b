"""Held-out scores of the perception network, through the runtime path (ONNX Runtime + decode).

A detection matches a labelled object of the same frame when their vehicle-frame positions are
within max(1.5 m, 5 % of the object's range); matching is greedy, most confident detection
first, each object matched once, class ignored (class accuracy is scored on the matched pairs).
Recall counts objects within ``EVAL_RANGE_M``; precision counts detections within it, and any
detection matched to an object within it. Range error is over matched pairs within it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_autopilot.perception.detection import (
    CLASS_GROUPS,
    INPUT_NAME,
    CameraDetections,
    decode,
)
from edge_autopilot.training.perception_data import PerceptionDataset

EVAL_RANGE_M = 60.0
MATCH_MIN_M = 1.5
MATCH_RANGE_FRAC = 0.05
EVAL_BATCH = 64


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session set up as the stack's (onnx_session): sequential, all optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def detect(sess: ort.InferenceSession, ds: PerceptionDataset, frames: np.ndarray,
           score_threshold: float) -> tuple[CameraDetections, np.ndarray]:
    """Detections on ``frames`` of the dataset, and the frame each belongs to."""
    parts: list[CameraDetections] = []
    owners: list[np.ndarray] = []
    for i in range(0, frames.size, EVAL_BATCH):
        batch = frames[i:i + EVAL_BATCH]
        outputs = sess.run(None, {INPUT_NAME: ds.images[batch]})
        calibs = tuple(ds.calibrations[c] for c in ds.camera[batch])
        dets = decode(outputs, calibs, score_threshold)
        parts.append(dets)
        owners.append(batch[dets.camera])
    names = CameraDetections.__slots__
    merged = CameraDetections(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))
    return merged, np.concatenate(owners)


def match_frame(det_xy: np.ndarray, det_conf: np.ndarray, obj_xy: np.ndarray,
                obj_range_m: np.ndarray) -> np.ndarray:
    """For each detection, the index of the object it matches, or -1 (greedy by confidence)."""
    out = np.full(det_xy.shape[0], -1, dtype=np.int64)
    if obj_xy.shape[0] == 0:
        return out
    gate = np.maximum(MATCH_MIN_M, MATCH_RANGE_FRAC * obj_range_m)
    diff = det_xy[:, None, :] - obj_xy[None, :, :]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    dist = np.where(dist <= gate[None, :], dist, np.inf)
    for d in np.argsort(-det_conf, kind="stable"):
        j = int(np.argmin(dist[d]))
        if np.isfinite(dist[d, j]):
            out[d] = j
            dist[:, j] = np.inf
    return out


def _group_of(kind: np.ndarray) -> np.ndarray:
    group = np.full(kind.shape, -1, dtype=np.int64)
    for g, kinds in enumerate(CLASS_GROUPS.values()):
        group[np.isin(kind, kinds)] = g
    return group


def score(dets: CameraDetections, det_frame: np.ndarray, ds: PerceptionDataset,
          frames: np.ndarray, eval_range_m: float = EVAL_RANGE_M) -> dict[str, float]:
    """Precision, recall, range error and class scores of detections on ``frames``."""
    obj_sel = np.flatnonzero(np.isin(ds.obj_frame, frames))
    obj_frame = ds.obj_frame[obj_sel]
    obj_xy = np.stack([ds.obj_x_m[obj_sel], ds.obj_y_m[obj_sel]], axis=1)
    obj_range = ds.obj_range_m[obj_sel]
    match = np.full(dets.count, -1, dtype=np.int64)  # index into obj_sel
    det_xy = np.stack([dets.x_m, dets.y_m], axis=1)
    for f in np.unique(np.concatenate([det_frame, obj_frame])):
        d_idx = np.flatnonzero(det_frame == f)
        o_idx = np.flatnonzero(obj_frame == f)
        if d_idx.size == 0 or o_idx.size == 0:
            continue
        m = match_frame(det_xy[d_idx], dets.confidence[d_idx], obj_xy[o_idx], obj_range[o_idx])
        match[d_idx[m >= 0]] = o_idx[m[m >= 0]]
    matched = match >= 0
    obj_in = obj_range <= eval_range_m
    obj_hit = np.zeros(obj_sel.size, dtype=bool)
    obj_hit[match[matched]] = True
    det_in = (dets.range_m <= eval_range_m) | (matched & obj_in[np.maximum(match, 0)])
    pairs = matched & obj_in[np.maximum(match, 0)]
    err = np.abs(dets.range_m[pairs] - obj_range[match[pairs]])
    rel = err / np.maximum(obj_range[match[pairs]], 1e-6)
    obj_kind = ds.obj_kind[obj_sel]
    same_class = dets.class_id[pairs] == obj_kind[match[pairs]]
    out: dict[str, float] = {
        "precision": _ratio(np.count_nonzero(det_in & matched), np.count_nonzero(det_in)),
        "recall": _ratio(np.count_nonzero(obj_hit & obj_in), np.count_nonzero(obj_in)),
        "range_mae_m": float(err.mean()) if err.size else float("nan"),
        "range_p90_m": float(np.percentile(err, 90)) if err.size else float("nan"),
        "range_rel_mae": float(rel.mean()) if rel.size else float("nan"),
        "class_accuracy": float(same_class.mean()) if same_class.size else float("nan"),
        "objects": float(np.count_nonzero(obj_in)),
        "detections": float(np.count_nonzero(det_in)),
    }
    obj_group = _group_of(obj_kind)
    det_group = _group_of(dets.class_id)
    for g, name in enumerate(CLASS_GROUPS):
        mine = obj_in & (obj_group == g)
        out[f"recall_{name}"] = _ratio(np.count_nonzero(obj_hit & mine), np.count_nonzero(mine))
        # precision by predicted group: matched to any object counts (the class is scored above)
        pred = det_in & (det_group == g)
        out[f"precision_{name}"] = _ratio(np.count_nonzero(pred & matched),
                                          np.count_nonzero(pred))
    near = obj_in & (obj_range <= 30.0)
    out["recall_within_30m"] = _ratio(np.count_nonzero(obj_hit & near), np.count_nonzero(near))
    return out


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den else float("nan")


def inference_ms(sess: ort.InferenceSession, images: np.ndarray, runs: int = 500
                 ) -> tuple[float, float]:
    """p50 and p99 of one inference on ``images`` (e.g. a batch of 3 frames), in ms."""
    for _ in range(20):
        sess.run(None, {INPUT_NAME: images})
    times = np.empty(runs)
    for k in range(runs):
        t0 = time.perf_counter_ns()
        sess.run(None, {INPUT_NAME: images})
        times[k] = time.perf_counter_ns() - t0
    return float(np.percentile(times, 50)) / 1e6, float(np.percentile(times, 99)) / 1e6
