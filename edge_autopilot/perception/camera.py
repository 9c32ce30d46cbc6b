"""The camera stage of the loop: the perception network on the newest frame of each camera.

All cameras go through the network as one batch (one inference, whose cost hardly depends on
which frames are new); detections from cameras without a new frame this cycle are dropped, so
no frame is fused twice. The frame buffer is preallocated: a new frame is copied in, nothing
is allocated per cycle for the images.
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
        self._images = np.zeros((n, *FRAME_SHAPE), dtype=np.uint8)
        self._stamp_ns = np.zeros(n, dtype=np.int64)
        self._fresh = np.zeros(n, dtype=bool)
        # frames the network cannot take (unknown camera, other resolution): counted, not fused
        self.rejected_frames = 0
        self.latest: CameraDetections = CameraDetections.empty()

    def warm_up(self) -> None:
        self.model.warmup(5)
        decode(self.model.run({INPUT_NAME: self._images}), self.calibrations,
               self.score_threshold)

    def detect(self, frames: list[CameraFrame]) -> list[tuple[int, CameraDetections]]:
        """Detections of this cycle's new frames, one group per capture time (cameras that
        fire together share one group), as (stamp_ns, detections)."""
        fresh = self._fresh
        fresh[:] = False
        for f in frames:
            k = self._index.get(f.sensor_id)
            if k is None or f.image_rgb.shape != FRAME_SHAPE:
                self.rejected_frames += 1
                continue
            self._images[k] = f.image_rgb
            self._stamp_ns[k] = f.stamp_ns
            fresh[k] = True
        if not fresh.any():
            return []
        det = decode(self.model.run({INPUT_NAME: self._images}), self.calibrations,
                     self.score_threshold)
        det = det.select(fresh[det.camera])
        self.latest = det
        stamps = self._stamp_ns[det.camera]
        return [(int(t), det.select(stamps == t))
                for t in np.unique(self._stamp_ns[fresh])]
