"""Fault injection: each fault kind changes the samples as declared and only within its window,
the schema names the field in its errors, the injector is deterministic; the fault matrix
detects, reaches a safe state without collision or exception on representative cases, and the
same harness raises no false alarm on clean runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.errors import ScenarioError
from edge_autopilot.sensors.samples import CameraFrame, Odometry, RadarScan, UltrasonicRange
from edge_autopilot.sim.fault_matrix import (
    FAULT_SCENARIO_DIR,
    MatrixCase,
    case_passed,
    cases_from_scenario,
    clean_case,
    default_matrix,
    fault_scenario_paths,
    run_case,
)
from edge_autopilot.sim.faults import FaultInjector, parse_fault
from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import (
    BUILTIN_SCENARIO_DIR,
    builtin_scenario_paths,
    load_scenario,
    parse_scenario,
)

MS = 1_000_000
START_NS, END_NS = 1_000 * MS, 1_500 * MS  # every unit-test fault: start 1.0 s, 0.5 s long
BEFORE, INSIDE, LAST, AFTER = START_NS - 10 * MS, START_NS, END_NS - 10 * MS, END_NS


def radar(t_ns: int, name: str = "front", n: int = 3) -> RadarScan:
    one = np.ones(n)
    return RadarScan(name, t_ns - 50 * MS, np.arange(20.0, 20.0 + 10 * n, 10.0), 0.01 * one,
                     0.0 * one, -1.0 * one, 20.0 * one)


def camera(t_ns: int, name: str = "front") -> CameraFrame:
    img = np.random.default_rng(t_ns).integers(30, 200, (96, 160, 3), dtype=np.uint8)
    return CameraFrame(name, t_ns - 30 * MS, img)


def uss(t_ns: int, name: str = "front_left_center", r: float = 3.0) -> UltrasonicRange:
    return UltrasonicRange(name, t_ns - 20 * MS, r, 0.15, 5.5, 0.5)


def odo(t_ns: int, speed: float = 20.0) -> Odometry:
    return Odometry(t_ns - 10 * MS, 100.0, 2.0, 0.01, speed, 0.001, 0.2)


def batch(t_ns: int) -> list:
    return [radar(t_ns), radar(t_ns, "rear_left"), camera(t_ns), camera(t_ns, "front_left"),
            uss(t_ns), uss(t_ns, "front_right_center"), odo(t_ns)]


def injector(**fault: object) -> FaultInjector:
    return FaultInjector([parse_fault({"start_s": 1.0, "duration_s": 0.5, **fault})], seed=3)


def by_key(samples: list) -> dict[str, object]:
    from edge_autopilot.sim.faults import sample_key

    return {sample_key(s): s for s in samples}


def run_window(inj: FaultInjector) -> dict[int, tuple[list, list]]:
    """(inputs, outputs) at the instants around the window, inputs checked untouched."""
    out = {}
    for t in (BEFORE, INSIDE, LAST, AFTER):
        inputs = batch(t)
        snapshot = [(s.stamp_ns, s.range_m.copy()) if isinstance(s, RadarScan) else
                    (s.stamp_ns, s.image_rgb.copy()) if isinstance(s, CameraFrame) else
                    (s.stamp_ns, s) for s in inputs]
        result = inj.apply(t, inputs)
        for s, (stamp, payload) in zip(inputs, snapshot, strict=True):  # never mutated
            assert s.stamp_ns == stamp
            if isinstance(s, RadarScan):
                np.testing.assert_array_equal(s.range_m, payload)
            elif isinstance(s, CameraFrame):
                np.testing.assert_array_equal(s.image_rgb, payload)
        out[t] = (inputs, result)
    return out


def assert_untouched_outside(runs: dict[int, tuple[list, list]]) -> None:
    for t in (BEFORE, AFTER):
        inputs, result = runs[t]
        assert len(result) == len(inputs)
        assert all(a is b for a, b in zip(inputs, result, strict=True))


def changed_keys(runs: dict[int, tuple[list, list]], t: int) -> set[str]:
    inputs, result = runs[t]
    before, after = by_key(inputs), by_key(result)
    return {k for k in before if k not in after or after[k] is not before[k]}


# --- each kind, only within its window -----------------------------------------------------------
def test_dropout_removes_only_the_selected_sensor() -> None:
    runs = run_window(injector(kind="dropout", sensor="radar/front"))
    assert_untouched_outside(runs)
    for t in (INSIDE, LAST):
        inputs, result = runs[t]
        assert "radar/front" not in by_key(result)
        assert len(result) == len(inputs) - 1  # radar/rear_left and the rest still there


def test_delay_and_clock_jump_shift_stamps() -> None:
    runs = run_window(injector(kind="delay", sensor="odometry", delay_ms=300))
    assert_untouched_outside(runs)
    assert changed_keys(runs, INSIDE) == {"odometry"}
    inputs, result = runs[INSIDE]
    assert by_key(result)["odometry"].stamp_ns == by_key(inputs)["odometry"].stamp_ns - 300 * MS
    runs = run_window(injector(kind="clock_jump", sensor="all", jump_ms=-40))
    assert_untouched_outside(runs)
    inputs, result = runs[LAST]
    assert [s.stamp_ns for s in result] == [s.stamp_ns - 40 * MS for s in inputs]


def test_nan_payloads() -> None:
    runs = run_window(injector(kind="nan", sensor="radar/front"))
    assert_untouched_outside(runs)
    assert changed_keys(runs, INSIDE) == {"radar/front"}
    assert np.isnan(by_key(runs[INSIDE][1])["radar/front"].range_m).all()
    runs = run_window(injector(kind="nan", sensor="odometry", value="inf"))
    o = by_key(runs[LAST][1])["odometry"]
    assert all(math.isinf(v) for v in (o.x_m, o.y_m, o.speed_mps, o.yaw_rate_rps, o.accel_mps2))
    runs = run_window(injector(kind="nan", sensor="ultrasonic", value="inf"))
    assert changed_keys(runs, INSIDE) == {"ultrasonic/front_left_center",
                                          "ultrasonic/front_right_center"}
    # +inf is sensor_msgs/Range "no echo", a legitimate reading: -inf is written instead
    assert by_key(runs[INSIDE][1])["ultrasonic/front_left_center"].range_m == -math.inf
    # an empty scan still carries the broken value
    empty = radar(INSIDE, n=0)
    (out,) = injector(kind="nan", sensor="radar/front").apply(INSIDE, [empty])
    assert out.count == 1 and math.isnan(out.range_m[0])


def test_frozen_repeats_the_last_payload_with_new_stamps() -> None:
    inj = injector(kind="frozen", sensor="camera/front")
    runs = run_window(inj)
    assert_untouched_outside(runs)
    last_good = by_key(runs[BEFORE][0])["camera/front"]
    for t in (INSIDE, LAST):
        inputs, result = runs[t]
        frozen = by_key(result)["camera/front"]
        assert frozen.image_rgb is last_good.image_rgb
        assert frozen.stamp_ns == by_key(inputs)["camera/front"].stamp_ns
        assert changed_keys(runs, t) == {"camera/front"}


def test_noise_burst_is_deterministic_and_windowed() -> None:
    def noisy(seed: int) -> list:
        inj = FaultInjector([parse_fault({"kind": "noise_burst", "sensor": "radar/front",
                                          "sigma": 2.0, "start_s": 1.0, "duration_s": 0.5})],
                            seed=seed)
        return [by_key(inj.apply(t, batch(t)))["radar/front"].range_m for t in (INSIDE, LAST)]

    a, b, c = noisy(1), noisy(1), noisy(2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], radar(INSIDE).range_m)
    runs = run_window(injector(kind="noise_burst", sensor="camera/front", sigma=20.0))
    assert_untouched_outside(runs)
    assert changed_keys(runs, INSIDE) == {"camera/front"}


def test_radar_ghost_in_path_closing_like_a_stationary_object() -> None:
    inj = injector(kind="radar_ghost", range_m=40.0)
    runs = run_window(inj)
    assert_untouched_outside(runs)
    assert changed_keys(runs, INSIDE) == {"radar/front"}
    first = by_key(runs[INSIDE][1])["radar/front"]
    last = by_key(runs[LAST][1])["radar/front"]
    assert first.count == 4 and first.range_m[-1] == pytest.approx(40.0)
    assert first.azimuth_rad[-1] == 0.0 and first.amplitude_db[-1] == 30.0
    assert first.doppler_mps[-1] == pytest.approx(-20.0)  # -ego speed from the odometry
    # 0.49 s later at 20 m/s: 9.8 m closer
    assert last.range_m[-1] == pytest.approx(40.0 - 20.0 * 0.49)


def test_camera_blackout_and_stuck_ultrasonic() -> None:
    runs = run_window(injector(kind="camera_blackout"))
    assert_untouched_outside(runs)
    assert changed_keys(runs, INSIDE) == {"camera/front", "camera/front_left"}
    assert not by_key(runs[INSIDE][1])["camera/front_left"].image_rgb.any()
    runs = run_window(injector(kind="stuck_ultrasonic", sensor="ultrasonic/front_left_center",
                               range_m=0.6))
    assert_untouched_outside(runs)
    assert changed_keys(runs, LAST) == {"ultrasonic/front_left_center"}
    assert by_key(runs[LAST][1])["ultrasonic/front_left_center"].range_m == 0.6


def test_loop_faults_are_answered_by_time() -> None:
    inj = FaultInjector([
        parse_fault({"kind": "network_raises", "stage": "control", "start_s": 1.0,
                     "duration_s": 0.5}),
        parse_fault({"kind": "stage_overrun", "stage": "fusion", "extra_ms": 12,
                     "start_s": 1.0, "duration_s": 0.05}),
        parse_fault({"kind": "corrupt_model", "model": "control"}),
        parse_fault({"kind": "loop_killed", "start_s": 3.0}),
    ])
    assert inj.raising_stage(BEFORE) is None and inj.raising_stage(LAST) == "control"
    assert inj.raising_stage(AFTER) is None
    assert inj.overrun_ns("fusion", INSIDE) == 12 * MS and inj.overrun_ns("planning", INSIDE) == 0
    assert inj.overrun_ns("fusion", INSIDE + 50 * MS) == 0  # 5 cycles, then over
    assert inj.corrupt_models() == ("control",)
    assert inj.loop_killed_ns() == 3_000 * MS


# --- schema ------------------------------------------------------------------------------------
BASE = {"duration_s": 5, "road": {"sections": [{"length_m": 500}]},
        "ego": {"lane": 0, "speed_mps": 10, "set_speed_mps": 10}}


@pytest.mark.parametrize("fault, expected", [
    ({"kind": "dropout", "sensor": "radar/frnt", "start_s": 1}, "faults[0].sensor: unknown sensor"),
    ({"kind": "nan", "sensor": "camera", "start_s": 1}, "faults[0].sensor: this fault applies"),
    ({"kind": "smoke", "start_s": 1}, "faults[0].kind: unknown fault kind; expected one of: "
                                      "dropout, delay"),
    ({"start_s": 1}, "faults[0].kind: required field is missing"),
    ({"kind": "delay", "sensor": "odometry", "start_s": 1}, "faults[0].delay_ms: required"),
    ({"kind": "dropout", "sensor": "odometry", "start_s": -1}, "faults[0].start_s: Input should"),
    ({"kind": "stage_overrun", "extra_ms": 5, "start_s": 1, "cycles": 3},
     "faults[0].cycles: unknown key"),
    ({"kind": "corrupt_model", "model": "planning", "duration_s": 2},
     "faults[0].duration_s: a model is loaded once"),
    ({"kind": "loop_killed", "start_s": 1, "duration_s": 1}, "faults[0].duration_s: a killed"),
    ({"kind": "network_raises", "stage": "vision", "start_s": 1}, "faults[0].stage: Input"),
])
def test_schema_errors_name_the_field(fault: dict, expected: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({**BASE, "faults": [fault]}, "f.yaml", "f")
    assert str(err.value).startswith("f.yaml: " + expected), str(err.value)


def test_fault_scenarios_load_and_stay_out_of_the_builtins() -> None:
    paths = fault_scenario_paths()
    assert len(paths) >= 6
    assert FAULT_SCENARIO_DIR == BUILTIN_SCENARIO_DIR / "faults"
    builtins = builtin_scenario_paths()
    assert builtins and all(p.parent == BUILTIN_SCENARIO_DIR for p in builtins)
    assert not set(paths) & set(builtins)
    for p in paths:
        assert load_scenario(p).faults, p
    assert all(not load_scenario(p).faults for p in builtins)
    assert {c.faults[0].kind for c in default_matrix()} >= {
        "dropout", "delay", "nan", "frozen", "noise_burst", "radar_ghost", "camera_blackout",
        "stuck_ultrasonic", "network_raises", "corrupt_model", "stage_overrun", "loop_killed",
        "clock_jump"}


# --- closed loop (the stack) -----------------------------------------------------------------
def _file_case(name: str) -> MatrixCase:
    (case,) = cases_from_scenario(load_scenario(Path(FAULT_SCENARIO_DIR, f"{name}.yaml")))
    return case


@pytest.mark.parametrize("name, max_detect_ms", [
    ("radar_dropout_following", 200),
    ("camera_blackout_following", 200),
    ("odometry_nan", 20),
    ("radar_ghost_empty_road", 200),
    ("stage_overrun_planning", 20),
])
def test_matrix_case_detects_and_reaches_safe_state(name: str, max_detect_ms: float) -> None:
    row = run_case(_file_case(name))
    assert case_passed(row), row
    assert row["detect_ms"] <= max_detect_ms and row["safe_ms"] <= max_detect_ms, row


def test_network_raising_is_survived() -> None:
    case = MatrixCase((parse_fault({"kind": "network_raises", "stage": "planning",
                                    "start_s": 1.0, "duration_s": 1.0}),),
                      load_scenario(BUILTIN_SCENARIO_DIR / "car_following_steady.yaml"), 3.0)
    row = run_case(case)
    assert row["stage_errors"] == 100 and row["fallback_cycles"] >= 100  # every cycle, handled
    assert row["collision"] is False and row["unhandled_exception"] is None


@pytest.mark.parametrize("fault", [
    {"kind": "network_raises", "stage": "planning", "start_s": 1.0, "duration_s": 1.0},
    {"kind": "corrupt_model", "model": "planning"},
])
def test_loop_network_faults_are_detected(fault: dict) -> None:
    case = MatrixCase((parse_fault(fault),),
                      load_scenario(BUILTIN_SCENARIO_DIR / "car_following_steady.yaml"), 2.5)
    assert run_case(case)["detected"]


def test_clean_runs_raise_no_false_alarm() -> None:
    for name in ("car_following_steady", "low_speed_obstacle"):
        row = run_case(clean_case(load_scenario(BUILTIN_SCENARIO_DIR / f"{name}.yaml"), 4.0))
        alarms = [r for r in row["reasons"] if r.split(".")[0] in
                  ("sensor", "network", "timing", "supervisor")]
        assert alarms == [] and row["max_level"] == "NOMINAL", row
        assert row["collision"] is False and row["unhandled_exception"] is None


def test_harness_without_faults_drives_exactly_like_the_stack() -> None:
    """Virtual-clock real-time mode and the injector add nothing on a clean run."""
    from edge_autopilot.sim.fault_matrix import FaultStackDriver

    scenario = load_scenario(BUILTIN_SCENARIO_DIR / "car_following_steady.yaml").model_copy(
        update={"duration_s": 2.0})
    plain = run_scenario(scenario, StackDriver(default_models_dir()))
    wrapped = run_scenario(scenario, FaultStackDriver(default_models_dir()))
    n = plain.trace.n
    np.testing.assert_array_equal(plain.trace.accel_mps2[:n], wrapped.trace.accel_mps2[:n])
    assert wrapped.deadline_misses == 0


def test_faults_command_runs_a_scenario_file_and_writes_json(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    from edge_autopilot.cli import main

    out = tmp_path / "faults.json"
    path = BUILTIN_SCENARIO_DIR / "faults" / "radar_dropout_following.yaml"
    assert main(["faults", str(path), "--no-clean", "--quiet", "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    (row,) = js["cases"]
    for key in ("fault", "scenario", "collision", "detected", "detect_ms", "safe_state",
                "safe_ms", "unhandled_exception"):
        assert key in row
    assert row["passed"] and js["summary"]["failed"] == 0


def test_faults_command_refuses_a_scenario_without_faults(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from edge_autopilot.cli import main

    assert main(["faults", str(BUILTIN_SCENARIO_DIR / "lead_brake_hard.yaml"),
                 "--no-clean"]) == 2
    err = capsys.readouterr().err
    assert "declares no faults" in err and "Traceback" not in err
