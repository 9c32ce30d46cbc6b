"""The degradation ladder NOMINAL -> DEGRADED -> MRM -> EMERGENCY (DESIGN.md "Safety").

``transition`` is the pure rule; ``DegradationLadder`` runs it each cycle and keeps the reason
codes that put the ladder where it is, plus a log of level changes (the interventions).

Rules (``requested`` = the highest level any check asks for this cycle):
1. Escalation is immediate, by any number of rungs: requested > level -> level = requested.
2. De-escalation is one rung at a time, after the request has stayed below the current level
   for the rung's hold time without interruption (a request at or above the level restarts
   the clock); each further rung needs a fresh hold:
   - DEGRADED -> NOMINAL: request NOMINAL for ``hold_degraded_ns`` (2 s);
   - MRM -> DEGRADED: request below MRM for ``hold_mrm_ns`` (3 s) *and* the vehicle at
     standstill (``mrm_release_requires_standstill``, default): a started minimal-risk
     manoeuvre is completed, as UN R157 (ALKS) requires of an MRM;
   - EMERGENCY -> MRM: request below EMERGENCY and either the vehicle at standstill or the
     request low for ``hold_emergency_ns`` (1 s) while moving: full braking for a threat that
     has gone (a ghost, a cut-in that pulled away) must not run on into a rear-end risk; the
     comfortable MRM stop follows, never straight back to driving.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.types import Finding, SafetyLevel


@dataclass(frozen=True, slots=True)
class LadderState:
    level: SafetyLevel = SafetyLevel.NOMINAL
    entered_ns: int = 0  # when the current level was entered
    lower_since_ns: int | None = None  # since when the request has been below ``level``


def _release_allowed(state: LadderState, held_ns: int, standstill: bool,
                     config: SafetyConfig) -> bool:
    level = state.level
    if level == SafetyLevel.EMERGENCY:
        return standstill or held_ns >= config.hold_emergency_ns
    if level == SafetyLevel.MRM:
        return held_ns >= config.hold_mrm_ns and (
            standstill or not config.mrm_release_requires_standstill)
    return held_ns >= config.hold_degraded_ns


def transition(state: LadderState, requested: SafetyLevel, t_ns: int, config: SafetyConfig,
               standstill: bool = False) -> LadderState:
    """The next ladder state for this cycle's request (pure)."""
    if requested > state.level:
        return LadderState(requested, t_ns, None)
    if requested == state.level:
        return state if state.lower_since_ns is None else LadderState(state.level,
                                                                      state.entered_ns, None)
    lower_since = state.lower_since_ns if state.lower_since_ns is not None else t_ns
    if _release_allowed(state, t_ns - lower_since, standstill, config):
        down = SafetyLevel(state.level - 1)
        # still above the request: the next rung's hold starts now
        return LadderState(down, t_ns, t_ns if requested < down else None)
    if lower_since == state.lower_since_ns:
        return state
    return LadderState(state.level, state.entered_ns, lower_since)


@dataclass(frozen=True, slots=True)
class LadderEvent:
    t_ns: int
    level: SafetyLevel
    reasons: tuple[str, ...]


class DegradationLadder:
    def __init__(self, config: SafetyConfig, max_events: int = 10_000) -> None:
        self.config = config
        self.state = LadderState()
        self.reasons: tuple[str, ...] = ()
        self.events: list[LadderEvent] = []
        self.max_events = max_events
        self.max_level = SafetyLevel.NOMINAL

    @property
    def level(self) -> SafetyLevel:
        return self.state.level

    def update(self, findings: list[Finding] | tuple[Finding, ...], t_ns: int,
               standstill: bool) -> SafetyLevel:
        requested = SafetyLevel.NOMINAL
        for f in findings:
            if f.level > requested:
                requested = f.level
        before = self.state.level
        self.state = transition(self.state, requested, t_ns, self.config, standstill)
        level = self.state.level
        if level > before:
            # the reasons that put it there: the findings at the new level
            self.reasons = tuple(dict.fromkeys(f.code for f in findings if f.level == level))
        elif level == before and requested == level and level > SafetyLevel.NOMINAL:
            new = [f.code for f in findings if f.level == level and f.code not in self.reasons]
            if new:
                self.reasons = self.reasons + tuple(dict.fromkeys(new))
        elif level == SafetyLevel.NOMINAL:
            self.reasons = ()
        # on de-escalation above NOMINAL the reasons stay: the hysteresis still holds for them
        if level != before:
            if level > self.max_level:
                self.max_level = level
            if len(self.events) < self.max_events:
                self.events.append(LadderEvent(t_ns, level, self.reasons))
        return level
