"""`edge-autopilot bench` and its deadline gate: the busy road, the figures, the thresholds, and
the command line's answers to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.cli import main
from edge_autopilot.errors import ConfigError
from edge_autopilot.sim.bench import (
    BenchResult,
    DeadlineGate,
    busy_scenario,
    gate_breaches,
    load_gate,
    run_bench,
)
from edge_autopilot.sim.runner import default_models_dir
from edge_autopilot.sim.world import World

GATE_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "deadline_gate.yaml"


def test_busy_scenario_puts_the_traffic_around_the_ego() -> None:
    scenario = busy_scenario(32, duration_s=60.0)
    assert len(scenario.actors) == 32
    world = World(scenario, with_sensors=False)
    rel = world.actors_truth.s_m - world.ego.s_m
    assert np.all(np.abs(rel) < 160.0)  # within the front radar's reach
    assert (rel > 0).sum() >= 16 and (rel < 0).sum() >= 8
    # the road outlasts the run at the traffic's speed
    assert world.road.length_m > 60.0 * 20.0 * 1.3
    with pytest.raises(ConfigError, match="--actors"):
        busy_scenario(-1, 10.0)


def _result(cycle_ms: list[float], misses: int = 0, errors: list[str] | None = None
            ) -> BenchResult:
    n = len(cycle_ms)
    cycle_ns = (np.array(cycle_ms) * 1e6).astype(np.int64)
    return BenchResult(
        cycles=n, actors=4, deadline_misses=misses, fallback_cycles=0, stage_errors=0,
        cycle_ns=cycle_ns, stage_ns={"fusion": cycle_ns // 2},
        inference_ns={"planning": np.full(10, 200_000), "control": np.full(10, 100_000)},
        full_cycle_mask=np.ones(n, dtype=bool), providers={}, model_errors=errors or [],
        collision=False, wall_s=1.0)


def test_the_shipped_gate_is_the_issues_thresholds() -> None:
    gate = load_gate(GATE_FILE)
    assert gate.min_cycles == 20000
    assert gate.max_deadline_misses == 0
    assert gate.cycle_p99_ms_max == 6.0
    assert gate.cycle_max_ms_below == 10.0
    assert gate.require_all_models


def test_gate_passes_a_clean_run_and_names_every_breach() -> None:
    gate = DeadlineGate(min_cycles=100, max_deadline_misses=0, cycle_p99_ms_max=6.0,
                        cycle_max_ms_below=10.0, overhead_ratio_max=10.0,
                        require_all_models=True)
    clean = _result([1.0] * 100)
    assert gate_breaches(clean, gate) == []
    # overhead ratio: median cycle 1.0 ms over the networks' 0.3 ms
    assert clean.to_json()["overhead_ratio"] == pytest.approx(1.0 / 0.3, rel=1e-3)

    slow = _result([1.0] * 90 + [7.0] * 10 + [10.0], misses=1, errors=["x.onnx: gone"])
    breaches = gate_breaches(slow, gate)
    text = "\n".join(breaches)
    assert "deadline misses 1 > 0" in text
    assert "cycle p99" in text and "> 6.0 ms" in text
    assert "cycle max 10.0 ms is not below 10.0 ms" in text  # the limit is strict
    assert "models did not load" in text
    assert gate_breaches(_result([1.0] * 10), gate) == ["cycles 10 < 100"]


@pytest.mark.parametrize("content, expected", [
    ("cycle_p99_ms_max: fast\n", "cycle_p99_ms_max"),
    ("max_misses: 0\n", "max_misses"),
    ("- 1\n- 2\n", "mapping"),
    ("a: [1\n", "not valid YAML"),
])
def test_bad_gate_files_are_named_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=expected) as info:
        load_gate(path)
    assert str(path) in str(info.value)


def test_a_short_real_bench_reports_every_figure() -> None:
    result = run_bench(cycles=400, actors=4, models_dir=default_models_dir())
    js = result.to_json()
    for key in ("cycles", "deadline_misses", "cycle_ms", "stages_ms", "inference_ms_sum_p50",
                "overhead_ratio"):
        assert key in js
    assert js["cycles"] == 400
    assert set(js["cycle_ms"]) == {"p50", "p99", "p999", "max"}
    assert set(js["stages_ms"]) == {"perception", "fusion", "planning", "control", "safety"}
    assert js["stages_ms"]["planning"]["runs"] >= 399
    assert js["inference_ms_sum_p50"] > 0.0
    # a cycle that ran every network cannot be faster than the networks alone
    assert js["overhead_ratio"] > 1.0
    assert not result.collision


def test_bench_cli_gate_fails_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    impossible = tmp_path / "impossible.yaml"
    impossible.write_text("cycle_p99_ms_max: 0.0001\n")
    out = tmp_path / "bench.json"
    code = main(["bench", "--cycles", "200", "--actors", "2", "--quiet", "--json", str(out),
                 "--gate", str(impossible)])
    assert code == 1
    js = json.loads(out.read_text())
    assert js["gate"]["passed"] is False and "cycle p99" in js["gate"]["breaches"][0]
    loose = tmp_path / "loose.yaml"
    loose.write_text("min_cycles: 100\ncycle_p99_ms_max: 1000\n")
    assert main(["bench", "--cycles", "200", "--actors", "2", "--quiet",
                 "--gate", str(loose)]) == 0
    assert "gate passed" in capsys.readouterr().out


@pytest.mark.parametrize("argv, expected", [
    (["bench", "--cycles", "0"], "--cycles"),
    (["bench", "--actors", "-3", "--cycles", "10"], "--actors"),
    (["bench", "--gate", "/nonexistent/gate.yaml"], "cannot read the gate file"),
    (["bench", "--models", "/nonexistent/models"], "no such models directory"),
])
def test_bench_cli_user_errors(argv: list[str], expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "Traceback" not in captured.err


REALTIME_SCENARIO = """\
name: realtime_check
duration_s: 2
road: {lanes: 2, sections: [{length_m: 300}]}
ego: {lane: 0, s_m: 0, speed_mps: 15.0, set_speed_mps: 15.0}
actors:
  - {id: lead, kind: car, lane: 0, s_m: 40, speed_mps: 15.0}
"""


def test_run_realtime_holds_the_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "realtime_check.yaml"
    path.write_text(REALTIME_SCENARIO)
    out = tmp_path / "rt.json"
    assert main(["run", str(path), "--driver", "stack", "--realtime", "--quiet",
                 "--json", str(out)]) == 0
    js = json.loads(out.read_text())["scenarios"][0]
    # 200 cycles at 100 Hz take at least 2 s of wall clock (lockstep would take a fraction)
    assert js["cycles"] == 200
    assert js["wall_s"] >= 1.98
    assert isinstance(js["deadline_misses"], int)
    assert js["cycle_ms"]["p50"] < 10.0


def test_realtime_needs_a_timed_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lead_brake_hard", "--driver", "expert", "--realtime"]) == 2
    assert "--realtime needs a driver" in capsys.readouterr().err


def test_run_with_the_supervisor_stays_quiet_on_a_clean_run(tmp_path: Path) -> None:
    """The supervisor watches the real-time loop from its own process; set-up (the GC pass,
    the warm-up) must be over before its 20 ms watchdog arms, or it takes over at once."""
    path = tmp_path / "realtime_check.yaml"
    path.write_text(REALTIME_SCENARIO)
    out = tmp_path / "sup.json"
    assert main(["run", str(path), "--realtime", "--supervisor", "--quiet",
                 "--json", str(out)]) == 0
    js = json.loads(out.read_text())["scenarios"][0]
    assert [i for i in js["interventions"] if i["reason"].startswith("supervisor.")] == []
    assert js["cycles"] == 200


def test_supervisor_needs_the_realtime_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lead_brake_hard", "--supervisor"]) == 2
    assert "--supervisor watches the loop on the wall clock" in capsys.readouterr().err
