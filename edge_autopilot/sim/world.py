"""The simulated world in lockstep: ``step(command)`` advances 10 ms and returns the sensor
samples that arrive in that interval.

Same scenario + seed -> the same run, bit for bit: all randomness comes from generators seeded
from the scenario seed, one stream per sensor, and nothing reads the wall clock.
"""

from __future__ import annotations

import numpy as np

from edge_autopilot.constants import CYCLE_PERIOD_NS, NS_PER_S
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.maps.road import Road
from edge_autopilot.sensors.calibration import SensorRigCalibration, default_rig
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.actors import ActorSet
from edge_autopilot.sim.scenario import Scenario
from edge_autopilot.sim.sensors.rig import SensorRig
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth
from edge_autopilot.sim.vehicle import VehicleParams, VehicleState, step_vehicle
from edge_autopilot.sim.wire import actuator_command


class World:
    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        vehicle: VehicleParams | None = None,
        calibration: SensorRigCalibration | None = None,
        with_sensors: bool = True,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.road: Road = scenario.road.build()
        self.vehicle = vehicle or VehicleParams()
        self.dt_ns = CYCLE_PERIOD_NS
        self.dt_s = CYCLE_PERIOD_NS / NS_PER_S
        self.t_ns = 0
        ego = scenario.ego
        d0 = self.road.lane_center_d(ego.lane)
        x, y, h, _ = self.road.pose_at(ego.s_m, d0)
        self._ego = VehicleState(x_m=x, y_m=y, yaw_rad=h, speed_mps=ego.speed_mps)
        self._ego_s_m, self._ego_d_m = ego.s_m, d0
        self.actors = ActorSet(list(scenario.actors), self.road)
        cam = scenario.sensors.camera
        self.calibration = calibration or default_rig(cam.width_px, cam.height_px)
        # without sensors (e.g. generating planner training data from truth) a step only moves
        # the world, several times faster
        self.sensors: SensorRig | None = SensorRig(
            self.calibration, scenario.sensors, self.road, np.random.SeedSequence(self.seed)
        ) if with_sensors else None
        self._ego_truth = self._make_ego_truth()
        self._actors_truth = self.actors.truth()
        # views derived from this instant's truth (e.g. the planner's input), computed once by
        # whoever needs them first and dropped when the world steps
        self.derived: dict[str, object] = {}
        if self.sensors is not None:
            self.sensors.capture(0, self._ego_truth, self._actors_truth)

    # --- truth (for the runner, the expert, training and evaluation; never the stack) ------
    @property
    def ego(self) -> EgoTruth:
        return self._ego_truth

    @property
    def actors_truth(self) -> ActorsTruth:
        return self._actors_truth

    @property
    def t_s(self) -> float:
        return self.t_ns / NS_PER_S

    def _make_ego_truth(self) -> EgoTruth:
        e = self._ego
        return EgoTruth(
            x_m=e.x_m,
            y_m=e.y_m,
            yaw_rad=e.yaw_rad,
            speed_mps=e.speed_mps,
            accel_mps2=e.accel_mps2,
            yaw_rate_rps=e.yaw_rate_rps(self.vehicle),
            steer_rad=e.steer_rad,
            s_m=self._ego_s_m,
            d_m=self._ego_d_m,
        )

    # --- lockstep -------------------------------------------------------------------------
    def step(self, command: ControlCommand) -> list[SensorSample]:
        """Apply ``command`` for one period; return the samples that arrive during it."""
        command = actuator_command(command)  # what the actuator's message can carry
        self.actors.step(self.t_s, self.dt_s, self._ego_s_m, self._ego_d_m, self._ego.speed_mps)
        self._ego = step_vehicle(
            self._ego, command.steer_rad, command.accel_mps2, self.vehicle, self.dt_s
        )
        self._ego_s_m, self._ego_d_m = self.road.frenet_of(self._ego.x_m, self._ego.y_m)
        self.t_ns += self.dt_ns
        self._ego_truth = self._make_ego_truth()
        self._actors_truth = self.actors.truth()
        self.derived = {}
        if self.sensors is None:
            return []
        self.sensors.capture(self.t_ns, self._ego_truth, self._actors_truth)
        return self.sensors.deliver(self.t_ns)
