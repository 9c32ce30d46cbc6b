"""Decoding the perception network's outputs: peaks on synthetic heatmaps give the bearing,
range and vehicle-frame position of the point they encode, for each camera of the rig; the
threshold, empty outputs, several peaks and the 3x3 peak rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_autopilot.perception.detection import (
    GRID_HEIGHT,
    GRID_WIDTH,
    NUM_CLASSES,
    STRIDE_PX,
    CameraDetections,
    decode,
)
from edge_autopilot.sensors.calibration import CameraCalibration, default_rig
from edge_autopilot.sim.sensors.camera import camera_rotation

CAMS = default_rig().cameras
FRONT, FRONT_LEFT, FRONT_RIGHT = CAMS


def _outputs(batch: int = 3) -> list[np.ndarray]:
    return [np.zeros((batch, NUM_CLASSES, GRID_HEIGHT, GRID_WIDTH), np.float32),
            np.zeros((batch, 2, GRID_HEIGHT, GRID_WIDTH), np.float32),
            np.zeros((batch, 1, GRID_HEIGHT, GRID_WIDTH), np.float32)]


def _project(calib: CameraCalibration, p_vehicle: np.ndarray) -> tuple[float, float, float]:
    """(u, v, depth) of a vehicle-frame point, with the renderer's rotation convention."""
    p = (p_vehicle - np.array([calib.x_m, calib.y_m, calib.z_m])) @ camera_rotation(calib)
    return (calib.cx_px - calib.fx_px * p[1] / p[0], calib.cy_px - calib.fy_px * p[2] / p[0],
            float(p[0]))


def _encode(outputs: list[np.ndarray], frame: int, calib: CameraCalibration,
            p_vehicle: np.ndarray, kind: int = 0, score: float = 0.9) -> tuple[int, int]:
    """Write the network's answer for an object whose label point is ``p_vehicle``."""
    u, v, depth = _project(calib, p_vehicle)
    ci, ri = int(u // STRIDE_PX), int(v // STRIDE_PX)
    outputs[0][frame, kind, ri, ci] = score
    outputs[1][frame, :, ri, ci] = (u / STRIDE_PX - ci, v / STRIDE_PX - ri)
    outputs[2][frame, 0, ri, ci] = math.log(depth / calib.fx_px)
    return ri, ci


# one point per camera, well inside its field of view: (x, y) of the reference point, z = 0.75
POINTS = {
    "front": (31.6, 3.0),
    "front_left": (1.6 + 12.0 * math.cos(math.radians(50)),
                   0.3 + 12.0 * math.sin(math.radians(50))),
    "front_right": (1.6 + 20.0 * math.cos(math.radians(-65)),
                    -0.3 + 20.0 * math.sin(math.radians(-65))),
}


@pytest.mark.parametrize("cam_index", [0, 1, 2])
def test_single_peak_gives_position_range_and_bearing(cam_index: int) -> None:
    calib = CAMS[cam_index]
    x, y = POINTS[calib.name]
    out = _outputs()
    _encode(out, cam_index, calib, np.array([x, y, 0.75]), kind=2)
    dets = decode(out, CAMS, 0.3)
    assert dets.count == 1
    assert dets.camera[0] == cam_index and dets.class_id[0] == 2
    assert dets.confidence[0] == pytest.approx(0.9)
    assert dets.x_m[0] == pytest.approx(x, abs=1e-4)
    assert dets.y_m[0] == pytest.approx(y, abs=1e-4)
    dx, dy = x - calib.x_m, y - calib.y_m
    assert dets.range_m[0] == pytest.approx(math.hypot(dx, dy), abs=1e-4)
    assert dets.bearing_rad[0] == pytest.approx(math.atan2(dy, dx), abs=1e-6)
    # depth is the uncertain direction
    assert dets.std_along_m[0] > dets.std_across_m[0] > 0.0


def test_pixel_column_alone_sets_the_bearing_at_the_image_centre() -> None:
    """A peak at the centre column of the front camera is straight ahead, at any row."""
    out = _outputs(1)
    ci, ri = GRID_WIDTH // 2, GRID_HEIGHT // 2 + 2
    out[0][0, 0, ri, ci] = 0.8
    out[1][0, :, ri, ci] = (0.0, 0.5)  # column offset 0: u = cx exactly
    out[2][0, 0, ri, ci] = math.log(25.0 / FRONT.fx_px)
    dets = decode(out, (FRONT,), 0.3)
    assert dets.count == 1
    assert dets.bearing_rad[0] == pytest.approx(0.0, abs=1e-9)
    assert dets.y_m[0] == pytest.approx(0.0, abs=1e-9)
    # 25 m along the optical axis pitched 2 deg down; the ray is below the axis by the
    # row's angle, so its horizontal part is 25 (cos pitch + sin pitch * b)
    b = -((ri + 0.5) * STRIDE_PX - FRONT.cy_px) / FRONT.fy_px
    expected = 25.0 * (math.cos(FRONT.pitch_rad) + math.sin(FRONT.pitch_rad) * b)
    assert dets.range_m[0] == pytest.approx(expected, rel=1e-6)
    assert dets.x_m[0] == pytest.approx(FRONT.x_m + expected, rel=1e-6)


def test_threshold() -> None:
    out = _outputs()
    _encode(out, 0, FRONT, np.array([31.6, 3.0, 0.75]), score=0.25)
    assert decode(out, CAMS, 0.3).count == 0
    assert decode(out, CAMS, 0.2).count == 1


def test_no_detections() -> None:
    dets = decode(_outputs(), CAMS, 0.3)
    assert dets.count == 0
    assert dets.x_m.shape == (0,) and dets.camera.dtype == np.int32
    empty = CameraDetections.empty()
    assert empty.count == 0 and empty.select(np.zeros(0, bool)).count == 0


def test_two_peaks_ordered_by_camera_then_confidence() -> None:
    out = _outputs()
    _encode(out, 0, FRONT, np.array([31.6, 3.0, 0.75]), kind=0, score=0.6)
    _encode(out, 0, FRONT, np.array([21.6, -4.0, 0.9]), kind=2, score=0.95)
    x, y = POINTS["front_right"]
    _encode(out, 2, FRONT_RIGHT, np.array([x, y, 0.75]), kind=4, score=0.99)
    dets = decode(out, CAMS, 0.3)
    assert dets.count == 3
    assert list(dets.camera) == [0, 0, 2]
    assert list(dets.class_id) == [2, 0, 4]
    assert dets.x_m[0] == pytest.approx(21.6, abs=1e-4)
    assert dets.y_m[1] == pytest.approx(3.0, abs=1e-4)


def test_only_the_maximum_of_a_3x3_neighbourhood_and_of_the_classes_counts() -> None:
    out = _outputs(1)
    out[0][0, 0, 10, 10] = 0.9
    out[0][0, 0, 10, 11] = 0.7  # a neighbour of a stronger peak: the same object
    out[0][0, 1, 10, 10] = 0.6  # the same cell in another class: the same object
    out[0][0, 3, 10, 13] = 0.5  # two cells away: another object
    dets = decode(out, (FRONT,), 0.3)
    assert dets.count == 2
    assert list(dets.class_id) == [0, 3]
    assert dets.confidence[0] == pytest.approx(0.9)


def test_batch_and_calibrations_must_agree() -> None:
    with pytest.raises(ValueError, match="calibrations"):
        decode(_outputs(3), CAMS[:2], 0.3)


def test_peaks_on_one_spot_of_a_camera_are_one_detection() -> None:
    """A near car can raise two peaks a few cells apart; in the vehicle frame they land within
    a metre of each other, and only the stronger is kept. The same spot seen by another
    camera is kept (merging cameras is the tracker's job)."""
    out = _outputs()
    _encode(out, 0, FRONT, np.array([9.0, 3.0, 0.75]), score=0.9)
    _encode(out, 0, FRONT, np.array([9.3, 3.6, 0.75]), score=0.7)  # cells apart, 0.7 m off
    _encode(out, 0, FRONT, np.array([9.0, 6.0, 0.75]), score=0.6)  # 3 m away: another object
    _encode(out, 1, FRONT_LEFT, np.array([9.3, 3.6, 0.75]), score=0.5)
    dets = decode(out, CAMS, 0.3)
    assert list(dets.camera) == [0, 0, 1]
    assert dets.confidence.tolist() == pytest.approx([0.9, 0.6, 0.5])


def test_peak_kernel_equals_numpy_reference() -> None:
    """decode's numba kernel gives bit for bit what the numpy steps gave (ties, NaN, batches)."""
    from edge_autopilot.perception.detection import _decode_peaks, _peak_candidates

    rng = np.random.default_rng(0)
    for trial in range(300):
        b = int(rng.integers(1, 4))
        hm = rng.random((b, 5, 24, 40)).astype(np.float32)
        if trial % 3 == 0:
            hm = (np.round(hm * 4) / 4).astype(np.float32)  # many equal cells
        if trial % 5 == 0:
            hm[0, int(rng.integers(0, 5)), int(rng.integers(0, 24)), int(rng.integers(0, 40))] = \
                np.nan
        off = rng.random((b, 2, 24, 40)).astype(np.float32)
        ld = rng.random((b, 1, 24, 40)).astype(np.float32)
        for got, want in zip(_peak_candidates(hm, off, ld, 0.3), _decode_peaks(hm, off, ld, 0.3),
                             strict=True):
            assert got.dtype == want.dtype
            assert got.tobytes() == want.tobytes()


def test_decode_equals_numpy_reference() -> None:
    """decode (numba kernels around numpy's exp, hypot and arctan2) gives bit for bit what
    its numpy form gives: peaks, positions, duplicates dropped, uncertainties."""
    from edge_autopilot.perception.detection import _decode_numpy

    cams = default_rig().cameras
    rng = np.random.default_rng(4)
    fields = ("camera", "class_id", "confidence", "x_m", "y_m", "range_m", "bearing_rad",
              "std_along_m", "std_across_m", "u_px", "v_px")
    for trial in range(300):
        b = int(rng.integers(1, len(cams) + 1))
        hm = (0.2 * rng.random((b, 5, 24, 40))).astype(np.float32)
        for _ in range(int(rng.integers(0, 12))):  # peaks, some next to each other
            r, c = int(rng.integers(0, 24)), int(rng.integers(0, 40))
            hm[int(rng.integers(0, b)), int(rng.integers(0, 5)), r, c] = rng.uniform(0.3, 1.0)
            if c + 2 < 40:
                hm[0, 0, r, c + 2] = rng.uniform(0.3, 1.0)
        off = rng.random((b, 2, 24, 40)).astype(np.float32)
        ld = rng.uniform(-6.0, -1.5, (b, 1, 24, 40)).astype(np.float32)
        got = decode([hm, off, ld], cams[:b], 0.3)
        want = _decode_numpy([hm, off, ld], cams[:b], 0.3)
        for name in fields:
            g, w = getattr(got, name), getattr(want, name)
            assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), (trial, name)
