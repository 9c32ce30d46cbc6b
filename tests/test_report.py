"""The HTML report: one readable image per scenario, an escaped index, clear errors."""

from __future__ import annotations

import gc
import struct
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.sim.metrics import RunTrace
from edge_autopilot.sim.report import image_names, write_report
from edge_autopilot.sim.runner import ScenarioResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# data text that must survive both HTML and matplotlib's mathtext ("$...$" would be parsed)
NASTY_REASON = "<script>alert(1)</script> & $\\foo{$"


def _result(name: str, trace: RunTrace, **kw: object) -> ScenarioResult:
    fields: dict[str, object] = dict(
        name=name, driver="expert", seed=7, passed=True, failures=[], collision=False,
        collision_with=None, collision_t_s=None, min_ttc_s=np.inf, min_gap_m=np.inf,
        max_decel_mps2=0.0, max_jerk_mps3=0.0, progress_m=0.0, cycles=trace.n,
        sim_step_ms={"p50": 0.1234, "p99": 0.5678, "max": 1.0, "mean": 0.2}, wall_s=0.1,
        trace=trace, events=[],
    )
    fields.update(kw)
    return ScenarioResult(**fields)  # type: ignore[arg-type]


def crash_result() -> ScenarioResult:
    """Ego at 10 m/s closes on a braking lead and hits it at t = 1.5 s (run stops there)."""
    trace = RunTrace(200, ("lead", "parked"))
    n = 150
    t = np.arange(1, n + 1) * 0.01
    trace.t_s[:n] = t
    trace.speed_mps[:n] = 10.0 - t
    trace.accel_mps2[:n] = -1.0
    trace.accel_cmd_mps2[:n] = -1.2
    trace.gap_m[:n] = 12.0 - 8.0 * t  # ends negative: an overlap
    trace.ttc_s[:n] = np.where(t > 0.5, np.maximum(12.0 - 8.0 * t, 0.0) / 8.0, np.inf)
    trace.ego_xy_m[:n, 0] = 10.0 * t
    trace.ego_xy_m[:n, 1] = 0.02 * t
    trace.actor_xy_m[:n, 0, 0] = 16.5 + 2.0 * t
    trace.actor_xy_m[:n, 0, 1] = 0.0
    trace.actor_xy_m[:n, 1, 0] = 40.0
    trace.actor_xy_m[:n, 1, 1] = 3.5
    trace.n = n
    return _result(
        "crash_case", trace, passed=False, failures=["collision", NASTY_REASON],
        collision=True, collision_with="lead", collision_t_s=1.5, min_ttc_s=0.0, min_gap_m=-0.0,
        max_decel_mps2=1.0, max_jerk_mps3=2.5, progress_m=15.0,
        events=[(0.5, "lead", "brake"), (1.0, "parked", "start")],
    )


def empty_road_result() -> ScenarioResult:
    """No actors: gap and TTC are inf throughout."""
    trace = RunTrace(100, ())
    n = 80
    t = np.arange(1, n + 1) * 0.01
    trace.t_s[:n] = t
    trace.speed_mps[:n] = 20.0
    trace.accel_mps2[:n] = 0.0
    trace.accel_cmd_mps2[:n] = 0.0
    trace.gap_m[:n] = np.inf
    trace.ttc_s[:n] = np.inf
    trace.ego_xy_m[:n, 0] = 20.0 * t
    trace.ego_xy_m[:n, 1] = 0.0
    trace.n = n
    return _result("empty_road", trace, progress_m=16.0)


def empty_trace_result() -> ScenarioResult:
    """Nothing recorded at all (a run that never stepped)."""
    return _result("no_cycles", RunTrace(10, ("lead",)),
                   sim_step_ms={"p50": float("nan"), "p99": float("nan")})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.filterwarnings("error")
def test_report_writes_images_and_an_escaped_index(tmp_path: Path) -> None:
    results = [crash_result(), empty_road_result(), empty_trace_result()]
    out = tmp_path / "nested" / "rep"
    index = write_report(results, out, title="nightly <run>")
    assert index == out / "index.html"
    for r in results:
        data = (out / f"{r.name}.png").read_bytes()
        assert len(data) > 20_000
        assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"  # complete, not truncated
        width, height = _png_size(data)
        assert width >= 1000 and height >= 650
    page = index.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<title>nightly &lt;run&gt;</title>" in page
    for r in results:
        assert f'<img src="{r.name}.png"' in page
        assert f'<a href="#{r.name}">{r.name}</a>' in page
        assert f'<section id="{r.name}">' in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; $\\foo{$" in page
    assert '<td class="fail">FAIL</td>' in page and '<td class="pass">pass</td>' in page
    assert '<td class="fail">lead at 1.50 s</td>' in page
    assert "<td>0.123 / 0.568</td>" in page
    assert "<td>– / –</td>" in page  # empty run: NaN timing shown as a dash
    assert "2 of 3 scenarios passed; collisions: 1." in page
    assert "http" not in page  # self-contained: nothing fetched from elsewhere
    assert sorted(p.name for p in out.iterdir()) == [
        "crash_case.png", "empty_road.png", "index.html", "no_cycles.png"]


def test_report_releases_its_figures(tmp_path: Path) -> None:
    def live_figures() -> int:
        gc.collect()
        return sum(isinstance(o, Figure) for o in gc.get_objects())

    before = live_figures()
    write_report([empty_road_result()], tmp_path)
    assert live_figures() == before


def test_unsafe_and_duplicate_names_get_safe_unique_files(tmp_path: Path) -> None:
    road = empty_road_result()
    named = [road, road, _result("../up/and out", road.trace), _result("index", RunTrace(1, ()))]
    assert image_names(named) == ["empty_road", "empty_road_2", "_up_and_out", "index_2"]
    page = write_report(named[2:], tmp_path / "rep").read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == [
        "_up_and_out.png", "index.html", "index_2.png"]
    assert '<a href="#_up_and_out">../up/and out</a>' in page
    assert '<img src="index_2.png"' in page
    assert not (tmp_path / "up").exists()


def test_report_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(EdgeAutopilotError, match=r"file\.txt: exists and is not a directory"):
        write_report([empty_road_result()], target)
    with pytest.raises(EdgeAutopilotError,
                       match=r"file\.txt[/\\]rep: cannot create the report directory"):
        write_report([empty_road_result()], target / "rep")


def test_write_failures_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "index.html").mkdir()
    with pytest.raises(EdgeAutopilotError, match=r"index\.html: cannot write the report: "):
        write_report([], tmp_path)
    (tmp_path / "empty_road.png").mkdir()
    with pytest.raises(EdgeAutopilotError, match=r"empty_road\.png: cannot write the plot: "):
        write_report([empty_road_result()], tmp_path)
