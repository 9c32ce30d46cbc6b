"""OnnxModel: verified loading, correct inference, and one clear ModelError per failure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_autopilot.errors import ModelError
from edge_autopilot.perception.onnx_session import (
    RING_SIZE,
    Manifest,
    OnnxModel,
    choose_providers,
    load_manifest,
    load_model_set,
)

W = np.arange(8, dtype=np.float32).reshape(4, 2) / 10.0
B = np.array([0.5, -1.0], dtype=np.float32)


def linear_model_bytes(w: np.ndarray = W, b: np.ndarray = B) -> bytes:
    """y = x @ w + b with x: float32 [N, 4], y: float32 [N, 2], opset 17."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime this project supports
    onnx.checker.check_model(model)
    return model.SerializeToString()


def entry(file: str, data: bytes, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "inputs": [{"name": "x", "shape": [-1, 4], "dtype": "float32", "units": "m"}],
        "outputs": [{"name": "y", "shape": [-1, 2], "dtype": "float32", "units": "m"}],
        "opset": 17,
    }
    spec.update(overrides)
    return spec


def write_models(tmp_path: Path, names: tuple[str, ...] = ("perception",)) -> bytes:
    data = linear_model_bytes()
    models = {}
    for name in names:
        (tmp_path / f"{name}.onnx").write_bytes(data)
        models[name] = entry(f"{name}.onnx", data)
    write_manifest(tmp_path, models)
    return data


def write_manifest(tmp_path: Path, models: dict[str, Any]) -> None:
    doc = {"format": 1, "models": models, "training": {"epochs": 3}, "metrics": {"mae": 0.1}}
    (tmp_path / "manifest.json").write_text(json.dumps(doc))


def load(tmp_path: Path, name: str = "perception", **kwargs: Any) -> OnnxModel:
    return OnnxModel.load(tmp_path, name, load_manifest(tmp_path), **kwargs)


# --- happy path ----------------------------------------------------------------------------


def test_load_and_run_matches_numpy(tmp_path: Path) -> None:
    write_models(tmp_path)
    model = load(tmp_path)
    x = np.array([[1, 2, 3, 4], [-1, 0, 0.5, 2]], dtype=np.float32)
    (y,) = model.run({"x": x})
    assert y.dtype == np.float32
    assert y.shape == (2, 2)
    np.testing.assert_allclose(y, x @ W + B, rtol=1e-6, atol=1e-6)
    assert model.name == "perception"
    assert model.providers == ["CPUExecutionProvider"]
    assert model.run_count == 1
    assert model.infer_ns.shape == (1,)
    assert model.infer_ns[0] > 0
    assert model.infer_ms(50) > 0.0


def test_run_bound_equals_run_and_reads_inputs_in_place(tmp_path: Path) -> None:
    write_models(tmp_path)
    model = load(tmp_path)
    x = np.array([[1, 2, 3, 4], [-1, 0, 0.5, 2]], dtype=np.float32)
    first = model.run_bound({"x": x})  # binds this buffer (through run)
    assert first[0].tobytes() == model.run({"x": x})[0].tobytes()
    for k in range(3):
        x[:] = np.random.default_rng(k).normal(size=x.shape).astype(np.float32)
        (y,) = model.run_bound({"x": x})  # the binding sees the buffer's new contents
        assert y.tobytes() == model.run({"x": x})[0].tobytes()
    (again,) = model.run_bound({"x": x})
    assert again is y  # the output buffer is reused, not reallocated
    assert model.run_count == 9
    other = np.ones((1, 4), dtype=np.float32)  # another buffer and shape: its own binding
    assert model.run_bound({"x": other})[0].tobytes() == model.run({"x": other})[0].tobytes()
    with pytest.raises(ModelError, match="input 'x' is float64"):
        model.run_bound({"x": x.astype(np.float64)})


def test_manifest_keeps_free_form_training_and_metrics(tmp_path: Path) -> None:
    write_models(tmp_path)
    manifest = load_manifest(tmp_path)
    assert isinstance(manifest, Manifest)
    assert manifest.training == {"epochs": 3}
    assert manifest.metrics == {"mae": 0.1}
    assert manifest.models["perception"].inputs[0].shape == (-1, 4)


def test_warmup_runs_zero_inputs_and_resets_stats(tmp_path: Path) -> None:
    write_models(tmp_path)
    model = load(tmp_path)
    zeros = model.zero_inputs()
    assert zeros["x"].shape == (1, 4)
    assert zeros["x"].dtype == np.float32
    model.warmup(5)
    assert model.run_count == 0
    assert np.isnan(model.infer_ms())
    (y,) = model.run(zeros)
    np.testing.assert_allclose(y, B[None, :])
    assert model.run_count == 1


def test_duration_ring_is_bounded(tmp_path: Path) -> None:
    write_models(tmp_path)
    model = load(tmp_path)
    feed = model.zero_inputs()
    for _ in range(RING_SIZE + 3):
        model.run(feed)
    assert model.run_count == RING_SIZE + 3
    assert model.infer_ns.shape == (RING_SIZE,)
    assert model.infer_ns.dtype == np.int64
    assert (model.infer_ns > 0).all()


def test_choose_providers_cpu_last() -> None:
    assert choose_providers(None)[-1] == "CPUExecutionProvider"
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    # Asking only for an accelerator still keeps the CPU fallback.
    assert choose_providers(["CUDAExecutionProvider"])[-1] == "CPUExecutionProvider"


# --- run-time input checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "problem"),
    [
        ({"x": np.zeros((1, 4), np.float64)}, "is float64, expected float32"),
        ({"x": np.zeros((1, 5), np.float32)}, "has shape [1, 5], expected [-1, 4]"),
        ({"x": np.zeros(4, np.float32)}, "has shape [4], expected [-1, 4]"),
        ({"z": np.zeros((1, 4), np.float32)}, "input 'x' missing"),
        ({}, "inputs [], expected ['x']"),
    ],
)
def test_run_rejects_bad_inputs(tmp_path: Path, feed: dict[str, Any], problem: str) -> None:
    write_models(tmp_path)
    model = load(tmp_path)
    with pytest.raises(ModelError) as exc:
        model.run(feed)
    assert "perception.onnx" in str(exc.value)
    assert problem in str(exc.value)
    assert model.run_count == 0


# --- load failures -------------------------------------------------------------------------


def test_missing_model_file(tmp_path: Path) -> None:
    write_models(tmp_path)
    (tmp_path / "perception.onnx").unlink()
    with pytest.raises(ModelError) as exc:
        load(tmp_path)
    assert str(exc.value) == f"{tmp_path / 'perception.onnx'}: model file not found"


def test_corrupted_bytes_fail_hash_check(tmp_path: Path) -> None:
    data = write_models(tmp_path)
    (tmp_path / "perception.onnx").write_bytes(data[:-7] + b"garbage")
    with pytest.raises(ModelError) as exc:
        load(tmp_path)
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path / 'perception.onnx'}: sha256 mismatch: file is ")
    assert f"manifest says {hashlib.sha256(data).hexdigest()}" in msg


def test_corrupted_bytes_with_matching_hash_fail_in_onnxruntime(tmp_path: Path) -> None:
    junk = b"this is not a protobuf \x00\xff\x13" * 10
    (tmp_path / "perception.onnx").write_bytes(junk)
    write_manifest(tmp_path, {"perception": entry("perception.onnx", junk)})
    with pytest.raises(ModelError) as exc:
        load(tmp_path)
    assert str(exc.value).startswith(
        f"{tmp_path / 'perception.onnx'}: onnxruntime cannot load it: "
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"inputs": [{"name": "image", "shape": [-1, 4], "dtype": "float32", "units": "m"}]},
            "input names in file are ['x'], manifest says ['image']",
        ),
        (
            {"outputs": [{"name": "y", "shape": [-1, 3], "dtype": "float32", "units": "m"}]},
            "output 'y' shape is ['N', 2] in file, manifest says [-1, 3]",
        ),
        (
            {"inputs": [{"name": "x", "shape": [-1, 4, 1], "dtype": "float32", "units": "m"}]},
            "input 'x' shape is ['N', 4] in file, manifest says [-1, 4, 1]",
        ),
        (
            {"inputs": [{"name": "x", "shape": [-1, 4], "dtype": "int64", "units": "m"}]},
            "input 'x' dtype is float32 in file, manifest says int64",
        ),
    ],
)
def test_signature_mismatch(tmp_path: Path, overrides: dict[str, Any], problem: str) -> None:
    data = linear_model_bytes()
    (tmp_path / "perception.onnx").write_bytes(data)
    write_manifest(tmp_path, {"perception": entry("perception.onnx", data, **overrides)})
    with pytest.raises(ModelError) as exc:
        load(tmp_path)
    assert str(exc.value) == (f"{tmp_path / 'perception.onnx'}: does not match manifest: {problem}")


def test_static_batch_in_manifest_narrows_symbolic_dim(tmp_path: Path) -> None:
    data = linear_model_bytes()
    (tmp_path / "perception.onnx").write_bytes(data)
    one = {"inputs": [{"name": "x", "shape": [1, 4], "dtype": "float32", "units": "m"}]}
    write_manifest(tmp_path, {"perception": entry("perception.onnx", data, **one)})
    model = load(tmp_path)
    with pytest.raises(ModelError, match=r"has shape \[2, 4\], expected \[1, 4\]"):
        model.run({"x": np.zeros((2, 4), np.float32)})


def test_unknown_model_name(tmp_path: Path) -> None:
    write_models(tmp_path)
    with pytest.raises(ModelError) as exc:
        load(tmp_path, "planning")
    assert str(exc.value) == (
        f"{tmp_path / 'manifest.json'}: no model named 'planning'; has ['perception']"
    )


def test_unknown_provider(tmp_path: Path) -> None:
    write_models(tmp_path)
    with pytest.raises(ModelError) as exc:
        load(tmp_path, providers=["FooExecutionProvider"])
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path / 'perception.onnx'}: unknown execution provider(s) ")
    assert "['FooExecutionProvider']" in msg
    assert "CUDAExecutionProvider" in msg
    assert "CPUExecutionProvider" in msg


# --- manifest failures ---------------------------------------------------------------------


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as exc:
        load_manifest(tmp_path)
    assert str(exc.value) == f"{tmp_path / 'manifest.json'}: manifest not found"


def test_malformed_manifest_json(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"format": 1, "models": {')
    with pytest.raises(ModelError) as exc:
        load_manifest(tmp_path)
    assert str(exc.value).startswith(f"{tmp_path / 'manifest.json'}: manifest is not valid JSON: ")
    assert "line 1" in str(exc.value)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(format=2), "format:"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda d: d["models"]["perception"].update(sha256="abc"), "models.perception.sha256:"),
        (lambda d: d["models"]["perception"].update(file="../x.onnx"), "models.perception.file:"),
        (
            lambda d: d["models"]["perception"].pop("opset"),
            "models.perception.opset: Field required",
        ),
        (
            lambda d: d["models"]["perception"]["inputs"][0].update(shape=[0, 4]),
            "models.perception.inputs.0.shape:",
        ),
    ],
)
def test_invalid_manifest_content(tmp_path: Path, mutate: Any, where: str) -> None:
    write_models(tmp_path)
    doc = json.loads((tmp_path / "manifest.json").read_text())
    mutate(doc)
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError) as exc:
        load_manifest(tmp_path)
    lines = str(exc.value).splitlines()
    assert lines[0] == f"{tmp_path / 'manifest.json'}: invalid manifest"
    assert any(line.strip().startswith(where) for line in lines[1:])


# --- model set -----------------------------------------------------------------------------


def test_model_set_keeps_good_models_and_reports_bad_one(tmp_path: Path) -> None:
    write_models(tmp_path, ("perception", "planning", "control"))
    (tmp_path / "planning.onnx").write_bytes(b"truncated")
    result = load_model_set(tmp_path)
    assert sorted(result.models) == ["control", "perception"]
    assert len(result.errors) == 1
    assert result.errors[0].startswith(f"{tmp_path / 'planning.onnx'}: sha256 mismatch")
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(result.models["control"].run({"x": x})[0], x @ W + B, rtol=1e-6)


def test_model_set_with_bad_manifest_has_one_error_and_no_models(tmp_path: Path) -> None:
    write_models(tmp_path, ("perception", "planning", "control"))
    (tmp_path / "manifest.json").write_text("not json")
    result = load_model_set(tmp_path)
    assert result.models == {}
    assert len(result.errors) == 1
    assert "manifest is not valid JSON" in result.errors[0]


def test_model_set_with_unknown_provider_has_one_error(tmp_path: Path) -> None:
    write_models(tmp_path, ("perception", "planning", "control"))
    result = load_model_set(tmp_path, providers=["FooExecutionProvider"])
    assert result.models == {}
    assert len(result.errors) == 1
    assert "unknown execution provider(s) ['FooExecutionProvider']" in result.errors[0]


def test_model_set_reports_name_missing_from_manifest(tmp_path: Path) -> None:
    write_models(tmp_path, ("perception",))
    result = load_model_set(tmp_path, names=("perception", "control"))
    assert list(result.models) == ["perception"]
    assert result.errors == [
        f"{tmp_path / 'manifest.json'}: no model named 'control'; has ['perception']"
    ]
