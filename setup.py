"""pip and ROS 2 ament_python package definition (ament_python runs this same file via colcon)."""

from __future__ import annotations

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "edge_autopilot"


def data(folder: str, pattern: str = "*") -> tuple[str, list[str]]:
    return (f"share/{PACKAGE}/{folder}", sorted(p for p in glob(f"{folder}/{pattern}")))


setup(
    name=PACKAGE,
    version="0.1.0",
    description="Sensor-fusion control loop for an automated vehicle: ONNX perception, planning "
    "and control in a timed 10 ms loop with a safety monitor, fallback and OTA model updates",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*", "ota", "ota.*"]),
    package_data={PACKAGE: ["py.typed"],
                  f"{PACKAGE}.msgs": ["definitions/*/msg/*.msg", "definitions/*/*/msg/*.msg"],
                  f"{PACKAGE}.transport": ["*.xml"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        data("launch", "*.py"),
        data("config", "*.yaml"),
        data("models"),
        data("scenarios", "*.yaml"),
        data("scenarios/faults", "*.yaml"),
    ],
    install_requires=[
        "numpy>=1.24",
        "numba>=0.58",
        "pydantic>=2.5",
        "PyYAML>=6.0",
        "rich>=13.0",
        "matplotlib>=3.7",
        "onnxruntime>=1.17",
        "pyzmq>=25",  # the supervisor's heartbeat and command channel; the zmq transport
        # ROS 2's wire protocol without rclpy (transport dds); the bus writes and takes raw CDR
        # through cyclonedds internals tested on 11.0.x only
        "cyclonedds>=11.0,<12",
        "mcap>=1.1",  # rosbag2 recordings
    ],
    extras_require={
        "test": ["pytest>=7.4", "pytest-benchmark>=4.0", "ruff>=0.5", "filterpy>=1.4.5",
                 "onnx>=1.15", "rosbags>=0.10"],
        "train": ["torch>=2.2", "onnx>=1.15"],
        "gpu": ["onnxruntime-gpu>=1.17"],
        "carla": ["carla>=0.9.15"],
        "ray": ["ray>=2.9"],
    },
    entry_points={
        "console_scripts": [
            "edge-autopilot = edge_autopilot.cli:main",
            # one per ROS 2 node (ros2 run edge_autopilot <name>)
            "autopilot_loop = edge_autopilot.nodes.autopilot_loop:main",
            "safety_supervisor = edge_autopilot.nodes.safety_supervisor:main",
            "sim_bridge = edge_autopilot.nodes.sim_bridge:main",
            "mcap_recorder = edge_autopilot.nodes.mcap_recorder:main",
        ],
    },
    zip_safe=False,
)
