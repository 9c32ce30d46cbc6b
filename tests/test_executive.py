"""The loop executive's deadline handling, on a simulated clock so the outcome is exact.

Stages "take time" by advancing the fake clock, the way a slow network would on the real one;
nothing here depends on how busy the test machine is.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.runtime.executive import CycleOutcome, Executive, ExecutiveConfig

MS = 1_000_000
PERIOD = 10 * MS


class FakeClock:
    """Simulated monotonic time; every read costs 1 us, as a spinning loop would."""

    def __init__(self) -> None:
        self.t = 1_000 * MS

    def now_ns(self) -> int:
        self.t += 1_000
        return self.t

    def sleep_ns(self, duration_ns: int) -> None:
        self.t += duration_ns


class ScriptedPipeline:
    """Three stages; ``cost_ms[(cycle, stage)]`` overrides the default 1 ms per stage."""

    stage_names = ("perception", "planning", "control")

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.cycle = -1
        self.cost_ms: dict[tuple[int, int], float] = {}
        self.raise_at: set[tuple[int, int]] = set()
        self.ran: list[tuple[int, int]] = []

    def begin_cycle(self, t_ns: int) -> None:
        self.cycle += 1

    def fallback(self, t_ns: int) -> ControlCommand:
        return ControlCommand(0.0, -1.0, t_ns)  # a gentle brake: recognisable in the asserts

    def run_stage(self, index: int, t_ns: int) -> None:
        key = (self.cycle, index)
        if key in self.raise_at:
            raise RuntimeError("network exploded")
        self.clock.t += int(self.cost_ms.get(key, 1.0) * MS)
        self.ran.append(key)

    def command(self, t_ns: int) -> ControlCommand:
        return ControlCommand(0.01, 0.5, t_ns)


BUDGETS = {"perception": 3 * MS, "planning": 2 * MS, "control": 1 * MS}


def make(realtime: bool = True, pipeline_cls: type[ScriptedPipeline] = ScriptedPipeline
         ) -> tuple[Executive, Any, list[CycleOutcome]]:
    clock = FakeClock()
    pipeline = pipeline_cls(clock)
    published: list[CycleOutcome] = []
    ex = Executive(pipeline, BUDGETS, published.append,
                   ExecutiveConfig(realtime=realtime, freeze_gc=False), capacity=1000,
                   clock=clock)
    return ex, pipeline, published


def test_clean_cycles_publish_the_pipeline_command_on_schedule() -> None:
    ex, _, out = make()
    ex.start()
    for _ in range(50):
        ex.run_cycle()
    assert all(not o.used_fallback and not o.missed for o in out)
    assert all(o.command.accel_mps2 == 0.5 for o in out)
    due = [o.due_ns for o in out]
    assert all(b - a == PERIOD for a, b in itertools.pairwise(due))  # no drift
    assert ex.deadline_misses == 0
    assert ex.times.count == 50
    assert ex.times.wake_latency_summary().max_ms < 0.01  # spins to the due time
    assert ex.times.stage_summary("perception").p50_ms == pytest.approx(1.0, abs=0.01)
    assert ex.times.end_to_end_summary().p50_ms == pytest.approx(3.0, abs=0.05)


def test_stage_out_of_budget_skips_the_rest_and_sends_the_fallback_in_time() -> None:
    ex, pipe, out = make()
    pipe.cost_ms[(5, 0)] = 8.0  # perception takes 8 ms: planning (2 ms) would end past 9.5 ms
    ex.start()
    for _ in range(10):
        ex.run_cycle()
    bad = out[5]
    assert bad.used_fallback and bad.command.accel_mps2 == -1.0
    assert bad.skipped_from == "planning"
    assert not bad.missed  # the fallback still went out before the deadline
    assert (5, 1) not in pipe.ran and (5, 2) not in pipe.ran
    assert not out[6].used_fallback and out[6].due_ns == out[5].due_ns + PERIOD
    assert ex.deadline_misses == 0
    assert ex.times.fallback_cycles == 1


def test_overrun_past_the_deadline_is_a_miss_and_the_next_cycle_is_on_the_grid() -> None:
    ex, pipe, out = make()
    pipe.cost_ms[(3, 1)] = 14.0  # planning stalls for 14 ms: cycle 3 and slot 4 are lost
    ex.start()
    for _ in range(8):
        ex.run_cycle()
    stalled = out[3]
    assert stalled.missed and stalled.used_fallback
    assert stalled.command.accel_mps2 == -1.0  # the late network result is not used
    nxt = out[4]
    t0 = out[0].due_ns
    assert (nxt.due_ns - t0) % PERIOD == 0  # still on the absolute grid
    assert nxt.due_ns == t0 + 5 * PERIOD  # slot 4 had passed: skipped, not run late
    assert not nxt.missed and not nxt.used_fallback
    assert ex.skipped_slots == 1
    assert ex.deadline_misses == 2  # the late cycle and the slot that got no command
    assert ex.times.max_consecutive_misses == 1


def test_a_raising_stage_gives_the_fallback_and_the_loop_goes_on() -> None:
    ex, pipe, out = make()
    pipe.raise_at.add((2, 1))
    ex.start()
    for _ in range(5):
        ex.run_cycle()
    assert out[2].used_fallback and out[2].error == "planning: RuntimeError: network exploded"
    assert out[2].command.accel_mps2 == -1.0
    assert not out[3].used_fallback and ex.stage_errors == 1


def test_lockstep_never_skips_stages_but_counts_slow_cycles() -> None:
    ex, pipe, out = make(realtime=False)
    pipe.cost_ms[(1, 0)] = 12.0
    for k in range(3):
        ex.run_cycle(sim_t_ns=k * PERIOD)
    assert [o.used_fallback for o in out] == [False, False, False]  # same commands always
    assert [o.command.stamp_ns for o in out] == [0, PERIOD, 2 * PERIOD]
    assert [o.missed for o in out] == [False, True, False]
    assert ex.deadline_misses == 1


def test_every_stage_needs_a_budget() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="no time budget for stage"):
        Executive(ScriptedPipeline(clock), {"perception": MS}, lambda o: None, clock=clock)


class GuardedPipeline(ScriptedPipeline):
    """The scripted pipeline with a safety guard that caps acceleration at 0.2 m/s^2 and
    remembers the timing verdicts it was given."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.verdicts: list[object] = []
        self.stage_errors: list[str | None] = []
        self.explode = False

    def guard(self, t_ns: int, candidate: ControlCommand, fallback: ControlCommand,
              previous: object, stage_error: str | None = None) -> ControlCommand:
        self.verdicts.append(previous)
        self.stage_errors.append(stage_error)
        if self.explode:
            raise RuntimeError("monitor bug")
        return ControlCommand(candidate.steer_rad, min(candidate.accel_mps2, 0.2), t_ns)


def make_guarded(realtime: bool) -> tuple[Executive, GuardedPipeline, list[CycleOutcome]]:
    return make(realtime, GuardedPipeline)


def test_every_command_passes_the_guard_and_its_time_is_recorded() -> None:
    ex, p, out = make_guarded(realtime=True)
    ex.start()
    p.cost_ms[(2, 0)] = 12.0  # cycle 2 overruns: the fallback goes out late, guarded as well
    for _ in range(5):
        ex.run_cycle()
    assert [o.command.accel_mps2 for o in out] == [0.2, 0.2, -1.0, 0.2, 0.2]
    assert [o.guarded for o in out] == [True, True, False, True, True]
    assert ex.times.stage_names[-1] == "safety"
    assert (ex.times.stage_ns[:5, -1] > 0).all()
    # the monitor hears about the previous cycle's deadline, one cycle later
    assert p.verdicts[0] is None
    assert [v.missed for v in p.verdicts[1:]] == [False, False, True, False]  # type: ignore
    assert p.verdicts[3].skipped_slots == 1  # type: ignore  # slot 3 got no command


def test_lockstep_keeps_wall_clock_timing_away_from_the_guard() -> None:
    ex, p, out = make_guarded(realtime=False)
    p.cost_ms[(1, 0)] = 30.0  # a slow cycle on a busy machine
    for k in range(4):
        ex.run_cycle(sim_t_ns=k * PERIOD)
    assert out[1].missed
    assert p.verdicts == [None] * 4  # the commands cannot depend on the machine's load


def test_the_guard_hears_of_a_stage_that_raised() -> None:
    ex, p, out = make_guarded(realtime=True)
    ex.start()
    p.raise_at.add((1, 1))
    for _ in range(3):
        ex.run_cycle()
    assert p.stage_errors[0] is None and p.stage_errors[2] is None
    assert p.stage_errors[1] == "planning: RuntimeError: network exploded"
    assert out[1].command.accel_mps2 == -1.0  # the fallback, passed by the guard


def test_a_failing_guard_sends_the_fallback() -> None:
    ex, p, out = make_guarded(realtime=True)
    ex.start()
    p.explode = True
    ex.run_cycle()
    assert out[0].command.accel_mps2 == -1.0 and out[0].guarded
    assert ex.guard_errors == 1


def test_frozen_gc_collects_only_after_the_command_is_out() -> None:
    import gc

    clock = FakeClock()
    pipeline = ScriptedPipeline(clock)
    collected: list[int] = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            collected.append(info["generation"])

    ex = Executive(pipeline, BUDGETS, lambda o: None,
                   ExecutiveConfig(realtime=False, freeze_gc=True, gc_middle_every=5),
                   capacity=100, clock=clock)
    gc.callbacks.append(note)
    try:
        ex.start()
        assert not gc.isenabled()  # no automatic pass can land inside a cycle
        collected.clear()
        for k in range(10):
            ex.run_cycle(sim_t_ns=k * PERIOD)
        # one pass per cycle at the safe point: the middle generation every 5th, never gen 2
        assert collected == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    finally:
        ex.stop()
        gc.callbacks.remove(note)
    assert gc.isenabled()
