"""The HTML report: one image per scenario, an escaped index, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.sim.metrics import RunTrace
from edge_autopilot.sim.report import write_report
from edge_autopilot.sim.runner import ScenarioResult


def result(name: str, actors: tuple[str, ...], collision: bool, failures: list[str]
           ) -> ScenarioResult:
    trace = RunTrace(200, actors)
    n = 150
    t = np.arange(1, n + 1) * 0.01
    trace.t_s[:n] = t
    trace.speed_mps[:n] = 10 - t
    trace.accel_mps2[:n] = -1.0
    trace.accel_cmd_mps2[:n] = -1.2
    trace.gap_m[:n] = np.inf if not actors else 30 - 10 * t
    trace.ttc_s[:n] = np.inf if not actors else 3 - t
    trace.ego_xy_m[:n, 0] = 10 * t
    trace.ego_xy_m[:n, 1] = 0.0
    if actors:
        trace.actor_xy_m[:n, 0, 0] = 30 + t
        trace.actor_xy_m[:n, 0, 1] = 0.0
    trace.n = n
    return ScenarioResult(
        name=name, driver="expert", seed=0, passed=not failures, failures=failures,
        collision=collision, collision_with=actors[0] if collision else None,
        collision_t_s=1.5 if collision else None, min_ttc_s=1.5 if actors else np.inf,
        min_gap_m=15.0 if actors else np.inf, max_decel_mps2=1.0, max_jerk_mps3=0.0,
        progress_m=15.0, cycles=n, sim_step_ms={"p50": 0.1, "p99": 0.5, "max": 1.0},
        wall_s=0.1, trace=trace, events=[(0.5, "lead", "brake")],
    )


def test_report_writes_images_and_escaped_index(tmp_path: Path) -> None:
    results = [
        result("crash_case", ("lead",), True, ["collision", "<script>alert(1)</script>"]),
        result("empty_road", (), False, []),
    ]
    index = write_report(results, tmp_path / "rep")
    for r in results:
        png = tmp_path / "rep" / f"{r.name}.png"
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000
    page = index.read_text()
    assert 'src="crash_case.png"' in page and 'src="empty_road.png"' in page
    assert 'href="#crash_case"' in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1/2 scenarios passed, 1 collisions" in page


def test_report_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(EdgeAutopilotError, match="exists and is not a directory"):
        write_report([result("a", (), False, [])], target)
