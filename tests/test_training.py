"""Training end to end on a small run: ONNX files that verify against their manifest, and the
same seed giving the same weights. Needs PyTorch (extra `train`); skipped without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_autopilot.perception.onnx_session import load_model_set
from edge_autopilot.planning.features import CONTROL_INPUTS, PLANNING_INPUTS

SCENARIOS = [Path("scenarios/lead_brake_hard.yaml"), Path("scenarios/cut_in_short_gap.yaml")]


def _train(out: Path) -> dict:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from edge_autopilot.training.train import train_all

    # all three networks, the planner's data recorded through the fresh perception network
    return train_all(out, seed=1, variants=2, epochs=2, log=lambda m: None,
                     scenario_paths=SCENARIOS, perception_variants=1, perception_epochs=1)


def test_training_exports_verified_models_deterministically(tmp_path: Path) -> None:
    manifest = _train(tmp_path / "a")
    assert set(manifest["models"]) == {"perception", "planning", "control"}
    assert manifest["training"]["objects"] == "fused"
    assert 0.0 <= manifest["metrics"]["perception"]["recall"] <= 1.0
    assert manifest["training"]["runs"] == 4 and manifest["training"]["samples"] > 1000
    assert manifest["metrics"]["control"]["steer_rmse_rad"] >= 0.0
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert on_disk["models"] == manifest["models"]
    loaded = load_model_set(tmp_path / "a")
    assert loaded.errors == []
    plan = loaded.models["planning"].run({"features": np.zeros((1, PLANNING_INPUTS),
                                                               np.float32)})[0]
    ctrl = loaded.models["control"].run({"features": np.zeros((1, CONTROL_INPUTS),
                                                              np.float32)})[0]
    assert plan.shape == (1, 60) and ctrl.shape == (1, 2)
    again = _train(tmp_path / "b")
    for name in ("perception", "planning", "control"):
        assert again["models"][name]["sha256"] == manifest["models"][name]["sha256"]
