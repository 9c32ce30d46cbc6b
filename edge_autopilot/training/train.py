"""Train the planning and control networks by imitation of the expert, export ONNX, write the
manifest. torch is imported only here (extra ``train``).

Determinism: the dataset comes from ``dataset.generate`` with a seed, torch is seeded and runs
single-threaded with deterministic algorithms, so the same seed gives the same weights.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_autopilot.errors import EdgeAutopilotError
from edge_autopilot.planning.features import (
    ACCEL_SCALE_MPS2,
    CONTROL_INPUTS,
    CONTROL_OUTPUTS,
    FEATURES_VERSION,
    LATERAL_PLAN_SCALE_M,
    N_HORIZON,
    PLANNING_INPUTS,
    PLANNING_OUTPUTS,
    STEER_SCALE_RAD,
)
from edge_autopilot.training.dataset import Dataset, generate, stack_observer

ONNX_OPSET = 17
HELD_OUT_FRACTION = 0.15


@dataclass(frozen=True)
class NetSpec:
    name: str
    file: str
    inputs: int
    outputs: int
    hidden: tuple[int, ...]
    input_name: str
    output_name: str
    output_units: str


PLANNING_NET = NetSpec("planning", "planning.onnx", PLANNING_INPUTS, PLANNING_OUTPUTS,
                       (256, 256), "features", "plan",
                       f"accel[{N_HORIZON}] / {ACCEL_SCALE_MPS2} m/s^2, "
                       f"lateral offset[{N_HORIZON}] / {LATERAL_PLAN_SCALE_M} m")
CONTROL_NET = NetSpec("control", "control.onnx", CONTROL_INPUTS, CONTROL_OUTPUTS, (128, 128),
                      "features", "command",
                      f"steer / {STEER_SCALE_RAD} rad, accel / {ACCEL_SCALE_MPS2} m/s^2")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise EdgeAutopilotError(
            "training needs PyTorch: pip install 'edge_autopilot[train]' "
            "(on a CPU-only machine: pip install torch==2.13.0)") from None
    return torch


def _mlp(torch: Any, spec: NetSpec) -> Any:
    layers: list[Any] = []
    width = spec.inputs
    for h in spec.hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, spec.outputs))
    return torch.nn.Sequential(*layers)


def split_by_run(run_id: np.ndarray, n_runs: int, seed: int) -> np.ndarray:
    """Held-out mask: whole runs, so no test sample has a near-duplicate in training."""
    rng = np.random.default_rng(seed + 1)
    held = rng.permutation(n_runs)[: max(1, round(HELD_OUT_FRACTION * n_runs))]
    return np.isin(run_id, held)


def train_net(spec: NetSpec, x: np.ndarray, y: np.ndarray, held_out: np.ndarray, seed: int,
              epochs: int, log: Callable[[str], None]) -> tuple[Any, dict[str, float]]:
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model = _mlp(torch, spec)
    xt, yt = torch.from_numpy(x[~held_out]), torch.from_numpy(y[~held_out])
    xv, yv = torch.from_numpy(x[held_out]), torch.from_numpy(y[held_out])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    batch = 512
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(xt.shape[0], generator=gen)
        total = 0.0
        for i in range(0, xt.shape[0], batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.smooth_l1_loss(model(xt[idx]), yt[idx], beta=0.05)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.shape[0]
        sched.step()
        model.eval()
        with torch.no_grad():
            val = float(torch.nn.functional.mse_loss(model(xv), yv))
        log(f"{spec.name} epoch {epoch + 1}/{epochs}: train {total / xt.shape[0]:.5f} "
            f"held-out mse {val:.5f}")
    model.eval()
    with torch.no_grad():
        pred = model(xv).numpy()
    return model, _metrics(spec, pred, y[held_out])


def _metrics(spec: NetSpec, pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Held-out errors in physical units."""
    err = pred - truth
    if spec is PLANNING_NET:
        acc = err[:, :N_HORIZON] * ACCEL_SCALE_MPS2
        lat = err[:, N_HORIZON:] * LATERAL_PLAN_SCALE_M
        return {"accel_rmse_mps2": float(np.sqrt((acc**2).mean())),
                "accel_p99_abs_mps2": float(np.percentile(np.abs(acc[:, 0]), 99)),
                "lateral_rmse_m": float(np.sqrt((lat**2).mean()))}
    return {"steer_rmse_rad": float(np.sqrt(((err[:, 0] * STEER_SCALE_RAD) ** 2).mean())),
            "accel_rmse_mps2": float(np.sqrt(((err[:, 1] * ACCEL_SCALE_MPS2) ** 2).mean()))}


def export_onnx(model: Any, spec: NetSpec, out_dir: Path) -> Path:
    torch = _torch()
    path = out_dir / spec.file
    dummy = torch.zeros(1, spec.inputs)
    torch.onnx.export(model, (dummy,), str(path), input_names=[spec.input_name],
                      output_names=[spec.output_name], opset_version=ONNX_OPSET,
                      dynamic_axes={spec.input_name: {0: "batch"}, spec.output_name: {0: "batch"}},
                      dynamo=False)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_entry(spec: NetSpec, path: Path) -> dict[str, Any]:
    return {
        "file": spec.file,
        "sha256": sha256_of(path),
        "opset": ONNX_OPSET,
        "inputs": [{"name": spec.input_name, "shape": [-1, spec.inputs], "dtype": "float32",
                    "units": f"normalised features v{FEATURES_VERSION} "
                             "(edge_autopilot.planning.features)"}],
        "outputs": [{"name": spec.output_name, "shape": [-1, spec.outputs], "dtype": "float32",
                     "units": spec.output_units}],
    }


NETWORKS = ("perception", "planning", "control")


def _read_manifest(path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    manifest: dict[str, Any] = {"format": 1, "models": {}, "training": {}, "metrics": {}}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError:
            log(f"{path}: unreadable, writing a new one")
    return manifest


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def train_all(out_dir: Path, seed: int, variants: int, epochs: int,
              log: Callable[[str], None], data_path: Path | None = None,
              scenario_paths: list[Path] | None = None,
              objects: str = "fused",
              networks: tuple[str, ...] = NETWORKS,
              perception_variants: int | None = None,
              perception_epochs: int | None = None) -> dict[str, Any]:
    """Train the networks named in ``networks``, export them to ``out_dir`` and merge their
    entries into its manifest (the others' entries stay as they are).

    Perception first: the planner's data is recorded through it. ``objects``: "fused" records
    the planner's inputs from the stack's own perception (the network in ``out_dir``) and
    fusion; "truth" from ground truth (faster; for the imitation driver and experiments).
    """
    if objects not in ("fused", "truth"):
        raise EdgeAutopilotError(f"objects must be 'fused' or 'truth' (got {objects!r})")
    unknown = [n for n in networks if n not in NETWORKS]
    if unknown or not networks:
        raise EdgeAutopilotError(f"networks to train: choose from {', '.join(NETWORKS)} "
                                 f"(got {', '.join(networks) or 'none'})")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = _read_manifest(manifest_path, log)
    if "perception" in networks:
        from edge_autopilot.training.perception_data import FRAME_EVERY
        from edge_autopilot.training.perception_train import EPOCHS, VARIANTS, train_perception

        p_variants = perception_variants or VARIANTS
        p_epochs = perception_epochs or EPOCHS
        entry, metrics = train_perception(out_dir, seed, log, variants=p_variants,
                                          epochs=p_epochs, scenario_paths=scenario_paths)
        manifest["models"]["perception"] = entry
        manifest["metrics"]["perception"] = {k: round(v, 5) for k, v in metrics.items()}
        manifest["training"]["perception"] = {"seed": seed, "variants_per_scenario": p_variants,
                                              "epochs": p_epochs, "frame_every": FRAME_EVERY}
        # written now: the planner's data is recorded through this very network
        _write_manifest(manifest_path, manifest)
        log(f"perception: held-out {manifest['metrics']['perception']}")
    nets = [(spec, i) for spec, i in ((PLANNING_NET, 0), (CONTROL_NET, 1))
            if spec.name in networks]
    if not nets:
        return manifest
    t0 = time.monotonic()
    observe = stack_observer(out_dir) if objects == "fused" else None
    ds: Dataset = generate(variants, seed, scenario_paths,
                           progress=lambda name, n: log(f"  {name}: {n}"), observe=observe)
    if data_path is not None:
        ds.save(data_path)
    log(f"dataset: {ds.size} samples from {len(ds.runs)} runs "
        f"({time.monotonic() - t0:.0f} s)")
    held = split_by_run(ds.run_id, len(ds.runs), seed)
    data = ((ds.x_plan, ds.y_plan), (ds.x_ctrl, ds.y_ctrl))
    for spec, i in nets:
        x, y = data[i]
        model, metrics = train_net(spec, x, y, held, seed, epochs, log)
        path = export_onnx(model, spec, out_dir)
        manifest["models"][spec.name] = manifest_entry(spec, path)
        manifest["metrics"][spec.name] = {k: round(v, 5) for k, v in metrics.items()}
        log(f"{spec.name}: {path} held-out {manifest['metrics'][spec.name]}")
    manifest["training"].update({
        "seed": seed, "variants_per_scenario": variants, "epochs": epochs,
        "samples": ds.size, "held_out_samples": int(held.sum()), "runs": len(ds.runs),
        "features_version": FEATURES_VERSION, "objects": objects,
    })
    _write_manifest(manifest_path, manifest)
    return manifest
