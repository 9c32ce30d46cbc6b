"""The loop thread's scheduling: CPU lists, the settings' limits, each refusal's message, and the
real system calls in a child process (this machine's kernel, whatever it grants)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_autopilot.errors import ConfigError, SchedulingError
from edge_autopilot.nodes.params import LoopParams, SupervisorParams, load_params
from edge_autopilot.runtime.scheduling import (
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    OsScheduling,
    SchedulingSettings,
    apply_scheduling,
    parse_cpu_list,
)


@pytest.mark.parametrize(("text", "cpus"), [
    ("", set()), ("3", {3}), ("2,3", {2, 3}), ("0-3", {0, 1, 2, 3}), ("0-1, 6", {0, 1, 6}),
    ("4-4", {4}),
])
def test_cpu_lists_in_the_kernels_form(text: str, cpus: set[int]) -> None:
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["a", "3-1", "-2", "1-x", ",", "1.5"])
def test_bad_cpu_lists_are_named(text: str) -> None:
    with pytest.raises(ConfigError, match="CPU list"):
        parse_cpu_list(text)


def test_priority_outside_fifo_range_is_refused() -> None:
    for bad in (-1, 99, 120):
        with pytest.raises(ConfigError, match=r"1\.\.98"):
            SchedulingSettings(fifo_priority=bad)
    assert not SchedulingSettings().requested
    assert SchedulingSettings(lock_memory=True).requested


class FakeKernel:
    """A kernel that records what it was asked and refuses what it is told to."""

    def __init__(self, online: set[int], refuse_fifo: OSError | None = None,
                 mlock_errno: int = 0) -> None:
        self.online, self.refuse_fifo, self.mlock_errno = online, refuse_fifo, mlock_errno
        self.calls: list[tuple[str, object]] = []

    def system(self) -> OsScheduling:
        return OsScheduling(available_cpus=lambda: set(self.online),
                            set_affinity=lambda c: self.calls.append(("affinity", c)),
                            set_fifo=self._fifo, lock_all=self._lock)

    def _fifo(self, prio: int) -> None:
        if self.refuse_fifo is not None:
            raise self.refuse_fifo
        self.calls.append(("fifo", prio))

    def _lock(self, flags: int) -> int:
        self.calls.append(("mlockall", flags))
        return self.mlock_errno


def test_everything_asked_is_applied_in_order() -> None:
    kernel = FakeKernel({0, 1, 2, 3})
    done = apply_scheduling(SchedulingSettings(frozenset({2, 3}), 80, True), kernel.system())
    assert kernel.calls == [("affinity", frozenset({2, 3})), ("fifo", 80),
                            ("mlockall", MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)]
    assert done == ["pinned to CPU 2-3", "SCHED_FIFO priority 80",
                    "memory locked (mlockall, on fault)"]
    assert apply_scheduling(SchedulingSettings(), kernel.system()) == []


def test_a_cpu_the_process_may_not_use_is_refused_before_any_change() -> None:
    kernel = FakeKernel({0, 1})
    with pytest.raises(SchedulingError, match=r"CPU\(s\) 3 not available .* 0-1"):
        apply_scheduling(SchedulingSettings(frozenset({1, 3}), 50), kernel.system())
    assert kernel.calls == []


def test_refused_priority_says_what_to_grant() -> None:
    kernel = FakeKernel({0, 1}, refuse_fifo=PermissionError(errno.EPERM, "nope"))
    with pytest.raises(SchedulingError, match=r"CAP_SYS_NICE.*rtprio"):
        apply_scheduling(SchedulingSettings(fifo_priority=80, lock_memory=True),
                         kernel.system())
    assert kernel.calls == []  # memory was not locked after the refusal


def test_refused_memory_lock_says_what_to_grant() -> None:
    kernel = FakeKernel({0, 1}, mlock_errno=errno.ENOMEM)
    with pytest.raises(SchedulingError, match=r"ENOMEM.*memlock.*CAP_IPC_LOCK"):
        apply_scheduling(SchedulingSettings(lock_memory=True), kernel.system())


def test_node_parameters_carry_the_settings(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("autopilot_loop:\n  ros__parameters:\n    cpus: '2-3'\n    rt_priority: 80\n"
                 "    lock_memory: true\n")
    loop, _ = load_params(LoopParams, "autopilot_loop", f)
    assert loop.scheduling() == SchedulingSettings(frozenset({2, 3}), 80, True)
    for yaml_value, cpus in (("3", {3}), ("[1, 2]", {1, 2}), ("'0-1'", {0, 1})):
        f.write_text(f"safety_supervisor:\n  ros__parameters:\n    cpus: {yaml_value}\n")
        sup, _ = load_params(SupervisorParams, "safety_supervisor", f)
        assert sup.scheduling().cpus == cpus
    f.write_text("safety_supervisor:\n  ros__parameters:\n    cpus: true\n")
    with pytest.raises(ConfigError, match="cpus"):
        load_params(SupervisorParams, "safety_supervisor", f)
    f.write_text("safety_supervisor:\n  ros__parameters:\n    cpus: 'two'\n")
    with pytest.raises(ConfigError, match=r"cpus.*'two'"):
        load_params(SupervisorParams, "safety_supervisor", f)
    f.write_text("safety_supervisor:\n  ros__parameters:\n    rt_priority: 99\n")
    with pytest.raises(ConfigError, match="rt_priority"):
        load_params(SupervisorParams, "safety_supervisor", f)


CHILD = """
import json, os, sys
from edge_autopilot.errors import SchedulingError
from edge_autopilot.runtime.scheduling import SchedulingSettings, apply_scheduling
cpu = min(os.sched_getaffinity(0))
out = {"cpu": cpu}
apply_scheduling(SchedulingSettings(cpus=frozenset({cpu})))
out["affinity"] = sorted(os.sched_getaffinity(0))
try:
    apply_scheduling(SchedulingSettings(fifo_priority=10))
    out["policy"] = os.sched_getscheduler(0)
    out["priority"] = os.sched_getparam(0).sched_priority
    pid = os.fork()
    if pid == 0:
        os._exit(0 if os.sched_getscheduler(0) == os.SCHED_OTHER else 1)
    out["child_ordinary"] = os.waitpid(pid, 0)[1] == 0
except SchedulingError as e:
    out["fifo_refused"] = str(e)
try:
    apply_scheduling(SchedulingSettings(lock_memory=True))
    big = bytearray(64 << 20)  # touched after the lock: locked as it faults in
    for i in range(0, len(big), 4096):
        big[i] = 1
    out["locked_kb"] = int([l.split()[1] for l in open("/proc/self/status")
                            if l.startswith("VmLck")][0])
except SchedulingError as e:
    out["mlock_refused"] = str(e)
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling calls")
def test_real_system_calls_in_a_child_process() -> None:
    """In a child, so the test run itself stays an ordinary task: the affinity always applies;
    SCHED_FIFO and mlockall apply where the process may have them (root, CAP_SYS_NICE, limits)
    and otherwise fail with the message, never silently."""
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=60, check=True)
    out = json.loads(run.stdout)
    assert out["affinity"] == [out["cpu"]]
    if "fifo_refused" in out:
        assert "CAP_SYS_NICE" in out["fifo_refused"]
    else:
        assert out["policy"] == os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        assert out["priority"] == 10
        assert out["child_ordinary"]  # SCHED_RESET_ON_FORK
    if "mlock_refused" in out:
        assert "memlock" in out["mlock_refused"]
    else:
        assert out["locked_kb"] >= 64 * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling calls")
def test_loop_node_pins_its_own_thread_from_its_parameters() -> None:
    """The node applies its ``cpus`` parameter (as ``-p cpus:=N`` makes it: an integer) to its
    main thread once it is set up, says so, and runs on."""
    import signal
    import time

    cpu = max(os.sched_getaffinity(0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_autopilot.nodes.autopilot_loop", "--transport", "inproc",
         "--use-sim-time", "true", "--scenario", "cut_in_short_gap",
         "--ros-args", "-p", f"cpus:={cpu}"],
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the node has set itself up
        assert line.strip() == f"autopilot_loop: pinned to CPU {cpu}"
        time.sleep(0.2)
        assert proc.poll() is None  # still running, waiting for the simulator's steps
        status = Path(f"/proc/{proc.pid}/task/{proc.pid}/status").read_text()
        allowed = next(x for x in status.splitlines() if x.startswith("Cpus_allowed_list"))
        assert allowed.split()[-1] == str(cpu)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
