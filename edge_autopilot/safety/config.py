"""Every safety threshold in one place, with its unit and where the number comes from.

Vehicle limits are taken from ``edge_autopilot.constants`` (DESIGN.md "Safety": production
stacks and ISO 11270 / ISO 15622); numbers that exist only for the safety monitor are defined
here. Change a threshold by constructing ``SafetyConfig(..., name=value)``; nothing else in the
package holds a literal limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge_autopilot.constants import (
    ACCEL_MAX_MPS2,
    ACCEL_MIN_NOMINAL_MPS2,
    CAMERA_RATE_HZ,
    COMFORT_STOP_DECEL_MPS2,
    COMFORT_STOP_JERK_MPS3,
    CYCLE_PERIOD_NS,
    EGO_MAX_SPEED_MPS,
    EGO_MAX_STEER_RAD,
    EGO_MAX_STEER_RATE_RPS,
    EGO_REAR_AXLE_TO_FRONT_M,
    EGO_WHEELBASE_M,
    EGO_WIDTH_M,
    EMERGENCY_DECEL_MPS2,
    LAT_ACCEL_MAX_MPS2,
    LAT_JERK_MAX_MPS3,
    NS_PER_S,
    ODOMETRY_RATE_HZ,
    RADAR_RATE_HZ,
    ULTRASONIC_RATE_HZ,
)
from edge_autopilot.safety.types import SafetyLevel


def _period_ns(rate_hz: float) -> int:
    return round(NS_PER_S / rate_hz)


# Ladder level requested by a sensor fault, per sensor kind. The front radar is the monitor's
# own eyes (collision path) and odometry gives the ego speed every check needs: losing either
# leaves the monitor unable to vouch for the vehicle -> MRM. A camera, a rear corner radar
# (lane-change assist) or one ultrasonic feeds only perception / the near field, and the front
# radar path still guards the lane -> DEGRADED.
DEFAULT_SENSOR_FAULT_LEVELS: dict[str, SafetyLevel] = {
    "radar": SafetyLevel.MRM,
    "radar_corner": SafetyLevel.DEGRADED,
    "odometry": SafetyLevel.MRM,
    "camera": SafetyLevel.DEGRADED,
    "ultrasonic": SafetyLevel.DEGRADED,
}


@dataclass(frozen=True)
class SafetyConfig:
    period_ns: int = CYCLE_PERIOD_NS

    # --- command envelope (DESIGN.md "Safety", constants.py) ----------------------------
    accel_max_mps2: float = ACCEL_MAX_MPS2  # +2.0 nominal (ISO 15622 ACC limit class)
    accel_min_nominal_mps2: float = ACCEL_MIN_NOMINAL_MPS2  # -3.5 (ISO 15622 ACC; openpilot)
    emergency_decel_mps2: float = EMERGENCY_DECEL_MPS2  # -mu g, mu 0.8 dry road: ~-7.85
    max_steer_rad: float = EGO_MAX_STEER_RAD  # 35 deg mechanical stop
    max_steer_rate_rps: float = EGO_MAX_STEER_RATE_RPS  # 200 deg/s actuator
    lat_accel_max_mps2: float = LAT_ACCEL_MAX_MPS2  # 3 m/s^2 (ISO 11270 LKA)
    lat_jerk_max_mps3: float = LAT_JERK_MAX_MPS3  # 5 m/s^3 (ISO 11270 LKA)
    wheelbase_m: float = EGO_WHEELBASE_M
    # changes smaller than this are numerical, not worth a finding (the clip still applies)
    accel_report_tol_mps2: float = 0.05
    steer_report_tol_rad: float = math.radians(0.1)
    # plausibility bounds: a command beyond these is not a limit to clip but a broken output
    # (network.out_of_range): 1.25 x the tyre limit, 2 x the positive limit, 1.2 x the stop
    implausible_accel_min_mps2: float = 1.25 * EMERGENCY_DECEL_MPS2
    implausible_accel_max_mps2: float = 2.0 * ACCEL_MAX_MPS2
    implausible_steer_rad: float = 1.2 * EGO_MAX_STEER_RAD
    # trajectory plausibility: accel as above, lateral offset within two lanes of 3.75 m
    implausible_offset_m: float = 7.5

    # --- ego geometry (constants.py) ----------------------------------------------------
    ego_front_x_m: float = EGO_REAR_AXLE_TO_FRONT_M
    ego_half_width_m: float = 0.5 * EGO_WIDTH_M
    # driving corridor half width = ego half width + this (radar lateral noise at 50 m is
    # ~0.26 m: 0.3 deg x 50 m; plus lane-keeping wander)
    corridor_margin_m: float = 0.3
    # the yaw-rate path is trusted this far; beyond, roadside objects fall into a circle that
    # the road does not follow. 120 m covers the RSS distance at 40 m/s with ego brake 7 m/s^2.
    corridor_max_s_m: float = 120.0
    corridor_max_curvature_1pm: float = 0.2  # tighter than the 5 m turning circle is noise
    corridor_min_speed_mps: float = 1.0  # below, yaw rate / speed is noise: straight corridor
    standstill_speed_mps: float = 0.1

    # --- collision: raw radar --------------------------------------------------------------
    radar_period_ns: int = _period_ns(RADAR_RATE_HZ)
    # 2-scan confirmation (clutter: ~2 Poisson false alarms per scan at random positions never
    # repeat at the predicted place). Gates: 3 sigma of the difference of two measurements
    # (sim/spec: range 0.1 m + 0.2 %, azimuth 0.3 deg, Doppler 0.1 m/s) plus motion slack.
    confirm_gate_range_m: float = 0.6
    confirm_gate_range_per_m: float = 0.009
    confirm_gate_lat_m: float = 0.4
    confirm_gate_lat_per_m: float = 0.022
    # Doppler change between scans: 3 sqrt(2) 0.1 m/s noise + 8 m/s^2 x 50 ms + slack
    confirm_gate_doppler_mps: float = 1.0
    # A return at least this far above the detection threshold (amplitude_db is the SNR over
    # the CFAR threshold, radar_msgs/RadarReturn amplitude) confirms in 2 scans; a weaker one
    # needs 3. False alarms are threshold crossings of noise and weak scatterers (the sim's
    # clutter spans 0..12 dB), while an obstacle close enough to matter is strong (a -8 dBsm
    # pedestrian at 30 m, a car at 90 m reach 15 dB). 2 scans alone let ~1 ghost pair per
    # 4 min through at motorway speed (Monte Carlo over 10^5 clutter scans); 3 scans or a
    # strong echo: none.
    confirm_strong_snr_db: float = 15.0
    # a confirmed target is kept (and predicted) this long without a new confirmation: one
    # missed detection of a single-point target (Pd 0.95) does not drop it
    target_coast_ns: int = 2 * _period_ns(RADAR_RATE_HZ)
    radar_max_range_m: float = 160.0  # rated range of the reference radar (RadarSettings)
    radar_half_fov_rad: float = math.radians(45.0)  # 90 deg FOV
    # TTC thresholds. EMERGENCY below 1.0 s: AEB full-brake onset in production systems is
    # ~0.6-1.0 s TTC (Euro NCAP AEB C2C test protocol observations); DEGRADED below 2.0 s:
    # forward-collision-warning class (NHTSA FCW confirmation test: 2.0-2.4 s).
    ttc_emergency_s: float = 1.0
    ttc_degraded_s: float = 2.0
    ttc_min_closing_mps: float = 0.5  # slower closing is creeping: ultrasonics' job
    # Required deceleration to stop closing before the object (constant object speed) after
    # the system response time: EMERGENCY when it reaches 60 % of the tyre limit, i.e. the
    # distance is below the braking distance at 0.6 x emergency decel (kept below the limit:
    # brake build-up and an object that itself brakes eat the rest).
    required_decel_emergency_mps2: float = 0.6 * -EMERGENCY_DECEL_MPS2
    # response: radar latency ~50 ms + debounce 50 ms + actuator lag 0.25 s (constants)
    response_time_s: float = 0.35
    stop_margin_m: float = 0.5
    # RSS safe longitudinal distance (Shalev-Shwartz, Shammah, Shashua 2017, "On a Formal
    # Model of Safe and Scalable Self-driving Cars", Def. 1):
    #   d_min = [v_r rho + a_acc rho^2 / 2 + (v_r + rho a_acc)^2 / (2 b_min) - v_f^2 / (2 b_max)]+
    # rho 0.5 s and a_acc 2 m/s^2 as in the paper's examples / IEEE 2846 defaults; b_max (lead
    # worst-case braking) is the tyre limit on the same road; b_min is the braking the monitor
    # guarantees as its proper response (EMERGENCY at the tyre limit, 90 % of it as margin).
    # Violation while closing -> DEGRADED (gap widened); a violation that cannot be fixed
    # gently shows up as TTC / required decel -> EMERGENCY.
    rss_response_s: float = 0.5
    rss_accel_max_mps2: float = ACCEL_MAX_MPS2
    rss_ego_brake_min_mps2: float = 0.9 * -EMERGENCY_DECEL_MPS2
    rss_lead_brake_max_mps2: float = -EMERGENCY_DECEL_MPS2
    # braking beyond the nominal -3.5 m/s^2 is passed through only while a confirmed in-path
    # object is within this RSS distance computed with the *nominal* ego braking (i.e. if the
    # lead brakes hard, nominal braking would not be enough): hard braking is then justified
    rss_nominal_brake_mps2: float = -ACCEL_MIN_NOMINAL_MPS2
    # ... or within a corridor this much wider on each side (objects about to enter the path)
    brake_authority_margin_m: float = 2.5

    # --- collision: ultrasonic near field ------------------------------------------------------
    ultrasonic_near_m: float = 1.0  # front echo this close while moving forward -> EMERGENCY
    ultrasonic_debounce_samples: int = 2

    # --- sensor health ---------------------------------------------------------------------
    # stale: age of the latest sample > stale_periods x the sensor's period (rates from
    # constants.py; covers latency up to ~2 periods)
    stale_periods: float = 3.0
    camera_period_ns: int = _period_ns(CAMERA_RATE_HZ)
    ultrasonic_period_ns: int = _period_ns(ULTRASONIC_RATE_HZ)
    odometry_period_ns: int = _period_ns(ODOMETRY_RATE_HZ)
    # a stamp this far ahead of the monitor's clock is from a broken clock
    future_stamp_tolerance_ns: int = 20_000_000
    # frozen: bit-identical payload this many times in a row (sensor noise must change it)
    frozen_samples_radar: int = 3
    frozen_samples_camera: int = 4
    frozen_samples_ultrasonic: int = 20
    frozen_samples_odometry: int = 5
    # camera blackout: subsampled mean below 8/255 or standard deviation below 2/255 (sensor
    # read noise alone gives ~3/255), for this many frames in a row
    blackout_mean_max: float = 8.0
    blackout_std_max: float = 2.0
    blackout_frames: int = 3
    blackout_stride_px: int = 8
    odometry_max_speed_mps: float = 1.2 * EGO_MAX_SPEED_MPS
    odometry_max_yaw_rate_rps: float = 2.0
    odometry_max_abs_accel_mps2: float = 15.0
    sensor_fault_levels: dict[str, SafetyLevel] = field(
        default_factory=lambda: dict(DEFAULT_SENSOR_FAULT_LEVELS))

    # --- network plausibility --------------------------------------------------------------
    # perception vs radar lead range: disagree when |diff| > max(3 m, 15 %) ...
    disagree_abs_m: float = 3.0
    disagree_rel: float = 0.15
    # ... or when one sees a lead this close and the other sees none. Sized to the shipped
    # perception network (models/manifest.json metrics.perception): recall ~0.8 within 30 m,
    # ~0.6 overall, so a miss beyond 25 m or for a few frames is its normal, not a fault
    disagree_presence_range_m: float = 25.0
    disagree_cycles: int = 50  # 500 ms: ~15 camera frames in a row
    # leads are compared only where the shipped camera network is dependable: its labels
    # start a few metres out (nearer, the ultrasonics and the radar carry the near field),
    # and past ~40 m a car is a few pixels wide in the 160-px front frame, where its range
    # is measured 20 % long (car_following_steady: 56 m for 46 m)
    disagree_min_range_m: float = 5.0
    disagree_max_range_m: float = 40.0

    # --- timing ----------------------------------------------------------------------------
    consecutive_misses_mrm: int = 3  # 30 ms without a timely command (supervisor acts at 20)

    # --- ladder (hysteresis) ---------------------------------------------------------------
    hold_degraded_ns: int = 2 * NS_PER_S  # DEGRADED -> NOMINAL after 2 s below
    hold_mrm_ns: int = 3 * NS_PER_S  # MRM -> DEGRADED after 3 s below ...
    mrm_release_requires_standstill: bool = True  # ... and only once stopped
    hold_emergency_ns: int = NS_PER_S  # EMERGENCY -> MRM after 1 s below (moving or not)

    # --- fallback commands -----------------------------------------------------------------
    comfort_stop_decel_mps2: float = COMFORT_STOP_DECEL_MPS2  # -2.5
    comfort_stop_jerk_mps3: float = COMFORT_STOP_JERK_MPS3  # -1.5
    # brake held at standstill so the vehicle does not roll (the stack's no-pose fallback too)
    standstill_hold_accel_mps2: float = -1.0
    degraded_speed_fraction: float = 0.6  # of the set speed
    degraded_speed_cap_mps: float = 80.0 / 3.6  # absolute cap (motorway DEGRADED, 80 km/h)
    degraded_speed_gain_1ps: float = 0.5
    degraded_time_gap_s: float = 2.5  # larger than ACC's usual 1.5-1.8 s
    degraded_standstill_gap_m: float = 5.0
    degraded_gap_gain_1ps2: float = 0.1
    degraded_range_rate_gain_1ps: float = 0.5
    degraded_min_accel_mps2: float = COMFORT_STOP_DECEL_MPS2  # the cap never brakes harder

    @property
    def dt_s(self) -> float:
        return self.period_ns / NS_PER_S

    def stale_after_ns(self, kind: str) -> int:
        period = {"radar": self.radar_period_ns, "camera": self.camera_period_ns,
                  "ultrasonic": self.ultrasonic_period_ns,
                  "odometry": self.odometry_period_ns}[kind]
        return round(self.stale_periods * period)

    def frozen_after(self, kind: str) -> int:
        return {"radar": self.frozen_samples_radar, "camera": self.frozen_samples_camera,
                "ultrasonic": self.frozen_samples_ultrasonic,
                "odometry": self.frozen_samples_odometry}[kind]
