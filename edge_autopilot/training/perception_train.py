"""Train the camera perception network (CenterNet-style, see perception.detection), export it
to ONNX and score it on held-out runs. torch is imported only here (extra ``train``).

The network takes the uint8 frames as they arrive and does the cast, scaling and NCHW
transpose itself, so the runtime hands frames over without Python preprocessing. It is small
on purpose: a batch of 3 frames must run in about 1 ms on one CPU core (the loop's period is
10 ms). A 4x4 stride-4 patch stem, two coarser levels (stride 8 and 16) for context (a near truck
spans half the image), and a light top-down path back to stride 4, where the heads sit.

Determinism: the dataset comes from a seed, torch is seeded with deterministic algorithms and
a fixed thread count, so the same seed on the same machine gives the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_autopilot.perception.detection import (
    CLASS_NAMES,
    GRID_HEIGHT,
    GRID_WIDTH,
    HEATMAP_NAME,
    INPUT_HEIGHT_PX,
    INPUT_NAME,
    INPUT_WIDTH_PX,
    LOG_DEPTH_NAME,
    NUM_CLASSES,
    OFFSET_NAME,
    OUTPUT_NAMES,
    STRIDE_PX,
    decode,
)
from edge_autopilot.training.perception_data import FRAME_EVERY, PerceptionDataset, generate
from edge_autopilot.training.perception_eval import detect, inference_ms, score, session
from edge_autopilot.training.train import ONNX_OPSET, _torch, sha256_of, split_by_run

MODEL_FILE = "perception.onnx"
VARIANTS = 5  # per built-in scenario
EPOCHS = 8  # ~45 s each on an idle core (21.5k training frames)
BATCH = 32
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4
# one thread: on a shared 2-core machine two threads that wait on each other run ~5x slower
THREADS = 1
WIDTHS = (16, 32, 48)  # channels at stride 4, 8, 16
# heatmap Gaussian: sigma (cells) grows with the object's image size, within these bounds
SIGMA_PER_CELL = 0.2
SIGMA_MIN_CELLS, SIGMA_MAX_CELLS = 0.7, 3.0
NEIGHBOUR_WEIGHT = 0.5  # regression is also trained in the 8 cells around the peak
OFFSET_LOSS_WEIGHT = 1.0
DEPTH_LOSS_WEIGHT = 2.0
HEAT_PRIOR = 0.1  # initial heatmap probability (CenterNet's bias init)
LOG_DEPTH_INIT = -2.0  # ln(depth / fx) of an object ~ 20 m ahead of the front camera
EVAL_THRESHOLD = 0.3
INPUT_SCALE, INPUT_SHIFT = 1.0 / 64.0, -2.0  # 0..255 -> about -2..2


# --- targets -------------------------------------------------------------------------------
def render_targets(ds: PerceptionDataset, frames: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training targets of ``frames``: heatmap (n, C, H, W), regression (n, 3, H, W: offset
    column, offset row, ln(depth / fx)) and its weight (n, 1, H, W), all float16.

    Each object puts a Gaussian on its class's heatmap, 1 exactly at its peak cell. Nearer
    objects are drawn last, so where two objects' regression cells collide the nearer (the one
    in front in the image) wins."""
    n = frames.size
    heat = np.zeros((n, NUM_CLASSES, GRID_HEIGHT, GRID_WIDTH), np.float16)
    reg = np.zeros((n, 3, GRID_HEIGHT, GRID_WIDTH), np.float16)
    weight = np.zeros((n, 1, GRID_HEIGHT, GRID_WIDTH), np.float16)
    slot = np.full(ds.size, -1, dtype=np.int64)
    slot[frames] = np.arange(n)
    objs = np.flatnonzero(slot[ds.obj_frame] >= 0)
    objs = objs[np.lexsort((-ds.obj_range_m[objs], ds.obj_frame[objs]))]
    fx = np.array([c.fx_px for c in ds.calibrations])
    rows, cols = np.arange(GRID_HEIGHT)[:, None], np.arange(GRID_WIDTH)[None, :]
    for j in objs:
        f = slot[ds.obj_frame[j]]
        cu, cv = ds.obj_u_px[j] / STRIDE_PX, ds.obj_v_px[j] / STRIDE_PX
        ci = min(int(cu), GRID_WIDTH - 1)
        ri = min(int(cv), GRID_HEIGHT - 1)
        u0, v0, u1, v1 = ds.obj_box_px[j]
        size_cells = max(min(u1 - u0, v1 - v0), 0.0) / STRIDE_PX
        sigma = min(max(SIGMA_PER_CELL * size_cells, SIGMA_MIN_CELLS), SIGMA_MAX_CELLS)
        g = np.exp(-((rows - ri) ** 2 + (cols - ci) ** 2) / (2.0 * sigma * sigma))
        k = ds.obj_kind[j]
        np.maximum(heat[f, k], g.astype(np.float16), out=heat[f, k])
        heat[f, k, ri, ci] = 1.0
        r0, r1 = max(ri - 1, 0), min(ri + 2, GRID_HEIGHT)
        c0, c1 = max(ci - 1, 0), min(ci + 2, GRID_WIDTH)
        reg[f, 0, r0:r1, c0:c1] = cu - np.arange(c0, c1)[None, :]
        reg[f, 1, r0:r1, c0:c1] = cv - np.arange(r0, r1)[:, None]
        reg[f, 2, r0:r1, c0:c1] = math.log(ds.obj_depth_m[j] / fx[ds.camera[ds.obj_frame[j]]])
        weight[f, 0, r0:r1, c0:c1] = NEIGHBOUR_WEIGHT
        weight[f, 0, ri, ci] = 1.0
    return heat, reg, weight


# --- network -------------------------------------------------------------------------------
def build_net(torch: Any, widths: tuple[int, int, int] = WIDTHS) -> Any:
    """The network; forward(images uint8 NHWC) -> (heatmap logits, offset, log_depth)."""
    nn = torch.nn
    c4, c8, c16 = widths

    def cbr(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> Any:
        # no batch norm: on a CPU it costs more than the convolutions it follows
        pad = k // 2 if k % 2 else 0
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, pad), nn.ReLU(inplace=True))

    class PerceptionNet(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            # 4x4-pixel patches, no pixel skipped, straight to stride 4
            self.stem = cbr(3, c4, STRIDE_PX, STRIDE_PX)
            # for export: read the frame as one channel of rows of interleaved RGB bytes
            # (H, 3 W), where a 4 x 12 kernel at stride (4, 12) is the same 4x4 RGB patch, so
            # the graph has no NHWC -> NCHW transpose (a tenth of the inference time). Torch
            # trains that layout ten times slower, so training uses the plain one.
            self.interleaved_input = False
            self.s8 = nn.Sequential(cbr(c4, c8, 3, 2), cbr(c8, c8))
            self.s16 = nn.Sequential(cbr(c8, c16, 3, 2), cbr(c16, c16))
            self.lat16 = nn.Conv2d(c16, c8, 1)
            self.fuse8 = cbr(c8, c8)
            self.lat8 = nn.Conv2d(c8, c4, 1)
            self.fuse4 = cbr(c4, c4)
            self.head = nn.Conv2d(c4, NUM_CLASSES + 3, 1)
            with torch.no_grad():
                self.head.bias.zero_()
                self.head.bias[:NUM_CLASSES] = -math.log((1.0 - HEAT_PRIOR) / HEAT_PRIOR)
                self.head.bias[NUM_CLASSES + 2] = LOG_DEPTH_INIT

        def _stem(self, images: Any) -> Any:
            conv, rest = self.stem[0], self.stem[1:]
            if not self.interleaved_input:
                x = images.permute(0, 3, 1, 2).float() * INPUT_SCALE + INPUT_SHIFT
                return rest(conv(x))
            # the same, with the input scaling folded into the weights and bias
            k = STRIDE_PX
            w = conv.weight.permute(0, 2, 3, 1).reshape(c4, 1, k, 3 * k)  # [o, kh, kw * 3 + c]
            bias = conv.bias + INPUT_SHIFT * conv.weight.sum(dim=(1, 2, 3))
            x = images.reshape(-1, 1, INPUT_HEIGHT_PX, INPUT_WIDTH_PX * 3).float()
            return rest(nn.functional.conv2d(x, w * INPUT_SCALE, bias, stride=(k, 3 * k)))

        def forward(self, images: Any) -> tuple[Any, Any, Any]:
            a = self._stem(images)
            b = self.s8(a)
            c = self.s16(b)
            up = nn.functional.interpolate
            b = self.fuse8(b + up(self.lat16(c), scale_factor=2.0, mode="nearest"))
            a = self.fuse4(a + up(self.lat8(b), scale_factor=2.0, mode="nearest"))
            h = self.head(a)
            return (h[:, :NUM_CLASSES], h[:, NUM_CLASSES:NUM_CLASSES + 2],
                    h[:, NUM_CLASSES + 2:])

    return PerceptionNet()


def _exportable(torch: Any, net: Any) -> Any:
    """The network with the heatmap's sigmoid inside, as the runtime wants it."""

    class Exported(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            net.interleaved_input = True

        def forward(self, images: Any) -> tuple[Any, Any, Any]:
            heat, offset, log_depth = self.net(images)
            return torch.sigmoid(heat), offset, log_depth

    return Exported().eval()


# --- training ------------------------------------------------------------------------------
def _loss(torch: Any, out: tuple[Any, Any, Any], heat_t: Any, reg_t: Any, w_t: Any
          ) -> tuple[Any, Any, Any]:
    """CenterNet's focal loss on the heatmap, L1 on offset and log depth; per object."""
    f = torch.nn.functional
    logits, offset, log_depth = out
    pos = (heat_t >= 1.0).float()
    n_pos = pos.sum().clamp(min=1.0)
    p = torch.sigmoid(logits)
    pos_loss = -f.logsigmoid(logits) * (1.0 - p) ** 2 * pos
    neg_loss = -f.logsigmoid(-logits) * p**2 * (1.0 - heat_t) ** 4 * (1.0 - pos)
    heat_loss = (pos_loss.sum() + neg_loss.sum()) / n_pos
    off_loss = ((offset - reg_t[:, :2]).abs() * w_t).sum() / n_pos
    depth_loss = ((log_depth - reg_t[:, 2:]).abs() * w_t).sum() / n_pos
    return heat_loss, off_loss, depth_loss


def train_net(ds: PerceptionDataset, train_frames: np.ndarray, seed: int, epochs: int,
              threads: int, log: Callable[[str], None]) -> Any:
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    t0 = time.monotonic()
    heat, reg, weight = render_targets(ds, train_frames)
    log(f"perception targets: {train_frames.size} frames ({time.monotonic() - t0:.1f} s)")
    net = build_net(torch)
    opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = math.ceil(train_frames.size / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LEARNING_RATE, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    heat_all, reg_all, w_all = (torch.from_numpy(a) for a in (heat, reg, weight))
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(train_frames.size, generator=gen)
        flip = torch.rand(train_frames.size, generator=gen) < 0.5
        sums = np.zeros(3)
        t_epoch = time.monotonic()
        for i in range(0, train_frames.size, BATCH):
            idx = perm[i:i + BATCH]
            images = torch.from_numpy(ds.images[train_frames[idx.numpy()]])
            heat_t, reg_t, w_t = heat_all[idx].float(), reg_all[idx].float(), w_all[idx].float()
            images, heat_t, reg_t, w_t = _mirror(flip[idx], images, heat_t, reg_t, w_t)
            losses = _loss(torch, net(images), heat_t, reg_t, w_t)
            total = losses[0] + OFFSET_LOSS_WEIGHT * losses[1] + DEPTH_LOSS_WEIGHT * losses[2]
            opt.zero_grad()
            total.backward()
            opt.step()
            sched.step()
            sums += [float(x.detach()) * idx.shape[0] for x in losses]
        sums /= train_frames.size
        log(f"perception epoch {epoch + 1}/{epochs}: heat {sums[0]:.4f} offset {sums[1]:.4f} "
            f"log-depth {sums[2]:.4f} ({time.monotonic() - t_epoch:.0f} s)")
    return net.eval()


def _mirror(flip: Any, images: Any, heat_t: Any, reg_t: Any, w_t: Any
            ) -> tuple[Any, Any, Any, Any]:
    """Mirror the frames where ``flip`` (left-right), with their targets. A mirrored frame is
    a plausible frame: objects keep their depth; a point's column offset within its cell
    becomes 1 - offset (the stride divides the width, so cells map onto cells)."""
    if not bool(flip.any()):
        return images, heat_t, reg_t, w_t
    images, heat_t, reg_t = images.clone(), heat_t.clone(), reg_t.clone()
    w_t = w_t.clone()
    images[flip] = images[flip].flip(2)
    heat_t[flip] = heat_t[flip].flip(-1)
    w_t[flip] = w_t[flip].flip(-1)
    r = reg_t[flip].flip(-1)
    r[:, 0] = 1.0 - r[:, 0]
    reg_t[flip] = r
    return images, heat_t, reg_t, w_t


def export_onnx(net: Any, out_dir: Path) -> Path:
    torch = _torch()
    path = out_dir / MODEL_FILE
    dummy = torch.zeros(1, INPUT_HEIGHT_PX, INPUT_WIDTH_PX, 3, dtype=torch.uint8)
    torch.onnx.export(_exportable(torch, net), (dummy,), str(path), input_names=[INPUT_NAME],
                      output_names=list(OUTPUT_NAMES), opset_version=ONNX_OPSET,
                      dynamic_axes={n: {0: "batch"} for n in (INPUT_NAME, *OUTPUT_NAMES)},
                      dynamo=False)
    return path


def manifest_entry(path: Path) -> dict[str, Any]:
    grid = [GRID_HEIGHT, GRID_WIDTH]
    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "opset": ONNX_OPSET,
        "inputs": [{"name": INPUT_NAME, "shape": [-1, INPUT_HEIGHT_PX, INPUT_WIDTH_PX, 3],
                    "dtype": "uint8", "units": "RGB 0..255, NHWC, row 0 at the top (rgb8)"}],
        "outputs": [
            {"name": HEATMAP_NAME, "shape": [-1, NUM_CLASSES, *grid], "dtype": "float32",
             "units": f"probability per class ({', '.join(CLASS_NAMES)}), "
                      f"cells of {STRIDE_PX} px"},
            {"name": OFFSET_NAME, "shape": [-1, 2, *grid], "dtype": "float32",
             "units": "position in the cell (column, row), cells"},
            {"name": LOG_DEPTH_NAME, "shape": [-1, 1, *grid], "dtype": "float32",
             "units": "ln(depth_m / fx_px), depth along the optical axis"},
        ],
    }


def evaluate(path: Path, ds: PerceptionDataset, held_frames: np.ndarray,
             log: Callable[[str], None]) -> dict[str, float]:
    """Held-out scores through ONNX Runtime and decode, plus inference and decode timing."""
    sess = session(path)
    dets, owner = detect(sess, ds, held_frames, EVAL_THRESHOLD)
    metrics = score(dets, owner, ds, held_frames)
    # timing: one camera cycle, a frame from each camera
    first = [int(np.flatnonzero(ds.camera == k)[0]) for k in range(len(ds.calibrations))]
    images = np.ascontiguousarray(ds.images[first])
    p50, p99 = inference_ms(sess, images)
    outputs = sess.run(None, {INPUT_NAME: images})
    decode_ns = np.empty(300)
    for k in range(decode_ns.size):
        t0 = time.perf_counter_ns()
        decode(outputs, ds.calibrations, EVAL_THRESHOLD)
        decode_ns[k] = time.perf_counter_ns() - t0
    metrics.update(infer_p50_ms_batch3=p50, infer_p99_ms_batch3=p99,
                   decode_p50_ms_batch3=float(np.median(decode_ns)) / 1e6,
                   score_threshold=EVAL_THRESHOLD, held_out_frames=float(held_frames.size))
    # NaN (nothing to score, e.g. no static object held out) is left out: JSON has no NaN
    metrics = {k: float(v) for k, v in metrics.items() if math.isfinite(v)}
    log("perception held-out: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return metrics


def train_perception(out_dir: Path, seed: int, log: Callable[[str], None],
                     variants: int = VARIANTS, epochs: int = EPOCHS,
                     scenario_paths: list[Path] | None = None, frame_every: int = FRAME_EVERY,
                     threads: int = THREADS, data_path: Path | None = None
                     ) -> tuple[dict[str, Any], dict[str, float]]:
    """Generate data, train, export ``out_dir/perception.onnx``, score it on held-out runs.
    Returns (manifest entry, held-out metrics)."""
    t0 = time.monotonic()
    ds = generate(variants, seed, scenario_paths, frame_every,
                  progress=lambda name, n: log(f"  {name}: {n} frames"))
    if data_path is not None:
        ds.save(data_path)
    log(f"perception dataset: {ds.size} frames, {ds.obj_kind.size} objects from "
        f"{len(ds.runs)} runs ({time.monotonic() - t0:.0f} s)")
    held = split_by_run(ds.run_id, len(ds.runs), seed)
    t1 = time.monotonic()
    net = train_net(ds, np.flatnonzero(~held), seed, epochs, threads, log)
    log(f"perception training: {time.monotonic() - t1:.0f} s")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = export_onnx(net, out_dir)
    metrics = evaluate(path, ds, np.flatnonzero(held), log)
    metrics.update(dataset_frames=float(ds.size), dataset_objects=float(ds.obj_kind.size),
                   total_s=time.monotonic() - t0)
    return manifest_entry(path), metrics
