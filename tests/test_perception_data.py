"""Perception training data: labels from ground truth (reference point, image location, range,
occlusion, field of view), agreement with the rendered image, training targets, determinism of
generation and the held-out split by run; the exported network against its manifest entry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sim_fixtures import actors, ego_at

from edge_autopilot.maps.road import Road, Section
from edge_autopilot.perception.detection import (
    GRID_HEIGHT,
    GRID_WIDTH,
    INPUT_NAME,
    OUTPUT_NAMES,
    STRIDE_PX,
    decode,
)
from edge_autopilot.sensors.calibration import default_rig
from edge_autopilot.sim.sensors.camera import CameraModel
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import KIND_COLOUR_RGB, ActorKind
from edge_autopilot.training.perception_data import generate, label_frame
from edge_autopilot.training.perception_train import render_targets
from edge_autopilot.training.train import split_by_run

FRONT, FRONT_LEFT, FRONT_RIGHT = default_rig().cameras
EGO = ego_at()
CAR, TRUCK = int(ActorKind.CAR), int(ActorKind.TRUCK)

SHORT_SCENARIO = """\
duration_s: 2.5
road: {lanes: 2, sections: [{length_m: 400}]}
ego: {lane: 0, s_m: 0, speed_mps: 15.0, set_speed_mps: 15.0}
actors:
  - {id: lead, kind: car, lane: 0, s_m: 30, speed_mps: 14.0}
  - {id: walker, kind: pedestrian, d_m: -1.5, s_m: 25, speed_mps: 1.0}
"""


def test_car_straight_ahead_reference_point_and_image_location() -> None:
    # car centre 30 m ahead of the rear axle: its rear face (4.6 m long) is at x = 27.7
    labels = label_frame(FRONT, EGO, actors((CAR, 30.0, 0.0, 0.0, 0.0, 0.0)))
    assert labels.count == 1 and labels.kind[0] == CAR
    assert labels.x_m[0] == pytest.approx(27.7)
    assert labels.y_m[0] == pytest.approx(0.0)
    assert labels.range_m[0] == pytest.approx(27.7 - FRONT.x_m)
    # label point: the reference point at half the car's height (0.75 m), seen from the camera
    # 1.4 m up and pitched 2 deg down: camera frame x = cp dx - sp dz, z = sp dx + cp dz
    dx, dz = 27.7 - FRONT.x_m, 0.75 - FRONT.z_m
    cp, sp = math.cos(FRONT.pitch_rad), math.sin(FRONT.pitch_rad)
    depth, up = cp * dx - sp * dz, sp * dx + cp * dz
    assert labels.depth_m[0] == pytest.approx(depth)
    assert labels.u_px[0] == pytest.approx(FRONT.cx_px)
    assert labels.v_px[0] == pytest.approx(FRONT.cy_px - FRONT.fy_px * up / depth)
    u0, v0, u1, v1 = labels.box_px[0]
    assert u0 < labels.u_px[0] < u1 and v0 < labels.v_px[0] < v1
    assert labels.visible[0] == pytest.approx(1.0)


def test_label_point_lies_on_the_rendered_object() -> None:
    road = Road([Section(500.0)], lane_count=3, lane_width_m=3.5)
    cam = CameraModel(FRONT_LEFT, CameraSettings(pixel_noise_std=0.0), road)
    ego = ego_at(x=20.0, y=5.25)
    truth = actors((TRUCK, 32.0, 9.0, 0.3, 0.0, 0.0))
    labels = label_frame(FRONT_LEFT, ego, truth)
    assert labels.count == 1
    img = cam.measure(ego, truth, 0, np.random.default_rng(0)).image_rgb
    pixel = img[int(labels.v_px[0]), int(labels.u_px[0])].astype(float)
    colour = np.array(KIND_COLOUR_RGB[ActorKind.TRUCK], dtype=float)
    # a shaded face of the truck: a darker copy of its colour (hazed a little)
    assert np.allclose(pixel / pixel.max(), colour / colour.max(), atol=0.08)


def test_side_camera_sees_the_nearest_corner_of_a_car_alongside() -> None:
    truth = actors((CAR, 5.0, 4.0, 0.0, 0.0, 0.0))  # left lane, level with the front seats
    left = label_frame(FRONT_LEFT, EGO, truth)
    assert left.count == 1
    # camera at (1.6, 0.3): the car's rear-right corner (5 - 2.3, 4 - 0.925) is nearest
    assert (left.x_m[0], left.y_m[0]) == pytest.approx((2.7, 3.075))
    assert left.range_m[0] == pytest.approx(math.hypot(2.7 - 1.6, 3.075 - 0.3))
    assert label_frame(FRONT, EGO, truth).count == 0  # 70 deg off the front camera's axis
    assert label_frame(FRONT_RIGHT, EGO, truth).count == 0


def test_hidden_far_and_behind_objects_are_not_labelled() -> None:
    hidden = actors((TRUCK, 20.0, 0.0, 0.0, 0.0, 0.0), (CAR, 40.0, 0.0, 0.0, 0.0, 0.0))
    labels = label_frame(FRONT, EGO, hidden)
    assert labels.count == 1 and labels.kind[0] == TRUCK
    assert label_frame(FRONT, EGO, actors((CAR, 90.0, 0.0, 0.0, 0.0, 0.0))).count == 0
    assert label_frame(FRONT, EGO, actors((CAR, -20.0, 0.0, 0.0, 0.0, 0.0))).count == 0
    # beside the truck, a car is visible again
    beside = actors((TRUCK, 20.0, 0.0, 0.0, 0.0, 0.0), (CAR, 40.0, 7.0, 0.0, 0.0, 0.0))
    assert label_frame(FRONT, EGO, beside).count == 2


def _tiny(tmp_path: Path, seed: int) -> object:
    path = tmp_path / "short.yaml"
    path.write_text(SHORT_SCENARIO)
    return generate(3, seed, [path], frame_every=6)


def test_same_seed_same_dataset_and_split_by_run(tmp_path: Path) -> None:
    a, b = _tiny(tmp_path, 3), _tiny(tmp_path, 3)
    assert a.size > 20 and a.obj_kind.size > 10
    assert len(a.runs) == 3 and set(np.unique(a.run_id)) == {0, 1, 2}
    for name in ("images", "camera", "stamp_ns", "run_id", "obj_frame", "obj_kind", "obj_x_m",
                 "obj_u_px", "obj_depth_m", "obj_box_px"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.images.dtype == np.uint8 and a.images.shape[1:] == (96, 160, 3)
    # frames are labelled at their own stamps, which are capture times (30 Hz on a 10 ms grid)
    assert np.all(np.diff(np.unique(a.stamp_ns)) >= 30_000_000)
    other = _tiny(tmp_path, 4)
    assert not (other.size == a.size and np.array_equal(other.images, a.images))
    held = split_by_run(a.run_id, len(a.runs), seed=0)
    assert held.any() and not held.all()
    for run in range(len(a.runs)):
        assert len(set(held[a.run_id == run])) == 1  # whole runs only


def test_targets_put_the_peak_offset_and_depth_at_the_label_cell(tmp_path: Path) -> None:
    ds = _tiny(tmp_path, 3)
    j = int(np.argmax(ds.obj_range_m))
    f = int(ds.obj_frame[j])
    heat, reg, weight = render_targets(ds, np.array([f]))
    ci, ri = int(ds.obj_u_px[j] // STRIDE_PX), int(ds.obj_v_px[j] // STRIDE_PX)
    assert heat.shape == (1, 5, GRID_HEIGHT, GRID_WIDTH)
    assert heat[0, ds.obj_kind[j], ri, ci] == 1.0
    assert weight[0, 0, ri, ci] == 1.0
    assert float(reg[0, 0, ri, ci]) == pytest.approx(ds.obj_u_px[j] / STRIDE_PX - ci, abs=2e-3)
    fx = ds.calibrations[ds.camera[f]].fx_px
    assert float(reg[0, 2, ri, ci]) == pytest.approx(math.log(ds.obj_depth_m[j] / fx), abs=5e-3)


def test_exported_network_matches_its_manifest_entry(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import json

    from edge_autopilot.perception.onnx_session import load_model_set
    from edge_autopilot.training.perception_train import build_net, export_onnx, manifest_entry

    torch.manual_seed(0)
    net = build_net(torch).eval()
    frames = torch.randint(0, 256, (2, 96, 160, 3), dtype=torch.uint8)
    with torch.no_grad():
        plain = net(frames)
        net.interleaved_input = True  # the exported graph's stem: same numbers, no transpose
        interleaved = net(frames)
    for a, b in zip(plain, interleaved, strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    path = export_onnx(net, tmp_path)
    manifest = {"format": 1, "models": {"perception": manifest_entry(path)}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_model_set(tmp_path, names=("perception",))
    assert loaded.errors == []
    model = loaded.models["perception"]
    outputs = model.run({INPUT_NAME: np.zeros((3, 96, 160, 3), np.uint8)})
    assert [o.shape[1:] for o in outputs] == [(5, GRID_HEIGHT, GRID_WIDTH),
                                              (2, GRID_HEIGHT, GRID_WIDTH),
                                              (1, GRID_HEIGHT, GRID_WIDTH)]
    assert [t.name for t in model.spec.outputs] == list(OUTPUT_NAMES)
    dets = decode(outputs, default_rig().cameras, 0.99)
    assert dets.count >= 0
