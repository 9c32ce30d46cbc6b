"""The loop thread's place in the operating system: pinned CPUs, a real-time priority, locked
memory.

A 10 ms loop on a shared machine is at the mercy of whatever else runs there: measured on this
2-core VM with a busy-loop process pinned to the loop's CPU, the bench's cycle p99 went from
2.4 ms to 9.6 ms as an ordinary task, and came back to 2.7 ms under SCHED_FIFO (the stalls of
50-150 ms left matched the hypervisor's steal time, which nothing in the guest prevents;
README, "Figures"). The usual remedies on a vehicle
computer (the ROS 2 real-time guidelines, e.g. ros2_realtime / "Real-time programming in
ROS 2", and the Linux RT wiki) are, in order of effect:

- ``SCHED_FIFO`` at a priority above every ordinary task: the loop thread runs the moment it
  is runnable and keeps the CPU until it sleeps (the kernel's RT throttling,
  ``sched_rt_runtime_us``, still leaves 5 % of each second to the rest);
- a CPU set of its own (on a Jetson Orin, a core kept free of other work, e.g. ``isolcpus``);
- ``mlockall``, so no page the loop touches is ever swapped out or paged back in mid-cycle.

Each applies to the calling thread (Linux scheduling is per thread; call it from the loop's
own thread) and to threads it starts afterwards. Python adds one caveat: a thread of ordinary
priority in the same process that holds the GIL can still stall the loop, so the loop nodes
receive on their own thread (``nodes.inbox``) and start no others.

Asking for any of these and not getting it is an error, never a silent downgrade: a loop that
believes it is protected and is not is worse than one that knows.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_autopilot.errors import ConfigError, SchedulingError

# SCHED_FIFO priorities run 1..99 (sched(7)); 99 is the kernel's own watchdog and migration
# threads' level, so a user task stays below it.
FIFO_PRIORITY_MAX = 98

# mlockall(2) flags (linux/mman.h). MCL_ONFAULT (Linux 4.4+): lock pages as they are first
# touched instead of faulting in every mapped page now, which for a Python process with
# ONNX Runtime and numba means gigabytes of reserved but unused address space.
MCL_CURRENT = 1
MCL_FUTURE = 2
MCL_ONFAULT = 4


@dataclass(frozen=True)
class SchedulingSettings:
    """What to ask of the OS for the loop thread; the defaults ask for nothing."""

    cpus: frozenset[int] = field(default_factory=frozenset)  # empty: leave the affinity
    fifo_priority: int = 0  # 0: leave the scheduling policy as it is
    lock_memory: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.fifo_priority <= FIFO_PRIORITY_MAX:
            raise ConfigError(f"real-time priority must be 1..{FIFO_PRIORITY_MAX} "
                              f"(0: none); got {self.fifo_priority}")
        if any(c < 0 for c in self.cpus):
            raise ConfigError(f"CPU numbers are >= 0; got {sorted(self.cpus)}")

    @property
    def requested(self) -> bool:
        return bool(self.cpus) or self.fifo_priority > 0 or self.lock_memory


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"3"``, ``"2,3"``, ``"0-3"`` or ``"0-1,6"`` (the kernel's cpu-list format, as in
    ``isolcpus`` and ``taskset -c``) -> the set of CPU numbers; ``""`` -> empty."""
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ConfigError(f"CPU list {text!r}: {part!r} is not a number or a range "
                              "like 2-3") from None
        if first < 0 or last < first:
            raise ConfigError(f"CPU list {text!r}: {part!r} is not a range of CPU numbers")
        cpus.update(range(first, last + 1))
    if text.strip() and not cpus:
        raise ConfigError(f"CPU list {text!r} names no CPU")
    return frozenset(cpus)


@dataclass(frozen=True)
class OsScheduling:
    """The system calls, as one object so that tests can stand in for a kernel that refuses."""

    available_cpus: Callable[[], set[int]] = lambda: os.sched_getaffinity(0)
    set_affinity: Callable[[frozenset[int]], None] = lambda cpus: os.sched_setaffinity(0, cpus)
    # SCHED_RESET_ON_FORK: a process started from the loop (the supervisor, a recorder)
    # starts as an ordinary task instead of competing with the loop at its priority
    set_fifo: Callable[[int], None] = lambda prio: os.sched_setscheduler(
        0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(prio))
    lock_all: Callable[[int], int] = lambda flags: _libc_mlockall(flags)


def _libc_mlockall(flags: int) -> int:
    """mlockall(2); returns 0 or the errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(ctypes.c_int(flags)) != 0:
        return ctypes.get_errno()
    return 0


def apply_scheduling(settings: SchedulingSettings, system: OsScheduling | None = None
                     ) -> list[str]:
    """Ask the OS for ``settings`` for the calling thread; one line per thing applied.

    Raises SchedulingError naming what was refused and what would allow it; whatever was
    applied before the refusal stays applied (the caller exits)."""
    system = system or OsScheduling()
    done: list[str] = []
    if settings.cpus:
        online = system.available_cpus()
        missing = sorted(settings.cpus - online)
        if missing:
            raise SchedulingError(
                f"CPU(s) {','.join(map(str, missing))} not available to this process "
                f"(it may use {_cpu_list(frozenset(online))})")
        system.set_affinity(settings.cpus)
        done.append(f"pinned to CPU {_cpu_list(settings.cpus)}")
    if settings.fifo_priority:
        try:
            system.set_fifo(settings.fifo_priority)
        except PermissionError:
            raise SchedulingError(
                f"SCHED_FIFO priority {settings.fifo_priority} refused: the process needs "
                "CAP_SYS_NICE or an rtprio limit of at least that much (ulimit -r; "
                "/etc/security/limits.conf: '<user> - rtprio 98'); in a container, "
                "--cap-add=SYS_NICE") from None
        except OSError as e:
            raise SchedulingError(f"SCHED_FIFO priority {settings.fifo_priority}: "
                                  f"{e.strerror or e}") from None
        done.append(f"SCHED_FIFO priority {settings.fifo_priority}")
    if settings.lock_memory:
        code = system.lock_all(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)
        if code != 0:
            hint = ("raise the memlock limit (ulimit -l unlimited; limits.conf "
                    "'<user> - memlock unlimited') or grant CAP_IPC_LOCK"
                    if code in (errno.EPERM, errno.ENOMEM, errno.EAGAIN) else
                    "the kernel may predate MCL_ONFAULT (Linux 4.4)")
            raise SchedulingError(f"mlockall refused ({errno.errorcode.get(code, code)}): "
                                  f"{hint}")
        done.append("memory locked (mlockall, on fault)")
    return done


def _cpu_list(cpus: frozenset[int]) -> str:
    """The set back in cpu-list form, runs joined: {0, 1, 2, 5} -> '0-2,5'."""
    runs: list[list[int]] = []
    for c in sorted(cpus):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
