"""Sensor samples as the stack sees them, the vehicle's sensor calibration, and (later) the
per-cycle snapshot with ages and health checks."""
