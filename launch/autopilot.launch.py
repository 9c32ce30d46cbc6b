"""The vehicle side: the 10 ms autopilot loop and its safety supervisor.

    ros2 launch edge_autopilot autopilot.launch.py [params_file:=FILE] [transport:=dds]

The nodes speak ROS 2's wire protocol through Cyclone DDS by default (``transport:=dds``), which
interoperates with ROS 2 nodes on rmw_cyclonedds_cpp; ``transport:=ros2`` goes through rclpy.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "edge_autopilot"


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory(PACKAGE), "config",
                                  "autopilot.yaml")
    params_file = LaunchConfiguration("params_file")
    transport = LaunchConfiguration("transport")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="ROS 2 parameter file of the nodes"),
        DeclareLaunchArgument("transport", default_value="dds",
                              description="inproc | zmq | dds | ros2"),
        Node(package=PACKAGE, executable="autopilot_loop", name="autopilot_loop",
             output="screen", parameters=[params_file],
             arguments=["--params", params_file, "--transport", transport]),
        Node(package=PACKAGE, executable="safety_supervisor", name="safety_supervisor",
             output="screen", parameters=[params_file],
             arguments=["--params", params_file, "--transport", transport]),
    ])
