"""`run --report DIR`: one figure per scenario and an index.html that shows them.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot global
state), so many scenarios in one process neither leak figures nor need a display. The page is
self-contained: inline CSS, images referenced by relative path, every data string escaped.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.sim.runner import ScenarioResult

TTC_AXIS_MAX_S = 10.0
GAP_AXIS_MAX_M = 120.0
FIGURE_DPI = 90
# Legends beyond this many actors hide the paths they describe; the colours still differ.
MAX_LEGEND_ACTORS = 12
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


# --- figure -------------------------------------------------------------------------------


def _finite_or_nan(a: np.ndarray) -> np.ndarray:
    """inf means "nothing in path" / "not closing": a gap in the line, not a spike."""
    out = np.asarray(a, dtype=float).copy()
    out[~np.isfinite(out)] = np.nan
    return out


def _no_data_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.45",
            fontsize=9)


def _mark_times(ax: Axes, result: ScenarioResult, label: bool) -> None:
    """Actor events (grey dashed) and the collision (red) on a time panel."""
    for t_s, actor, kind in result.events:
        ax.axvline(t_s, color="0.6", lw=0.8, ls="--", zorder=0)
        if label:
            # parse_math off: ids and kinds are data, and a stray "$" would break the render
            ax.annotate(f"{actor}: {kind}", (t_s, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(-2, -5), textcoords="offset points", fontsize=7, rotation=90,
                        va="top", ha="right", color="0.35", parse_math=False)
    if result.collision and result.collision_t_s is not None:
        ax.axvline(result.collision_t_s, color="red", lw=1.0, alpha=0.7, zorder=0)


def _plot_speed(ax: Axes, t: np.ndarray, result: ScenarioResult) -> None:
    n = result.trace.n
    ax.plot(t, result.trace.speed_mps[:n], lw=1.2)
    ax.set(ylabel="speed [m/s]", title="ego speed")


def _plot_gap(ax: Axes, t: np.ndarray, result: ScenarioResult) -> None:
    gap = _finite_or_nan(result.trace.gap_m[: result.trace.n])
    finite = gap[np.isfinite(gap)]
    ax.plot(t, gap, lw=1.2, color="tab:green")
    title = "gap to the in-path object (blank: none)"
    if finite.size == 0:
        _no_data_note(ax, "nothing in path")
        ax.set_ylim(0.0, 1.0)
    else:
        # a negative gap is an overlap: keep it visible instead of cutting the axis at 0
        bottom = min(0.0, float(finite.min()) * 1.05)
        top = min(GAP_AXIS_MAX_M, float(finite.max()) * 1.05)
        if finite.max() > GAP_AXIS_MAX_M:
            title += f", axis cut at {GAP_AXIS_MAX_M:.0f} m"
        ax.set_ylim(bottom, max(top, bottom + 1.0))
    ax.set(ylabel="gap [m]", title=title)


def _plot_accel(ax: Axes, t: np.ndarray, result: ScenarioResult) -> None:
    tr, n = result.trace, result.trace.n
    ax.plot(t, tr.accel_mps2[:n], lw=1.2, label="actual")
    ax.plot(t, tr.accel_cmd_mps2[:n], lw=0.8, alpha=0.8, ls="--", label="commanded")
    ax.set(ylabel="accel [m/s²]", title="acceleration: actual vs commanded")
    ax.legend(fontsize=7, loc="lower right")


def _plot_ttc(ax: Axes, t: np.ndarray, result: ScenarioResult) -> None:
    ttc = _finite_or_nan(result.trace.ttc_s[: result.trace.n])
    ax.plot(t, ttc, lw=1.2, color="tab:red")
    if not np.isfinite(ttc).any():
        _no_data_note(ax, "never closing on an in-path object")
    ax.set(ylabel="TTC [s]", ylim=(0.0, TTC_AXIS_MAX_S),
           title=f"time to collision (blank: not closing; axis cut at {TTC_AXIS_MAX_S:.0f} s)")


def _collision_index(result: ScenarioResult) -> int | None:
    """Sample at the collision: the last one when the run stopped there, else nearest in time."""
    n = result.trace.n
    if not result.collision or n == 0:
        return None
    if result.collision_t_s is None:
        return n - 1
    return int(np.argmin(np.abs(result.trace.t_s[:n] - result.collision_t_s)))


def _first_finite(path: np.ndarray) -> np.ndarray | None:
    ok = np.isfinite(path).all(axis=1)
    return path[int(np.argmax(ok))] if ok.any() else None


def _plot_birds_eye(ax: Axes, result: ScenarioResult) -> None:
    tr, n = result.trace, result.trace.n
    xy = tr.ego_xy_m[:n]
    ax.plot(xy[:, 0], xy[:, 1], lw=2.0, color="black", label="ego")
    start = _first_finite(xy)
    if start is not None:
        ax.plot(start[0], start[1], "o", color="black", ms=5)
    for k, actor_id in enumerate(tr.actor_ids):
        path = tr.actor_xy_m[:n, k]
        label = actor_id if len(tr.actor_ids) <= MAX_LEGEND_ACTORS else None
        line = ax.plot(path[:, 0], path[:, 1], lw=1.0, label=label)[0]
        start = _first_finite(path)
        if start is not None:
            ax.plot(start[0], start[1], "o", color=line.get_color(), ms=4)
    hit = _collision_index(result)
    if hit is not None and np.isfinite(xy[hit]).all():
        ax.plot(xy[hit, 0], xy[hit, 1], "X", color="red", ms=12, mec="white",
                label=f"collision with {result.collision_with}")
    if n == 0:
        _no_data_note(ax, "empty trace")
    ax.set(xlabel="x [m]", ylabel="y [m]", title="bird's-eye paths (o: start)")
    ax.set_aspect("equal", adjustable="datalim")
    legend = ax.legend(fontsize=7, loc="upper left", framealpha=0.8)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _title(result: ScenarioResult) -> str:
    status = "PASS" if result.passed else "FAIL: " + "; ".join(result.failures)
    # long failure lists would run off the figure: wrap and keep a few lines
    lines = textwrap.wrap(f"{result.name} ({result.driver}): {status}", width=130)
    return "\n".join(lines[:3] + (["..."] if len(lines) > 3 else []))


def scenario_figure(result: ScenarioResult) -> Figure:
    """The figure of one scenario: four time panels and a bird's-eye view."""
    tr, n = result.trace, result.trace.n
    t = tr.t_s[:n]
    fig = Figure(figsize=(13, 8), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(_title(result), fontsize=11, color="green" if result.passed else "firebrick",
                 parse_math=False)
    grid = fig.add_gridspec(3, 2)
    time_panels: list[tuple[Axes, Callable[[Axes, np.ndarray, ScenarioResult], None]]] = [
        (fig.add_subplot(grid[0, 0]), _plot_speed),
        (fig.add_subplot(grid[1, 0]), _plot_gap),
        (fig.add_subplot(grid[2, 0]), _plot_accel),
        (fig.add_subplot(grid[0, 1]), _plot_ttc),
    ]
    finite_t = t[np.isfinite(t)]
    t_end = float(finite_t.max()) if finite_t.size else 0.0
    for i, (ax, plot) in enumerate(time_panels):
        plot(ax, t, result)
        # a little room on the right so the collision line at the last sample stays visible
        ax.set_xlim(0.0, 1.02 * t_end if t_end > 0.0 else 1.0)
        ax.set_xlabel("time [s]")
        ax.grid(True, alpha=0.3)
        _mark_times(ax, result, label=i == 0)
    if n == 0:
        _no_data_note(time_panels[0][0], "empty trace")
    ax = fig.add_subplot(grid[1:, 1])
    _plot_birds_eye(ax, result)
    ax.grid(True, alpha=0.3)
    return fig


# --- page ---------------------------------------------------------------------------------


def image_names(results: list[ScenarioResult]) -> list[str]:
    """One safe, unique file stem per result (names from hand-built results may be anything,
    and the same scenario may be run twice)."""
    seen: set[str] = set()
    stems = []
    for r in results:
        base = _UNSAFE_FILE_CHARS.sub("_", r.name).lstrip(".") or "scenario"
        stem, k = base, 2
        while stem.lower() in seen or stem.lower() == "index":
            stem, k = f"{base}_{k}", k + 1
        seen.add(stem.lower())
        stems.append(stem)
    return stems


def _num(x: float | None, digits: int) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.{digits}f}"


def _row(r: ScenarioResult, stem: str) -> str:
    esc = html.escape
    verdict = '<td class="pass">pass</td>' if r.passed else '<td class="fail">FAIL</td>'
    if r.collision:
        when = "" if r.collision_t_s is None else f" at {r.collision_t_s:.2f} s"
        collision = f'<td class="fail">{esc(str(r.collision_with))}{when}</td>'
    else:
        collision = "<td>no</td>"
    step = r.sim_step_ms
    reasons = "<br>".join(esc(f) for f in r.failures)
    return (
        f'<tr><td class="l"><a href="#{stem}">{esc(r.name)}</a></td>{verdict}{collision}'
        f"<td>{_num(r.min_gap_m, 1)}</td><td>{_num(r.min_ttc_s, 2)}</td>"
        f"<td>{_num(r.max_decel_mps2, 2)}</td><td>{_num(r.max_jerk_mps3, 1)}</td>"
        f"<td>{_num(r.progress_m, 1)}</td><td>{r.cycles}</td>"
        f"<td>{_num(step.get('p50'), 3)} / {_num(step.get('p99'), 3)}</td>"
        f'<td class="l">{reasons}</td></tr>'
    )


def _section(r: ScenarioResult, stem: str) -> str:
    esc = html.escape
    verdict = '<span class="pass">pass</span>' if r.passed else '<span class="fail">FAIL</span>'
    return (
        f'<section id="{stem}">\n<h2>{esc(r.name)} {verdict}</h2>\n'
        f"<p>driver {esc(r.driver)}, seed {r.seed} · <a href=\"#top\">back to the table</a></p>\n"
        f'<img src="{quote(stem)}.png" alt="plots of {esc(r.name)}">\n</section>'
    )


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th { background: #eee; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }
td.l { text-align: left; }
.pass { color: #070; font-weight: bold; }
.fail { color: #b00; font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; }
section { margin-top: 2.5em; }
"""


def index_html(results: list[ScenarioResult], stems: list[str], title: str) -> str:
    esc = html.escape
    rows = "\n".join(_row(r, s) for r, s in zip(results, stems, strict=True))
    sections = "\n".join(_section(r, s) for r, s in zip(results, stems, strict=True))
    passed = sum(r.passed for r in results)
    collisions = sum(r.collision for r in results)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_CSS}</style></head><body>
<h1 id="top">{esc(title)}</h1>
<p>{passed} of {len(results)} scenarios passed; collisions: {collisions}.</p>
<table>
<tr><th>scenario</th><th>result</th><th>collision</th><th>min gap [m]</th>
<th>min TTC [s]</th><th>max decel [m/s²]</th><th>max jerk [m/s³]</th><th>progress [m]</th>
<th>cycles</th><th>sim step p50 / p99 [ms]</th><th>failures</th></tr>
{rows}
</table>
{sections}
</body></html>
"""


# --- writing ------------------------------------------------------------------------------


def _write_png(result: ScenarioResult, path: Path) -> None:
    fig = scenario_figure(result)
    try:
        fig.savefig(path, dpi=FIGURE_DPI)
    except OSError as e:
        raise EdgeAutopilotError(f"{path}: cannot write the plot: {e.strerror or e}") from None
    finally:
        # break the figure's reference cycles now rather than at some later GC pass
        fig.clear()


def write_report(results: list[ScenarioResult], out_dir: Path,
                 title: str = "edge_autopilot run") -> Path:
    """Write ``<name>.png`` per scenario and ``index.html`` into ``out_dir``; returns the index."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeAutopilotError(f"{out_dir}: exists and is not a directory; the report needs one")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgeAutopilotError(
            f"{out_dir}: cannot create the report directory: {e.strerror or e}") from None
    stems = image_names(results)
    for r, stem in zip(results, stems, strict=True):
        _write_png(r, out_dir / f"{stem}.png")
    index = out_dir / "index.html"
    try:
        index.write_text(index_html(results, stems, title), encoding="utf-8")
    except OSError as e:
        raise EdgeAutopilotError(f"{index}: cannot write the report: {e.strerror or e}") from None
    return index
