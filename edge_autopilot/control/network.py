"""The ONNX controller: trajectory + ego state -> steering angle and acceleration."""

from __future__ import annotations

import numpy as np

from edge_autopilot.constants import ACCEL_MAX_MPS2, EGO_MAX_STEER_RAD, EMERGENCY_DECEL_MPS2
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.perception.onnx_session import OnnxModel
from edge_autopilot.planning.features import CONTROL_INPUTS, decode_control, encode_control
from edge_autopilot.planning.types import EgoMotion, LaneGeometry, Trajectory


class NetworkController:
    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self._input_name = model.spec.inputs[0].name
        self._x = np.zeros((1, CONTROL_INPUTS), dtype=np.float32)

    def command(self, t_ns: int, ego: EgoMotion, lane: LaneGeometry,
                traj: Trajectory) -> ControlCommand:
        encode_control(ego, lane, traj, self._x[0])
        steer, accel = decode_control(self.model.run_bound({self._input_name: self._x})[0][0])
        return ControlCommand(
            steer_rad=min(max(steer, -EGO_MAX_STEER_RAD), EGO_MAX_STEER_RAD),
            accel_mps2=min(max(accel, EMERGENCY_DECEL_MPS2), ACCEL_MAX_MPS2),
            stamp_ns=t_ns,
        )
