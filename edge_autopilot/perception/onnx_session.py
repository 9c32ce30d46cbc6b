"""ONNX Runtime wrapper used by every network in the stack (perception, planning, control).

A model is only trusted when its file matches the manifest byte for byte (sha256) and its
graph signature matches what the manifest promises, so a stale or half-copied file fails
at start-up with one readable message instead of producing wrong numbers at run time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge_autopilot.errors import ModelError

MANIFEST_NAME = "manifest.json"
DEFAULT_MODEL_NAMES: tuple[str, ...] = ("perception", "planning", "control")
CPU_PROVIDER = "CPUExecutionProvider"
# Fastest first; CPU is the fallback that is always present.
PREFERRED_PROVIDERS: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    CPU_PROVIDER,
)
RING_SIZE = 4096
# IO bindings one model keeps for run_bound (the loop uses one per camera buffer, or one);
# past this many, the old ones are dropped
MAX_BINDINGS = 8
DYNAMIC = -1

DType = Literal["float32", "float16", "float64", "int64", "int32", "uint8", "bool"]
# onnxruntime reports element types as "tensor(<onnx type>)".
_ORT_TO_DTYPE: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


# --- manifest ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorSpec(_Strict):
    name: str = Field(min_length=1)
    shape: tuple[int, ...]
    dtype: DType
    units: str

    @field_validator("shape")
    @classmethod
    def _dims_valid(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        bad = [d for d in shape if d != DYNAMIC and d < 1]
        if bad:
            raise ValueError(f"dims must be >= 1 or -1 (dynamic), got {list(shape)}")
        return shape


class ModelSpec(_Strict):
    file: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    inputs: tuple[TensorSpec, ...] = Field(min_length=1)
    outputs: tuple[TensorSpec, ...] = Field(min_length=1)
    opset: int = Field(ge=1)

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, file: str) -> str:
        # Models live directly in models_dir; paths would let a manifest point anywhere.
        if Path(file).name != file or file in (".", ".."):
            raise ValueError(f"must be a plain file name inside the models directory: {file!r}")
        return file

    @model_validator(mode="after")
    def _unique_names(self) -> ModelSpec:
        for kind, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [t.name for t in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate {kind} names: {names}")
        return self


class Manifest(_Strict):
    format: Literal[1]
    models: dict[str, ModelSpec]
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


def _format_validation_error(source: Path, err: ValidationError) -> str:
    lines = [f"{source}: invalid manifest"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_manifest(models_dir: Path) -> Manifest:
    """Read and validate ``models_dir/manifest.json``; raises ModelError on any problem."""
    path = Path(models_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{path}: manifest not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelError(f"{path}: cannot read manifest: {err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: manifest is not valid JSON: {err}") from None
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        raise ModelError(_format_validation_error(path, err)) from None


# --- providers -----------------------------------------------------------------------------


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Available providers in preference order, limited to ``requested``, CPU always last.

    Requested providers that this onnxruntime build lacks are dropped rather than fatal:
    the same config must start on a dev laptop and on the vehicle.
    """
    if isinstance(requested, str):  # a bare string would be iterated letter by letter
        requested = [requested]
    if requested is not None:
        unknown = [p for p in requested if p not in PREFERRED_PROVIDERS]
        if unknown:
            raise ModelError(
                f"unknown execution provider(s) {unknown}; valid: {list(PREFERRED_PROVIDERS)}"
            )
    wanted = PREFERRED_PROVIDERS if requested is None else tuple(requested)
    available = set(ort.get_available_providers())
    chosen = [
        p for p in PREFERRED_PROVIDERS if p != CPU_PROVIDER and p in wanted and p in available
    ]
    return [*chosen, CPU_PROVIDER]


# --- model ---------------------------------------------------------------------------------


def _session_options(intra_op_threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    # One graph per control tick: parallel branches only add scheduling jitter.
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts


def _dims_match(declared: int, actual: object) -> bool:
    if declared == DYNAMIC:
        # The manifest promises "any size"; a fixed dim in the file would break that promise.
        return not isinstance(actual, int)
    # A symbolic dim in the file may be narrowed to a fixed size by the manifest.
    return not isinstance(actual, int) or actual == declared


def _signature_problems(
    kind: str, declared: Sequence[TensorSpec], actual: Sequence[Any]
) -> list[str]:
    declared_names = [t.name for t in declared]
    actual_names = [a.name for a in actual]
    # Order matters: run() returns outputs positionally, in file order.
    if declared_names != actual_names:
        return [f"{kind} names in file are {actual_names}, manifest says {declared_names}"]
    problems = []
    for spec, node in zip(declared, actual, strict=True):
        dtype = _ORT_TO_DTYPE.get(node.type, node.type)
        if dtype != spec.dtype:
            problems.append(
                f"{kind} {spec.name!r} dtype is {dtype} in file, manifest says {spec.dtype}"
            )
        shape = list(node.shape)
        if len(shape) != len(spec.shape) or not all(
            _dims_match(d, a) for d, a in zip(spec.shape, shape, strict=True)
        ):
            problems.append(
                f"{kind} {spec.name!r} shape is {shape} in file, manifest says {list(spec.shape)}"
            )
    return problems


def _read_verified(path: Path, spec: ModelSpec) -> bytes:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"{path}: cannot read model file: {err}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256.lower():
        raise ModelError(f"{path}: sha256 mismatch: file is {digest}, manifest says {spec.sha256}")
    return data


class OnnxModel:
    """One verified inference session plus a fixed-size ring of recent inference durations."""

    def __init__(self, name: str, path: Path, spec: ModelSpec, session: ort.InferenceSession):
        self.name = name
        self.path = path
        self.spec = spec
        self._session = session
        self._inputs = tuple(
            (
                t.name,
                np.dtype(t.dtype),
                len(t.shape),
                tuple((i, d) for i, d in enumerate(t.shape) if d != DYNAMIC),
            )
            for t in spec.inputs
        )
        # Preallocated so the hot path never allocates for bookkeeping.
        self._durations_ns = np.zeros(RING_SIZE, dtype=np.int64)
        self._count = 0
        # run_bound's IO bindings, one per layout of input buffers (the loop's callers pass the
        # same preallocated arrays every cycle): key -> (binding, its output buffers, the
        # input arrays it reads)
        self._bound: dict[tuple[tuple[str, int, tuple[int, ...]], ...],
                          tuple[ort.IOBinding, list[np.ndarray], list[np.ndarray]]] = {}

    @classmethod
    def load(
        cls,
        models_dir: Path,
        name: str,
        manifest: Manifest,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 1,
    ) -> OnnxModel:
        """Verify and open ``name`` from the manifest; raises ModelError naming file and reason."""
        models_dir = Path(models_dir)
        spec = manifest.models.get(name)
        if spec is None:
            raise ModelError(
                f"{models_dir / MANIFEST_NAME}: no model named {name!r}; "
                f"has {sorted(manifest.models)}"
            )
        path = models_dir / spec.file
        try:
            chosen = choose_providers(providers)
        except ModelError as err:
            raise ModelError(f"{path}: {err}") from None
        # Load the very bytes that were hashed, so the file cannot change in between.
        data = _read_verified(path, spec)
        try:
            session = ort.InferenceSession(
                data, sess_options=_session_options(intra_op_threads), providers=chosen
            )
        except Exception as err:  # onnxruntime raises its own unrelated exception types
            raise ModelError(f"{path}: onnxruntime cannot load it: {err}") from None
        problems = _signature_problems("input", spec.inputs, session.get_inputs())
        problems += _signature_problems("output", spec.outputs, session.get_outputs())
        if problems:
            raise ModelError(f"{path}: does not match manifest: " + "; ".join(problems))
        return cls(name, path, spec, session)

    @property
    def providers(self) -> list[str]:
        """Providers the session actually uses, best first."""
        return list(self._session.get_providers())

    def _check_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        if len(inputs) != len(self._inputs):
            expected = [n for n, *_ in self._inputs]
            raise ModelError(
                f"{self.name} ({self.path}): inputs {sorted(inputs)}, expected {expected}"
            )
        for name, dtype, rank, static in self._inputs:
            arr = inputs.get(name)
            if not isinstance(arr, np.ndarray):
                raise ModelError(
                    f"{self.name} ({self.path}): input {name!r} missing or not an array"
                )
            # No implicit casts: a wrong dtype here is a caller bug that would cost a copy.
            if arr.dtype != dtype:
                raise ModelError(
                    f"{self.name} ({self.path}): input {name!r} is {arr.dtype}, expected {dtype}"
                )
            if arr.ndim != rank or any(arr.shape[i] != d for i, d in static):
                raise ModelError(
                    f"{self.name} ({self.path}): input {name!r} has shape {list(arr.shape)}, "
                    f"expected {self._declared_shape(name)}"
                )

    def _declared_shape(self, name: str) -> list[int]:
        return next(list(t.shape) for t in self.spec.inputs if t.name == name)

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference; outputs come back in manifest order."""
        self._check_inputs(inputs)
        feed = inputs if isinstance(inputs, dict) else dict(inputs)
        start = time.perf_counter_ns()
        try:
            outputs = self._session.run(None, feed)
        except Exception as err:  # onnxruntime raises its own unrelated exception types
            raise ModelError(f"{self.name} ({self.path}): inference failed: {err}") from None
        self._durations_ns[self._count % RING_SIZE] = time.perf_counter_ns() - start
        self._count += 1
        return outputs

    def run_bound(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """``run`` through an IO binding, for the loop's hot path: ONNX Runtime reads the
        inputs in place and writes the outputs into buffers allocated once per input layout
        (instead of allocating and wrapping new output arrays on every call: ~60 us a call
        for the camera network, ~10-20 us for the small ones). Same session, same kernels,
        the same outputs bit for bit as ``run``.

        The returned arrays ARE those buffers: the next call with the same input buffers
        overwrites them, so a caller copies whatever it keeps. A binding is found by the
        input array objects, so pass the same arrays every call (not new views of one
        buffer); inputs that are not C-contiguous go through ``run``."""
        self._check_inputs(inputs)
        # keyed by the array objects themselves: the entry holds them, so while it exists no
        # other array can have their ids (and an array's buffer never moves while referenced)
        key = tuple((name, id(arr), arr.shape) for name, arr in inputs.items())
        bound = self._bound.get(key)
        if bound is None:
            outputs = self.run(inputs)
            if all(a.flags.c_contiguous for a in inputs.values()):
                if len(self._bound) >= MAX_BINDINGS:
                    self._bound.clear()  # buffers of an earlier user (a pipeline replaced)
                self._bind(key, inputs, outputs)
            return outputs
        binding, outputs, _ = bound
        start = time.perf_counter_ns()
        try:
            self._session.run_with_iobinding(binding)
        except Exception as err:  # onnxruntime raises its own unrelated exception types
            raise ModelError(f"{self.name} ({self.path}): inference failed: {err}") from None
        self._durations_ns[self._count % RING_SIZE] = time.perf_counter_ns() - start
        self._count += 1
        return outputs

    def _bind(self, key: tuple[tuple[str, int, tuple[int, ...]], ...],
              inputs: Mapping[str, np.ndarray], like: list[np.ndarray]) -> None:
        """An IO binding on these input buffers, with output buffers shaped as ``like``."""
        binding = self._session.io_binding()
        for name, arr in inputs.items():
            binding.bind_cpu_input(name, arr)
        outputs = [np.empty_like(a, order="C") for a in like]
        # session.run(None, ...) returns its outputs in the session's order: bind in that order
        for t, arr in zip(self._session.get_outputs(), outputs, strict=True):
            binding.bind_output(t.name, "cpu", 0, arr.dtype.type, list(arr.shape),
                                arr.ctypes.data)
        self._bound[key] = (binding, outputs, list(inputs.values()))

    def zero_inputs(self) -> dict[str, np.ndarray]:
        """Zero tensors shaped per the manifest, dynamic dims set to 1."""
        return {
            t.name: np.zeros([1 if d == DYNAMIC else d for d in t.shape], dtype=t.dtype)
            for t in self.spec.inputs
        }

    def warmup(self, n: int = 20) -> None:
        """Run ``n`` zero inferences so allocators and kernels are ready before the loop starts."""
        feed = self.zero_inputs()
        for _ in range(n):
            self.run(feed)
        # Warm-up runs are the slow outliers; keep them out of the latency stats.
        self._count = 0

    @property
    def run_count(self) -> int:
        """Inferences timed since load (or since warmup)."""
        return self._count

    @property
    def infer_ns(self) -> np.ndarray:
        """Durations of the last min(run_count, 4096) inferences in ns (a copy, ring order)."""
        return self._durations_ns[: min(self._count, RING_SIZE)].copy()

    def infer_ms(self, percentile: float = 50.0) -> float:
        """Percentile of recent inference time in ms; NaN before the first timed run."""
        recent = self._durations_ns[: min(self._count, RING_SIZE)]
        if recent.size == 0:
            return float("nan")
        return float(np.percentile(recent, percentile)) / 1e6


# --- model set -----------------------------------------------------------------------------


@dataclass
class ModelSetResult:
    """Models that loaded, and one message per model (or manifest) that did not."""

    models: dict[str, OnnxModel] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load_model_set(
    models_dir: Path,
    names: Sequence[str] = DEFAULT_MODEL_NAMES,
    providers: Sequence[str] | None = None,
    intra_op_threads: int = 1,
) -> ModelSetResult:
    """Load every named model that verifies; never raises for a bad model or manifest.

    The control loop can then start with whatever loaded and use fallbacks for the rest.
    """
    result = ModelSetResult()
    try:
        manifest = load_manifest(Path(models_dir))
        choose_providers(providers)  # once here, not one identical error per model
    except ModelError as err:
        result.errors.append(str(err))
        return result
    for name in names:
        try:
            result.models[name] = OnnxModel.load(
                models_dir, name, manifest, providers=providers, intra_op_threads=intra_op_threads
            )
        except ModelError as err:
            result.errors.append(str(err))
    return result
