"""The precision the ROS 2 wire carries, applied where the simulator meets the stack.

The simulator's sensors deliver, and its actuator accepts, the values the ROS 2 messages can
carry (float32 for radar_msgs/RadarReturn, sensor_msgs/Range and ackermann_msgs/AckermannDrive
fields). So a run in one process, the same run over DDS, and a replay of its recording see
identical numbers, and lockstep runs stay bit-identical across transports.
"""

from __future__ import annotations

import numpy as np

from edge_autopilot.control.command import ControlCommand


def float32_exact(x: float) -> float:
    """``x`` rounded to the nearest float32, as a Python float."""
    return float(np.float32(x))


def actuator_command(command: ControlCommand) -> ControlCommand:
    """The command as ackermann_msgs/AckermannDrive carries it (float32 fields)."""
    steer = float32_exact(command.steer_rad)
    accel = float32_exact(command.accel_mps2)
    if steer == command.steer_rad and accel == command.accel_mps2:
        return command
    return ControlCommand(steer, accel, command.stamp_ns)
