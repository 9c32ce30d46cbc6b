"""Node parameters from ROS 2 parameter files (``node_name: ros__parameters: {...}``).

The file format is ROS 2's own, so ``ros2 launch`` and ``ros2 run --ros-args --params-file``
read the same files. Sections: a node's name (optionally with a namespace, ``/ns/name``) or the
wildcard ``/**``, which applies to every node; the node's own section wins. Sections for other
nodes are ignored (one file usually holds several nodes); within the node's section every
parameter is validated and an unknown name is an error, because a mistyped name would silently
leave the default in force. Wildcard parameters a node does not have are ignored, as ROS 2
nodes ignore undeclared ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge_autopilot.errors import ConfigError

if TYPE_CHECKING:
    from edge_autopilot.runtime.scheduling import SchedulingSettings

WILDCARD = "/**"
ROS_PARAMETERS = "ros__parameters"

TransportKind = Literal["inproc", "zmq", "dds", "ros2"]
DistroName = Literal["humble", "jazzy"]


class NodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchedulingParams(NodeParams):
    """The node thread's scheduling (``edge_autopilot.runtime.scheduling``), applied once the
    node is set up: on a vehicle the loop and the supervisor each get a real-time priority
    (the supervisor's above the loop's) and CPUs of their own."""

    cpus: str = ""  # cpu-list form ("3", "2-3"); "" = wherever the OS puts it
    rt_priority: int = Field(0, ge=0, le=98)  # SCHED_FIFO priority; 0 = an ordinary task
    lock_memory: bool = False  # mlockall

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpu_list(cls, value: object) -> str:
        """A cpu-list string, or what YAML and ``-p cpus:=3`` make of one CPU (an integer) or
        of several (a list of integers)."""
        from edge_autopilot.runtime.scheduling import parse_cpu_list

        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            value = ",".join(map(str, value))
        if not isinstance(value, str):
            raise ValueError(f"a CPU list like '3' or '2-3', got {value!r}")
        try:
            parse_cpu_list(value)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return value

    def scheduling(self) -> SchedulingSettings:
        from edge_autopilot.runtime.scheduling import SchedulingSettings, parse_cpu_list

        return SchedulingSettings(parse_cpu_list(self.cpus), self.rt_priority,
                                  self.lock_memory)


class LoopParams(SchedulingParams):
    """``autopilot_loop``: the 10 ms loop."""

    # empty: the models installed with the package
    models_dir: str = ""
    # the road and the ego's settings; on a vehicle this is the map of the route
    scenario: str = ""
    freeze_gc: bool = True
    diagnostics_period_s: float = Field(1.0, gt=0.0)


class SupervisorParams(SchedulingParams):
    """``safety_supervisor``: the watchdog that commands the stop when the loop goes silent."""

    # two periods, the design's rule (DESIGN.md "Safety")
    timeout_ms: float = Field(20.0, gt=0.0, le=1000.0)


class SimBridgeParams(NodeParams):
    """``sim_bridge``: the project's simulator on the bus (sensors out, commands in)."""

    scenario: str = ""
    # -1: the scenario's own seed (ROS 2 parameters have no null)
    seed: int = -1
    # how long (wall clock) the bridge waits for a cycle's command before the actuator holds
    # the previous one; a loop that never answers is then the supervisor's to handle
    command_timeout_s: float = Field(2.0, gt=0.0)
    # how long to wait for the loop (and supervisor) to appear on the bus
    connect_timeout_s: float = Field(60.0, gt=0.0)
    result: str = ""  # write the scenario result as JSON here ("" = stdout)


class RecorderParams(NodeParams):
    """``recorder``: a rosbag2 MCAP file of the run's topics."""

    output: str = "run.mcap"
    # empty: every topic the project defines
    topics: list[str] = Field(default_factory=list)


class CommonParams(NodeParams):
    transport: TransportKind = "inproc"
    distro: DistroName = "humble"
    domain_id: int = Field(0, ge=0, le=232)  # DDS domain ids with valid port mappings
    # ROS 2's parameter: True, time is the simulator's (lockstep with /autopilot/sim/step);
    # False, the machine's clock (the loop runs on the 100 Hz wall clock)
    use_sim_time: bool = False


P = TypeVar("P", bound=NodeParams)


def read_parameter_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Node section name -> its ``ros__parameters`` mapping; ConfigError on any problem."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such parameter file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: cannot read: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise ConfigError(f"{p}:{where} not valid YAML: "
                          f"{getattr(err, 'problem', None) or err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected node sections at the top level "
                          f"(node_name: {{{ROS_PARAMETERS}: ...}}), got {type(data).__name__}")
    sections: dict[str, dict[str, Any]] = {}
    for node, body in data.items():
        if not isinstance(body, dict) or ROS_PARAMETERS not in body:
            raise ConfigError(f"{p}: {node}: expected a '{ROS_PARAMETERS}' mapping "
                              "(ROS 2 parameter file format)")
        params = body[ROS_PARAMETERS]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ConfigError(f"{p}: {node}.{ROS_PARAMETERS}: expected a mapping, "
                              f"got {type(params).__name__}")
        sections[str(node)] = params
    return sections


def _section_for(sections: dict[str, dict[str, Any]], node_name: str,
                 known: set[str]) -> dict[str, Any]:
    merged = {k: v for k, v in sections.get(WILDCARD, {}).items() if k in known}
    for name, params in sections.items():
        if name != WILDCARD and name.rsplit("/", 1)[-1] == node_name:
            merged.update(params)
    return merged


def _describe(err: ValidationError, source: str, node_name: str) -> str:
    lines = [f"{source}: invalid parameters for node '{node_name}':"]
    for e in err.errors():
        name = ".".join(str(x) for x in e["loc"]) or "(section)"
        msg = "unknown parameter" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {name}: {msg}")
    return "\n".join(lines)


def load_params(model: type[P], node_name: str, path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> tuple[P, CommonParams]:
    """The node's parameters (its model) and the common ones (transport, distro, domain id),
    from the file's wildcard and node sections, then ``overrides`` (command-line flags)."""
    values: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        known = set(model.model_fields) | set(CommonParams.model_fields)
        values = _section_for(read_parameter_file(path), node_name, known)
        source = str(path)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    common_keys = set(CommonParams.model_fields)
    common = {k: v for k, v in values.items() if k in common_keys}
    own = {k: v for k, v in values.items() if k not in common_keys}
    try:
        return model.model_validate(own), CommonParams.model_validate(common)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, node_name)) from None
