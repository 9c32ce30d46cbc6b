"""The nodes as separate processes over real transports (zmq on loopback TCP, Cyclone DDS on
loopback with ROS 2's wire names): the run is the same as in one process, bit for bit, and when
the loop process is killed the supervisor process stops the car."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.nodes.launcher import NodeProcesses, free_domain_id, run_over_transport
from edge_autopilot.nodes.sim_bridge import BusDriver, run_bus_scenario
from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import BUILTIN_SCENARIO_DIR, load_scenario
from edge_autopilot.transport import make_bus

SCENARIO_PATH = BUILTIN_SCENARIO_DIR / "lead_brake_hard.yaml"
DURATION_S = 2.5


def _short(duration_s: float = DURATION_S):
    return load_scenario(SCENARIO_PATH).model_copy(update={"duration_s": duration_s})


@pytest.fixture(scope="module")
def in_process():
    return run_scenario(_short(), StackDriver(default_models_dir()))


@pytest.mark.parametrize("transport", ["zmq", "dds"])
def test_separate_processes_drive_exactly_as_one_process(transport: str, in_process) -> None:
    result = run_over_transport(SCENARIO_PATH, _short(), transport, None, None, "humble")
    n = in_process.trace.n
    assert result.trace.n == n
    for name in ("ego_xy_m", "speed_mps", "accel_cmd_mps2", "steer_rad"):
        assert np.array_equal(getattr(result.trace, name)[:n],
                              getattr(in_process.trace, name)[:n], equal_nan=True), name
    assert result.max_level == in_process.max_level
    assert result.interventions == in_process.interventions
    assert result.cycle_ns is not None and result.cycle_ns.size == n


def test_killed_loop_process_the_supervisor_process_stops_the_car(tmp_path: Path) -> None:
    scenario = load_scenario(BUILTIN_SCENARIO_DIR / "car_following_steady.yaml").model_copy(
        update={"duration_s": 3.0})
    domain = free_domain_id()
    kill_at_s = 1.0
    with NodeProcesses(BUILTIN_SCENARIO_DIR / "car_following_steady.yaml", "dds", domain,
                       "humble", log_dir=tmp_path) as nodes, \
            make_bus("dds", domain_id=domain) as bus:
        driver = BusDriver(bus, command_timeout_s=0.5, node_problem=None)
        step = driver.step

        def killing_step(world, samples):
            loop = nodes.procs["autopilot_loop"]
            if world.t_s >= kill_at_s and loop.poll() is None:
                os.kill(loop.pid, signal.SIGKILL)
                loop.wait()
            return step(world, samples)

        driver.step = killing_step  # type: ignore[method-assign]
        result = run_bus_scenario(scenario, driver)
    assert driver.takeover_t_s is not None
    # The loop's last command was for 0.99 s, and the supervisor acts on more than 20 ms of
    # simulated silence after the last command *it* received: 1.02 s. The kill lands the
    # moment the bridge has that command, possibly before the dying loop's DDS has sent it to
    # the supervisor too (one send per reader); then its last command is 0.98 s and it takes
    # over at 1.01 s. Either way within two periods of its last command, never before the kill.
    assert kill_at_s + 0.01 <= driver.takeover_t_s <= kill_at_s + 0.04
    assert result.max_level == "MRM"
    tr = result.trace
    after = tr.t_s[: tr.n] > driver.takeover_t_s + 0.05
    assert (tr.accel_cmd_mps2[: tr.n][after] < 0.0).all()
    assert not result.collision


@pytest.mark.parametrize("transport", ["inproc", "dds"])
def test_echo_floor_answers_every_cycle_with_a_zero_length_cycle(transport: str) -> None:
    from edge_autopilot.nodes.bus_bench import bench_transport

    scenario = _short(1.0)
    figures = bench_transport(transport, SCENARIO_PATH, scenario, echo=True)
    assert figures["loop"] == "echo" and figures["passed"] is None
    assert figures["cycles"] == 100 and figures["lost_commands"] == 0
    # the echo's loop timing came back (the cycle figures are read from it): a cycle of
    # 0 ns, so all of the round trip is the transport's
    assert figures["loop_cycle_ms"]["max"] == 0.0
    assert figures["transport_ms"] == figures["round_trip_ms"]
