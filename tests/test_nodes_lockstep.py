"""The nodes over a bus: the loop node in lockstep with the simulator bridge gives the same run,
bit for bit, as the stack in one process; the supervisor node takes over when the loop node
falls silent, and stays quiet while it does not.

These run the nodes on threads of this process over the inproc bus with every message going
through its CDR bytes (``serialize=True``), so what is compared is exactly what would cross a
wire; the separate-process runs over zmq and Cyclone DDS are in test_nodes_processes.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.nodes.autopilot_loop import NODE_NAME as LOOP_NODE
from edge_autopilot.nodes.autopilot_loop import AutopilotLoopNode
from edge_autopilot.nodes.common import StopFlag
from edge_autopilot.nodes.params import CommonParams, LoopParams, SupervisorParams
from edge_autopilot.nodes.safety_supervisor import NODE_NAME as SUPERVISOR_NODE
from edge_autopilot.nodes.safety_supervisor import SupervisorNode
from edge_autopilot.nodes.sim_bridge import BusDriver, run_bus_scenario
from edge_autopilot.sim.runner import StackDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import BUILTIN_SCENARIO_DIR, load_scenario
from edge_autopilot.transport import make_bus

SCENARIO = "cut_in_short_gap"
DURATION_S = 3.0


def _scenario_path() -> Path:
    return BUILTIN_SCENARIO_DIR / f"{SCENARIO}.yaml"


def _short(duration_s: float = DURATION_S):
    return load_scenario(_scenario_path()).model_copy(update={"duration_s": duration_s})


class _NodeThread:
    def __init__(self, node: object) -> None:
        self.node = node
        self.stop = StopFlag(handle_signals=False)
        self.thread = threading.Thread(target=node.spin, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.event.set()
        self.thread.join(10.0)
        assert not self.thread.is_alive()


def _common(domain_id: int) -> CommonParams:
    return CommonParams(transport="inproc", use_sim_time=True, domain_id=domain_id)


def _bus(domain_id: int, name: str):
    return make_bus("inproc", domain_id=domain_id, serialize=True)


@pytest.fixture(scope="module")
def in_process_result():
    return run_scenario(_short(), StackDriver(default_models_dir()))


def test_lockstep_over_the_bus_is_bit_identical_to_one_process(in_process_result) -> None:
    domain = 101
    with _bus(domain, LOOP_NODE) as loop_bus, _bus(domain, SUPERVISOR_NODE) as sup_bus, \
            _bus(domain, "sim_bridge") as sim_bus:
        loop = AutopilotLoopNode(loop_bus, LoopParams(scenario=str(_scenario_path()),
                                                      freeze_gc=False), _common(domain))
        supervisor = SupervisorNode(sup_bus, SupervisorParams(), _common(domain))
        threads = [_NodeThread(loop), _NodeThread(supervisor)]
        try:
            driver = BusDriver(sim_bus, command_timeout_s=10.0)
            result = run_bus_scenario(_short(), driver)
        finally:
            for t in threads:
                t.halt()
            loop.close()
    ref = in_process_result
    n = ref.trace.n
    assert result.trace.n == n > 250
    for name in ("ego_xy_m", "speed_mps", "accel_mps2", "steer_rad", "accel_cmd_mps2"):
        a, b = getattr(result.trace, name)[:n], getattr(ref.trace, name)[:n]
        assert np.array_equal(a, b, equal_nan=True), f"{name} differs over the bus"
    assert (result.passed, result.collision) == (ref.passed, ref.collision)
    # the loop's own report, carried over the bus, matches what the in-process stack said
    assert result.max_level == ref.max_level
    assert result.fallback_cycles == ref.fallback_cycles
    assert driver.held_commands == 0 and driver.takeover_t_s is None
    assert loop.lost_samples == 0 and loop.bad_samples == 0
    assert supervisor.commands_published == 0  # quiet on a clean run
    assert len(driver.timing) == n


def test_supervisor_takes_over_when_the_loop_node_goes_silent() -> None:
    domain = 102
    silent_after_s = 1.0
    with _bus(domain, LOOP_NODE) as loop_bus, _bus(domain, SUPERVISOR_NODE) as sup_bus, \
            _bus(domain, "sim_bridge") as sim_bus:
        loop = AutopilotLoopNode(loop_bus, LoopParams(scenario=str(_scenario_path()),
                                                      freeze_gc=False), _common(domain))
        supervisor = SupervisorNode(sup_bus, SupervisorParams(timeout_ms=20.0),
                                    _common(domain))
        loop_thread, sup_thread = _NodeThread(loop), _NodeThread(supervisor)
        driver = BusDriver(sim_bus, command_timeout_s=0.3)
        original_step = driver.step

        def step(world, samples):
            if world.t_s >= silent_after_s and loop_thread.thread.is_alive():
                loop_thread.halt()  # the loop dies: no command for this cycle on
            return original_step(world, samples)

        driver.step = step  # type: ignore[method-assign]
        try:
            result = run_bus_scenario(_short(4.0), driver)
        finally:
            sup_thread.halt()
            loop.close()
    # the loop's last command was for t = 0.99 s; two periods of silence later (0.02 s of
    # simulated time, judged strictly after) the supervisor takes over
    assert driver.takeover_t_s is not None
    assert silent_after_s + 0.02 <= driver.takeover_t_s <= silent_after_s + 0.04
    # while the loop was silent and before the takeover, the actuator held its last command
    assert 2 <= driver.held_commands <= 4
    assert result.max_level == "MRM"
    assert any(e["reason"] == "supervisor.takeover" for e in result.interventions)
    # the supervisor's stop: braking from the takeover on, down to standstill or close to it
    tr = result.trace
    n = tr.n
    after = tr.t_s[:n] > driver.takeover_t_s + 0.05
    braking = (tr.accel_cmd_mps2[:n][after] < 0.0) | (tr.speed_mps[:n][after] < 0.1)
    assert braking.all()
    assert tr.speed_mps[n - 1] < tr.speed_mps[int(silent_after_s * 100)] - 2.0


def test_recorder_node_writes_what_went_over_the_bus(tmp_path: Path) -> None:
    from edge_autopilot.nodes.mcap_recorder import McapRecorderNode
    from edge_autopilot.nodes.params import RecorderParams
    from edge_autopilot.record import open_recording

    domain = 103
    out = tmp_path / "bus.mcap"
    with _bus(domain, LOOP_NODE) as loop_bus, _bus(domain, "recorder") as rec_bus, \
            _bus(domain, "sim_bridge") as sim_bus:
        loop = AutopilotLoopNode(loop_bus, LoopParams(scenario=str(_scenario_path()),
                                                      freeze_gc=False), _common(domain))
        recorder = McapRecorderNode(rec_bus, RecorderParams(output=str(out)), "humble",
                                    use_sim_time=True)
        thread = _NodeThread(loop)
        try:
            driver = BusDriver(sim_bus, command_timeout_s=10.0, expect=(LOOP_NODE,))
            result = run_bus_scenario(_short(1.0), driver)
        finally:
            thread.halt()
            loop.close()
        recorder.close()
    assert out.is_file() and not list(tmp_path.glob("*.partial"))
    with open_recording(out, require_edge_autopilot=False) as rec:
        counts: dict[str, int] = {}
        last_t = 0
        tracked = 0
        for topic, t_ns, msg in rec.messages():
            counts[topic] = counts.get(topic, 0) + 1
            assert t_ns >= 0
            last_t = max(last_t, t_ns)
            if topic == "/autopilot/tracks":
                tracked = max(tracked, len(msg.tracks))
            if topic == "/autopilot/trajectory":
                ts = [p.t_s for p in msg.points]
                assert len(ts) == 30 and ts == sorted(ts) and msg.source == "network"
    n = result.cycles
    assert counts["/control/command"] == counts["/autopilot/sim/step"] == n == 100
    assert counts["/autopilot/loop_timing"] == n
    assert counts["/sensing/camera/front/image_raw"] > 0 and counts["/vehicle/odometry"] > 0
    assert counts["/vehicle/acceleration"] == counts["/vehicle/odometry"]
    # what the loop saw and planned, every cycle once it has a pose (the cut-in car is tracked)
    assert counts["/autopilot/tracks"] == n and tracked >= 1
    assert n - 5 <= counts["/autopilot/trajectory"] <= n
    # log times are the simulator's clock (use_sim_time)
    assert 0.9e9 <= last_t <= 1.0e9


def test_bridge_gives_up_when_nothing_answers() -> None:
    """The loop stops and no supervisor watches: the run ends with a clear error instead of
    waiting out every remaining cycle."""
    from edge_autopilot.errors import TransportError

    domain = 104
    with _bus(domain, LOOP_NODE) as loop_bus, _bus(domain, "sim_bridge") as sim_bus:
        loop = AutopilotLoopNode(loop_bus, LoopParams(scenario=str(_scenario_path()),
                                                      freeze_gc=False), _common(domain))
        thread = _NodeThread(loop)
        driver = BusDriver(sim_bus, command_timeout_s=0.05, expect=(LOOP_NODE,),
                           node_problem=lambda: None if thread.thread.is_alive()
                           else "node autopilot_loop exited")
        step = driver.step

        def step_then_die(world, samples):
            if world.t_s >= 0.5 and thread.thread.is_alive():
                thread.halt()
            return step(world, samples)

        driver.step = step_then_die  # type: ignore[method-assign]
        try:
            with pytest.raises(TransportError, match=r"no command from the loop or the "
                               r"supervisor for 5 cycles at t = 0\.54 s: node autopilot_loop"):
                run_bus_scenario(_short(2.0), driver)
        finally:
            loop.close()
