"""The committed planning and control networks drive every built-in scenario when fed from
ground truth (no perception or fusion yet): the networks on their own, closed loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_autopilot.errors import ModelError
from edge_autopilot.sim.runner import ImitationDriver, default_models_dir, run_scenario
from edge_autopilot.sim.scenario import builtin_scenario_paths, load_scenario

BUILTINS = builtin_scenario_paths()


@pytest.mark.parametrize("path", BUILTINS, ids=[p.stem for p in BUILTINS])
def test_networks_pass_builtin_scenario(path: Path) -> None:
    result = run_scenario(load_scenario(path), ImitationDriver(default_models_dir()))
    assert not result.collision, result.failures
    assert result.passed, result.failures


def test_missing_or_tampered_models_refuse_to_start(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="manifest"):
        ImitationDriver(tmp_path)
    for f in default_models_dir().iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    data = bytearray((tmp_path / "control.onnx").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "control.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"control\.onnx"):
        ImitationDriver(tmp_path)
