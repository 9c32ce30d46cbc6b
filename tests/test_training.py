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


def test_committed_models_record_what_train_does_by_default() -> None:
    """``edge-autopilot train`` with no options is the command that made ``models/``: the
    manifest's seed, variants, epochs and feature version are the defaults of today's code,
    so changing one without retraining (and committing the result) fails here."""
    from edge_autopilot.cli import build_parser
    from edge_autopilot.planning.features import FEATURES_VERSION
    from edge_autopilot.sim.runner import default_models_dir
    from edge_autopilot.training.perception_data import FRAME_EVERY
    from edge_autopilot.training.perception_train import EPOCHS, VARIANTS

    args = build_parser().parse_args(["train"])
    training = json.loads((default_models_dir() / "manifest.json").read_text())["training"]
    assert (training["seed"], training["variants_per_scenario"], training["epochs"]) == \
        (args.seed, args.variants, args.epochs)
    assert training["objects"] == args.objects
    assert training["features_version"] == FEATURES_VERSION
    assert training["perception"] == {"seed": args.seed, "variants_per_scenario": VARIANTS,
                                      "epochs": EPOCHS, "frame_every": FRAME_EVERY}
