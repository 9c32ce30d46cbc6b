"""What every node's ``main`` shares: flags, parameters, the bus, clean exits."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from edge_autopilot.errors import ConfigError, EdgeAutopilotError, ScenarioError
from edge_autopilot.nodes.params import CommonParams, NodeParams, SchedulingParams, load_params
from edge_autopilot.sim.scenario import Scenario, load_scenario, resolve_scenario_paths

EXIT_USAGE = 2
P = TypeVar("P", bound=NodeParams)


def node_parser(prog: str, description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--params", metavar="FILE",
                    help="ROS 2 parameter file (node_name: ros__parameters: ...)")
    ap.add_argument("--transport", choices=("inproc", "zmq", "dds", "ros2"),
                    help="how to reach the other nodes (default: the parameter file's, "
                         "else inproc)")
    ap.add_argument("--distro", choices=("humble", "jazzy"),
                    help="ROS 2 message layouts on the wire (default humble)")
    ap.add_argument("--domain-id", type=int, help="DDS domain id (default 0)")
    ap.add_argument("--use-sim-time", choices=("true", "false"),
                    help="lockstep with the simulator's clock (default: parameter file)")
    # ros2 launch appends --ros-args ...; without ROS 2 they carry nothing for us
    ap.add_argument("--ros-args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return ap


def ros_arguments(tokens: list[str] | None) -> tuple[str | None, dict[str, Any]]:
    """The parameter file and ``-p name:=value`` parameters from ROS 2's ``--ros-args``
    (what ``ros2 run`` and ``ros2 launch`` pass); remappings and log settings are ignored."""
    params_file: str | None = None
    values: dict[str, Any] = {}
    it = iter(tokens or [])
    for tok in it:
        if tok == "--params-file":
            params_file = next(it, None)
        elif tok in ("-p", "--param"):
            item = next(it, "")
            name, sep, raw = item.partition(":=")
            if not sep or not name:
                raise ConfigError(f"--ros-args {tok} {item!r}: expected name:=value")
            values[name] = yaml.safe_load(raw) if raw else ""
    return params_file, values


def node_params(model: type[P], node_name: str, args: argparse.Namespace,
                overrides: dict[str, Any] | None = None) -> tuple[P, CommonParams]:
    """Parameters from, lowest first: the file (``--params``, else ``--ros-args
    --params-file``), ``--ros-args -p`` values, then this node's own flags."""
    ros_file, ros_values = ros_arguments(args.ros_args)
    flags: dict[str, Any] = dict(ros_values)
    for key, value in (("transport", args.transport), ("distro", args.distro),
                       ("domain_id", args.domain_id)):
        if value is not None:
            flags[key] = value
    if args.use_sim_time is not None:
        flags["use_sim_time"] = args.use_sim_time == "true"
    flags.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return load_params(model, node_name, args.params or ros_file, flags)


def make_node_bus(common: CommonParams, node_name: str, *, own_thread_receives: bool = False
                  ) -> Any:
    """The node's bus. ``own_thread_receives``: a network transport gets no receive thread;
    the node receives on its own thread through ``Inbox`` (see inbox.py), the way a ROS 2
    single-threaded executor does."""
    from edge_autopilot.transport import make_bus

    options: dict[str, Any] = {"distro": common.distro, "domain_id": common.domain_id}
    if own_thread_receives and common.transport != "inproc":
        options["spin_thread"] = False
    return make_bus(common.transport, **options)


def resolve_scenario(ref: str) -> Scenario:
    """A scenario parameter: a file path or a built-in scenario's name."""
    if not ref:
        raise ScenarioError("no scenario given (parameter 'scenario': a file or a built-in name)")
    paths = resolve_scenario_paths([ref])
    if len(paths) != 1:
        raise ScenarioError(f"{ref}: names {len(paths)} scenarios, the node runs one")
    return load_scenario(Path(paths[0]))


class StopFlag:
    """Set by SIGINT/SIGTERM, so a node's loop ends and closes its bus cleanly."""

    def __init__(self, handle_signals: bool = True) -> None:
        self.event = threading.Event()
        if handle_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._set)
            signal.signal(signal.SIGINT, self._set)

    def _set(self, *_: object) -> None:
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()


def apply_node_scheduling(node_name: str, params: SchedulingParams) -> None:
    """The node's cpus, rt_priority and lock_memory for the calling (the node's) thread; a
    refusal is a SchedulingError, so the node exits instead of running unprotected."""
    from edge_autopilot.runtime.scheduling import apply_scheduling

    settings = params.scheduling()
    if settings.requested:
        applied = apply_scheduling(settings)
        print(f"{node_name}: " + "; ".join(applied), file=sys.stderr)


def run_main(body: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """Run a node's main: user mistakes print one line and exit 2, never a traceback."""
    try:
        return body(argv)
    except EdgeAutopilotError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
