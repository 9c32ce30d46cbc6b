"""The full loop's traffic over each transport: how long from a cycle's first sensor message
published to its command received, and how much of that is the transport (the round trip less
the loop's own cycle time, which the loop reports per cycle on /autopilot/loop_timing).

inproc runs the loop node on a thread of this process; zmq and dds run it (and the supervisor)
as separate processes, exactly as ``run --transport`` does. All in lockstep, so every cycle's
traffic is one burst: the cycle's sensor messages, the step, the clock, then the command, the
loop timing and the safety state back.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from edge_autopilot.nodes.autopilot_loop import NODE_NAME as LOOP_NODE
from edge_autopilot.nodes.autopilot_loop import AutopilotLoopNode
from edge_autopilot.nodes.common import StopFlag
from edge_autopilot.nodes.launcher import drive_over_transport
from edge_autopilot.nodes.params import CommonParams, LoopParams
from edge_autopilot.nodes.sim_bridge import BusDriver, run_bus_scenario

# messages the loop sends back per cycle: command, loop timing, safety state, tracks and the
# trajectory (the last whenever the planning network ran: all but the first few cycles), plus
# diagnostics once a second (not counted)
LOOP_MESSAGES_PER_CYCLE = 5


def _percentiles_ms(ns: np.ndarray) -> dict[str, float | None]:
    if ns.size == 0:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(ns / 1e6, [50.0, 99.0])
    return {"p50": round(float(p50), 4), "p99": round(float(p99), 4),
            "max": round(float(ns.max() / 1e6), 4)}


def _figures(kind: str, driver: BusDriver, result: Any, echo: bool = False) -> dict[str, Any]:
    first, last = driver.first_publish_ns, driver.last_command_rx_ns
    traffic_s = (last - first) / 1e9 if first is not None and last is not None else 0.0
    rtt = np.asarray(driver.round_trip_ns, dtype=np.int64)
    answered = rtt >= 0
    cycle = np.full(rtt.shape, -1, dtype=np.int64)
    for t in driver.timing:
        if 0 <= t.cycle < cycle.size:
            cycle[t.cycle] = t.end_to_end_ns
    both = answered & (cycle >= 0)
    transport = rtt[both] - cycle[both]
    messages = driver.published + LOOP_MESSAGES_PER_CYCLE * int(answered.sum())
    return {
        "transport": kind,
        "loop": "echo" if echo else "stack",
        "cycles": int(rtt.size),
        "lost_commands": int((~answered).sum()),
        "round_trip_ms": _percentiles_ms(rtt[answered]),
        "loop_cycle_ms": _percentiles_ms(cycle[cycle >= 0]),
        "transport_ms": _percentiles_ms(transport),
        "messages": messages,
        "messages_per_s": round(messages / traffic_s, 1) if traffic_s > 0 else None,
        "traffic_s": round(traffic_s, 3),
        # (an echo run commands nothing: the car coasts, the scenario's verdict means nothing)
        "passed": None if echo else bool(result.passed),
    }


def bench_transport(kind: str, scenario_path: Path, scenario: Any, distro: str = "humble",
                    models_dir: Path | None = None, echo: bool = False) -> dict[str, Any]:
    """One lockstep run of ``scenario`` over ``kind``, with its latency figures. ``echo``: the
    echo node (the loop's traffic, none of its work) answers instead of the loop: what the
    transport costs on this machine with nothing else competing for the CPU."""
    from edge_autopilot.transport import make_bus

    if kind == "inproc":
        with make_bus("inproc", distro=distro) as bus:
            node: Any
            if echo:
                from edge_autopilot.nodes.echo_loop import EchoLoopNode

                node = EchoLoopNode(bus, str(scenario_path))
            else:
                node = AutopilotLoopNode(
                    bus, LoopParams(scenario=str(scenario_path),
                                    models_dir=str(models_dir) if models_dir else "",
                                    freeze_gc=False),
                    CommonParams(transport="inproc", distro=distro, use_sim_time=True))
            stop = StopFlag(handle_signals=False)
            thread = threading.Thread(target=node.spin, args=(stop,), daemon=True)
            thread.start()
            try:
                driver = BusDriver(bus, expect=(LOOP_NODE,))
                result = run_bus_scenario(scenario, driver)
            finally:
                stop.event.set()
                thread.join(5.0)
                if not echo:
                    node.close()
        return _figures(kind, driver, result, echo)
    result, driver = drive_over_transport(scenario_path, scenario, kind, models_dir, None,
                                          distro, echo=echo)
    return _figures(kind, driver, result, echo)
