"""Loop timing: deadline misses one by one, and runs of consecutive misses.

A single miss (the command went out late, or a slot got none) -> ``timing.deadline_miss`` at
DEGRADED: the loop is at its limit, so drive on the cheap rule-based command with margin.
``consecutive_misses_mrm`` in a row (3 = 30 ms without a timely command; the supervisor's
watchdog acts at 20 ms) -> ``timing.consecutive_misses`` at MRM.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import (
    TIMING_CONSECUTIVE_MISSES,
    TIMING_DEADLINE_MISS,
    Finding,
    SafetyLevel,
)

NO_FINDINGS: tuple[Finding, ...] = ()


@dataclass(slots=True)
class CycleTiming:
    """The executive's verdict on the *previous* cycle (this one is not finished when the
    monitor runs): ``missed`` its deadline, and ``skipped_slots`` that got no command."""

    missed: bool = False
    skipped_slots: int = 0
    end_to_end_ns: int = 0


class TimingCheck:
    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.consecutive = 0
        self.total = 0

    def check(self, timing: CycleTiming | None) -> tuple[Finding, ...]:
        if timing is None:
            return NO_FINDINGS
        misses = int(timing.missed) + max(int(timing.skipped_slots), 0)
        if misses == 0:
            self.consecutive = 0
            return NO_FINDINGS
        self.consecutive += misses
        self.total += misses
        if self.consecutive >= self.config.consecutive_misses_mrm:
            return (Finding(TIMING_CONSECUTIVE_MISSES, SafetyLevel.MRM,
                            f"{self.consecutive} consecutive deadline misses"),)
        return (Finding(TIMING_DEADLINE_MISS, SafetyLevel.DEGRADED,
                        f"{misses} deadline miss(es), {self.total} in total"),)
