"""ROS 2 nodes: the autopilot loop, the safety supervisor, the simulator bridge and the recorder.

Each node talks through one ``edge_autopilot.transport`` Bus (inproc, zmq, Cyclone DDS with
ROS 2's wire names, or rclpy) and reads its parameters from a ROS 2 parameter file, so the
same files drive ``ros2 launch`` and runs without ROS 2. The stack itself never imports this.
"""
