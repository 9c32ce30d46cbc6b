"""The tracker against ground truth on a held-out scenario, beside the filterpy reference."""

from __future__ import annotations

import pytest

from edge_autopilot.fusion.tracker import Tracker
from edge_autopilot.sim.fusion_eval import FilterpyTracker, evaluate_trackers
from edge_autopilot.sim.scenario import parse_scenario

# not a built-in: a cut-in plus a slower truck ahead and a car behind in the next lane
HELD_OUT = {
    "name": "held_out_cut_in_traffic",
    "duration_s": 12,
    "seed": 11,
    "road": {"lanes": 2, "sections": [{"length_m": 400}, {"length_m": 300, "radius_m": 600}]},
    "ego": {"lane": 0, "s_m": 0, "speed_mps": 22, "set_speed_mps": 22},
    "actors": [
        {"id": "cutter", "kind": "car", "lane": 1, "s_m": 45, "speed_mps": 18,
         "events": [{"do": "lane_change", "at": {"gap_m_below": 15}, "to_lane": 0,
                     "duration_s": 3.0}]},
        {"id": "truck", "kind": "truck", "lane": 0, "s_m": 110, "speed_mps": 17},
        {"id": "overtaker", "kind": "car", "lane": 1, "s_m": -25, "speed_mps": 26},
    ],
}


def test_tracker_matches_reference_accuracy_and_ground_truth() -> None:
    pytest.importorskip("filterpy")
    scenario = parse_scenario(HELD_OUT)
    numba_score, ref_score = evaluate_trackers(
        scenario, {"numba": Tracker(), "filterpy": FilterpyTracker()}, seed=3)
    assert numba_score.gt > 1000
    # at least as accurate as the reference on the same measurements
    assert numba_score.rmse_m <= ref_score.rmse_m + 1e-6
    assert numba_score.mota >= ref_score.mota - 1e-6
    # and good in absolute terms: objects found, placed within a metre, few duplicates
    assert numba_score.rmse_m < 1.0
    assert numba_score.mota > 0.7
    assert numba_score.fn < 0.05 * numba_score.gt
    assert numba_score.id_switches <= 10
