"""Tracker evaluation against ground truth, and a reference tracker built from filterpy.

The harness drives a scenario with the expert, turns the simulator's radar and ultrasonic
samples (and oracle camera detections: the truth seen through a noisy, range-limited camera
model, until the perception network produces real ones) into measurement batches, and feeds the
same batches to every tracker under test. Each cycle the confirmed tracks are matched to the
truth's reference points; the scores are position RMSE and MOTA (Bernardin & Stiefelhagen,
"Evaluating multiple object tracking performance: the CLEAR MOT metrics", 2008).

The reference point of an object is the point of its box outline nearest the ego's radar: what
radar and camera both see, and what the planner needs (the gap).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge_autopilot.fusion.measurements import (
    MeasurementBatch,
    Pose2D,
    PoseHistory,
    position_batch,
    radar_batch,
    ultrasonic_batch,
)
from edge_autopilot.fusion.tracker import GATE_CHI2, TrackerParams, TrackList
from edge_autopilot.sensors.samples import Odometry, RadarScan, UltrasonicRange
from edge_autopilot.sim.runner import ExpertDriver
from edge_autopilot.sim.scenario import Scenario
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth, box_corners
from edge_autopilot.sim.world import World

MATCH_DISTANCE_M = 3.0
EVAL_RANGE_M = 100.0
EVAL_HALF_FOV_RAD = math.radians(45.0)
# oracle camera: 30 Hz, 80 m, +-40 deg, 10 % misses, depth error 3 % of range, 0.5 deg bearing
CAMERA_PERIOD_NS = 33_333_333
CAMERA_RANGE_M = 80.0
CAMERA_HALF_FOV_RAD = math.radians(40.0)
CAMERA_MISS_PROB = 0.1
CAMERA_DEPTH_STD_FRAC = 0.03
CAMERA_BEARING_STD_RAD = math.radians(0.5)


class TrackerUnderTest(Protocol):
    def process(self, batch: MeasurementBatch) -> None: ...

    def tracks(self, now_ns: int, pose: Pose2D) -> TrackList: ...


def reference_points(ego: EgoTruth, actors: ActorsTruth, radar_x_m: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest outline point of each actor to the radar, in the vehicle frame."""
    if actors.count == 0:
        return np.zeros(0), np.zeros(0)
    c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    corners = box_corners(actors.x_m, actors.y_m, actors.yaw_rad, actors.length_m,
                          actors.width_m)
    dx, dy = corners[..., 0] - ego.x_m, corners[..., 1] - ego.y_m
    vx, vy = c * dx + s * dy - radar_x_m, -s * dx + c * dy  # corners relative to the radar
    a = np.stack([vx, vy], -1)
    b = np.roll(a, -1, axis=1)
    ab = b - a
    t = np.clip(-(a * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    p = a + t[..., None] * ab
    d = np.hypot(p[..., 0], p[..., 1])
    k = np.argmin(d, axis=1)
    idx = np.arange(actors.count)
    return p[idx, k, 0] + radar_x_m, p[idx, k, 1]


@dataclass
class TrackerScore:
    name: str
    cycles: int = 0
    gt: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    id_switches: int = 0
    sq_err_sum: float = 0.0
    time_ns: list[int] = field(default_factory=list)
    _last_id: dict[int, int] = field(default_factory=dict)

    @property
    def rmse_m(self) -> float:
        return math.sqrt(self.sq_err_sum / self.tp) if self.tp else math.nan

    @property
    def mota(self) -> float:
        return 1.0 - (self.fn + self.fp + self.id_switches) / self.gt if self.gt else math.nan

    def time_p50_ms(self) -> float:
        return float(np.percentile(self.time_ns, 50)) / 1e6 if self.time_ns else math.nan

    def to_json(self) -> dict[str, float | int | str]:
        return {"tracker": self.name, "rmse_m": round(self.rmse_m, 4),
                "mota": round(self.mota, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "id_switches": self.id_switches, "time_p50_ms": round(self.time_p50_ms(), 4)}

    def score(self, tracks: TrackList, truth_x: np.ndarray, truth_y: np.ndarray) -> None:
        self.cycles += 1
        self.gt += truth_x.shape[0]
        if truth_x.shape[0] == 0:
            self.fp += tracks.count
            return
        d = np.hypot(truth_x[:, None] - tracks.x_m[None, :], truth_y[:, None] - tracks.y_m[None, :])
        matched_tracks: set[int] = set()
        for g in np.argsort(d.min(axis=1) if tracks.count else np.zeros(truth_x.shape[0])):
            if tracks.count == 0:
                self.fn += 1
                continue
            order = np.argsort(d[g])
            hit = next((int(j) for j in order if d[g, j] < MATCH_DISTANCE_M
                        and int(j) not in matched_tracks), None)
            if hit is None:
                self.fn += 1
                continue
            matched_tracks.add(hit)
            self.tp += 1
            self.sq_err_sum += float(d[g, hit]) ** 2
            tid = int(tracks.track_id[hit])
            if int(g) in self._last_id and self._last_id[int(g)] != tid:
                self.id_switches += 1
            self._last_id[int(g)] = tid
        self.fp += tracks.count - len(matched_tracks)


def _pose(odo: Odometry) -> Pose2D:
    return Pose2D(odo.x_m, odo.y_m, odo.yaw_rad, odo.speed_mps, odo.yaw_rate_rps)


def _oracle_camera(ego: EgoTruth, actors: ActorsTruth, radar_x_m: float, stamp_ns: int,
                   rng: np.random.Generator, pose: Pose2D) -> MeasurementBatch | None:
    x, y = reference_points(ego, actors, radar_x_m)
    r, b = np.hypot(x, y), np.arctan2(y, x)
    seen = (x > 0) & (r < CAMERA_RANGE_M) & (np.abs(b) < CAMERA_HALF_FOV_RAD) & \
        (rng.random(x.shape[0]) > CAMERA_MISS_PROB)
    if not seen.any():
        return None
    r, b = r[seen], b[seen]
    r_meas = r * (1.0 + CAMERA_DEPTH_STD_FRAC * rng.standard_normal(r.shape[0]))
    b_meas = b + CAMERA_BEARING_STD_RAD * rng.standard_normal(r.shape[0])
    return position_batch("camera", stamp_ns, r_meas * np.cos(b_meas), r_meas * np.sin(b_meas),
                          CAMERA_DEPTH_STD_FRAC * r + 0.2, r * CAMERA_BEARING_STD_RAD + 0.1,
                          b_meas, pose)


def evaluate_trackers(scenario: Scenario, trackers: dict[str, TrackerUnderTest],
                      seed: int = 0) -> list[TrackerScore]:
    """Drive ``scenario`` with the expert and score every tracker on the same measurements."""
    world = World(scenario, seed=seed)
    driver = ExpertDriver()
    driver.reset(world)
    radar_cal = world.calibration.radar
    radar_cals = {c.name: c for c in world.calibration.radars}
    uss_cal = {c.name: c for c in world.calibration.ultrasonics}
    history = PoseHistory()
    rng = np.random.default_rng(seed + 7919)
    scores = {name: TrackerScore(name) for name in trackers}
    samples: list = []
    next_camera_ns = 0
    pose: Pose2D | None = None
    for _ in range(round(scenario.duration_s * 100)):
        samples = world.step(driver.step(world, samples))
        batches: list[MeasurementBatch] = []
        uss: list[UltrasonicRange] = []
        for s in samples:
            if isinstance(s, Odometry):
                history.add(s)
                pose = _pose(s)
        for s in samples:
            at = history.at(s.stamp_ns)
            if at is None:
                continue
            if isinstance(s, RadarScan):
                batches.append(radar_batch(s, radar_cals[s.sensor_id], at))
            elif isinstance(s, UltrasonicRange):
                uss.append(s)
        if uss and (at := history.at(uss[0].stamp_ns)) is not None:
            b = ultrasonic_batch(uss, uss_cal, at)
            if b is not None:
                batches.append(b)
        if world.t_ns >= next_camera_ns and pose is not None:
            next_camera_ns += CAMERA_PERIOD_NS
            cam = _oracle_camera(world.ego, world.actors_truth, radar_cal.x_m, world.t_ns, rng,
                                 history.at(world.t_ns) or pose)
            if cam is not None:
                batches.append(cam)
        if pose is None:
            continue
        now_pose = history.at(world.t_ns) or pose
        tx, ty = reference_points(world.ego, world.actors_truth, radar_cal.x_m)
        rr = np.hypot(tx - radar_cal.x_m, ty)
        in_view = (tx > radar_cal.x_m) & (rr < EVAL_RANGE_M) & \
            (np.abs(np.arctan2(ty, tx - radar_cal.x_m)) < EVAL_HALF_FOV_RAD)
        for name, trk in trackers.items():
            t0 = time.perf_counter_ns()
            for b in batches:
                trk.process(b)
            out = trk.tracks(world.t_ns, now_pose)
            scores[name].time_ns.append(time.perf_counter_ns() - t0)
            # score only tracks inside the evaluated region (the rest are outside the truth set)
            keep = (out.x_m > radar_cal.x_m) & (np.hypot(out.x_m - radar_cal.x_m, out.y_m)
                                                < EVAL_RANGE_M + MATCH_DISTANCE_M)
            scores[name].score(_subset(out, keep), tx[in_view], ty[in_view])
    return list(scores.values())


def _subset(t: TrackList, keep: np.ndarray) -> TrackList:
    return TrackList(t.stamp_ns, t.track_id[keep], t.x_m[keep], t.y_m[keep], t.vx_mps[keep],
                     t.vy_mps[keep], t.pos_std_m[keep], t.vel_std_mps[keep], t.hits[keep])


class FilterpyTracker:
    """The same tracker (model, gates, greedy GNN, M-of-N management) on filterpy's
    KalmanFilter, one object per track, in plain Python: the reference for accuracy and speed."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        from filterpy.common import Q_discrete_white_noise
        from filterpy.kalman import KalmanFilter

        self._kf_cls = KalmanFilter
        self._q = Q_discrete_white_noise
        self.p = params or TrackerParams()
        self.tracks_: list[dict] = []
        self._next_id = 1

    def _predict(self, trk: dict, t_ns: int) -> None:
        dt = (t_ns - trk["t"]) / 1e9
        if dt <= 0.0:
            return
        kf = trk["kf"]
        kf.F = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1.0]])
        # continuous white-noise acceleration, same Q as the numba kernel
        q1 = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]) * self.p.accel_psd
        q = np.zeros((4, 4))
        q[np.ix_([0, 2], [0, 2])] = q1
        q[np.ix_([1, 3], [1, 3])] = q1
        kf.Q = q
        kf.predict()
        trk["t"] = t_ns

    def process(self, batch: MeasurementBatch) -> None:
        self._prune(batch.stamp_ns)
        for trk in self.tracks_:
            self._predict(trk, batch.stamp_ns)
        gate = GATE_CHI2[batch.z.shape[1]]
        pairs = []
        for i, trk in enumerate(self.tracks_):
            kf = trk["kf"]
            for j in range(batch.count):
                if np.hypot(*(batch.z[j, :2] - kf.x[:2, 0])) ** 2 > 100.0:
                    continue
                h, r = batch.h[j], batch.r[j]
                y = batch.z[j] - h @ kf.x[:, 0]
                s = h @ kf.P @ h.T + r
                d2 = float(y @ np.linalg.solve(s, y))
                if d2 < gate:
                    pairs.append((d2, i, j))
        pairs.sort()
        used_t: set[int] = set()
        used_m: set[int] = set()
        for _, i, j in pairs:
            if i in used_t or j in used_m:
                continue
            used_t.add(i)
            used_m.add(j)
            kf = self.tracks_[i]["kf"]
            kf.dim_z = batch.z.shape[1]  # sensors differ in measurement size
            kf.update(batch.z[j].reshape(-1, 1), R=batch.r[j], H=batch.h[j])
            self.tracks_[i]["hits"] += 1
            self.tracks_[i]["last"] = batch.stamp_ns
        for trk in self.tracks_:
            trk["confirmed"] |= trk["hits"] >= self.p.confirm_hits
        existing = [t["kf"].x[:2, 0].copy() for t in self.tracks_]
        for j in range(batch.count):
            if j in used_m or not batch.births or len(self.tracks_) >= self.p.capacity:
                continue
            if any(np.hypot(*(batch.z[j, :2] - e)) < self.p.birth_exclusion_m
                   for e in existing):
                continue
            self._birth(batch, j)

    def _birth(self, batch: MeasurementBatch, j: int) -> None:
        kf = self._kf_cls(dim_x=4, dim_z=batch.z.shape[1])
        kf.x = np.zeros((4, 1))
        kf.x[:2, 0] = batch.z[j, :2]
        p = np.zeros((4, 4))
        p[:2, :2] = batch.r[j, :2, :2]
        v0 = self.p.initial_speed_std_mps**2
        p[2, 2] = p[3, 3] = v0
        if batch.z.shape[1] == 3:
            u = batch.h[j, 2, 2:]
            kf.x[2:, 0] = u * batch.z[j, 2]
            across = np.array([-u[1], u[0]])
            p[2:, 2:] = batch.r[j, 2, 2] * np.outer(u, u) + v0 * np.outer(across, across)
        kf.P = p
        self.tracks_.append({"kf": kf, "t": batch.stamp_ns, "last": batch.stamp_ns,
                             "born": batch.stamp_ns, "hits": 1, "confirmed": False,
                             "id": self._next_id})
        self._next_id += 1

    def _is_duplicate(self, t: dict) -> bool:
        if not t["confirmed"]:
            return False
        for o in self.tracks_:
            if o is t or not o["confirmed"] or o["id"] > t["id"]:
                continue
            if (np.hypot(*(o["kf"].x[:2, 0] - t["kf"].x[:2, 0])) < self.p.merge_distance_m
                    and np.hypot(*(o["kf"].x[2:, 0] - t["kf"].x[2:, 0]))
                    < self.p.merge_speed_diff_mps):
                return True
        return False

    def _prune(self, now_ns: int) -> None:
        p = self.p
        dup = {id(t) for t in self.tracks_ if self._is_duplicate(t)}
        self.tracks_ = [
            t for t in self.tracks_
            if id(t) not in dup
            and (now_ns - t["last"]) / 1e9 <= p.delete_after_s
            and t["kf"].P[0, 0] + t["kf"].P[1, 1] <= 2.0 * p.max_position_std_m**2
            and (t["confirmed"] or (now_ns - t["born"]) / 1e9 <= p.confirm_window_s)
        ]

    def tracks(self, now_ns: int, pose: Pose2D) -> TrackList:
        self._prune(now_ns)
        rows = []
        for t in self.tracks_:
            if not t["confirmed"]:
                continue
            kf = t["kf"]
            x, cov = kf.x[:, 0].copy(), kf.P.copy()
            dt = (now_ns - t["t"]) / 1e9
            if dt > 0:
                f = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1.0]])
                x = f @ x
                cov = f @ cov @ f.T
            rows.append((t["id"], *x, math.sqrt(0.5 * (cov[0, 0] + cov[1, 1])),
                         math.sqrt(0.5 * (cov[2, 2] + cov[3, 3])), t["hits"]))
        arr = np.array(rows, dtype=float).reshape(-1, 8)
        c, s = math.cos(pose.yaw_rad), math.sin(pose.yaw_rad)
        dx, dy = arr[:, 1] - pose.x_m, arr[:, 2] - pose.y_m
        return TrackList(now_ns, arr[:, 0].astype(np.int64), c * dx + s * dy, -s * dx + c * dy,
                         c * arr[:, 3] + s * arr[:, 4], -s * arr[:, 3] + c * arr[:, 4],
                         arr[:, 5], arr[:, 6], arr[:, 7].astype(np.int64))
