"""Launch files and parameter files, read without ROS 2: every executable a launch file starts
is a console script of the package, every parameter file it names exists, and every node's
section of every shipped parameter file is valid."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from edge_autopilot.errors import ConfigError
from edge_autopilot.nodes.params import (
    LoopParams,
    RecorderParams,
    SimBridgeParams,
    SupervisorParams,
    load_params,
    read_parameter_file,
)

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
NODE_MODELS = {"autopilot_loop": LoopParams, "safety_supervisor": SupervisorParams,
               "sim_bridge": SimBridgeParams, "mcap_recorder": RecorderParams}


def _console_scripts() -> dict[str, str]:
    text = (ROOT / "setup.py").read_text()
    return dict(re.findall(r'"([\w-]+) = ([\w.]+:\w+)"', text))


def _launch_nodes(path: Path) -> tuple[list[str], list[str]]:
    """(executables, config file names) a launch file refers to."""
    tree = ast.parse(path.read_text(), str(path))
    executables: list[str] = []
    configs: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "executable" and isinstance(kw.value, ast.Constant):
                    executables.append(kw.value.value)
            # node("name") helper calls
            if isinstance(node.func, ast.Name) and node.func.id == "node" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant):
                    executables.append(arg.value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.endswith(".yaml"):
            configs.append(node.value)
    return executables, configs


def test_launch_files_exist() -> None:
    names = {p.name for p in LAUNCH_FILES}
    assert {"autopilot.launch.py", "sim.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_only_what_exists(path: Path) -> None:
    scripts = _console_scripts()
    executables, configs = _launch_nodes(path)
    assert executables, f"{path.name} starts no node"
    assert configs, f"{path.name} names no parameter file"
    for exe in executables:
        assert exe in scripts, f"{path.name}: executable {exe} is not a console script"
        module, func = scripts[exe].split(":")
        mod = __import__(module, fromlist=[func])
        assert callable(getattr(mod, func))
    for cfg in configs:
        assert (ROOT / "config" / cfg).is_file(), f"{path.name}: config/{cfg} missing"
    # the nodes it starts have a section in its default parameter file (or the wildcard)
    sections = read_parameter_file(ROOT / "config" / configs[0])
    for exe in executables:
        assert exe in sections, f"{configs[0]} has no section for {exe}"


def test_setup_installs_launch_and_config() -> None:
    text = (ROOT / "setup.py").read_text()
    assert 'data("launch", "*.py")' in text and 'data("config", "*.yaml")' in text


@pytest.mark.parametrize("cfg", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_parameter_files_are_valid(cfg: Path) -> None:
    sections = read_parameter_file(cfg)
    for name in sections:
        if name == "/**":
            continue
        assert name in NODE_MODELS, f"{cfg.name}: section for unknown node {name}"
        load_params(NODE_MODELS[name], name, cfg)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def test_wildcard_then_node_section_wins(tmp_path: Path) -> None:
    p = _write(tmp_path, """
/**:
  ros__parameters: {use_sim_time: true, transport: zmq, scenario: a}
/vehicle/autopilot_loop:
  ros__parameters: {scenario: b, freeze_gc: false}
""")
    loop, common = load_params(LoopParams, "autopilot_loop", p)
    assert (loop.scenario, loop.freeze_gc) == ("b", False)
    assert (common.use_sim_time, common.transport) == (True, "zmq")
    # a node without 'scenario' ignores the wildcard's (ROS 2 ignores undeclared parameters)
    sup, _ = load_params(SupervisorParams, "safety_supervisor", p)
    assert sup.timeout_ms == 20.0
    # command-line flags override the file; None means "not given"
    loop2, common2 = load_params(LoopParams, "autopilot_loop", p,
                                 {"transport": "dds", "scenario": None})
    assert (loop2.scenario, common2.transport) == ("b", "dds")


@pytest.mark.parametrize("text, expected", [
    ("autopilot_loop:\n  ros__parameters: {freez_gc: true}\n", "freez_gc: unknown parameter"),
    ("autopilot_loop:\n  ros__parameters: {diagnostics_period_s: -1}\n",
     "diagnostics_period_s"),
    ("autopilot_loop:\n  ros__parameters: {transport: carrier_pigeon}\n", "transport"),
    ("autopilot_loop:\n  freeze_gc: true\n", "expected a 'ros__parameters' mapping"),
    ("- a\n- b\n", "expected node sections"),
    ("autopilot_loop: {ros__parameters: [1, 2]}\n", "expected a mapping"),
    ("autopilot_loop:\n  ros__parameters: {a: [\n", "not valid YAML"),
])
def test_invalid_parameters_are_clear_errors(tmp_path: Path, text: str, expected: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_params(LoopParams, "autopilot_loop", p)


def test_missing_parameter_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such parameter file"):
        load_params(LoopParams, "autopilot_loop", tmp_path / "nope.yaml")


def test_ros_args_params_file_and_p_values(tmp_path: Path) -> None:
    """What ros2 launch passes: --ros-args --params-file FILE -p name:=value."""
    import argparse

    from edge_autopilot.nodes.common import node_params, node_parser

    p = _write(tmp_path, "safety_supervisor:\n  ros__parameters: {timeout_ms: 30.0}\n")
    ap = node_parser("safety_supervisor", "")
    args = ap.parse_args(["--ros-args", "--params-file", str(p), "-p", "use_sim_time:=true",
                          "-r", "__node:=safety_supervisor"])
    assert isinstance(args, argparse.Namespace)
    sup, common = node_params(SupervisorParams, "safety_supervisor", args)
    assert sup.timeout_ms == 30.0 and common.use_sim_time is True
    bad = ap.parse_args(["--ros-args", "-p", "timeout_ms"])
    with pytest.raises(ConfigError, match="expected name:=value"):
        node_params(SupervisorParams, "safety_supervisor", bad)


@pytest.mark.parametrize("module", ["autopilot_loop", "safety_supervisor", "sim_bridge",
                                    "mcap_recorder"])
def test_node_mains_report_bad_parameters_without_a_traceback(
        module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = __import__(f"edge_autopilot.nodes.{module}", fromlist=["main"])
    p = _write(tmp_path, f"{module}:\n  ros__parameters: {{no_such_parameter: 1}}\n")
    assert mod.main(["--params", str(p)]) == 2
    err = capsys.readouterr().err
    assert "no_such_parameter: unknown parameter" in err and "Traceback" not in err
