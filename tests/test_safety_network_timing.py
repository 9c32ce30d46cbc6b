"""Network-output plausibility and loop-timing checks."""

from __future__ import annotations

import math

import numpy as np

from edge_autopilot.control.command import ControlCommand
from edge_autopilot.safety.config import SafetyConfig
from edge_autopilot.safety.network_check import NetworkCheck, NetworkOutputs, leads_disagree
from edge_autopilot.safety.timing_check import CycleTiming, TimingCheck
from edge_autopilot.safety.types import SafetyLevel

CFG = SafetyConfig()
OK = ControlCommand(0.0, 0.5)


def levels(findings) -> dict[str, SafetyLevel]:
    return {f.code: f.level for f in findings}


def test_lead_disagreement_rule() -> None:
    assert not leads_disagree(None, None, CFG)
    assert not leads_disagree(50.0, 52.0, CFG)
    assert not leads_disagree(100.0, 114.0, CFG)  # within 15 %
    assert leads_disagree(10.0, 14.0, CFG)  # beyond 3 m
    assert leads_disagree(20.0, None, CFG)  # perception sees a near lead the radar misses
    assert not leads_disagree(90.0, None, CFG)  # far: the radar may just not have it yet


def test_disagreement_fires_after_n_consecutive_cycles_and_resets() -> None:
    chk = NetworkCheck(CFG)
    bad = NetworkOutputs(perception_lead_range_m=20.0, radar_lead_range_m=30.0)
    for k in range(CFG.disagree_cycles):
        found = levels(chk.check(OK, bad, None))
        expect = k == CFG.disagree_cycles - 1
        assert (found == {"network.perception_radar_disagree": SafetyLevel.DEGRADED}) is expect
    assert chk.check(OK, NetworkOutputs(20.0, 21.0), None) == ()
    assert chk.disagree_cycles == 0


def test_radar_lead_defaults_to_the_monitors_own_path() -> None:
    chk = NetworkCheck(CFG)
    for _ in range(CFG.disagree_cycles):
        found = chk.check(OK, NetworkOutputs(perception_lead_range_m=50.0), 20.0)
    assert levels(found) == {"network.perception_radar_disagree": SafetyLevel.DEGRADED}


def test_trajectory_nan_and_out_of_range() -> None:
    chk = NetworkCheck(CFG)
    accel = np.zeros(30)
    offset = np.zeros(30)
    assert chk.check(OK, NetworkOutputs(traj_accel_mps2=accel, traj_lateral_offset_m=offset),
                     None) == ()
    accel[5] = math.nan
    assert levels(chk.check(OK, NetworkOutputs(traj_accel_mps2=accel), None)) == {
        "network.nan": SafetyLevel.MRM}
    offset[3] = 40.0
    assert levels(chk.check(OK, NetworkOutputs(traj_lateral_offset_m=offset), None)) == {
        "network.out_of_range": SafetyLevel.DEGRADED}


def test_implausible_command_is_out_of_range() -> None:
    chk = NetworkCheck(CFG)
    assert levels(chk.check(ControlCommand(0.0, 25.0), None, None)) == {
        "network.out_of_range": SafetyLevel.DEGRADED}
    assert levels(chk.check(ControlCommand(2.0, 0.0), None, None)) == {
        "network.out_of_range": SafetyLevel.DEGRADED}
    # merely beyond the envelope is the envelope's business (clipped, WARN)
    assert chk.check(ControlCommand(0.0, 3.0), None, None) == ()


def test_single_miss_degraded_consecutive_misses_mrm() -> None:
    chk = TimingCheck(CFG)
    assert chk.check(CycleTiming(missed=False)) == ()
    assert levels(chk.check(CycleTiming(missed=True))) == {
        "timing.deadline_miss": SafetyLevel.DEGRADED}
    assert chk.check(CycleTiming(missed=False)) == ()  # the run is broken
    chk.check(CycleTiming(missed=True))
    assert levels(chk.check(CycleTiming(missed=True))) == {
        "timing.deadline_miss": SafetyLevel.DEGRADED}
    assert levels(chk.check(CycleTiming(missed=True))) == {
        "timing.consecutive_misses": SafetyLevel.MRM}


def test_skipped_slots_count_as_misses() -> None:
    chk = TimingCheck(CFG)
    assert levels(chk.check(CycleTiming(missed=True, skipped_slots=2))) == {
        "timing.consecutive_misses": SafetyLevel.MRM}
