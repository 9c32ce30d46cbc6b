"""`run --report DIR`: one figure per scenario and an index.html that shows them.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot global
state), so many scenarios in one process neither leak figures nor need a display.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.sim.runner import ScenarioResult

TTC_AXIS_MAX_S = 10.0
GAP_AXIS_MAX_M = 120.0


def _finite_or_nan(a: np.ndarray) -> np.ndarray:
    out = a.astype(float).copy()
    out[~np.isfinite(out)] = np.nan
    return out


def _mark_events(ax: object, result: ScenarioResult) -> None:
    for t_s, actor, kind in result.events:
        ax.axvline(t_s, color="0.6", lw=0.8, ls="--")  # type: ignore[attr-defined]
        ax.annotate(f"{actor}: {kind}", (t_s, 1.0), xycoords=("data", "axes fraction"),  # type: ignore[attr-defined]
                    fontsize=6, rotation=90, va="top", ha="right", color="0.4")


def scenario_figure(result: ScenarioResult) -> Figure:
    tr, n = result.trace, result.trace.n
    t = tr.t_s[:n]
    fig = Figure(figsize=(12, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 2)
    status = "PASS" if result.passed else "FAIL: " + "; ".join(result.failures)
    fig.suptitle(f"{result.name} ({result.driver}): {status}", fontsize=11,
                 color="green" if result.passed else "red")

    ax = fig.add_subplot(grid[0, 0])
    ax.plot(t, tr.speed_mps[:n], lw=1.2)
    ax.set(ylabel="speed [m/s]", title="ego speed")

    ax = fig.add_subplot(grid[1, 0])
    ax.plot(t, np.clip(_finite_or_nan(tr.gap_m[:n]), None, GAP_AXIS_MAX_M), lw=1.2)
    ax.set(ylabel="gap [m]", title="gap to the in-path object (blank: none)")
    ax.set_ylim(bottom=0)

    ax = fig.add_subplot(grid[2, 0])
    ax.plot(t, tr.accel_mps2[:n], lw=1.2, label="actual")
    ax.plot(t, tr.accel_cmd_mps2[:n], lw=0.8, alpha=0.7, label="commanded")
    ax.set(xlabel="time [s]", ylabel="accel [m/s²]", title="acceleration")
    ax.legend(fontsize=7, loc="lower right")

    ax = fig.add_subplot(grid[0, 1])
    ttc = _finite_or_nan(tr.ttc_s[:n])
    ax.plot(t, ttc, lw=1.2, color="tab:red")
    ax.set(ylabel="TTC [s]", title="time to collision (blank: not closing)",
           ylim=(0, TTC_AXIS_MAX_S))

    t_end = float(t[-1]) if n else 1.0
    for a in fig.axes:
        a.set_xlim(0.0, max(t_end, 1e-3))
        a.grid(True, alpha=0.3)
        if a.get_xlabel() == "":
            a.set_xlabel("time [s]")
        _mark_events(a, result)

    ax = fig.add_subplot(grid[1:, 1])
    xy = tr.ego_xy_m[:n]
    ax.plot(xy[:, 0], xy[:, 1], lw=2.0, color="black", label="ego")
    if n:
        ax.plot(xy[0, 0], xy[0, 1], "o", color="black", ms=4)
    for k, actor_id in enumerate(tr.actor_ids):
        path = tr.actor_xy_m[:n, k]
        line = ax.plot(path[:, 0], path[:, 1], lw=1.0, label=actor_id)[0]
        if n:
            ax.plot(path[0, 0], path[0, 1], "o", color=line.get_color(), ms=3)
    if result.collision and n:
        ax.plot(xy[-1, 0], xy[-1, 1], "X", color="red", ms=12,
                label=f"collision with {result.collision_with}")
    ax.set(xlabel="x [m]", ylabel="y [m]", title="bird's-eye paths (o: start)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def _cell(x: float | None, digits: int) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.{digits}f}"


def _index_html(results: list[ScenarioResult], title: str) -> str:
    esc = html.escape
    rows = []
    for r in results:
        verdict = '<td class="pass">pass</td>' if r.passed else '<td class="fail">FAIL</td>'
        rows.append(
            "<tr>"
            f'<td><a href="#{esc(r.name)}">{esc(r.name)}</a></td>{verdict}'
            f"<td>{'yes: ' + esc(str(r.collision_with)) if r.collision else 'no'}</td>"
            f"<td>{_cell(r.min_gap_m, 1)}</td><td>{_cell(r.min_ttc_s, 2)}</td>"
            f"<td>{_cell(r.max_decel_mps2, 2)}</td><td>{_cell(r.max_jerk_mps3, 1)}</td>"
            f"<td>{_cell(r.progress_m, 1)}</td><td>{r.cycles}</td>"
            f"<td>{_cell(r.sim_step_ms.get('p50'), 3)} / {_cell(r.sim_step_ms.get('p99'), 3)}</td>"
            f"<td>{esc('; '.join(r.failures))}</td>"
            "</tr>"
        )
    sections = "\n".join(
        f'<h2 id="{esc(r.name)}">{esc(r.name)}</h2>\n'
        f'<img src="{esc(r.name)}.png" alt="plots of {esc(r.name)}">'
        for r in results
    )
    passed = sum(r.passed for r in results)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
td:first-child, td:last-child {{ text-align: left; }}
.pass {{ color: #070; font-weight: bold; }} .fail {{ color: #b00; font-weight: bold; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{passed}/{len(results)} scenarios passed, {sum(r.collision for r in results)} collisions.</p>
<table><tr><th>scenario</th><th>result</th><th>collision</th><th>min gap m</th>
<th>min TTC s</th><th>max decel m/s²</th><th>max jerk m/s³</th><th>progress m</th>
<th>cycles</th><th>sim step p50 / p99 ms</th><th>failures</th></tr>
{chr(10).join(rows)}
</table>
{sections}
</body></html>
"""


def write_report(results: list[ScenarioResult], out_dir: Path,
                 title: str = "edge_autopilot run") -> Path:
    """Write ``<name>.png`` per scenario and ``index.html``; returns the index path."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeAutopilotError(f"{out_dir}: exists and is not a directory (--report)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for r in results:
            fig = scenario_figure(r)
            fig.savefig(out_dir / f"{r.name}.png", dpi=90)
        index = out_dir / "index.html"
        index.write_text(_index_html(results, title), encoding="utf-8")
    except OSError as e:
        raise EdgeAutopilotError(f"{out_dir}: cannot write the report: {e.strerror or e}") from None
    return index
