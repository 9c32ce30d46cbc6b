"""Start the loop and supervisor nodes as separate processes for a run over a real transport
(``edge-autopilot run --transport dds``), and stop them cleanly.

Each node's output goes to a log file; when a node dies early, the error quotes its last lines
instead of leaving the bridge waiting for an answer that cannot come.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from edge_autopilot.errors import TransportError

STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 15


def free_domain_id() -> int:
    """A DDS domain id unlikely to be shared with another run on this machine (1..200)."""
    return 1 + (os.getpid() * 7919 + int.from_bytes(os.urandom(2), "little")) % 200


class NodeProcesses:
    """The loop and the supervisor for one scenario, on ``transport`` in sim time."""

    def __init__(self, scenario_path: Path, transport: str, domain_id: int, distro: str,
                 models_dir: Path | None = None, supervisor: bool = True,
                 log_dir: Path | None = None, echo: bool = False) -> None:
        """``echo``: the loop's traffic without its work (nodes/echo_loop.py) in its place."""
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="edge_autopilot_nodes_"))
        common = ["--transport", transport, "--domain-id", str(domain_id), "--distro", distro,
                  "--use-sim-time", "true"]
        module = "edge_autopilot.nodes.echo_loop" if echo else "edge_autopilot.nodes.autopilot_loop"
        loop = [sys.executable, "-m", module, *common, "--scenario", str(scenario_path)]
        if models_dir is not None and not echo:
            loop += ["--models", str(models_dir)]
        commands = {"autopilot_loop": loop}
        if supervisor:
            commands["safety_supervisor"] = [
                sys.executable, "-m", "edge_autopilot.nodes.safety_supervisor", *common]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        try:
            for name, cmd in commands.items():
                log = self.log_dir / f"{name}.log"
                self.logs[name] = log
                with open(log, "wb") as f:
                    self.procs[name] = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                                        stdin=subprocess.DEVNULL)
        except OSError as err:
            self.close()
            raise TransportError(f"cannot start the nodes: {err}") from None

    def _tail(self, name: str) -> str:
        try:
            lines = self.logs[name].read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def problem(self) -> str | None:
        """A message when a node has exited; None while all run."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return f"node {name} exited with status {code}:\n{self._tail(name)}"
        return None

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> NodeProcesses:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def drive_over_transport(scenario_path: Path, scenario: Any, transport: str,
                         models_dir: Path | None, seed: int | None, distro: str,
                         tap: Any = None, echo: bool = False) -> tuple[Any, Any]:
    """One scenario with the loop and the supervisor in their own processes and the simulator
    bridge in this one, over ``transport``, in lockstep: (the result, the bridge's driver with
    its per-cycle figures). ``echo``: the echo node stands in for the loop (a latency floor;
    the car gets zero commands)."""
    from edge_autopilot.nodes.sim_bridge import BusDriver, run_bus_scenario
    from edge_autopilot.transport import make_bus

    domain_id = free_domain_id()
    # the bridge receives on this thread while it waits for the command (see inbox.py)
    options = {} if transport == "inproc" else {"spin_thread": False}
    with NodeProcesses(scenario_path, transport, domain_id, distro, models_dir,
                       echo=echo) as nodes, \
            make_bus(transport, distro=distro, domain_id=domain_id, **options) as bus:
        driver = BusDriver(bus, node_problem=nodes.problem)
        return run_bus_scenario(scenario, driver, seed, tap=tap), driver


def run_over_transport(scenario_path: Path, scenario: Any, transport: str,
                       models_dir: Path | None, seed: int | None, distro: str,
                       tap: Any = None) -> Any:
    """The result ``run --transport`` reports (see ``drive_over_transport``)."""
    return drive_over_transport(scenario_path, scenario, transport, models_dir, seed, distro,
                                tap)[0]
