"""Physical constants, timing and reference limits, in one place.

Limits follow DESIGN.md "Safety" (facts from production stacks and ISO 11270 / ISO 15622):
nominal accel -3.5..+2.0 m/s^2, lateral accel <= 3 m/s^2, lateral jerk <= 5 m/s^3,
comfortable stop about -2.5 m/s^2 with jerk about -1.5 m/s^3, emergency braking to the tyre
limit (about -8 m/s^2 on a dry road, mu ~ 0.8).
"""

from __future__ import annotations

import math

GRAVITY_MPS2 = 9.81

# --- loop timing -------------------------------------------------------------------------
CYCLE_PERIOD_NS = 10_000_000
CYCLE_PERIOD_S = CYCLE_PERIOD_NS / 1e9
NS_PER_S = 1_000_000_000

# --- reference limits (DESIGN.md "Safety") -------------------------------------------------
ACCEL_MAX_MPS2 = 2.0
ACCEL_MIN_NOMINAL_MPS2 = -3.5
LAT_ACCEL_MAX_MPS2 = 3.0
LAT_JERK_MAX_MPS3 = 5.0
COMFORT_STOP_DECEL_MPS2 = -2.5
COMFORT_STOP_JERK_MPS3 = -1.5
DRY_ROAD_FRICTION = 0.8
EMERGENCY_DECEL_MPS2 = -DRY_ROAD_FRICTION * GRAVITY_MPS2  # ~ -7.85 m/s^2

# --- ego vehicle (a mid-size passenger car) -------------------------------------------------
EGO_WHEELBASE_M = 2.8
EGO_LENGTH_M = 4.7
EGO_WIDTH_M = 1.85
EGO_HEIGHT_M = 1.5
# rear axle to front bumper; the vehicle frame origin is the rear axle centre (ROS base_link).
EGO_REAR_AXLE_TO_FRONT_M = 3.75
EGO_REAR_AXLE_TO_BACK_M = EGO_LENGTH_M - EGO_REAR_AXLE_TO_FRONT_M
EGO_MAX_STEER_RAD = math.radians(35.0)
EGO_MAX_STEER_RATE_RPS = math.radians(200.0)
EGO_STEER_LAG_S = 0.08
EGO_ACCEL_LAG_S = 0.25
EGO_MAX_SPEED_MPS = 45.0

# --- sensors ------------------------------------------------------------------------------
CAMERA_RATE_HZ = 30.0
RADAR_RATE_HZ = 20.0
ULTRASONIC_RATE_HZ = 20.0
ODOMETRY_RATE_HZ = 100.0
ULTRASONIC_MIN_RANGE_M = 0.15
ULTRASONIC_MAX_RANGE_M = 5.5
