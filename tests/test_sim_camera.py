"""Camera model: pinhole projection, rendered boxes against their projection, horizon and lane
markings where the geometry puts them, occlusion, fields of view, determinism, noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_fixtures import NO_ACTORS, actors, ego_at

from edge_autopilot.maps.road import Road, Section, surface_at
from edge_autopilot.sensors.calibration import CameraCalibration, default_rig
from edge_autopilot.sim.sensors.camera import (
    HAZE_DISTANCE_M,
    HAZE_RGB,
    MAX_GROUND_RANGE_M,
    SHADE_END,
    CameraModel,
    box_corners_3d,
)
from edge_autopilot.sim.sensors.settings import CameraSettings
from edge_autopilot.sim.truth import KIND_COLOUR_RGB, ActorKind, ActorsTruth, EgoTruth

ROAD = Road([Section(500.0)], lane_count=3, lane_width_m=3.5)
CLEAN = CameraSettings(pixel_noise_std=0.0)
# level camera 1.6 m ahead of the rear axle, 1.4 m up: f = 80 / tan(30 deg) = 138.56 px
LEVEL = CameraCalibration("level", 160, 96, math.radians(60.0), 1.6, 0.0, 1.4, 0.0, 0.0)
F_PX = 80.0 / math.tan(math.radians(30.0))
RIG = default_rig()
FRONT, FRONT_LEFT, FRONT_RIGHT = RIG.cameras
# rear axle at s = 20 on the centre of lane 1 (d = 5.25), heading along the road
EGO = ego_at(x=20.0, y=5.25)


def render(cam: CameraModel, truth: ActorsTruth, ego: EgoTruth = EGO, seed: int = 0
           ) -> np.ndarray:
    return cam.measure(ego, truth, 0, np.random.default_rng(seed)).image_rgb


def actor_mask(cam: CameraModel, truth: ActorsTruth, ego: EgoTruth = EGO) -> np.ndarray:
    return np.any(render(cam, truth, ego) != render(cam, NO_ACTORS, ego), axis=-1)


def pixel_range(lo_px: float, hi_px: float) -> tuple[int, int]:
    """First and last pixel whose centre (i + 0.5) lies in [lo_px, hi_px]."""
    return math.ceil(lo_px - 0.5), math.floor(hi_px - 0.5)


def is_marking(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(int).min(axis=-1) > 200


def is_asphalt(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(int)
    return (np.abs(c[..., 0] - c[..., 1]) < 12) & (c[..., 2] - c[..., 0] < 20) & (c.max(-1) < 150)


def is_grass(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(int)
    return (c[..., 1] > c[..., 0] + 20) & (c[..., 1] > c[..., 2] + 20)


# --- projection -------------------------------------------------------------------------------
def test_pinhole_projection_closed_form() -> None:
    level = CameraModel(LEVEL, CLEAN, ROAD)
    # 20 m ahead of the camera, 2 m left, 1 m below it
    u, v, depth = level.project_points_vehicle(np.array([[21.6, 2.0, 0.4]]))
    assert depth[0] == pytest.approx(20.0)
    assert u[0] == pytest.approx(80.0 - F_PX * 2.0 / 20.0)
    assert v[0] == pytest.approx(48.0 + F_PX * 1.0 / 20.0)
    # pitched down by p: camera x = cos p dx - sin p dz, camera z = sin p dx + cos p dz
    front = CameraModel(FRONT, CLEAN, ROAD)
    p = FRONT.pitch_rad
    dx, dy, dz = 20.0, 2.0, -1.0
    x_c, z_c = math.cos(p) * dx - math.sin(p) * dz, math.sin(p) * dx + math.cos(p) * dz
    u, v, depth = front.project_points_vehicle(np.array([[1.6 + dx, dy, 1.4 + dz]]))
    assert depth[0] == pytest.approx(x_c)
    assert u[0] == pytest.approx(80.0 - F_PX * dy / x_c)
    assert v[0] == pytest.approx(48.0 - F_PX * z_c / x_c)
    # world points: the same point seen from an ego turned by 0.3 rad
    yaw = 0.3
    ego = ego_at(x=5.0, y=-2.0, yaw=yaw)
    world = np.array([[5.0 + 21.6 * math.cos(yaw) - 2.0 * math.sin(yaw),
                       -2.0 + 21.6 * math.sin(yaw) + 2.0 * math.cos(yaw), 0.4]])
    u_w, v_w, depth_w = level.project_points_world(ego, world)
    assert (u_w[0], v_w[0], depth_w[0]) == pytest.approx((80.0 - F_PX * 0.1,
                                                           48.0 + F_PX * 0.05, 20.0))
    # behind the camera: depth <= 0
    assert level.project_points_vehicle(np.array([[-5.0, 0.0, 1.0]]))[2][0] < 0.0


def test_settings_size_overrides_the_calibration() -> None:
    cam = CameraModel(LEVEL, CameraSettings(width_px=320, height_px=192), ROAD)
    assert cam.fx_px == pytest.approx(2.0 * F_PX)  # same field of view on twice the pixels
    assert render(cam, NO_ACTORS).shape == (192, 320, 3)
    u, v, _ = cam.project_points_vehicle(np.array([[21.6, 2.0, 0.4]]))
    assert (u[0], v[0]) == pytest.approx((160.0 - 2.0 * F_PX * 0.1, 96.0 + 2.0 * F_PX * 0.05))


@pytest.mark.parametrize("calib", [LEVEL, FRONT], ids=["level", "front_pitched"])
def test_known_box_fills_exactly_its_projection(calib: CameraCalibration) -> None:
    cam = CameraModel(calib, CLEAN, ROAD)
    truth = actors((ActorKind.CAR, EGO.x_m + 25.0, EGO.y_m + 2.0, 0.0, 0.0, 0.0))
    corners = box_corners_3d(truth.x_m, truth.y_m, truth.yaw_rad, truth.length_m,
                             truth.width_m, truth.height_m)[0]
    u, v, depth = cam.project_points_world(EGO, corners)
    assert np.all(depth > 20.0)
    rows, cols = np.nonzero(actor_mask(cam, truth))
    # the lit pixels are exactly those whose centres the projected box covers; its outline's
    # extremes are corners, so the bounding rectangles agree to the pixel
    assert (cols.min(), cols.max()) == pixel_range(u.min(), u.max())
    assert (rows.min(), rows.max()) == pixel_range(v.min(), v.max())
    if calib is LEVEL:  # closed form: rear face 21.1 m ahead, y 1.075..2.925, far end 25.7 m
        assert pixel_range(80.0 - F_PX * 2.925 / 21.1, 80.0 - F_PX * 1.075 / 25.7) == (61, 73)
        assert pixel_range(48.0 - F_PX * 0.1 / 21.1, 48.0 + F_PX * 1.4 / 21.1) == (47, 56)
        assert (cols.min(), cols.max(), rows.min(), rows.max()) == (61, 73, 47, 56)
        # the rear face's colour: the car's blue, shaded as an end face, hazed by its range
        img = render(cam, truth)
        u_px, v_px = 66, 52
        a, b = -(u_px + 0.5 - 80.0) / F_PX, -(v_px + 0.5 - 48.0) / F_PX
        haze = 21.1 * math.sqrt(1.0 + a * a + b * b) / HAZE_DISTANCE_M
        base = np.array(KIND_COLOUR_RGB[ActorKind.CAR]) * SHADE_END
        expected = base + (np.array(HAZE_RGB) - base) * haze
        np.testing.assert_allclose(img[v_px, u_px], expected, atol=1.5)


# --- ground ----------------------------------------------------------------------------------
def test_horizon_rows_and_sky() -> None:
    cam = CameraModel(FRONT, CLEAN, ROAD)
    img = render(cam, NO_ACTORS).astype(int)
    p = FRONT.pitch_rad
    horizon_v = 48.0 - F_PX * math.tan(p)  # 43.16: pitched 2 deg down
    first_below = math.ceil(horizon_v - 0.5)
    assert first_below == 43
    # the first row drawn as ground: its centre ray meets the ground within the drawn range
    angle_below_rad = math.atan(1.4 / MAX_GROUND_RANGE_M)
    first_ground = math.ceil(48.0 - F_PX * math.tan(p - angle_below_rad) - 0.5)
    assert first_ground == 44
    # above the horizon: sky, bluer towards the zenith; below it, before the ground: haze
    assert np.all(img[:first_below, :, 0] < HAZE_RGB[0])
    assert img[0, 80, 2] - img[0, 80, 0] > img[first_below - 1, 80, 2] - img[first_below - 1,
                                                                             80, 0] + 25
    np.testing.assert_array_equal(img[first_below], np.broadcast_to(HAZE_RGB, (160, 3)))
    assert np.all(np.any(img[first_ground:] != HAZE_RGB, axis=-1))


def test_lane_markings_and_grass_where_the_geometry_puts_them() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    img = render(cam, NO_ACTORS)

    def ground_x_m(row: int) -> float:  # ahead of the camera, for a level camera
        return 1.4 * F_PX / (row + 0.5 - 48.0)

    def column(lateral_m: float, row: int) -> int:
        return int(80.0 - F_PX * lateral_m / ground_x_m(row))

    # row 60: 15.5 m ahead, s = 37.1: the broken lines are painted there (s mod 12 < 3)
    row = 60
    assert (EGO.x_m + 1.6 + ground_x_m(row)) % 12.0 == pytest.approx(1.12, abs=0.01)
    # lines at d = 0, 3.5, 7, 10.5: 5.25 and 1.75 m right and left of the ego
    cols = [column(lat, row) for lat in (-5.25, -1.75, 1.75, 5.25)]
    assert cols == [126, 95, 64, 33]
    for u in cols:
        assert is_marking(img[row, u])
    # asphalt between them, grass 1.5 m beyond the road edges (shoulders are 0.6 m)
    assert np.all(is_asphalt(img[row, [cols[1] + 4, 80, cols[2] - 4]]))
    assert np.all(is_grass(img[row, [column(-7.35, row), column(7.35, row)]]))
    # row 56: 22.8 m ahead, s = 44.4: a gap of the broken lines, but the edge lines are solid
    row = 56
    assert (EGO.x_m + 1.6 + ground_x_m(row)) % 12.0 == pytest.approx(8.42, abs=0.01)
    broken = [column(lat, row) for lat in (-1.75, 1.75)]
    assert np.all(is_asphalt(img[row, broken]))
    for lat in (-5.25, 5.25):
        u = column(lat, row)
        assert np.any(is_marking(img[row, u - 1:u + 2]))


def test_ego_on_a_curve_sees_the_lines_bend() -> None:
    road = Road([Section(500.0, 1.0 / 150.0)], lane_count=3, lane_width_m=3.5)
    s_ego, d_ego = 100.0, 5.25
    x, y, heading, _ = road.pose_at(s_ego, d_ego)
    ego = EgoTruth(x, y, heading, 20.0, 0.0, 0.0, 0.0, s_ego, d_ego)
    cam = CameraModel(LEVEL, CLEAN, road)
    img = render(cam, NO_ACTORS, ego)
    checked = 0
    for s in (109.0, 121.0):  # s mod 12 = 1: the broken lines are painted
        d_lines = np.array([0.0, 3.5, 7.0, 10.5])
        lx, ly, _, _ = road.to_cartesian(np.full(4, s), d_lines)
        u, v, depth = cam.project_points_world(ego, np.stack([lx, ly, np.zeros(4)], axis=1))
        assert np.all(depth > 5.0)
        for u_px, v_px in zip(u.astype(int), v.astype(int), strict=True):
            if 0 <= u_px < 160 and 0 <= v_px < 96:
                assert np.any(is_marking(img[v_px, max(u_px - 1, 0):u_px + 2])), (s, u_px)
                checked += 1
        # the road bends left: every line is left of where a straight road would put it
        straight_u = 80.0 - F_PX * (d_lines - d_ego) / depth
        assert np.all(u < straight_u - (3.0 if s < 110.0 else 8.0))
    assert checked >= 6


def test_interpolated_ground_matches_the_exact_surface_per_pixel() -> None:
    """Against exact Frenet coordinates of every pixel's ground point, on a tight curve."""
    road = Road([Section(40.0), Section(400.0, 1.0 / 150.0)], lane_count=3, lane_width_m=3.5)
    ego = ego_at(x=20.0, y=5.25)
    cam = CameraModel(FRONT, CLEAN, road)
    img = render(cam, NO_ACTORS, ego)
    rows = cam.ground_rows[cam.ground_rows >= 46]  # up to about 60 m ahead
    uu, vv = np.meshgrid(np.arange(160) + 0.5, rows + 0.5)
    # independent ray casting: camera ray through the pixel centre down to the ground
    ray = np.stack([np.ones_like(uu), -(uu - 80.0) / F_PX, -(vv - 48.0) / F_PX], axis=-1)
    ray = ray @ cam.rotation.T
    t = -1.4 / ray[..., 2]
    gx, gy = 1.6 + t * ray[..., 0], t * ray[..., 1]
    s, d = road.to_frenet(ego.x_m + gx.ravel(), ego.y_m + gy.ravel())
    s, d = s.reshape(gx.shape), d.reshape(gx.shape)
    exact = np.vectorize(surface_at)(s, d, 3, 3.5)
    seen = img[rows]
    # grass and asphalt agree except for a few pixels on the road edges' outlines
    road_px = is_asphalt(seen) | is_marking(seen)
    disagree = (exact == 0) & road_px | (exact == 1) & is_grass(seen)
    assert disagree.sum() <= 10  # of 8000
    # a pixel whose centre is on a marking shows it (but for the odd one at a dash's end)...
    assert (~is_marking(seen[exact == 2])).sum() <= 0.01 * (exact == 2).sum()
    # ... and markings are drawn wherever they cross a pixel: a pixel's width wider, at most
    line = np.round(d / 3.5) * 3.5
    painted = np.vectorize(surface_at)(s, line, 3, 3.5) == 2
    d_per_px = np.abs(np.gradient(d, axis=1))
    extra = is_marking(seen) & (exact != 2)
    assert np.all(painted[extra])
    assert np.all(np.abs(d - line)[extra] <= 0.075 + 2.0 * d_per_px[extra])


# --- actors ----------------------------------------------------------------------------------
def test_near_box_occludes_far_box() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    near = (ActorKind.CAR, EGO.x_m + 15.0, EGO.y_m, 0.0, 0.0, 0.0)
    far = (ActorKind.TRUCK, EGO.x_m + 40.0, EGO.y_m + 0.5, 0.0, 0.0, 0.0)
    only_far = actor_mask(cam, actors(far))
    near_mask = actor_mask(cam, actors(near))
    both = render(cam, actors(near, far))
    overlap = only_far & near_mask
    assert overlap.sum() > 50
    # where both project, the near car is what is seen; order in the arrays does not matter
    np.testing.assert_array_equal(both[overlap], render(cam, actors(near))[overlap])
    np.testing.assert_array_equal(both, render(cam, actors(far, near)))
    # the 3.5 m truck shows above the 1.5 m car, in the truck's own pixels
    above = only_far & ~near_mask
    assert above.sum() > 20
    np.testing.assert_array_equal(both[above], render(cam, actors(far))[above])


def test_side_cameras_see_what_the_front_camera_cannot() -> None:
    front, left, right = (CameraModel(c, CLEAN, ROAD) for c in RIG.cameras)
    # a car in the next lane, level with the cameras: 6 m to the side, 2.4 m ahead of them
    beside_left = actors((ActorKind.CAR, EGO.x_m + 4.0, EGO.y_m + 6.0, 0.0, 0.0, 0.0))
    beside_right = actors((ActorKind.CAR, EGO.x_m + 4.0, EGO.y_m - 6.0, 0.0, 0.0, 0.0))
    assert actor_mask(front, beside_left).sum() == 0
    assert actor_mask(left, beside_left).sum() > 1000
    assert actor_mask(right, beside_left).sum() == 0
    assert actor_mask(front, beside_right).sum() == 0
    assert actor_mask(right, beside_right).sum() > 1000
    # the front camera's edge: a pedestrian at a bearing of 28 deg is in view, at 33 deg not
    for bearing_deg, in_front in ((28.0, True), (33.0, False)):
        b = math.radians(bearing_deg)
        ped = actors((ActorKind.PEDESTRIAN, EGO.x_m + 1.6 + 20.0 * math.cos(b),
                      EGO.y_m + 20.0 * math.sin(b), 0.0, 0.0, 0.0))
        assert (actor_mask(front, ped).sum() > 0) == in_front
        assert actor_mask(left, ped).sum() > 0  # the left camera covers 15..95 deg


def test_boxes_around_behind_and_far_from_the_camera() -> None:
    cam = CameraModel(LEVEL, CLEAN, ROAD)
    # a truck beside the camera, its far end ahead: the near plane cuts it, still drawn
    beside = actors((ActorKind.TRUCK, EGO.x_m + 1.6, EGO.y_m + 3.0, 0.0, 0.0, 0.0))
    mask = actor_mask(cam, beside)
    assert mask[:, :40].mean() > 0.7 and mask[:, 100:].sum() == 0
    assert actor_mask(cam, actors((ActorKind.CAR, EGO.x_m - 15.0, EGO.y_m, 0.0, 0.0,
                                   0.0))).sum() == 0
    # 100 m ahead: a few pixels; 400 m ahead: lost in the haze
    assert 2 <= actor_mask(cam, actors((ActorKind.CAR, EGO.x_m + 100.0, EGO.y_m, 0.0, 0.0,
                                        0.0))).sum() <= 12
    assert actor_mask(cam, actors((ActorKind.CAR, EGO.x_m + 400.0, EGO.y_m, 0.0, 0.0,
                                   0.0))).sum() == 0


# --- image effects ---------------------------------------------------------------------------
def test_determinism_noise_and_brightness() -> None:
    truth = actors((ActorKind.CAR, EGO.x_m + 25.0, EGO.y_m, 0.0, 0.0, 0.0))
    settings = CameraSettings(pixel_noise_std=4.0)
    noisy = CameraModel(FRONT, settings, ROAD)
    first = render(noisy, truth, seed=1)
    np.testing.assert_array_equal(first, render(noisy, truth, seed=1))
    np.testing.assert_array_equal(first, render(CameraModel(FRONT, settings, ROAD), truth,
                                                seed=1))
    assert np.mean(first != render(noisy, truth, seed=2)) > 0.5
    # a new image every frame, never a shared buffer
    rng = np.random.default_rng(3)
    a = noisy.measure(EGO, truth, 0, rng).image_rgb
    b = noisy.measure(EGO, truth, 0, rng).image_rgb
    assert a is not b and not np.shares_memory(a, b)
    clean = render(CameraModel(FRONT, CLEAN, ROAD), truth).astype(float)
    diff = first.astype(float) - clean
    assert diff[:40].std() == pytest.approx(4.0, rel=0.05)  # sky rows: nothing clips there
    assert abs(diff[:40].mean()) < 0.1
    dim = render(CameraModel(FRONT, CameraSettings(pixel_noise_std=0.0, brightness=0.5), ROAD),
                 truth).astype(float)
    assert dim.mean() == pytest.approx(0.5 * clean.mean(), rel=0.01)
    bright = render(CameraModel(FRONT, CameraSettings(pixel_noise_std=0.0, brightness=1.5),
                                ROAD), truth).astype(int)
    assert bright[0, 80, 2] == 255  # the sky's 200+ blue clips
    assert abs(bright[90, 80, 0] - 1.5 * clean[90, 80, 0]) <= 1.0  # the asphalt does not
