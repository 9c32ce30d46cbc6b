"""Camera projection and rendering: known boxes, lane markings, occlusion, fields of view."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.maps.road import Road, Section
from edge_autopilot.sensors.calibration import CameraCalibration, default_rig
from edge_autopilot.sim.sensors.camera import CameraModel, box_corners_3d
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import ActorKind

ROAD = Road([Section(600.0)], lane_count=3, lane_width_m=3.5)
CLEAN = CameraSettings(pixel_noise_std=0.0)
LEVEL = CameraCalibration("level", 160, 96, math.radians(60.0), 1.6, 0.0, 1.4, 0.0, 0.0)
# ego rear axle at s=20 on the centre of lane 1 (d = 5.25), heading along the road
EGO = ego_at(x=20.0, y=5.25)


def render(cam: CameraModel, truth, seed: int = 0) -> np.ndarray:
    return cam.measure(EGO, truth, 0, np.random.default_rng(seed)).image_rgb


def actor_mask(cam: CameraModel, truth) -> np.ndarray:
    return np.any(render(cam, truth) != render(cam, NO_ACTORS), axis=-1)


def test_pinhole_projection_closed_form() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    # a point 20 m ahead of the camera, 2 m left, 1 m below it
    u, v, depth = cam.project_points_vehicle(np.array([[1.6 + 20.0, 2.0, 0.4]]))
    f = 80.0 / math.tan(math.radians(30.0))
    assert depth[0] == pytest.approx(20.0)
    assert u[0] == pytest.approx(80.0 - f * 2.0 / 20.0)
    assert v[0] == pytest.approx(48.0 + f * 1.0 / 20.0)


def test_known_box_covers_its_projected_rectangle() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    truth = actors((ActorKind.CAR, EGO.x_m + 25.0, EGO.y_m + 1.0, 0.0, 0.0, 0.0))
    mask = actor_mask(cam, truth)
    corners = box_corners_3d(truth.x_m - EGO.x_m, truth.y_m - EGO.y_m, truth.yaw_rad,
                             truth.length_m, truth.width_m, truth.height_m)[0]
    u, v, _ = cam.project_points_vehicle(corners)
    rows, cols = np.nonzero(mask)
    # pixel centres inside the projected outline: extremes within a pixel of the projection
    assert cols.min() == pytest.approx(u.min(), abs=1.0)
    assert cols.max() + 1 == pytest.approx(u.max(), abs=1.0)
    assert rows.min() == pytest.approx(v.min(), abs=1.0)
    assert rows.max() + 1 == pytest.approx(v.max(), abs=1.0)
    img = render(cam, truth)
    # the visible rear face is the kind's colour, shaded, never the road's grey
    r, g, b = img[rows, cols].astype(int).mean(axis=0)
    assert b > r + 40 and b > g + 30


def test_lane_markings_where_the_geometry_puts_them() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    img = render(cam, NO_ACTORS).astype(int)
    f = cam.fx_px
    v = 68  # a ground row; its ground distance ahead of the camera, from the pinhole model:
    ground_x = 1.4 * f / (v + 0.5 - 48.0)

    def column(lateral_m: float) -> int:
        return int(80.0 - f * lateral_m / ground_x)

    # solid edge lines (d = 0 and d = 10.5) are 5.25 m right and left of the ego: bright
    for lateral in (-5.25, 5.25):
        u = column(lateral)
        assert img[v, u - 1:u + 2].sum(axis=-1).max() > 600
    # asphalt between them, grass beyond the shoulder
    assert img[v, column(0.0)].sum() < 350
    assert abs(img[v, column(0.0), 0] - img[v, column(0.0), 2]) < 15
    far_row = 55  # ~26 m ahead, where the grass 2 m beyond the right edge is in view
    u_grass = int(80.0 - f * (-5.25 - 2.0) / (1.4 * f / (far_row + 0.5 - 48.0)))
    assert img[far_row, u_grass, 1] > img[far_row, u_grass, 0] + 20
    # the broken line at d = 3.5 (1.75 m right of the ego): painted 3 m of every 12 m
    seen = []
    for row in range(52, 96):
        gx = 1.4 * f / (row + 0.5 - 48.0)
        s_here = EGO.x_m + 1.6 + gx
        u = int(80.0 - f * -1.75 / gx)
        if u >= 160:
            continue
        bright = img[row, max(u - 1, 0):u + 2].sum(axis=-1).max() > 600
        seen.append((s_here % 12.0 < 3.0, bright))
    painted = [b for p, b in seen if p]
    gaps = [b for p, b in seen if not p]
    assert painted and gaps
    assert sum(painted) >= 0.8 * len(painted)
    assert sum(gaps) <= 0.2 * len(gaps)
    # sky above the horizon (row 48 for a level camera)
    assert img[10, 80, 2] > img[10, 80, 0]


def test_near_box_occludes_far_box() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    near = (ActorKind.CAR, EGO.x_m + 15.0, EGO.y_m, 0.0, 0.0, 0.0)
    far = (ActorKind.TRUCK, EGO.x_m + 40.0, EGO.y_m, 0.0, 0.0, 0.0)
    only_far = actor_mask(cam, actors(far))
    both = render(cam, actors(near, far))
    near_img = render(cam, actors(near))
    near_mask = actor_mask(cam, actors(near))
    overlap = only_far & near_mask
    assert overlap.sum() > 50
    # where both project, the near car is what is seen
    np.testing.assert_array_equal(both[overlap], near_img[overlap])
    # the truck is taller than the car: above the car it is still visible
    assert (only_far & ~near_mask).sum() > 0


def test_side_cameras_see_what_the_front_camera_cannot() -> None:
    rig = default_rig()
    front, left, right = (CameraModel(c, CLEAN, ROAD) for c in rig.cameras)
    beside = actors((ActorKind.CAR, EGO.x_m + 4.0, EGO.y_m + 6.0, 0.0, 0.0, 0.0))
    assert actor_mask(front, beside).sum() == 0
    assert actor_mask(left, beside).sum() > 200
    assert actor_mask(right, beside).sum() == 0


def test_box_straddling_the_image_plane_and_behind() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    straddling = actors((ActorKind.TRUCK, EGO.x_m + 1.6, EGO.y_m + 3.0, 0.0, 0.0, 0.0))
    assert actor_mask(cam, straddling)[:, :60].sum() > 100  # fills the left of the image
    behind = actors((ActorKind.CAR, EGO.x_m - 15.0, EGO.y_m, 0.0, 0.0, 0.0))
    assert actor_mask(cam, behind).sum() == 0


def test_determinism_brightness_and_noise() -> None:
    truth = actors((ActorKind.CAR, EGO.x_m + 25.0, EGO.y_m, 0.0, 0.0, 0.0))
    noisy = CameraModel(LEVEL, CameraSettings(pixel_noise_std=4.0), ROAD)
    np.testing.assert_array_equal(render(noisy, truth, seed=1), render(noisy, truth, seed=1))
    assert np.any(render(noisy, truth, seed=1) != render(noisy, truth, seed=2))
    clean = render(CameraModel(LEVEL, CLEAN, ROAD), truth).astype(float)
    diff = render(noisy, truth, seed=1).astype(float) - clean
    assert diff[5:30].std() == pytest.approx(4.0, rel=0.15)  # sky rows: no clipping there
    dim = render(CameraModel(LEVEL, CameraSettings(pixel_noise_std=0.0, brightness=0.5), ROAD),
                 truth).astype(float)
    assert dim.mean() == pytest.approx(0.5 * clean.mean(), rel=0.02)


def test_curved_road_markings_bend_with_the_road() -> None:
    road = Road([Section(30.0), Section(300.0, 1 / 150.0)], lane_count=3)
    cam = CameraModel(LEVEL, CLEAN, road)
    img = cam.measure(EGO, NO_ACTORS, 0, np.random.default_rng(0)).image_rgb.astype(int)
    straight = CameraModel(LEVEL, CLEAN, ROAD).measure(
        EGO, NO_ACTORS, 0, np.random.default_rng(0)).image_rgb.astype(int)
    # near rows agree (the curve starts ahead), far rows differ (the road turns left)
    assert np.array_equal(img[90:], straight[90:])
    assert np.any(img[52:60] != straight[52:60])
