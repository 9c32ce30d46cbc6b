"""The degradation ladder: immediate escalation, one-rung de-escalation after hold times."""

from __future__ import annotations

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.ladder import DegradationLadder, LadderState, transition
from edge_autopilot.safety.types import Finding, SafetyLevel

N, D, M, E = (SafetyLevel.NOMINAL, SafetyLevel.DEGRADED, SafetyLevel.MRM,
              SafetyLevel.EMERGENCY)
CFG = SafetyConfig()
MS = 1_000_000


def run(sequence: list[tuple[int, SafetyLevel, bool]], state: LadderState | None = None
        ) -> list[SafetyLevel]:
    """Apply (t_ms, requested, standstill) steps; the level after each."""
    state = state or LadderState()
    out = []
    for t_ms, req, still in sequence:
        state = transition(state, req, t_ms * MS, CFG, still)
        out.append(state.level)
    return out


def test_escalation_is_immediate_and_skips_rungs() -> None:
    assert run([(0, N, False), (10, E, False)]) == [N, E]
    assert run([(0, D, False), (10, M, False), (20, E, False)]) == [D, M, E]


def test_degraded_releases_after_two_seconds_of_nominal_requests() -> None:
    seq = [(0, D, False), (10, N, False), (2000, N, False), (2010, N, False)]
    assert run(seq) == [D, D, D, N]  # lower since 10 ms: 2 s hold ends at 2010 ms


def test_interrupted_hold_restarts() -> None:
    seq = [(0, D, False), (10, N, False), (1500, D, False), (1510, N, False),
           (3000, N, False), (3510, N, False)]
    assert run(seq) == [D, D, D, D, D, N]


def test_mrm_holds_until_standstill_and_hold_time() -> None:
    seq = [(0, M, False), (10, N, False), (5000, N, False),  # moving: stays MRM
           (6000, N, True),  # stopped, request low for > 3 s -> DEGRADED (one rung)
           (7000, N, True), (8010, N, True)]  # next rung needs a fresh 2 s hold
    assert run(seq) == [M, M, M, D, D, N]


def test_mrm_release_while_moving_when_configured() -> None:
    cfg = SafetyConfig(mrm_release_requires_standstill=False)
    state = LadderState()
    levels = []
    for t_ms, req in [(0, M), (10, N), (3000, N), (3010, N)]:
        state = transition(state, req, t_ms * MS, cfg, False)
        levels.append(state.level)
    assert levels == [M, M, M, D]


def test_emergency_releases_only_to_mrm_after_hold_or_standstill() -> None:
    assert run([(0, E, False), (10, N, False), (1000, N, False), (1010, N, False)]) == \
        [E, E, E, M]
    assert run([(0, E, False), (10, N, True)]) == [E, M]  # at standstill at once
    # while the threat persists it never releases
    assert run([(0, E, False), (1000, E, True), (5000, E, True)]) == [E, E, E]


def test_ladder_keeps_the_reasons_and_logs_events() -> None:
    ladder = DegradationLadder(CFG)
    f_d = Finding("timing.deadline_miss", D)
    f_e = Finding("collision.ttc", E)
    assert ladder.update([f_d], 0, False) == D
    assert ladder.reasons == ("timing.deadline_miss",)
    assert ladder.update([f_d, f_e], 10 * MS, False) == E
    assert ladder.reasons == ("collision.ttc",)
    assert ladder.update([], 20 * MS, True) == M  # standstill: EMERGENCY -> MRM
    assert ladder.reasons == ("collision.ttc",)  # held for the same reason
    assert [(e.level, e.reasons) for e in ladder.events] == [
        (D, ("timing.deadline_miss",)), (E, ("collision.ttc",)), (M, ("collision.ttc",))]
    assert ladder.max_level == E
