"""edge_autopilot: a sensor-fusion control loop for an automated vehicle.

See ../shared/DESIGN.md (or README.md) for the rooms and the data flow of one cycle.
"""

__version__ = "0.1.0"
