"""Sensor samples -> tracker measurements in the odometry frame.

Each measurement batch carries z, H and R per measurement, so one set of kernels serves every
sensor. Frames: sensor frame -> vehicle frame (calibration) -> odometry frame (the ego pose at
the sample's stamp, looked up in the pose history, since samples arrive tens of ms late).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numba as nb
import numpy as np

from edge_autopilot.sensors.calibration import RadarCalibration, UltrasonicCalibration
from edge_autopilot.sensors.samples import Odometry, RadarScan, UltrasonicRange

# Radar returns closer than these (metres, m/s) are taken to come from one object.
CLUSTER_DISTANCE_M = 3.5
CLUSTER_DOPPLER_MPS = 1.5
# Measurement noise used by the tracker (a little above the sensors' specs: model mismatch).
RADAR_RANGE_STD_M = 0.3
RADAR_RANGE_STD_PER_M = 0.004
RADAR_AZIMUTH_STD_RAD = math.radians(0.6)
RADAR_DOPPLER_STD_MPS = 0.3
ULTRASONIC_RANGE_STD_M = 0.1
# PoseHistory keeps at most this many looked-up poses between two odometry samples (a cycle
# asks for a handful; the cap only bounds memory if odometry stops arriving)
MEMO_MAX_POSES = 64


@dataclass(slots=True)
class MeasurementBatch:
    """m measurements of dimension k: z (m, k), h (m, k, 4), r (m, k, k), at ``stamp_ns``."""

    source: str
    stamp_ns: int
    z: np.ndarray
    h: np.ndarray
    r: np.ndarray
    # False: the measurements only update tracks other sensors started (an ultrasonic echo says
    # how far, hardly where: a 60 degree cone is no place to start an object)
    births: bool = True

    @property
    def count(self) -> int:
        return int(self.z.shape[0])


@dataclass(slots=True)
class Pose2D:
    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    yaw_rate_rps: float


class PoseHistory:
    """The last few seconds of odometry, to find the ego pose at a sample's stamp."""

    def __init__(self, capacity: int = 512) -> None:
        self.t_ns = np.zeros(capacity, dtype=np.int64)
        self.data = np.zeros((capacity, 5))
        self.count = 0
        self.capacity = capacity
        # poses already looked up since the last add, by stamp: a cycle asks for the same
        # stamps several times (the cycle's own time, each sample's) and the answer only
        # changes when odometry arrives. Cleared on add, so it holds one cycle's few stamps.
        self._memo: dict[int, Pose2D] = {}

    def add(self, odo: Odometry) -> None:
        if self.count and odo.stamp_ns <= self.t_ns[(self.count - 1) % self.capacity]:
            return  # stale or repeated: the history stays ordered
        self._memo.clear()
        k = self.count % self.capacity
        self.t_ns[k] = odo.stamp_ns
        self.data[k] = (odo.x_m, odo.y_m, odo.yaw_rad, odo.speed_mps, odo.yaw_rate_rps)
        self.count += 1

    def at(self, stamp_ns: int) -> Pose2D | None:
        """Pose at ``stamp_ns``: the nearest odometry sample, moved by its speed and yaw rate
        over the (small) gap; None before any odometry."""
        if self.count == 0:
            return None
        pose = self._memo.get(stamp_ns)
        if pose is not None:
            return pose
        k = _nearest_in_ring(self.t_ns, self.count, self.capacity, stamp_ns)
        x, y, yaw, v, w = self.data[k]
        dt = (stamp_ns - int(self.t_ns[k])) / 1e9
        yaw_mid = yaw + 0.5 * w * dt
        pose = Pose2D(x + v * dt * math.cos(yaw_mid), y + v * dt * math.sin(yaw_mid),
                      yaw + w * dt, v, w)
        if len(self._memo) < MEMO_MAX_POSES:
            self._memo[stamp_ns] = pose
        return pose


@nb.njit(cache=True)
def _nearest_in_ring(t_ns: np.ndarray, count: int, capacity: int, stamp_ns: int) -> int:
    """Index of the sample nearest ``stamp_ns`` in a time-ordered ring, walking back from the
    newest (a sample's stamp is nearly always within a few odometry periods of the newest)."""
    n = min(count, capacity)
    best = (count - 1) % capacity
    best_gap = abs(t_ns[best] - stamp_ns)
    for back in range(1, n):
        k = (count - 1 - back) % capacity
        gap = abs(t_ns[k] - stamp_ns)
        if gap > best_gap and t_ns[k] < stamp_ns:
            break  # older samples only get farther away
        if gap < best_gap:
            best, best_gap = k, gap
    return best


def vehicle_to_odom(pose: Pose2D, x_v: np.ndarray, y_v: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(pose.yaw_rad), math.sin(pose.yaw_rad)
    return pose.x_m + c * x_v - s * y_v, pose.y_m + s * x_v + c * y_v


@nb.njit(cache=True)
def cluster_labels(x: np.ndarray, y: np.ndarray, doppler: np.ndarray, max_dist: float,
                   max_ddop: float) -> np.ndarray:
    """Connected components of returns closer than ``max_dist`` with similar Doppler."""
    n = x.shape[0]
    label = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    current = 0
    for seed in range(n):
        if label[seed] >= 0:
            continue
        label[seed] = current
        top = 0
        stack[top] = seed
        top += 1
        while top > 0:
            top -= 1
            a = stack[top]
            for b in range(n):
                if label[b] >= 0:
                    continue
                dx, dy = x[a] - x[b], y[a] - y[b]
                if dx * dx + dy * dy <= max_dist * max_dist and \
                        abs(doppler[a] - doppler[b]) <= max_ddop:
                    label[b] = current
                    stack[top] = b
                    top += 1
        current += 1
    return label


def radar_batch(scan: RadarScan, calib: RadarCalibration, pose: Pose2D) -> MeasurementBatch:
    """One measurement per cluster of returns: the nearest return's position and the cluster's
    mean Doppler, made ego-motion-free (u . v_target), with covariance from range/azimuth."""
    r = scan.range_m.astype(np.float64)
    az_sensor = scan.azimuth_rad.astype(np.float64)
    az = az_sensor + calib.yaw_rad
    dop = scan.doppler_mps.astype(np.float64)
    xv = calib.x_m + r * np.cos(az)
    yv = calib.y_m + r * np.sin(az)
    labels = cluster_labels(xv, yv, dop, CLUSTER_DISTANCE_M, CLUSTER_DOPPLER_MPS)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    z = np.empty((n_clusters, 3))
    h = np.zeros((n_clusters, 3, 4))
    cov = np.zeros((n_clusters, 3, 3))
    _cluster_measurements(r, az_sensor, calib.yaw_rad, dop, labels, n_clusters, calib.x_m,
                          calib.y_m, pose.x_m, pose.y_m, pose.yaw_rad, pose.speed_mps,
                          pose.yaw_rate_rps, z, h, cov)
    return MeasurementBatch("radar", scan.stamp_ns, z, h, cov)


@nb.njit(cache=True)
def _cluster_measurements(r: np.ndarray, az_sensor: np.ndarray, mount_yaw: float,
                          dop: np.ndarray, labels: np.ndarray, n_clusters: int,
                          mount_x: float, mount_y: float, px: float, py: float, pyaw: float,
                          speed: float, yaw_rate: float, z: np.ndarray, h: np.ndarray,
                          cov: np.ndarray) -> None:
    """One (x, y, Doppler) measurement per cluster, in the odometry frame, into z, h, cov."""
    c, s = math.cos(pyaw), math.sin(pyaw)
    # the radar's own velocity in the odometry frame (speed along the heading + yaw rate x arm)
    arm_x, arm_y = c * mount_x - s * mount_y, s * mount_x + c * mount_y
    vrx = speed * c - yaw_rate * arm_y
    vry = speed * s + yaw_rate * arm_x
    members = np.zeros(n_clusters)
    dop_sum = np.zeros(n_clusters)
    r_near = np.full(n_clusters, np.inf)
    az_near = np.zeros(n_clusters)
    for i in range(r.shape[0]):
        k = labels[i]
        members[k] += 1.0
        dop_sum[k] += dop[i]
        if r[i] < r_near[k]:
            r_near[k] = r[i]
            az_near[k] = az_sensor[i]
    for k in range(n_clusters):
        # The nearest return: the object's outline point nearest the radar, what every sensor
        # reports (camera labels, the ultrasonic echo) and the tracker tracks. Averaging the
        # bearings of all returns instead would drag the point along a long side seen
        # obliquely (a truck being passed) into the ego's lane.
        az_c = az_near[k] + mount_yaw
        rk = r_near[k]
        xv = mount_x + rk * math.cos(az_c)
        yv = mount_y + rk * math.sin(az_c)
        los = az_c + pyaw
        ux, uy = math.cos(los), math.sin(los)
        z[k, 0] = px + c * xv - s * yv
        z[k, 1] = py + s * xv + c * yv
        z[k, 2] = dop_sum[k] / members[k] + ux * vrx + uy * vry
        h[k, 0, 0] = 1.0
        h[k, 1, 1] = 1.0
        h[k, 2, 2] = ux
        h[k, 2, 3] = uy
        sr = RADAR_RANGE_STD_M + RADAR_RANGE_STD_PER_M * rk
        sa = rk * RADAR_AZIMUTH_STD_RAD
        # rot @ diag(sr^2, sa^2) @ rot.T with rot = [[ux, -uy], [uy, ux]]
        cov[k, 0, 0] = ux * ux * sr * sr + uy * uy * sa * sa
        cov[k, 1, 1] = uy * uy * sr * sr + ux * ux * sa * sa
        cov[k, 0, 1] = cov[k, 1, 0] = ux * uy * (sr * sr - sa * sa)
        cov[k, 2, 2] = RADAR_DOPPLER_STD_MPS**2 / members[k] + 0.05


def position_batch(source: str, stamp_ns: int, x_v: np.ndarray, y_v: np.ndarray,
                   std_along_m: np.ndarray, std_across_m: np.ndarray, bearing_v: np.ndarray,
                   pose: Pose2D) -> MeasurementBatch:
    """Position measurements in the vehicle frame with an elliptic covariance whose axes are
    along and across ``bearing_v`` (a camera's depth is worse than its bearing)."""
    m = x_v.shape[0]
    xo, yo = vehicle_to_odom(pose, x_v, y_v)
    z = np.stack([xo, yo], axis=1)
    h = np.zeros((m, 2, 4))
    h[:, 0, 0] = h[:, 1, 1] = 1.0
    ang = bearing_v + pose.yaw_rad
    c, s = np.cos(ang), np.sin(ang)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1)  # (m, 2, 2)
    diag = np.zeros((m, 2, 2))
    diag[:, 0, 0] = std_along_m**2
    diag[:, 1, 1] = std_across_m**2
    cov = rot @ diag @ np.transpose(rot, (0, 2, 1))
    return MeasurementBatch(source, stamp_ns, z, h, cov)


class Detections(Protocol):
    """Camera detections in the vehicle frame (perception.detection.CameraDetections)."""

    x_m: np.ndarray
    y_m: np.ndarray
    bearing_rad: np.ndarray
    std_along_m: np.ndarray  # the network's depth error dominates: along the line of sight
    std_across_m: np.ndarray


def camera_batch(det: Detections, stamp_ns: int, pose: Pose2D) -> MeasurementBatch:
    """Camera detections as position measurements, uncertain mostly along the line of sight."""
    batch = position_batch("camera", stamp_ns, det.x_m, det.y_m, det.std_along_m,
                           det.std_across_m, det.bearing_rad, pose)
    # The shipped network's precision is ~0.66 (models/manifest.json): a third of its
    # detections are misplaced or not there, and at 30 Hz a ghost would confirm a track in
    # 0.13 s. Camera detections refine tracks the radar started; they start none.
    batch.births = False
    return batch


def ultrasonic_batch(ranges: list[UltrasonicRange],
                     calibs: dict[str, UltrasonicCalibration], pose: Pose2D
                     ) -> MeasurementBatch | None:
    """Each finite echo as a point on the sensor's boresight; across-beam uncertainty is the
    cone's half-width at that range (an echo says how far, hardly where)."""
    hits = [u for u in ranges if math.isfinite(u.range_m) and u.sensor_id in calibs]
    if not hits:
        return None
    cal = [calibs[u.sensor_id] for u in hits]
    rng = np.array([u.range_m for u in hits])
    yaw = np.array([c.yaw_rad for c in cal])
    x_v = np.array([c.x_m for c in cal]) + rng * np.cos(yaw)
    y_v = np.array([c.y_m for c in cal]) + rng * np.sin(yaw)
    across = np.maximum(rng * np.tan(np.array([c.half_angle_rad for c in cal])) / 2.0, 0.1)
    batch = position_batch("ultrasonic", max(u.stamp_ns for u in hits), x_v, y_v,
                           np.full(len(hits), ULTRASONIC_RANGE_STD_M), across, yaw, pose)
    batch.births = False
    return batch
