"""The 10 ms loop executive: absolute-time schedule, stage budgets, an always-ready fallback, and
every deadline miss counted.

One cycle (see DESIGN.md "One cycle"):
1. wait for the cycle's absolute due time ``t0 + k * period`` (sleep, then spin the last
   stretch), record the wake latency;
2. compute the fallback command first: it is cheap and rule-based, so switching to it costs
   nothing;
3. run the pipeline's stages in order; before each stage, if the time left before the
   cycle's publish deadline is less than the stage's budget, skip it and every later stage;
4. publish the pipeline's command if all stages ran, else the fallback; record the end-to-end
   time; a cycle whose command went out after its deadline is a miss.
After a cycle that overran into the next slots, the schedule skips to the next slot still in the
future (each skipped slot counts as a miss): the loop never drifts and never bunches up.

Lockstep mode (simulator, tests): there is no waiting; the simulator advances one period per
cycle. Timing is still measured and misses counted, but stages are never skipped for lack of
time, so the same inputs give the same commands bit for bit whatever the machine's load.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge_autopilot.constants import CYCLE_PERIOD_NS
from edge_autopilot.control.command import ControlCommand
from edge_autopilot.runtime.timing import CycleTimes
from edge_autopilot.safety.timing_check import CycleTiming

# Sleep until this long before the due time, then spin: Linux sleeps overshoot by ~50-100 us.
SPIN_MARGIN_NS = 300_000


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def sleep_ns(self, duration_ns: int) -> None: ...


class MonotonicClock:
    """The machine's monotonic clock (CLOCK_MONOTONIC via perf_counter_ns)."""

    def now_ns(self) -> int:
        return time.perf_counter_ns()

    def sleep_ns(self, duration_ns: int) -> None:
        time.sleep(duration_ns / 1e9)


class Pipeline(Protocol):
    """What the executive runs each cycle (the stack, or a test double)."""

    stage_names: tuple[str, ...]

    def begin_cycle(self, t_ns: int) -> None:
        """Take this cycle's input snapshot (never waits for input)."""

    def fallback(self, t_ns: int) -> ControlCommand:
        """The rule-based command for this cycle; must be cheap and never fail."""

    def run_stage(self, index: int, t_ns: int) -> None:
        """Run stage ``index`` on this cycle's data."""

    def command(self, t_ns: int) -> ControlCommand | None:
        """The command after every stage ran; None when the stages produced none (e.g. a
        network is not loaded), and the fallback goes out."""


class Guard(Protocol):
    """The safety monitor's place in the cycle: it sees every command before it goes out,
    network or fallback, and may pass it, limit it or replace it. Never skipped."""

    def guard(self, t_ns: int, candidate: ControlCommand, fallback: ControlCommand,
              previous: CycleTiming | None, stage_error: str | None = None
              ) -> ControlCommand: ...


@dataclass(frozen=True)
class ExecutiveConfig:
    period_ns: int = CYCLE_PERIOD_NS
    # the command must be out this long before the next cycle is due
    publish_margin_ns: int = 500_000
    realtime: bool = False
    # Garbage collection off the deadline path: after warm-up the heap is frozen and automatic
    # collection is off (a generation-1 pass in the middle of a cycle measured 3.7 ms, enough
    # to push a 7 ms cycle past the deadline); instead the young generation is collected
    # every cycle and the middle one every ``gc_middle_every`` cycles, each right after the
    # command went out, in the cycle's slack. The oldest generation is collected at stop().
    freeze_gc: bool = True
    gc_middle_every: int = 100


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    index: int
    due_ns: int
    command: ControlCommand
    used_fallback: bool
    missed: bool
    skipped_from: str | None  # first stage skipped for lack of time, if any
    error: str | None  # a stage that raised: the fallback went out
    guarded: bool = False  # the safety monitor changed the command
    # the monitor's verdict this cycle (level, diagnostic level, reasons, findings), published
    # with the command every cycle; None for a pipeline without a monitor
    safety: object | None = None


class Executive:
    def __init__(
        self,
        pipeline: Pipeline,
        budgets_ns: dict[str, int],
        publish: Callable[[CycleOutcome], None],
        config: ExecutiveConfig | None = None,
        capacity: int = 200_000,
        clock: Clock | None = None,
    ) -> None:
        missing = [n for n in pipeline.stage_names if n not in budgets_ns]
        if missing:
            raise ValueError(f"no time budget for stage(s): {', '.join(missing)}")
        self.pipeline = pipeline
        self.config = config or ExecutiveConfig()
        self.budgets_ns = tuple(budgets_ns[n] for n in pipeline.stage_names)
        self.publish = publish
        guard = getattr(pipeline, "guard", None)
        self.guard: Callable[..., ControlCommand] | None = guard if callable(guard) else None
        # the monitor's time is recorded as one more column after the stages
        names = pipeline.stage_names + (("safety",) if self.guard is not None else ())
        self.times = CycleTimes(names, capacity)
        # the verdict on the previous cycle, for the monitor's timing check
        self._verdict: CycleTiming | None = None
        self._prepared = False
        self._gc_was_enabled = True
        self.guard_errors = 0
        self.clock = clock or MonotonicClock()
        self.clock_ns = self.clock.now_ns
        self._t0_ns: int | None = None
        self._slot = 0
        self.skipped_slots = 0
        self.stage_errors = 0
        # totals over the whole run, also past the timing arrays' capacity
        self.late_cycles = 0
        self.fallback_total = 0

    # --- scheduling -------------------------------------------------------------------------
    def _wait_until(self, due_ns: int) -> int:
        """Sleep, then spin, until ``due_ns``; returns the wake time."""
        now = self.clock_ns()
        remaining = due_ns - now - SPIN_MARGIN_NS
        if remaining > 0:
            self.clock.sleep_ns(remaining)
        while (now := self.clock_ns()) < due_ns:
            pass
        return now

    def prepare(self) -> None:
        """The last of set-up: with ``freeze_gc``, one full collection (it can take 100 ms)
        and the heap frozen. Call it before anything starts watching the loop's timing (the
        supervisor's watchdog); start() does it if it has not been done."""
        if self.config.freeze_gc and not self._prepared:
            # everything allocated during set-up and warm-up is long-lived: keep the collector
            # from walking it in the loop
            gc.collect()
            gc.freeze()
            self._gc_was_enabled = gc.isenabled()
            gc.disable()
        self._prepared = True

    def start(self, t0_ns: int | None = None) -> None:
        """Anchor the schedule: cycle k is due at t0 + k * period."""
        self.prepare()
        # anchored after the collection, which can take tens of ms: cycle 0 is due now
        self._t0_ns = self.clock_ns() if t0_ns is None else t0_ns
        self._slot = 0

    # --- one cycle --------------------------------------------------------------------------
    def run_cycle(self, sim_t_ns: int | None = None) -> CycleOutcome:
        """Run the next cycle. ``sim_t_ns``: the simulated time of the cycle, when a simulator
        provides the inputs (the stamps of its samples are in that clock)."""
        if self._t0_ns is None:
            self.start()
        assert self._t0_ns is not None
        cfg = self.config
        due = self._t0_ns + self._slot * cfg.period_ns
        if cfg.realtime:
            wake = self._wait_until(due)
            # the data's time base: the simulator's clock when one drives the inputs
            t_ns = sim_t_ns if sim_t_ns is not None else wake
        else:
            wake = self.clock_ns()
            due = wake  # lockstep: the cycle is due when the simulator hands it over
            t_ns = sim_t_ns if sim_t_ns is not None else wake
        deadline = due + cfg.period_ns - cfg.publish_margin_ns

        k = self.times.count
        rec = k < self.times.capacity
        if rec:
            self.times.wake_latency_ns[k] = wake - due
        p = self.pipeline
        p.begin_cycle(t_ns)
        fallback = p.fallback(t_ns)
        skipped_from: str | None = None
        error: str | None = None
        for i, budget in enumerate(self.budgets_ns):
            start = self.clock_ns()
            if cfg.realtime and start + budget > deadline:
                skipped_from = p.stage_names[i]
                break
            try:
                p.run_stage(i, t_ns)
            except Exception as exc:  # a failing network must never stop the loop
                error = f"{p.stage_names[i]}: {type(exc).__name__}: {exc}"
                self.stage_errors += 1
                if rec:
                    self.times.stage_ns[k, i] = self.clock_ns() - start
                break
            if rec:
                self.times.stage_ns[k, i] = self.clock_ns() - start
        produced = None if skipped_from is not None or error is not None else p.command(t_ns)
        used_fallback = produced is None
        command = fallback if produced is None else produced
        if cfg.realtime and self.clock_ns() > deadline:
            # a stage overran its budget: whatever it produced is late, the fallback goes out
            command, used_fallback = fallback, True
        guarded = False
        if self.guard is not None:
            start = self.clock_ns()
            try:
                # In lockstep the monitor does not see wall-clock timing: the same inputs must
                # give the same commands whatever the machine's load.
                checked = self.guard(t_ns, command, fallback,
                                     self._verdict if cfg.realtime else None, error)
            except Exception:  # the monitor failing must not stop the command going out
                checked = fallback
                self.guard_errors += 1
            guarded = checked != command
            command = checked
            if rec:
                self.times.stage_ns[k, -1] = self.clock_ns() - start
        outcome_time = self.clock_ns()
        missed = outcome_time > deadline if cfg.realtime else \
            outcome_time - wake > cfg.period_ns - cfg.publish_margin_ns
        outcome = CycleOutcome(self._slot, due, command, used_fallback, missed, skipped_from,
                               error, guarded, getattr(p, "decision", None))
        self.publish(outcome)
        self.late_cycles += missed
        self.fallback_total += used_fallback
        end = self.clock_ns()
        if rec:
            self.times.end_to_end_ns[k] = end - wake
            self.times.missed[k] = missed
            self.times.fallback[k] = used_fallback
            self.times.count = k + 1
        else:
            self.times.overflowed += 1
        if cfg.freeze_gc:
            # the safe point: this cycle's command is out, the next is not due yet
            gc.collect(1 if self._slot % cfg.gc_middle_every == 0 else 0)
            end_gc = self.clock_ns()
        else:
            end_gc = end
        skipped_before = self.skipped_slots
        self._advance_slot(end_gc)
        self._verdict = CycleTiming(missed, self.skipped_slots - skipped_before, end - wake)
        return outcome

    def _advance_slot(self, now_ns: int) -> None:
        assert self._t0_ns is not None
        self._slot += 1
        if not self.config.realtime:
            return
        # skip slots whose due time has already passed: each one is a command never sent
        late = (now_ns - (self._t0_ns + self._slot * self.config.period_ns))
        if late > 0:
            skip = late // self.config.period_ns + 1
            self._slot += skip
            self.skipped_slots += skip

    @property
    def deadline_misses(self) -> int:
        """Cycles whose command was late, plus slots that got no command at all."""
        return self.late_cycles + self.skipped_slots

    def stop(self) -> None:
        if self.config.freeze_gc and self._prepared:
            gc.unfreeze()
            if self._gc_was_enabled:
                gc.enable()
            gc.collect()
        self._prepared = False
