"""Training data for the perception network: camera frames from the simulator, labelled from
ground truth at each frame's stamp.

The expert drives randomised variants of the built-in scenarios (``dataset.vary``), with the
cameras' lighting and noise varied and extra road users added (the built-in scenarios hold one
pedestrian, one cyclist and one static object between them). Every ``frame_every``-th frame of
each camera is kept (of those with no object in view, every ``EMPTY_FRAME_RATIO *
frame_every``-th). Frames arrive 35 ms after capture, so the truth of every step is kept for
a short while and a frame is labelled with the truth of its ``stamp_ns`` (the rig captures on
step boundaries, with the truth of that step).

A label is one object: its kind, its reference point (the point of its ground footprint nearest
the camera, in the vehicle frame), and its label point in the image (the reference point lifted
to half the object's height, projected with the calibration). Objects are kept when that point
is in the image, in front of the camera, within MAX_RANGE_M, and not mostly hidden behind
nearer objects. Same seed -> the same arrays, bit for bit.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from edge_autopilot.perception.detection import (
    CLASS_NAMES,
    INPUT_HEIGHT_PX,
    INPUT_WIDTH_PX,
    MAX_RANGE_M,
)
from edge_autopilot.sensors.calibration import CameraCalibration, default_rig
from edge_autopilot.sensors.samples import CameraFrame
from edge_autopilot.sim.metrics import colliding_actor
from edge_autopilot.sim.runner import ExpertDriver
from edge_autopilot.sim.scenario import Scenario, builtin_scenario_paths, load_scenario
from edge_autopilot.sim.sensors.camera import camera_rotation
from edge_autopilot.sim.truth import ActorKind, ActorsTruth, EgoTruth
from edge_autopilot.sim.world import World
from edge_autopilot.training.dataset import vary

# frames between kept frames of one camera (neighbours are near-duplicates); frames with no
# object in view (most side-camera frames) are kept more sparsely
FRAME_EVERY = 4
EMPTY_FRAME_RATIO = 4
BRIGHTNESS_RANGE = (0.5, 1.5)
NOISE_STD_RANGE = (0.0, 8.0)  # pixel noise std, 0..255 scale
EXTRA_ACTORS_MAX = 6
# an object less visible than this (share of its image rectangle not covered by nearer
# objects' rectangles) is not labelled: nothing of it may show
MIN_VISIBLE_FRACTION = 0.3
NEAR_PLANE_M = 0.3  # label points closer to the camera plane are not labelled
TRUTH_HISTORY_NS = 500_000_000  # truth kept this long for late frames (latency is 35 ms)

assert tuple(k.name.lower() for k in ActorKind) == CLASS_NAMES, "heatmap channel = ActorKind"


@dataclass
class FrameLabels:
    """The labelled objects of one frame (parallel arrays of length n)."""

    kind: np.ndarray  # int8 ActorKind
    x_m: np.ndarray  # reference point, vehicle frame
    y_m: np.ndarray
    u_px: np.ndarray  # label point in the image (pixel i spans [i, i + 1))
    v_px: np.ndarray
    depth_m: np.ndarray  # label point's depth along the optical axis
    range_m: np.ndarray  # horizontal distance camera mount -> reference point
    box_px: np.ndarray  # (n, 4) u0, v0, u1, v1: the object's image rectangle, clipped
    visible: np.ndarray  # share of the rectangle not hidden by nearer objects

    @property
    def count(self) -> int:
        return int(self.kind.shape[0])


@dataclass
class PerceptionDataset:
    """Frames and their objects. Object j belongs to frame ``obj_frame[j]``."""

    images: np.ndarray  # (N, H, W, 3) uint8, as the camera delivers them
    camera: np.ndarray  # (N,) int8, index into the rig's cameras
    stamp_ns: np.ndarray  # (N,) int64
    run_id: np.ndarray  # (N,) int32, for a held-out split by run
    obj_frame: np.ndarray  # (M,) int32
    obj_kind: np.ndarray  # (M,) int8
    obj_x_m: np.ndarray
    obj_y_m: np.ndarray
    obj_u_px: np.ndarray
    obj_v_px: np.ndarray
    obj_depth_m: np.ndarray
    obj_range_m: np.ndarray
    obj_box_px: np.ndarray  # (M, 4)
    runs: list[str]
    calibrations: tuple[CameraCalibration, ...]

    @property
    def size(self) -> int:
        return int(self.images.shape[0])

    def save(self, path: Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("runs", "calibrations")}
        np.savez(path, runs=np.array(self.runs), **arrays)


# --- labels ------------------------------------------------------------------------------------
def _to_vehicle(ego: EgoTruth, x_m: np.ndarray, y_m: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    dx, dy = x_m - ego.x_m, y_m - ego.y_m
    return c * dx + s * dy, -s * dx + c * dy


def _nearest_footprint_points(px_m: float, py_m: float, bx: np.ndarray, by: np.ndarray,
                              byaw: np.ndarray, length_m: np.ndarray, width_m: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point of each footprint (centre, yaw, size; vehicle frame) nearest to (px, py): the
    point clamped into the box, in the box frame. Also whether the point lies outside."""
    c, s = np.cos(byaw), np.sin(byaw)
    ox, oy = px_m - bx, py_m - by
    lx, ly = c * ox + s * oy, -s * ox + c * oy
    hl, hw = 0.5 * length_m, 0.5 * width_m
    nx, ny = np.clip(lx, -hl, hl), np.clip(ly, -hw, hw)
    outside = (np.abs(lx) > hl) | (np.abs(ly) > hw)
    return bx + c * nx - s * ny, by + s * nx + c * ny, outside


def _box_rects(cam_pts: np.ndarray, fx: float, cx: float, cy: float) -> np.ndarray:
    """Image rectangles (n, 4: u0, v0, u1, v1, unclipped) of boxes given as (n, 8, 3) corners
    in the camera frame: the corners in front of the near plane plus the points where the
    box's edges cross it (the projection of the clipped box). Rows of boxes wholly behind
    the plane are NaN."""
    a_idx = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3])
    b_idx = np.array([1, 2, 3, 0, 5, 6, 7, 4, 4, 5, 6, 7])
    a, b = cam_pts[:, a_idx], cam_pts[:, b_idx]
    da, db = a[..., 0] - NEAR_PLANE_M, b[..., 0] - NEAR_PLANE_M
    with np.errstate(divide="ignore", invalid="ignore"):
        t = da / (da - db)
    crosses = (da > 0) != (db > 0)
    cut = a + np.where(crosses, t, np.nan)[..., None] * (b - a)
    pts = np.concatenate([np.where((cam_pts[..., 0] > NEAR_PLANE_M)[..., None], cam_pts,
                                   np.nan), cut], axis=1)
    u = cx - fx * pts[..., 1] / pts[..., 0]
    v = cy - fx * pts[..., 2] / pts[..., 0]
    with warnings.catch_warnings():  # all-NaN rows (boxes behind the camera) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmin(u, 1), np.nanmin(v, 1), np.nanmax(u, 1), np.nanmax(v, 1)],
                        axis=1)


def _visible_fractions(rects: np.ndarray, order_far_first: np.ndarray, width_px: int,
                       height_px: int) -> np.ndarray:
    """Share of each rectangle's pixels (centres inside) left uncovered by nearer rectangles:
    rectangles painted far to near into an id buffer. NaN rectangles cover nothing."""
    ids = np.full((height_px, width_px), -1, dtype=np.int32)
    spans = np.zeros((rects.shape[0], 4), dtype=np.int64)
    for i in order_far_first:
        u0, v0, u1, v1 = rects[i]
        if not np.isfinite(u0):
            continue
        c0, c1 = max(math.ceil(u0 - 0.5), 0), min(math.floor(u1 - 0.5) + 1, width_px)
        r0, r1 = max(math.ceil(v0 - 0.5), 0), min(math.floor(v1 - 0.5) + 1, height_px)
        spans[i] = c0, c1, r0, r1
        if c1 > c0 and r1 > r0:
            ids[r0:r1, c0:c1] = i
    out = np.zeros(rects.shape[0])
    for i in range(rects.shape[0]):
        c0, c1, r0, r1 = spans[i]
        area = (c1 - c0) * (r1 - r0)
        if area > 0:
            out[i] = np.count_nonzero(ids[r0:r1, c0:c1] == i) / area
    return out


def label_frame(calib: CameraCalibration, ego: EgoTruth, actors: ActorsTruth,
                max_range_m: float = MAX_RANGE_M) -> FrameLabels:
    """The objects a camera sees in the world state (ego, actors), labelled."""
    n = actors.count
    rot = camera_rotation(calib)  # camera -> vehicle
    cam = np.array([calib.x_m, calib.y_m, calib.z_m])
    bx, by = _to_vehicle(ego, actors.x_m, actors.y_m)
    byaw = actors.yaw_rad - ego.yaw_rad
    rx, ry, outside = _nearest_footprint_points(calib.x_m, calib.y_m, bx, by, byaw,
                                                actors.length_m, actors.width_m)
    label_pts = np.stack([rx, ry, 0.5 * actors.height_m], axis=1)
    p = (label_pts - cam) @ rot  # R^T (p - c), row-wise: camera frame
    fx = calib.fx_px
    with np.errstate(divide="ignore", invalid="ignore"):
        u = calib.cx_px - fx * p[:, 1] / p[:, 0]
        v = calib.cy_px - calib.fy_px * p[:, 2] / p[:, 0]
    range_m = np.hypot(rx - calib.x_m, ry - calib.y_m)
    # image rectangles of every actor (an unlabelled one still hides what is behind it)
    c, s = np.cos(byaw)[:, None], np.sin(byaw)[:, None]
    lx = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=np.float64) * (0.5 * actors.length_m[:, None])
    ly = np.array([1, -1, -1, 1, 1, -1, -1, 1], dtype=np.float64) * (0.5 * actors.width_m[:, None])
    corners = np.empty((n, 8, 3))
    corners[..., 0] = bx[:, None] + c * lx - s * ly
    corners[..., 1] = by[:, None] + s * lx + c * ly
    corners[..., 2] = np.array([0, 0, 0, 0, 1, 1, 1, 1.0]) * actors.height_m[:, None]
    rects = _box_rects((corners - cam) @ rot, fx, calib.cx_px, calib.cy_px)
    visible = _visible_fractions(rects, np.argsort(-range_m, kind="stable"), calib.width_px,
                                 calib.height_px)
    keep = (outside & (p[:, 0] > NEAR_PLANE_M) & (u >= 0.0) & (u < calib.width_px)
            & (v >= 0.0) & (v < calib.height_px) & (range_m <= max_range_m)
            & (visible >= MIN_VISIBLE_FRACTION))
    box = np.stack([np.clip(rects[:, 0], 0, calib.width_px), np.clip(rects[:, 1], 0,
                    calib.height_px), np.clip(rects[:, 2], 0, calib.width_px),
                    np.clip(rects[:, 3], 0, calib.height_px)], axis=1)
    return FrameLabels(kind=actors.kind[keep].astype(np.int8), x_m=rx[keep], y_m=ry[keep],
                       u_px=u[keep], v_px=v[keep], depth_m=p[keep, 0], range_m=range_m[keep],
                       box_px=box[keep], visible=visible[keep])


# --- scenario variants ---------------------------------------------------------------------
def vary_camera(scenario: Scenario, rng: np.random.Generator) -> Scenario:
    """The scenario with the cameras' brightness and pixel noise drawn at random."""
    d: dict[str, Any] = scenario.model_dump()
    d["sensors"]["camera"]["brightness"] = float(rng.uniform(*BRIGHTNESS_RANGE))
    d["sensors"]["camera"]["pixel_noise_std"] = float(rng.uniform(*NOISE_STD_RANGE))
    return Scenario.model_validate(d)


def _extra_actor(i: int, lanes: int, lane_width_m: float, ego_s_m: float, ego_speed_mps: float,
                 rng: np.random.Generator) -> dict[str, Any]:
    """One road user placed at random ahead of (or a little behind) the ego."""
    # vulnerable road users and static objects are what the built-in scenarios lack
    kind = str(rng.choice(["car", "truck", "pedestrian", "pedestrian", "cyclist", "static"]))
    road_w = lanes * lane_width_m
    side = -1.0 if rng.random() < 0.6 else 1.0  # mostly the right-hand verge

    def verge(lo: float, hi: float) -> float:
        off = float(rng.uniform(lo, hi))
        return -off if side < 0 else road_w + off

    a: dict[str, Any] = {"id": f"extra_{i}", "kind": kind,
                         "s_m": ego_s_m + float(rng.uniform(-30.0, 160.0))}
    if kind in ("car", "truck") and rng.random() < 0.7:  # moving traffic in a lane
        a.update(lane=int(rng.integers(0, lanes)), behavior="idm",
                 speed_mps=ego_speed_mps * float(rng.uniform(0.6, 1.1)))
        a["desired_speed_mps"] = a["speed_mps"]
    elif kind in ("car", "truck"):  # parked on the verge
        a.update(d_m=verge(1.5, 4.0))
    elif kind == "pedestrian":  # standing or walking along the verge
        a.update(d_m=verge(0.6, 4.0), speed_mps=float(rng.choice([0.0, rng.uniform(0.5, 1.8)])))
    elif kind == "cyclist":  # near the right edge of the road or on the verge
        a.update(d_m=float(rng.uniform(-1.5, 0.8)), speed_mps=float(rng.uniform(3.0, 7.0)))
    else:
        a.update(d_m=verge(0.4, 5.0))
    return a


def add_traffic(scenario: Scenario, rng: np.random.Generator) -> Scenario:
    """The scenario with up to EXTRA_ACTORS_MAX extra road users that keep clear of the
    scenario's own actors and the ego's start (unchanged when no placement worked)."""
    d: dict[str, Any] = scenario.model_dump()
    lanes, w = scenario.road.lanes, scenario.road.lane_width_m
    ego_d = (scenario.ego.lane + 0.5) * w

    def lateral(a: dict[str, Any]) -> float:
        if a.get("lane") is not None:
            return (a["lane"] + 0.5) * w + a.get("lane_offset_m", 0.0)
        return float(a["d_m"])

    taken = [(scenario.ego.s_m, ego_d)] + [(a["s_m"], lateral(a)) for a in d["actors"]]
    for i in range(int(rng.integers(0, EXTRA_ACTORS_MAX + 1))):
        a = _extra_actor(i, lanes, w, scenario.ego.s_m, scenario.ego.speed_mps, rng)
        if any(abs(a["s_m"] - s) < 15.0 and abs(lateral(a) - dd) < 2.5 for s, dd in taken):
            continue
        taken.append((a["s_m"], lateral(a)))
        d["actors"].append(a)
    try:
        return Scenario.model_validate(d)
    except ValueError:
        return scenario


# --- recording -----------------------------------------------------------------------------
@dataclass
class _RunFrames:
    images: list[np.ndarray]
    camera: list[int]
    stamp_ns: list[int]
    labels: list[FrameLabels]


def record_run(scenario: Scenario, frame_every: int = FRAME_EVERY) -> _RunFrames:
    """Drive ``scenario`` with the expert; every ``frame_every``-th frame of each camera (of
    those with no object in view, every ``EMPTY_FRAME_RATIO * frame_every``-th), labelled
    with the truth at its stamp."""
    world = World(scenario)
    expert = ExpertDriver()
    expert.reset(world)
    cams = world.calibration.cameras
    index = {c.name: k for k, c in enumerate(cams)}
    seen = [0] * len(cams)
    truth: dict[int, tuple[EgoTruth, ActorsTruth]] = {0: (world.ego, world.actors_truth)}
    stamps: deque[int] = deque([0])
    out = _RunFrames([], [], [], [])
    cmd = expert.step(world, [])
    for _ in range(round(scenario.duration_s * 100)):
        samples = world.step(cmd)
        truth[world.t_ns] = (world.ego, world.actors_truth)
        stamps.append(world.t_ns)
        while stamps[0] < world.t_ns - TRUTH_HISTORY_NS:
            del truth[stamps.popleft()]
        for sample in samples:
            if not isinstance(sample, CameraFrame):
                continue
            k = index[sample.sensor_id]
            seen[k] += 1
            if (seen[k] - 1) % frame_every:
                continue
            labels = label_frame(cams[k], *truth[sample.stamp_ns])
            if labels.count == 0 and (seen[k] - 1) % (EMPTY_FRAME_RATIO * frame_every):
                continue
            out.images.append(sample.image_rgb)
            out.camera.append(k)
            out.stamp_ns.append(sample.stamp_ns)
            out.labels.append(labels)
        cmd = expert.step(world, samples)
        if colliding_actor(world.ego, world.actors_truth) is not None:
            break
    return out


def generate(variants_per_scenario: int, seed: int, scenario_paths: list[Path] | None = None,
             frame_every: int = FRAME_EVERY,
             progress: Callable[[str, int], None] | None = None) -> PerceptionDataset:
    """Labelled frames from ``variants_per_scenario`` random variants of each scenario."""
    rng = np.random.default_rng(seed)
    bases = [load_scenario(p) for p in (scenario_paths or builtin_scenario_paths())]
    runs: list[str] = []
    parts: list[tuple[int, _RunFrames]] = []
    for base in bases:
        for v in range(variants_per_scenario):
            variant = vary(base, rng, v) or base.model_copy(update={"name": f"{base.name}_v{v}"})
            variant = add_traffic(vary_camera(variant, rng), rng)
            frames = record_run(variant, frame_every)
            parts.append((len(runs), frames))
            runs.append(variant.name)
            if progress is not None:
                progress(variant.name, len(frames.images))
    return _assemble(parts, runs, default_rig(INPUT_WIDTH_PX, INPUT_HEIGHT_PX).cameras)


def _assemble(parts: list[tuple[int, _RunFrames]], runs: list[str],
              calibrations: tuple[CameraCalibration, ...]) -> PerceptionDataset:
    n = sum(len(f.images) for _, f in parts)
    images = np.empty((n, INPUT_HEIGHT_PX, INPUT_WIDTH_PX, 3), dtype=np.uint8)
    camera = np.empty(n, np.int8)
    stamp = np.empty(n, np.int64)
    run_id = np.empty(n, np.int32)
    labels: list[FrameLabels] = []
    k = 0
    for rid, f in parts:
        m = len(f.images)
        if m:
            images[k:k + m] = np.stack(f.images)
        camera[k:k + m], stamp[k:k + m], run_id[k:k + m] = f.camera, f.stamp_ns, rid
        labels.extend(f.labels)
        k += m
    counts = np.array([lab.count for lab in labels], dtype=np.int64)

    def cat(name: str, dtype: Any, width: int = 0) -> np.ndarray:
        if not labels:
            return np.zeros((0, width) if width else 0, dtype)
        return np.concatenate([getattr(lab, name) for lab in labels]).astype(dtype)

    return PerceptionDataset(
        images=images, camera=camera, stamp_ns=stamp, run_id=run_id,
        obj_frame=np.repeat(np.arange(n, dtype=np.int32), counts),
        obj_kind=cat("kind", np.int8), obj_x_m=cat("x_m", np.float64),
        obj_y_m=cat("y_m", np.float64), obj_u_px=cat("u_px", np.float64),
        obj_v_px=cat("v_px", np.float64), obj_depth_m=cat("depth_m", np.float64),
        obj_range_m=cat("range_m", np.float64), obj_box_px=cat("box_px", np.float64, 4),
        runs=runs, calibrations=tuple(calibrations))
