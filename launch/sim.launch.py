"""A simulated run: the loop and supervisor in lockstep with the project's simulator bridge,
and optionally the MCAP recorder.

    ros2 launch edge_autopilot sim.launch.py [params_file:=FILE] [transport:=dds] [record:=true]

The bridge scores the scenario and prints its result; the loop and supervisor keep running for
the next bridge until the launch is stopped.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "edge_autopilot"


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory(PACKAGE), "config", "sim.yaml")
    params_file = LaunchConfiguration("params_file")
    transport = LaunchConfiguration("transport")

    def node(executable: str, **kwargs: object) -> Node:
        return Node(package=PACKAGE, executable=executable, name=executable, output="screen",
                    parameters=[params_file],
                    arguments=["--params", params_file, "--transport", transport], **kwargs)

    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="ROS 2 parameter file of the nodes"),
        DeclareLaunchArgument("transport", default_value="dds",
                              description="inproc | zmq | dds | ros2"),
        DeclareLaunchArgument("record", default_value="false",
                              description="also record the run to an MCAP file"),
        node("autopilot_loop"),
        node("safety_supervisor"),
        node("sim_bridge"),
        node("mcap_recorder", condition=IfCondition(LaunchConfiguration("record"))),
    ])
