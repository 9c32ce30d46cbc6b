"""The camera stage of the loop: the perception network on the newest frame of each camera,
one camera per cycle.

The three cameras capture together at 30 Hz, so their frames arrive in the same cycle. Run as
one batch they would make every third cycle ~1 ms longer than the rest (the loop's p99 is
that cycle); run one frame per cycle, front camera first, the same work spreads over three
cycles of ~0.4 ms, at the price of 10-20 ms more latency for the side cameras (their
detections keep their capture stamps, so fusion places them in time correctly). A camera
whose frame is still waiting when a newer one arrives just takes the newer one. The frame
buffers are preallocated: a new frame is copied in, nothing is allocated per cycle for it.
"""

from __future__ import annotations

import numpy as np

from edge_autopilot.perception.detection import (
    DEFAULT_SCORE_THRESHOLD,
    INPUT_CHANNELS,
    INPUT_HEIGHT_PX,
    INPUT_NAME,
    INPUT_WIDTH_PX,
    CameraDetections,
    decode,
)
from edge_autopilot.perception.onnx_session import OnnxModel
from edge_autopilot.sensors.calibration import CameraCalibration
from edge_autopilot.sensors.samples import CameraFrame

FRAME_SHAPE = (INPUT_HEIGHT_PX, INPUT_WIDTH_PX, INPUT_CHANNELS)


class CameraPerception:
    def __init__(self, model: OnnxModel, calibrations: tuple[CameraCalibration, ...],
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> None:
        self.model = model
        self.calibrations = calibrations
        self.score_threshold = score_threshold
        self._index = {c.name: k for k, c in enumerate(calibrations)}
        n = len(calibrations)
        self._frames = np.zeros((n, 1, *FRAME_SHAPE), dtype=np.uint8)  # one batch per camera
        # one view per camera, made once: the network's IO binding is found by the array
        self._batches = [self._frames[k] for k in range(n)]
        self._stamp_ns = np.zeros(n, dtype=np.int64)
        self._pending = np.zeros(n, dtype=bool)
        # frames the network cannot take (unknown camera, other resolution): counted, not fused
        self.rejected_frames = 0
        # frames replaced by a newer one before their turn came (should stay 0 at 30 Hz)
        self.skipped_frames = 0
        self.latest: list[CameraDetections] = [CameraDetections.empty() for _ in range(n)]

    @property
    def pending(self) -> bool:
        return bool(self._pending.any())

    def warm_up(self) -> None:
        for k in range(len(self.calibrations)):  # bind each camera's buffer before the loop
            self.model.run_bound({INPUT_NAME: self._batches[k]})
        self.model.warmup(5)  # (its reset of the timing ring also drops the runs above)
        outputs = [o.copy() for o in self.model.run({INPUT_NAME: self._frames[0]})]
        decode(outputs, self.calibrations[:1], self.score_threshold)
        # and once with a detection: a blank frame has none, and the kernels that place one
        # would otherwise load in the first cycle that sees a car
        heatmap = outputs[0]
        heatmap[0, 0, heatmap.shape[2] // 2, heatmap.shape[3] // 2] = 0.99
        decode(outputs, self.calibrations[:1], self.score_threshold)

    def take(self, frames: list[CameraFrame]) -> None:
        """Queue this cycle's new frames (a newer frame replaces a waiting one)."""
        for f in frames:
            k = self._index.get(f.sensor_id)
            if k is None or f.image_rgb.shape != FRAME_SHAPE:
                self.rejected_frames += 1
                continue
            if self._pending[k]:
                self.skipped_frames += 1
            self._frames[k, 0] = f.image_rgb
            self._stamp_ns[k] = f.stamp_ns
            self._pending[k] = True

    def detect_next(self) -> tuple[int, CameraDetections] | None:
        """Run the network on the oldest waiting frame (the front camera first among equals);
        returns (capture stamp, detections in the vehicle frame), or None if none waits."""
        waiting = np.flatnonzero(self._pending)
        if waiting.size == 0:
            return None
        k = int(waiting[np.argmin(self._stamp_ns[waiting])])
        self._pending[k] = False
        # decode copies what it keeps out of the network's (reused) output buffers
        det = decode(self.model.run_bound({INPUT_NAME: self._batches[k]}),
                     self.calibrations[k:k + 1], self.score_threshold)
        det.camera[:] = k
        self.latest[k] = det
        return int(self._stamp_ns[k]), det
