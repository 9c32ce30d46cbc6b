"""`edge-autopilot`: run scenarios, list and validate them.

User mistakes (a bad scenario file, an unwritable output path, an unknown driver) end in one
clear message on stderr and exit status 2, never a stack trace. A run whose scenarios fail exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge_autopilot import __version__
from edge_autopilot.errors import EdgeAutopilotError, ScenarioError
from edge_autopilot.sim.scenario import (
    Scenario,
    builtin_scenario_paths,
    load_scenario,
    resolve_scenario_paths,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# a pipe or a CI log gets a wide table rather than rich's 80-column default
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        err.print(f"[red]error:[/red] {escape(message)}")
        raise SystemExit(EXIT_USAGE)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so that a reader never sees half a file, and a failure leaves no debris."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EdgeAutopilotError(f"{path}: is a directory; --json needs a file path")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise EdgeAutopilotError(f"{path}: cannot write JSON: {e.strerror or e}") from None


def _load_all(paths: Sequence[str]) -> list[tuple[Path, Scenario]]:
    """Load every scenario before running any, so one bad file stops nothing halfway."""
    files = resolve_scenario_paths(list(paths))
    loaded: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
    for f in files:
        try:
            loaded.append((f, load_scenario(f)))
        except ScenarioError as e:
            problems.append(str(e))
    if problems:
        raise ScenarioError("\n".join(problems))
    names = [s.name for _, s in loaded]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(f"two scenario files have the same name: {', '.join(dupes)}")
    return loaded


# --- run -----------------------------------------------------------------------------------
def _add_scheduling_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "the loop thread's scheduling (Linux; see edge_autopilot.runtime.scheduling)")
    group.add_argument("--cpus", metavar="LIST", default="",
                       help="pin the loop to these CPUs (cpu-list form: 3, 2-3, 0-1,6)")
    group.add_argument("--rt-priority", type=int, default=0, metavar="N",
                       help="run the loop under SCHED_FIFO at priority N (1-98; needs "
                       "CAP_SYS_NICE or an rtprio limit)")
    group.add_argument("--lock-memory", action="store_true",
                       help="lock the process's memory (mlockall; needs a memlock limit or "
                       "CAP_IPC_LOCK)")


def _scheduling_asked(args: argparse.Namespace) -> bool:
    return bool(args.cpus) or args.rt_priority != 0 or args.lock_memory


def _apply_scheduling(args: argparse.Namespace) -> list[str]:
    """The scheduling options, applied to this (the loop's) thread; what was applied."""
    from edge_autopilot.runtime.scheduling import (
        SchedulingSettings,
        apply_scheduling,
        parse_cpu_list,
    )

    settings = SchedulingSettings(parse_cpu_list(args.cpus), args.rt_priority,
                                  args.lock_memory)
    if not settings.requested:
        return []
    applied = apply_scheduling(settings)
    if not args.quiet:
        err.print("loop thread: " + "; ".join(applied), markup=False)
    return applied


def cmd_run(args: argparse.Namespace) -> int:
    from edge_autopilot.sim.runner import (
        DRIVERS,
        REALTIME_DRIVERS,
        ScenarioResult,
        default_models_dir,
        run_scenario,
    )

    if args.driver not in DRIVERS:
        raise EdgeAutopilotError(
            f"unknown driver {args.driver!r}; choose one of: {', '.join(sorted(DRIVERS))}"
        )
    if args.json is not None and Path(args.json).is_dir():
        raise EdgeAutopilotError(f"{args.json}: is a directory; --json needs a file path")
    if args.report is not None and Path(args.report).exists() and not Path(args.report).is_dir():
        raise EdgeAutopilotError(f"{args.report}: exists and is not a directory (--report)")
    scenarios = _load_all(args.paths)
    models_dir = Path(args.models) if args.models else default_models_dir()
    if args.models and not models_dir.is_dir():
        raise EdgeAutopilotError(f"{models_dir}: no such models directory (--models)")
    if args.realtime and args.driver not in REALTIME_DRIVERS:
        raise EdgeAutopilotError(
            f"--realtime needs a driver that runs through the loop executive "
            f"({', '.join(REALTIME_DRIVERS)}); {args.driver!r} does not")
    if args.compare is not None and args.compare not in DRIVERS:
        raise EdgeAutopilotError(
            f"unknown driver {args.compare!r} for --compare; choose one of: "
            f"{', '.join(sorted(DRIVERS))}")

    if args.supervisor and (args.driver != "stack" or not args.realtime):
        raise EdgeAutopilotError(
            "--supervisor watches the loop on the wall clock: use it with --driver stack "
            "--realtime")
    over_bus = args.transport != "inproc"
    if over_bus and (args.driver != "stack" or args.realtime or args.supervisor
                     or args.compare is not None):
        raise EdgeAutopilotError(
            f"--transport {args.transport} runs the stack's nodes in lockstep (the supervisor "
            "included): it does not combine with --driver other than stack, --realtime, "
            "--supervisor or --compare")
    if over_bus and _scheduling_asked(args):
        raise EdgeAutopilotError(
            f"--cpus, --rt-priority and --lock-memory apply to a loop in this process; with "
            f"--transport {args.transport} set the loop node's cpus, rt_priority and "
            "lock_memory parameters instead")
    if args.supervisor and args.cpus:
        raise EdgeAutopilotError(
            "--cpus with --supervisor would pin the watchdog to the loop's own CPUs, where a "
            "loop stuck at real-time priority starves it; run them as nodes and pin each")
    record_paths = _record_paths(args.record, [s for _, s in scenarios])
    _apply_scheduling(args)

    def make_driver(models_dir: Path, name: str = args.driver) -> Any:
        if args.supervisor and name == args.driver:
            from edge_autopilot.sim.runner import SupervisedStackDriver

            return SupervisedStackDriver(models_dir)
        return DRIVERS[name](models_dir, args.realtime and name == args.driver)

    # fail before the first scenario if a driver cannot start
    probe = DRIVERS[args.driver](models_dir, False)
    for problem in getattr(getattr(probe, "models", None), "errors", []):
        err.print(f"[yellow]model not loaded, the stack drives on its fallback:[/yellow] "
                  f"{escape(problem)}")
    if args.compare is not None:
        make_driver(models_dir, args.compare)
    results: list[ScenarioResult] = []
    baseline: list[ScenarioResult] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        disable=args.quiet or not err.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("scenarios", total=len(scenarios))
        for path, scenario in scenarios:
            progress.update(task, description=f"running {scenario.name}")
            recorder = None
            if record_paths:
                from edge_autopilot.record.recorder import RunRecorder

                recorder = RunRecorder(record_paths[scenario.name], distro=args.distro)
            if over_bus:
                from edge_autopilot.nodes.launcher import run_over_transport

                results.append(run_over_transport(
                    path, scenario, args.transport, models_dir if args.models else None,
                    args.seed, args.distro, tap=recorder))
            else:
                results.append(run_scenario(scenario, make_driver(models_dir), seed=args.seed,
                                            tap=recorder))
            if args.compare is not None:
                baseline.append(run_scenario(scenario, make_driver(models_dir, args.compare),
                                             seed=args.seed))
            progress.advance(task)
            if not err.is_terminal and not args.quiet:
                r = results[-1]
                err.print(f"{r.name}: {'pass' if r.passed else 'FAIL'} ({r.wall_s:.1f} s)",
                          markup=False)

    _print_table(results)
    comparison = _comparison(results, baseline) if baseline else None
    if comparison is not None:
        _print_comparison(comparison, args.driver, args.compare)
    summary: dict[str, Any] = {
        "passed": sum(r.passed for r in results),
        "failed": sum(not r.passed for r in results),
        "collisions": sum(r.collision for r in results),
    }
    timed = [r for r in results if r.cycle_ns is not None]
    if timed:
        import numpy as np

        from edge_autopilot.sim.runner import cycle_summary_ms

        summary["deadline_misses"] = sum(r.deadline_misses or 0 for r in timed)
        summary["fallback_cycles"] = sum(r.fallback_cycles or 0 for r in timed)
        summary["cycle_ms"] = cycle_summary_ms(np.concatenate([r.cycle_ns for r in timed]))
    if args.json is not None:
        payload: dict[str, Any] = {"scenarios": [r.to_json() for r in results],
                                   "summary": summary}
        if comparison is not None:
            payload["comparison"] = {"driver": args.driver, "baseline": args.compare,
                                     "scenarios": comparison}
        write_json_atomic(Path(args.json), payload)
        out.print(f"wrote {escape(str(args.json))}")
    for name, rec_path in record_paths.items():
        out.print(f"recorded {escape(name)}: {escape(str(rec_path))}")
    if args.report is not None:
        from edge_autopilot.sim.report import write_report

        index = write_report(results, Path(args.report))
        out.print(f"wrote {escape(str(index))}")
    verdict = "[green]all passed[/green]" if not summary["failed"] else \
        f"[red]{summary['failed']} failed[/red]"
    loop = ""
    if timed:
        cyc = summary["cycle_ms"]
        loop = (f", loop: {summary['deadline_misses']} deadline misses, "
                f"{summary['fallback_cycles']} fallback cycles, cycle p50 {cyc['p50']} ms, "
                f"p99 {cyc['p99']} ms, max {cyc['max']} ms")
    out.print(f"{summary['passed']}/{len(results)} passed, {summary['collisions']} collisions"
              f"{loop}: {verdict}")
    return EXIT_OK if not summary["failed"] else EXIT_FAILED


def _record_paths(record: str | None, scenarios: list[Scenario]) -> dict[str, Path]:
    """Scenario name -> its recording's path (``--record``); empty without the flag."""
    if record is None:
        return {}
    base = Path(record)
    if base.is_dir() or base.suffix != ".mcap":
        raise EdgeAutopilotError(f"{record}: --record needs a file name ending in .mcap")
    if not (base.parent if str(base.parent) else Path(".")).is_dir():
        raise EdgeAutopilotError(f"{base.parent}: no such directory (--record)")
    if len(scenarios) == 1:
        return {scenarios[0].name: base}
    return {s.name: base.with_name(f"{base.stem}.{s.name}.mcap") for s in scenarios}


COMPARED = ("collision", "min_ttc_s", "progress_m", "max_jerk_mps3", "max_decel_mps2")


def _comparison(results: list[Any], baseline: list[Any]) -> list[dict[str, Any]]:
    """Per scenario, the driver's and the baseline's figures side by side."""
    rows = []
    for r, b in zip(results, baseline, strict=True):
        rj, bj = r.to_json(), b.to_json()
        rows.append({"name": r.name, "passed": [r.passed, b.passed],
                     **{k: [rj[k], bj[k]] for k in COMPARED}})
    return rows


def _print_comparison(rows: list[dict[str, Any]], driver: str, baseline: str) -> None:
    table = Table(title=f"{driver} vs {baseline} (each cell: {driver} / {baseline})")
    table.add_column("scenario")
    for col in ("passed", "collision", "min TTC s", "progress m", "max jerk m/s³",
                "max decel m/s²"):
        table.add_column(col, justify="right")

    def pair(v: list[Any], digits: int = 2) -> str:
        return " / ".join(("yes" if x else "no") if isinstance(x, bool) else
                          _fmt(x, digits) for x in v)

    for row in rows:
        table.add_row(row["name"], pair(row["passed"]), pair(row["collision"]),
                      pair(row["min_ttc_s"]), pair(row["progress_m"], 1),
                      pair(row["max_jerk_mps3"], 1), pair(row["max_decel_mps2"]))
    out.print(table)


def _print_table(results: list[Any]) -> None:
    table = Table(title=f"driver: {results[0].driver}" if results else None)
    for col, justify in (("scenario", "left"), ("result", "left"), ("collision", "left"),
                         ("min gap m", "right"), ("min TTC s", "right"),
                         ("max decel m/s²", "right"), ("cycles", "right"),
                         ("sim p50/p99 ms", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        verdict = "[green]pass[/green]" if r.passed else \
            f"[red]FAIL[/red] {escape('; '.join(r.failures))}"
        hit = f"[red]yes ({escape(str(r.collision_with))} at {r.collision_t_s} s)[/red]" \
            if r.collision else "no"
        table.add_row(
            r.name,
            verdict,
            hit,
            _fmt(r.min_gap_m, 1),
            _fmt(r.min_ttc_s, 2),
            _fmt(r.max_decel_mps2, 2),
            str(r.cycles),
            f"{_fmt(r.sim_step_ms['p50'], 3)}/{_fmt(r.sim_step_ms['p99'], 3)}",
        )
    out.print(table)


# --- bench -------------------------------------------------------------------------------
def cmd_bench(args: argparse.Namespace) -> int:
    from edge_autopilot.sim.bench import gate_breaches, load_gate, run_bench
    from edge_autopilot.sim.runner import default_models_dir

    if args.json is not None and Path(args.json).is_dir():
        raise EdgeAutopilotError(f"{args.json}: is a directory; --json needs a file path")
    gate = load_gate(Path(args.gate)) if args.gate else None  # a bad gate fails before the run
    models_dir = Path(args.models) if args.models else default_models_dir()
    if args.models and not models_dir.is_dir():
        raise EdgeAutopilotError(f"{models_dir}: no such models directory (--models)")

    def progress(done: int, total: int) -> None:
        if not args.quiet and done % 5000 == 0:
            err.print(f"  {done}/{total} cycles", markup=False)

    scheduling = _apply_scheduling(args)
    result = run_bench(args.cycles, args.actors, models_dir, progress)
    js = result.to_json()
    js["scheduling"] = scheduling
    for problem in result.model_errors:
        err.print(f"[yellow]model not loaded:[/yellow] {escape(problem)}")
    table = Table(title=f"bench: {result.cycles} cycles, {result.actors} actors, lockstep")
    for col in ("", "p50 ms", "p99 ms", "p99.9/max ms", "runs"):
        table.add_column(col, justify="left" if not col else "right")
    cyc = js["cycle_ms"]
    table.add_row("cycle (end to end)", _fmt(cyc["p50"], 3), _fmt(cyc["p99"], 3),
                  f"{_fmt(cyc['p999'], 3)} / {_fmt(cyc['max'], 3)}", str(result.cycles))
    for name, st in js["stages_ms"].items():
        table.add_row(f"  {name}", _fmt(st["p50"], 3), _fmt(st["p99"], 3),
                      f"- / {_fmt(st['max'], 3)}", str(st["runs"]))
    for name, ms in js["inference_ms_p50"].items():
        table.add_row(f"  {name}.onnx inference", _fmt(ms, 3), "", "",
                      str(result.inference_ns[name].size))
    out.print(table)
    out.print(f"deadline misses {result.deadline_misses}, fallback cycles "
              f"{result.fallback_cycles}, stage errors {result.stage_errors}; cycles running "
              f"every network: p50 {_fmt(js['full_cycle_ms_p50'], 3)} ms vs the networks' own "
              f"{_fmt(js['inference_ms_sum_p50'], 3)} ms: overhead ratio "
              f"{_fmt(js['overhead_ratio'], 2)}; wall {result.wall_s:.1f} s")
    code = EXIT_OK
    if gate is not None:
        breaches = gate_breaches(result, gate)
        js["gate"] = {"file": str(args.gate), "passed": not breaches, "breaches": breaches}
        if breaches:
            for b in breaches:
                out.print(f"[red]gate breached:[/red] {escape(b)}")
            code = EXIT_FAILED
        else:
            out.print(f"[green]gate passed[/green] ({escape(str(args.gate))})")
    if args.json is not None:
        write_json_atomic(Path(args.json), js)
        out.print(f"wrote {escape(str(args.json))}")
    return code


# --- faults ------------------------------------------------------------------------------
FALSE_ALARM_FAMILIES = ("sensor", "network", "timing", "supervisor")


def cmd_faults(args: argparse.Namespace) -> int:
    from edge_autopilot.sim.fault_matrix import (
        case_passed,
        cases_from_scenario,
        clean_case,
        default_matrix,
        fault_scenario_paths,
        run_case,
    )
    from edge_autopilot.sim.runner import default_models_dir

    if args.json is not None and Path(args.json).is_dir():
        raise EdgeAutopilotError(f"{args.json}: is a directory; --json needs a file path")
    models_dir = Path(args.models) if args.models else default_models_dir()
    if args.models and not models_dir.is_dir():
        raise EdgeAutopilotError(f"{models_dir}: no such models directory (--models)")
    # the matrix: the default cases plus every fault scenario file (or the files given)
    files = resolve_scenario_paths(list(args.paths)) if args.paths else fault_scenario_paths()
    cases = [] if args.paths else default_matrix()
    for path in files:
        scenario = load_scenario(path)
        if not scenario.faults:
            raise ScenarioError(f"{path}: declares no faults (faults: [...])")
        cases.extend(cases_from_scenario(scenario))
    rows = []
    for case in cases:
        row = run_case(case, models_dir)
        row["passed"] = bool(case_passed(row))
        rows.append(row)
        if not args.quiet:
            err.print(f"{row['fault']} on {row['scenario']}: "
                      f"{'pass' if row['passed'] else 'FAIL'}", markup=False)
    table = Table(title="fault matrix")
    for col in ("fault", "scenario", "collision", "detected", "detect ms", "safe state",
                "safe ms", "max level", "exception"):
        table.add_column(col, justify="left" if col in ("fault", "scenario") else "right")
    for r in rows:
        table.add_row(escape(r["fault"]), r["scenario"],
                      "[red]yes[/red]" if r["collision"] else "no",
                      "yes" if r["detected"] else "[red]no[/red]", _fmt(r["detect_ms"], 0),
                      "yes" if r["safe_state"] else "[red]no[/red]", _fmt(r["safe_ms"], 0),
                      str(r["max_level"]), escape(str(r["unhandled_exception"] or "-")))
    out.print(table)
    clean: list[dict[str, Any]] = []
    if not args.no_clean:
        # the other half of the requirement: no false alarm on any clean built-in scenario
        for path in builtin_scenario_paths():
            row = run_case(clean_case(load_scenario(path)), models_dir)
            alarms = sorted({r for r in row["reasons"]
                             if r.split(".")[0] in FALSE_ALARM_FAMILIES})
            collision_reasons = sorted({r for r in row["reasons"]
                                        if r.startswith("collision.")})
            clean.append({"scenario": row["scenario"], "false_alarms": alarms,
                          "collision_interventions": collision_reasons,
                          "max_level": row["max_level"], "collision": row["collision"]})
        table = Table(title="clean built-in scenarios (false alarms must be none)")
        for col in ("scenario", "false alarms", "collision interventions", "max level"):
            table.add_column(col)
        for c in clean:
            table.add_row(c["scenario"], escape(", ".join(c["false_alarms"])) or "none",
                          escape(", ".join(c["collision_interventions"])) or "-",
                          str(c["max_level"]))
        out.print(table)
    failed = [r for r in rows if not r["passed"]]
    noisy = [c for c in clean if c["false_alarms"] or c["collision"]]
    if args.json is not None:
        write_json_atomic(Path(args.json), {"cases": rows, "clean": clean,
                                            "summary": {"cases": len(rows),
                                                        "failed": len(failed),
                                                        "false_alarm_scenarios": len(noisy)}})
        out.print(f"wrote {escape(str(args.json))}")
    out.print(f"{len(rows) - len(failed)}/{len(rows)} fault cases handled; "
              f"{len(noisy)} clean scenario(s) with false alarms")
    return EXIT_OK if not failed and not noisy else EXIT_FAILED


# --- train -------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from edge_autopilot.sim.runner import default_models_dir
    from edge_autopilot.training.train import train_all

    out_dir = Path(args.out) if args.out else default_models_dir()
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeAutopilotError(f"{out_dir}: exists and is not a directory (--out)")
    if args.variants < 1 or args.epochs < 1:
        raise EdgeAutopilotError("--variants and --epochs must be at least 1")
    data = Path(args.save_data) if args.save_data else None

    def log(msg: str) -> None:
        if not args.quiet or not msg.startswith("  "):
            err.print(msg, markup=False)

    networks = tuple(n.strip() for n in args.networks.split(",") if n.strip())
    manifest = train_all(out_dir, args.seed, args.variants, args.epochs, log, data,
                         objects=args.objects, networks=networks)
    out.print(f"wrote {escape(str(out_dir))}: "
              + ", ".join(f"{k}.onnx" for k in networks) + ", manifest.json")
    for name, metrics in manifest["metrics"].items():
        if name not in networks:
            continue
        out.print(f"  {name}: held-out " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
    return EXIT_OK


# --- scenarios -----------------------------------------------------------------------------
def cmd_bench_transport(args: argparse.Namespace) -> int:
    from edge_autopilot.nodes.bus_bench import bench_transport

    kinds = [k.strip() for k in args.transports.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ("inproc", "zmq", "dds")]
    if unknown or not kinds:
        raise EdgeAutopilotError(f"--transports: unknown {', '.join(unknown) or '(none)'}; "
                                 "choose from inproc, zmq, dds")
    if args.duration <= 0.0:
        raise EdgeAutopilotError("--duration must be > 0")
    if args.json is not None and Path(args.json).is_dir():
        raise EdgeAutopilotError(f"{args.json}: is a directory; --json needs a file path")
    (path, scenario), *_ = _load_all([args.scenario])
    scenario = scenario.model_copy(update={"duration_s": args.duration})
    rows = []
    for kind in kinds:
        for echo in (False, True) if args.floor else (False,):
            if not args.quiet:
                what = "echo node (floor)" if echo else "loop"
                err.print(f"  {kind}, {what}: {scenario.name}, {args.duration:g} s lockstep ...",
                          markup=False)
            rows.append(bench_transport(kind, path, scenario, args.distro, echo=echo))
    table = Table(title=f"the loop's traffic per cycle, {scenario.name} ({args.distro}), "
                  "lockstep: sensors published -> command received")
    for col in ("transport", "cycles", "lost cmds", "round trip p50/p99 ms",
                "loop cycle p50/p99 ms", "transport p50/p99/max ms", "msgs/s"):
        table.add_column(col, justify="left" if col == "transport" else "right")
    for r in rows:
        def pair(d: dict[str, Any], keys: tuple[str, ...] = ("p50", "p99")) -> str:
            return "/".join(_fmt(d[k], 3) for k in keys)
        label = r["transport"] + (" floor" if r["loop"] == "echo" else "")
        table.add_row(label, str(r["cycles"]), str(r["lost_commands"]),
                      pair(r["round_trip_ms"]), pair(r["loop_cycle_ms"]),
                      pair(r["transport_ms"], ("p50", "p99", "max")),
                      _fmt(r["messages_per_s"], 0))
    out.print(table)
    if args.json is not None:
        write_json_atomic(Path(args.json), {"scenario": scenario.name, "distro": args.distro,
                                            "transports": rows})
        out.print(f"wrote {escape(str(args.json))}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from edge_autopilot.record.replay import format_replay, replay

    models_dir = Path(args.models) if args.models else None
    if models_dir is not None and not models_dir.is_dir():
        raise EdgeAutopilotError(f"{models_dir}: no such models directory (--models)")
    report = replay(Path(args.path), models_dir)
    out.print(format_replay(report), markup=False)
    if args.json is not None:
        write_json_atomic(Path(args.json), report.to_json())
        out.print(f"wrote {escape(str(args.json))}")
    return EXIT_OK


def cmd_scenarios_list(args: argparse.Namespace) -> int:
    table = Table(title="built-in scenarios")
    table.add_column("name")
    table.add_column("duration s", justify="right")
    table.add_column("actors", justify="right")
    table.add_column("description")
    problems = []
    for path in builtin_scenario_paths():
        try:
            s = load_scenario(path)
        except ScenarioError as e:
            problems.append(str(e))
            continue
        table.add_row(s.name, f"{s.duration_s:g}", str(len(s.actors)), escape(s.description))
    out.print(table)
    for p in problems:
        err.print(f"[red]invalid:[/red] {escape(p)}")
    return EXIT_OK if not problems else EXIT_USAGE


def cmd_scenarios_validate(args: argparse.Namespace) -> int:
    files = resolve_scenario_paths(list(args.paths))
    bad = 0
    for f in files:
        try:
            s = load_scenario(f)
            out.print(f"[green]ok[/green]      {escape(str(f))} ({s.name})")
        except ScenarioError as e:
            bad += 1
            out.print(f"[red]invalid[/red] {escape(str(e))}")
    return EXIT_OK if bad == 0 else EXIT_USAGE


# --- entry ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edge-autopilot", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"edge-autopilot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run scenarios closed-loop (default: all built-in)")
    run.add_argument("paths", nargs="*", metavar="PATH",
                     help="scenario files, directories, or built-in names")
    run.add_argument("--driver", default="stack",
                     help="who drives: stack (default: sensor samples only, through perception, "
                     "fusion, the networks and the safety monitor in the 10 ms loop); expert "
                     "(the rule-based planner on ground truth: the teacher and reference); "
                     "imitation (the planning and control networks fed from ground truth)")
    run.add_argument("--compare", metavar="DRIVER",
                     help="also run DRIVER (e.g. expert) on each scenario and show both side "
                     "by side")
    run.add_argument("--realtime", action="store_true",
                     help="run the loop on the wall clock at 100 Hz instead of in lockstep")
    run.add_argument("--supervisor", action="store_true",
                     help="start the safety supervisor process beside the loop (with "
                     "--realtime): it commands the stop itself when the loop falls silent")
    run.add_argument("--transport", choices=("inproc", "zmq", "dds"), default="inproc",
                     help="inproc (default): one process; zmq or dds: the simulator bridge, "
                     "the loop and the supervisor as separate processes over that transport "
                     "(dds: Cyclone DDS with ROS 2's wire names, on loopback), in lockstep")
    run.add_argument("--distro", choices=("humble", "jazzy"), default="humble",
                     help="ROS 2 message layouts on the wire and in recordings (default humble)")
    run.add_argument("--record", metavar="FILE.mcap",
                     help="record each run as a rosbag2 MCAP file (with several scenarios: "
                     "FILE.<scenario>.mcap)")
    run.add_argument("--models", metavar="DIR",
                     help="model set to load (default: the installed models/)")
    run.add_argument("--seed", type=int, default=None,
                     help="override every scenario's seed")
    run.add_argument("--json", metavar="FILE", help="write results as JSON")
    run.add_argument("--report", metavar="DIR", help="write plots and index.html")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    _add_scheduling_args(run)
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser(
        "bench", help="time the full stack cycle by cycle on a busy road (the CI deadline gate)")
    bench.add_argument("--cycles", type=int, default=20000,
                       help="cycles to run (default 20000, i.e. 200 s of driving)")
    bench.add_argument("--actors", type=int, default=16,
                       help="traffic around the ego (default 16)")
    bench.add_argument("--models", metavar="DIR",
                       help="model set to load (default: the installed models/)")
    bench.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    bench.add_argument("--gate", metavar="FILE",
                       help="YAML thresholds; exit 1 when one is broken "
                       "(e.g. benchmarks/deadline_gate.yaml)")
    bench.add_argument("--quiet", action="store_true", help="no progress output")
    _add_scheduling_args(bench)
    bench.set_defaults(func=cmd_bench)

    faults = sub.add_parser(
        "faults", help="run the fault-injection matrix with the stack and check for false alarms")
    faults.add_argument("paths", nargs="*", metavar="PATH",
                        help="scenario files with faults: (default: the built-in matrix and "
                        "scenarios/faults/)")
    faults.add_argument("--models", metavar="DIR",
                        help="model set to load (default: the installed models/)")
    faults.add_argument("--json", metavar="FILE", help="write the cases as JSON")
    faults.add_argument("--no-clean", action="store_true",
                        help="skip the false-alarm check on the clean built-in scenarios")
    faults.add_argument("--quiet", action="store_true", help="no per-case progress")
    faults.set_defaults(func=cmd_faults)

    train = sub.add_parser(
        "train", help="train the perception, planning and control networks in the simulator "
        "(extra: train)")
    train.add_argument("--out", metavar="DIR", help="model directory (default: models/)")
    train.add_argument("--seed", type=int, default=0, help="data and weight seed (default 0)")
    train.add_argument("--variants", type=int, default=12,
                       help="randomised runs per built-in scenario (default 12)")
    train.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    train.add_argument("--save-data", metavar="FILE.npz",
                       help="also keep the planner/controller dataset")
    train.add_argument("--networks", default="perception,planning,control",
                       help="which to train, comma-separated (default: all three; the others "
                       "in --out stay as they are)")
    train.add_argument("--objects", choices=("fused", "truth"), default="fused",
                       help="the planner learns on the stack's own perception and fusion "
                       "(fused, default) or on ground truth (truth: faster)")
    train.add_argument("--quiet", action="store_true", help="no per-run progress")
    train.set_defaults(func=cmd_train)

    bt = sub.add_parser(
        "bench-transport",
        help="the loop's traffic over inproc, zmq and dds: latency and messages per second")
    bt.add_argument("--transports", default="inproc,zmq,dds",
                    help="comma-separated (default inproc,zmq,dds)")
    bt.add_argument("--scenario", default="cut_in_short_gap",
                    help="scenario file or built-in name (default cut_in_short_gap)")
    bt.add_argument("--duration", type=float, default=10.0,
                    help="simulated seconds per transport (default 10)")
    bt.add_argument("--distro", choices=("humble", "jazzy"), default="humble")
    bt.add_argument("--floor", action="store_true",
                    help="also run each transport with an echo node in the loop's place (the "
                    "same messages, none of the work): the transport's floor on this machine")
    bt.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    bt.add_argument("--quiet", action="store_true", help="no progress output")
    bt.set_defaults(func=cmd_bench_transport)

    rep = sub.add_parser(
        "replay", help="feed a recording's inputs through the loop and compare the commands")
    rep.add_argument("path", metavar="FILE.mcap", help="a recording made with run --record")
    rep.add_argument("--models", metavar="DIR",
                     help="model set to replay with (default: the installed models/); with "
                     "other models than the recording's, the report shows how they differ")
    rep.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    rep.set_defaults(func=cmd_replay)

    scen = sub.add_parser("scenarios", help="list or validate scenario files")
    scen_sub = scen.add_subparsers(dest="scenarios_command", required=True, parser_class=_Parser)
    lst = scen_sub.add_parser("list", help="list the built-in scenarios")
    lst.set_defaults(func=cmd_scenarios_list)
    val = scen_sub.add_parser("validate", help="validate scenario files")
    val.add_argument("paths", nargs="+", metavar="PATH")
    val.set_defaults(func=cmd_scenarios_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "seed", None) is not None and args.seed < 0:
        err.print("[red]error:[/red] --seed must be >= 0")
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except EdgeAutopilotError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
