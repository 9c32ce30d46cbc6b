"""The ONNX planner: planning features -> trajectory, with the output made physical and sane."""

from __future__ import annotations

import numpy as np

from edge_autopilot.constants import ACCEL_MAX_MPS2, EMERGENCY_DECEL_MPS2
from edge_autopilot.perception.onnx_session import OnnxModel
from edge_autopilot.planning.features import (
    PLANNING_INPUTS,
    decode_planning,
    encode_planning,
)
from edge_autopilot.planning.types import PlanningInput, Trajectory


class NetworkPlanner:
    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self._input_name = model.spec.inputs[0].name
        self._x = np.zeros((1, PLANNING_INPUTS), dtype=np.float32)

    def plan(self, inp: PlanningInput, target_offset_m: float) -> Trajectory:
        encode_planning(inp, target_offset_m, self._x[0])
        y = self.model.run_bound({self._input_name: self._x})[0][0]
        traj = decode_planning(y)  # new float64 arrays: nothing refers to the output buffer
        # a network can say anything: the plan never asks beyond what the car can do
        np.clip(traj.accel_mps2, EMERGENCY_DECEL_MPS2, ACCEL_MAX_MPS2, out=traj.accel_mps2)
        return traj
