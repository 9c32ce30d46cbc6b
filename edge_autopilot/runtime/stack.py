"""The stack as the executive runs it: sensor samples in, a command out, every cycle.

Stages (DESIGN.md "One cycle"): perception (the camera network on one waiting frame per
cycle, see perception.camera), fusion (camera detections, radar clusters and ultrasonic echoes
into tracks), planning (ONNX planner), control (ONNX controller); then the safety monitor,
through ``guard``, on whatever command goes out. The fallback is the classical planner and pure
pursuit on the same tracks from the previous cycle, with no lane changes: no network, computed
every cycle. When the networks did not load, the fallback drives (fallback-only mode).

The map (the road) and the ego's pose on it come from the map and odometry, not from the
simulator's truth: this module imports nothing from ``sim``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from edge_autopilot.constants import (
    EGO_REAR_AXLE_TO_BACK_M,
    EGO_REAR_AXLE_TO_FRONT_M,
    EGO_WHEELBASE_M,
    EGO_WIDTH_M,
)
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.control.expert import ExpertController
from edge_autopilot.fusion.measurements import (
    MeasurementBatch,
    Pose2D,
    PoseHistory,
    camera_batch,
    radar_batch,
    ultrasonic_batch,
)
from edge_autopilot.fusion.tracker import Tracker, TrackList
from edge_autopilot.maps.road import Road
from edge_autopilot.perception.onnx_session import OnnxModel
from edge_autopilot.planning.expert import ExpertPlanner
from edge_autopilot.planning.localization import (
    lane_geometry_at,
    objects_on_road,
)
from edge_autopilot.planning.types import EgoMotion, ObjectList, PlanningInput, Trajectory
from edge_autopilot.safety.collision import path_coordinates
from edge_autopilot.safety.monitor import SafetyDecision, SafetyMonitor
from edge_autopilot.safety.network_check import NetworkOutputs
from edge_autopilot.safety.timing_check import CycleTiming
from edge_autopilot.sensors.calibration import SensorRigCalibration
from edge_autopilot.sensors.samples import (
    CameraFrame,
    Odometry,
    RadarScan,
    SensorSample,
    UltrasonicRange,
)

if TYPE_CHECKING:
    from edge_autopilot.perception.camera import CameraPerception

# Without a camera class the box of a tracked object is assumed to be a car's.
DEFAULT_OBJECT_LENGTH_M = 4.6
DEFAULT_OBJECT_WIDTH_M = 1.85

# Updates before a track's sideways velocity starts to count, and over how many more it comes to
# count in full (camera 30 Hz + radar and ultrasonics 20 Hz: ~12 updates is about 0.3-0.5 s).
YOUNG_TRACK_HITS = 4
LATERAL_TRUST_HITS = 8.0

STAGE_BUDGETS_NS = {"perception": 3_000_000, "fusion": 2_000_000, "planning": 1_500_000,
                    "control": 1_000_000}

# a track this far out beyond the ego's side is another lane's object, seen at its near corner
ASIDE_MARGIN_M = 0.25

# an object this close to the ego's centre line counts as straight ahead (ego half width plus
# a margin) for the perception-vs-radar lead cross-check
CAMERA_LEAD_HALF_WIDTH_M = 1.2

# bits of ``StackPipeline.networks_ran``: which networks ran an inference this cycle
RAN_PERCEPTION, RAN_PLANNING, RAN_CONTROL = 1, 2, 4


@dataclass(frozen=True)
class StackConfig:
    set_speed_mps: float
    allow_lane_change: bool = False
    safety: bool = True  # the safety monitor checks every command (off only in experiments)


@nb.njit(cache=True)
def _track_boxes(x_m: np.ndarray, y_m: np.ndarray, vx_mps: np.ndarray, vy_mps: np.ndarray,
                 hits: np.ndarray, ego_x_m: float, ego_y_m: float, cos_yaw: float,
                 sin_yaw: float, out: np.ndarray) -> None:
    """Tracks (vehicle frame) -> box centres and velocities in the world frame, one pass.

    Rows of ``out``: centre x, centre y, velocity x, velocity y. The same
    operations in the same order as the numpy expressions this replaced (no reassociation,
    no fused multiply-add: numba leaves both off without fastmath), so the values are
    identical; it saves about twenty numpy calls on a dozen tracks every cycle."""
    front = EGO_REAR_AXLE_TO_FRONT_M - 1.0
    back = -EGO_REAR_AXLE_TO_BACK_M + 1.0
    side = 0.5 * EGO_WIDTH_M + ASIDE_MARGIN_M
    for i in range(x_m.shape[0]):
        x, y = x_m[i], y_m[i]
        length, width = DEFAULT_OBJECT_LENGTH_M, DEFAULT_OBJECT_WIDTH_M
        ahead = x > front
        behind = x < back
        aside = abs(y) > side or (not ahead and not behind)
        along = 0.5 if ahead else (-0.5 if behind else 0.0)
        # np.sign: 0 for either zero, NaN stays NaN
        sign = 1.0 if y > 0.0 else (-1.0 if y < 0.0 else (0.0 if y == 0.0 else y))
        across = 0.5 * sign if aside else 0.0
        cx = x + along * length
        cy = y + across * width
        out[0, i] = ego_x_m + cos_yaw * cx - sin_yaw * cy
        out[1, i] = ego_y_m + sin_yaw * cx + cos_yaw * cy
        trust = min(max((hits[i] - YOUNG_TRACK_HITS) / LATERAL_TRUST_HITS, 0.0), 1.0)
        vy_v = vy_mps[i] * trust
        out[2, i] = cos_yaw * vx_mps[i] - sin_yaw * vy_v
        out[3, i] = sin_yaw * vx_mps[i] + cos_yaw * vy_v


class StackPipeline:
    stage_names = ("perception", "fusion", "planning", "control")

    def __init__(self, road: Road, calibration: SensorRigCalibration, config: StackConfig,
                 planning_model: OnnxModel | None, control_model: OnnxModel | None,
                 perception_model: OnnxModel | None = None) -> None:
        self.road = road
        self.calibration = calibration
        self.config = config
        self.tracker = Tracker()
        self.poses = PoseHistory()
        self._uss_cal = {c.name: c for c in calibration.ultrasonics}
        self._radar_cal = {c.name: c for c in calibration.radars}
        self.camera: CameraPerception | None = None
        if perception_model is not None:
            from edge_autopilot.perception.camera import CameraPerception

            self.camera = CameraPerception(perception_model, calibration.cameras)
        self._camera_batches: list[MeasurementBatch] = []
        self.networks_ran = 0
        self.camera_cycles = 0
        self.safety = SafetyMonitor(calibration=calibration,
                                    set_speed_mps=config.set_speed_mps) if config.safety else None
        self.decision: SafetyDecision | None = None
        self.inbox: list[SensorSample] = []
        # on the wall clock a node sets this: the samples received since the last cycle,
        # read at the cycle's start (after the executive's wake), not before its sleep
        self.input_source: Callable[[], list[SensorSample]] | None = None
        self._batch: list[SensorSample] = []
        self.networks_loaded = planning_model is not None and control_model is not None
        self.unavailable = tuple(name for name, m in (
            ("perception", perception_model), ("planning", planning_model),
            ("control", control_model)) if m is None)
        if self.networks_loaded:
            from edge_autopilot.control.network import NetworkController
            from edge_autopilot.planning.network import NetworkPlanner

            assert planning_model is not None and control_model is not None
            self.net_planner: NetworkPlanner | None = NetworkPlanner(planning_model)
            self.net_controller: NetworkController | None = NetworkController(control_model)
        else:
            self.net_planner = self.net_controller = None
        self.lane_choice = ExpertPlanner()
        self.fallback_planner = ExpertPlanner()
        self.fallback_controller = ExpertController()
        self._inp: PlanningInput | None = None
        self._objects = ObjectList.empty()
        self._traj: Trajectory | None = None
        self._command: ControlCommand | None = None
        self._accel_mps2 = 0.0
        self.tracks: TrackList | None = None
        self._ego_pose: Pose2D | None = None
        self._boxes = np.empty((4, 64))  # _track_objects' scratch, see _box_buffer
        self._ego_s_m = 0.0

    @property
    def trajectory(self) -> Trajectory | None:
        """The planning network's trajectory this cycle; None when it did not run."""
        return self._traj

    @property
    def planning_input(self) -> PlanningInput | None:
        """What the planners saw this cycle; None before the first pose."""
        return self._inp

    def warm_up(self) -> None:
        """Run every kernel once on throwaway data, so the first real cycle is not the one
        that pays for loading compiled code."""
        from edge_autopilot.fusion.measurements import position_batch

        pose = Pose2D(0.0, 0.0, 0.0, 10.0, 0.0)
        poses = PoseHistory()
        poses.add(Odometry(0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0))
        poses.at(5_000_000)
        self.road.frenet_of(0.0, 0.0)
        scratch = Tracker()
        for k in range(5):
            scratch.process(position_batch("warm-up", k * 50_000_000, np.array([20.0]),
                                           np.array([0.0]), np.array([0.3]), np.array([0.3]),
                                           np.zeros(1), pose))
        tracks = scratch.tracks(250_000_000, pose)
        one = np.ones(2, dtype=np.float32)
        scan = RadarScan("warm-up", 300_000_000, 20.0 * one, 0.01 * one, 0.0 * one, -1.0 * one,
                         one)
        scratch.process(radar_batch(scan, self.calibration.radar, pose))
        if self.camera is not None:
            self.camera.warm_up()
        self.road.to_frenet(np.array([0.0]), np.array([0.0]))
        self._warm_up_scene(tracks)  # (the fallback planner's kernel too)
        if self.safety is not None:
            self._warm_up_safety(scan)

    def _warm_up_scene(self, tracks: TrackList) -> None:
        """What a scene with an object runs and a blank warm-up does not: the track box
        kernel, the object feature rows, the fallback's in-path test, and the networks' IO
        bindings (bound on first use). Left cold, they cost cycle 10 of a drive 19 ms."""
        # Both memory layouts the tracker's columns come in (one track: contiguous; more:
        # strided views), each its own compiled kernel, into the real buffer.
        if tracks.count:
            _track_boxes(tracks.x_m, tracks.y_m, tracks.vx_mps, tracks.vy_mps, tracks.hits,
                         0.0, 0.0, 1.0, 0.0, self._box_buffer(tracks.count))
        state = np.zeros((2, 4))
        _track_boxes(state[:, 0], state[:, 1], state[:, 2], state[:, 3],
                     np.zeros(2, dtype=tracks.hits.dtype), 0.0, 0.0, 1.0, 0.0,
                     self._box_buffer(2))
        lane = lane_geometry_at(self.road, 0.0, 1.0, 0.0)
        ahead = ObjectList(np.array([20.0]), np.zeros(1), np.array([8.0]), np.zeros(1),
                           np.zeros(1), np.array([DEFAULT_OBJECT_LENGTH_M]),
                           np.array([DEFAULT_OBJECT_WIDTH_M]), np.zeros(1, dtype=np.int8))
        ego = EgoMotion(10.0, 0.0, 0.0, 0.0)
        inp = PlanningInput(0, ego, lane, ahead, 10.0)
        self.fallback_planner.plan(inp)
        self.fallback_planner.reset()
        if self.net_planner is not None and self.net_controller is not None:
            traj = self.net_planner.plan(inp, 0.0)
            self.net_controller.command(0, ego, lane, traj)
            # keep the warm-up out of the networks' latency figures
            self.net_planner.model.warmup(1)
            self.net_controller.model.warmup(1)

    def _warm_up_safety(self, scan: RadarScan) -> None:
        """One monitor check on every kind of sample, on a throwaway monitor (its state must
        not carry a fake radar target into the drive)."""
        cal = self.calibration
        scratch = SafetyMonitor(calibration=cal, set_speed_mps=self.config.set_speed_mps)
        cam = cal.cameras[0]
        samples: list[SensorSample] = [
            Odometry(0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0),
            CameraFrame(cam.name, 0, np.zeros((cam.height_px, cam.width_px, 3), np.uint8)),
            UltrasonicRange(cal.ultrasonics[0].name, 0, math.inf, 0.15, 5.5, 1.0),
        ]
        for r in cal.radars:
            samples.append(RadarScan(r.name, 0, scan.range_m, scan.azimuth_rad,
                                     scan.elevation_rad, scan.doppler_mps, scan.amplitude_db))
        command = ControlCommand(0.0, 0.0, 0)
        for k in range(3):
            scratch.update_samples(samples)
            scratch.check(k * 10_000_000, command, command)

    # --- inputs (transport side) -------------------------------------------------------------
    def push(self, samples: list[SensorSample]) -> None:
        """Latest samples from the transport; never blocks, never waits."""
        self.inbox.extend(samples)

    def observe(self, samples: list[SensorSample], t_ns: int) -> PlanningInput | None:
        """Perception and fusion only: what the planner would see this cycle (training data
        for the networks is recorded from this, so they learn on the objects the stack sees)."""
        self.push(samples)
        self.begin_cycle(t_ns)
        self.run_stage(0, t_ns)
        self.run_stage(1, t_ns)
        return self._inp

    # --- executive protocol ------------------------------------------------------------------
    def begin_cycle(self, t_ns: int) -> None:
        if self.input_source is not None:
            self.inbox.extend(self.input_source())
        self._batch, self.inbox = self.inbox, []
        if self.safety is not None:
            self.safety.update_samples(self._batch)
        for s in self._batch:
            if isinstance(s, Odometry):
                self.poses.add(s)
                self._accel_mps2 = s.accel_mps2
        self._inp = self._planning_input(t_ns, self._objects)
        self._command = None
        self._camera_batches = []
        self.networks_ran = 0

    def _planning_input(self, t_ns: int, objects: ObjectList) -> PlanningInput | None:
        pose = self.poses.at(t_ns)
        if pose is None:
            return None
        s, d = self.road.frenet_of(pose.x_m, pose.y_m)
        # fusion places this cycle's objects relative to the same pose: keep its s
        self._ego_pose, self._ego_s_m = pose, s
        lane = lane_geometry_at(self.road, s, d, pose.yaw_rad)
        # the bicycle model run backwards: the steering angle that explains the yaw rate
        steer = math.atan(pose.yaw_rate_rps * EGO_WHEELBASE_M / max(pose.speed_mps, 1.0))
        ego = EgoMotion(pose.speed_mps, self._accel_mps2, pose.yaw_rate_rps, steer)
        return PlanningInput(t_ns, ego, lane, objects, self.config.set_speed_mps,
                             self.config.allow_lane_change)

    def fallback(self, t_ns: int) -> ControlCommand:
        inp = self._inp
        if inp is None:
            return ControlCommand(0.0, -1.0, t_ns)  # no pose yet: hold the brake
        cautious = PlanningInput(inp.t_ns, inp.ego, inp.lane, inp.objects, inp.set_speed_mps,
                                 allow_lane_change=False)
        traj = self.fallback_planner.plan(cautious)
        return self.fallback_controller.command(t_ns, inp.ego, inp.lane, traj)

    def run_stage(self, index: int, t_ns: int) -> None:
        if index == 0:
            self._perceive()
        elif index == 1:
            self._fuse(t_ns)
        elif index == 2:
            self._plan()
        else:
            self._control(t_ns)

    def command(self, t_ns: int) -> ControlCommand | None:
        # None in fallback-only mode (no networks) or before the first pose
        return self._command

    def guard(self, t_ns: int, candidate: ControlCommand, fallback: ControlCommand,
              previous: CycleTiming | None, stage_error: str | None = None
              ) -> ControlCommand:
        """The safety monitor on the command about to go out (see ``safety.monitor``)."""
        if self.safety is None:
            return candidate
        traj = self._traj if candidate is self._command else None
        outputs = NetworkOutputs(
            perception_lead_range_m=self._camera_lead_m(),
            traj_accel_mps2=None if traj is None else traj.accel_mps2,
            traj_lateral_offset_m=None if traj is None else traj.lateral_offset_m,
            from_network=candidate is self._command,
            perception_available=self.camera is not None and self.camera_cycles > 0,
            stage_error=stage_error, unavailable=self.unavailable)
        self.decision = self.safety.check(t_ns, candidate, fallback, None, previous, outputs)
        return self.decision.command

    def _camera_lead_m(self) -> float | None:
        """The perception network's nearest object on the ego's path (from the front bumper,
        along the path curved by the current yaw rate, as the monitor measures the radar's),
        for the monitor's perception-vs-radar cross-check."""
        if self.camera is None or self._inp is None:
            return None
        ego = self._inp.ego
        curvature = ego.yaw_rate_rps / max(ego.speed_mps, 1.0)
        best = math.inf
        for det in self.camera.latest:
            for x, y in zip(det.x_m.tolist(), det.y_m.tolist(), strict=True):
                along, lateral = path_coordinates(x, y, curvature)
                if abs(lateral) < CAMERA_LEAD_HALF_WIDTH_M and along > EGO_REAR_AXLE_TO_FRONT_M:
                    best = min(best, along - EGO_REAR_AXLE_TO_FRONT_M)
        return best if math.isfinite(best) else None

    # --- stages ------------------------------------------------------------------------------
    def _perceive(self) -> None:
        """The camera network on one waiting frame (see perception.camera: one camera per
        cycle); nothing to do once every new frame has had its turn."""
        if self.camera is None:
            return
        self.camera.take([s for s in self._batch if isinstance(s, CameraFrame)])
        done = self.camera.detect_next()
        if done is None:
            return
        self.networks_ran |= RAN_PERCEPTION
        self.camera_cycles += 1
        stamp_ns, det = done
        pose = self.poses.at(stamp_ns)
        if pose is not None and det.count:
            self._camera_batches.append(camera_batch(det, stamp_ns, pose))

    def _fuse(self, t_ns: int) -> None:
        batches: list[MeasurementBatch] = list(self._camera_batches)
        uss: list[UltrasonicRange] = []
        for s in self._batch:
            if isinstance(s, RadarScan):
                pose = self.poses.at(s.stamp_ns)
                cal = self._radar_cal.get(s.sensor_id)
                if pose is not None and cal is not None:
                    batches.append(radar_batch(s, cal, pose))
            elif isinstance(s, UltrasonicRange):
                uss.append(s)
        if uss:
            pose = self.poses.at(uss[0].stamp_ns)
            if pose is not None and (b := ultrasonic_batch(uss, self._uss_cal, pose)) is not None:
                batches.append(b)
        for b in sorted(batches, key=lambda b: b.stamp_ns):
            self.tracker.process(b)
        now = self.poses.at(t_ns)
        if now is None:
            return
        self.tracks = self.tracker.tracks(t_ns, now)
        # the pose history memoizes by stamp, so ``now`` is begin_cycle's pose object unless
        # odometry arrived in between; then its Frenet s is already known
        ego_s_m = self._ego_s_m if now is self._ego_pose else None
        self._objects = self._track_objects(self.tracks, now.x_m, now.y_m, now.yaw_rad, ego_s_m)
        if self._inp is not None:  # same instant, same pose and lane: only the objects are new
            inp = self._inp  # (direct construction: dataclasses.replace costs ~10 us a call)
            self._inp = PlanningInput(inp.t_ns, inp.ego, inp.lane, self._objects,
                                      inp.set_speed_mps, inp.allow_lane_change)

    def _track_objects(self, tracks: TrackList, x: float, y: float, yaw: float,
                       ego_s_m: float | None = None) -> ObjectList:
        n = tracks.count
        if n == 0 or self._inp is None:
            return ObjectList.empty()
        # A track is the object's outline point nearest the ego (what every sensor reports):
        # the middle of its back when straight ahead, its near corner when ahead in another
        # lane, a point of its side when alongside. The box centre is half a length further
        # along and, off to the side, half a width further out (see _track_boxes).
        # A young track's sideways velocity is mostly the track settling, or, on a long object
        # alongside, its nearest point sliding along the side; taken at face value it predicts
        # cut-ins that never come. It counts in full once the track has a history.
        c, sn = math.cos(yaw), math.sin(yaw)
        out = self._box_buffer(n)
        _track_boxes(tracks.x_m, tracks.y_m, tracks.vx_mps, tracks.vy_mps, tracks.hits, x, y, c,
                     sn, out)
        wx, wy, vx, vy = out[0], out[1], out[2], out[3]
        s_centre, d = self.road.to_frenet(wx, wy)
        ego_s = self.road.frenet_of(x, y)[0] if ego_s_m is None else ego_s_m
        # (objects_on_road keeps no view of the scratch rows: its velocities are new arrays)
        return objects_on_road(self.road, ego_s, self._inp.lane, s_centre, d, vx, vy,
                               np.zeros(n), np.full(n, DEFAULT_OBJECT_LENGTH_M),
                               np.full(n, DEFAULT_OBJECT_WIDTH_M), np.zeros(n, dtype=np.int8))

    def _box_buffer(self, n: int) -> np.ndarray:
        """(4, n) scratch rows for _track_boxes, grown (never shrunk) as the track count does."""
        if self._boxes.shape[1] <= n:
            # always wider than n: the view keeps one memory layout, so one compiled kernel
            self._boxes = np.empty((4, max(n + 1, 2 * self._boxes.shape[1])))
        return self._boxes[:, :n]

    def _plan(self) -> None:
        inp = self._inp
        self._traj = None
        if inp is None or self.net_planner is None:
            return
        self._traj = self.net_planner.plan(inp, self.lane_choice.choose_lane(inp))
        self.networks_ran |= RAN_PLANNING

    def _control(self, t_ns: int) -> None:
        inp, traj = self._inp, self._traj
        if inp is None or traj is None or self.net_controller is None:
            return
        self._command = self.net_controller.command(t_ns, inp.ego, inp.lane, traj)
        self.networks_ran |= RAN_CONTROL

