"""The expert driver passes every built-in scenario, with all sensors running, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from edge_autopilot.sim.runner import ExpertDriver, run_scenario
from edge_autopilot.sim.scenario import builtin_scenario_paths, load_scenario

BUILTINS = builtin_scenario_paths()


@pytest.mark.parametrize("path", BUILTINS, ids=[p.stem for p in BUILTINS])
def test_expert_passes_builtin_scenario(path) -> None:
    result = run_scenario(load_scenario(path), ExpertDriver())
    assert not result.collision, result.failures
    assert result.passed, result.failures
    assert result.cycles > 0


def test_lockstep_runs_are_bit_identical() -> None:
    scenario = load_scenario("scenarios/cut_in_short_gap.yaml")
    a = run_scenario(scenario, ExpertDriver(), seed=3)
    b = run_scenario(scenario, ExpertDriver(), seed=3)
    for name in ("speed_mps", "accel_mps2", "steer_rad", "ego_xy_m", "actor_xy_m", "gap_m"):
        np.testing.assert_array_equal(getattr(a.trace, name), getattr(b.trace, name))
    timing = {"sim_step_ms": None, "wall_s": None}
    assert a.to_json() | timing == b.to_json() | timing


def test_hard_braking_lead_forces_strong_but_bounded_braking() -> None:
    r = run_scenario(load_scenario("scenarios/lead_brake_hard.yaml"), ExpertDriver())
    assert r.passed
    assert 3.0 < r.max_decel_mps2 <= 8.0
    assert r.min_gap_m > 1.0
