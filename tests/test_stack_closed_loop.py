"""The stack from sensor samples only (camera perception, radar and ultrasonic fusion, ONNX
planning and control, the safety monitor, through the executive in lockstep), closed loop on
every built-in scenario."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import builtin_scenario_paths, load_scenario

SCENARIOS = [p.stem for p in builtin_scenario_paths()]
FALSE_ALARM_FAMILIES = ("sensor.", "network.", "timing.", "supervisor.")


@pytest.mark.parametrize("name", SCENARIOS)
def test_stack_passes(name: str) -> None:
    driver = StackDriver(default_models_dir())
    assert driver.models.errors == []
    result = run_scenario(load_scenario(f"scenarios/{name}.yaml"), driver)
    assert result.passed, result.failures
    assert not result.collision
    ex = driver.executive
    assert ex.times.count == result.cycles
    assert ex.stage_errors == 0 and ex.guard_errors == 0
    # in lockstep the networks' command goes out every cycle once a pose exists
    assert ex.fallback_total <= 2
    # a clean scenario raises no alarm; the monitor may only act on what the physics asks for
    assert result.interventions is not None
    alarms = [i for i in result.interventions if i["reason"].startswith(FALSE_ALARM_FAMILIES)]
    assert alarms == [], alarms
    js = result.to_json()
    assert js["fallback_cycles"] == ex.fallback_total
    assert js["deadline_misses"] == ex.deadline_misses
    assert js["cycle_ms"]["p50"] > 0.0 and js["cycle_ms"]["max"] >= js["cycle_ms"]["p99"]


def test_stack_without_networks_drives_on_its_fallback(tmp_path: Path) -> None:
    driver = StackDriver(tmp_path)  # an empty directory: no manifest, no networks
    assert driver.models.errors and "manifest" in driver.models.errors[0]
    result = run_scenario(load_scenario("scenarios/stationary_car_50kph.yaml"), driver)
    assert result.passed, result.failures
    assert not driver.pipeline.networks_loaded
    assert driver.executive.fallback_total == result.cycles  # every command was the fallback
    # driving on the fallback is degraded operation, and the monitor says so from the start
    assert result.max_level == "DEGRADED"
    assert result.interventions is not None
    assert result.interventions[0]["reason"] == "network.unavailable"
    assert result.interventions[0]["t_s"] <= 0.02


def test_stack_lockstep_runs_are_bit_identical() -> None:
    """Same scenario, seed and models: the same trajectory bit for bit, whatever the machine's
    load did to the cycle times (replays and OTA validation rely on it)."""
    scenario = load_scenario("scenarios/cut_in_short_gap.yaml")
    a = run_scenario(scenario, StackDriver(default_models_dir()), seed=5)
    b = run_scenario(scenario, StackDriver(default_models_dir()), seed=5)
    for name in ("speed_mps", "accel_mps2", "steer_rad", "ego_xy_m", "actor_xy_m"):
        np.testing.assert_array_equal(getattr(a.trace, name), getattr(b.trace, name))
    assert a.interventions == b.interventions


def test_the_safety_status_goes_out_with_every_command() -> None:
    from edge_autopilot.safety.monitor import SafetyDecision
    from edge_autopilot.safety.types import DiagnosticLevel, SafetyLevel

    driver = StackDriver(default_models_dir())
    published: list = []
    scenario = load_scenario("scenarios/lead_brake_hard.yaml")
    orig_reset = driver.reset

    def reset(world):  # type: ignore[no-untyped-def]
        orig_reset(world)
        driver.executive.publish = published.append

    driver.reset = reset  # type: ignore[method-assign]
    result = run_scenario(scenario, driver)
    assert len(published) == result.cycles
    assert all(isinstance(o.safety, SafetyDecision) for o in published)
    levels = [o.safety.level for o in published]
    assert levels[0] == SafetyLevel.NOMINAL and max(levels) == SafetyLevel.EMERGENCY
    emergency = next(o.safety for o in published if o.safety.level == SafetyLevel.EMERGENCY)
    assert emergency.diagnostic_level == DiagnosticLevel.ERROR
    assert emergency.reasons and all(r.startswith("collision.") for r in emergency.reasons)
