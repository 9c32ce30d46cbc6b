"""Small builders for ground-truth states used by the sensor tests."""

from __future__ import annotations

import numpy as np

from edge_autopilot.sim.truth import KIND_DIMENSIONS_M, ActorKind, ActorsTruth, EgoTruth


def ego_at(x: float = 0.0, y: float = 0.0, yaw: float = 0.0, speed: float = 0.0,
           yaw_rate: float = 0.0) -> EgoTruth:
    return EgoTruth(x_m=x, y_m=y, yaw_rad=yaw, speed_mps=speed, accel_mps2=0.0,
                    yaw_rate_rps=yaw_rate, steer_rad=0.0, s_m=x, d_m=y)


def actors(*items: tuple) -> ActorsTruth:
    """Each item: (kind, x, y, yaw, vx, vy) with the kind's default box."""
    kinds = np.array([k for k, *_ in items], dtype=np.int8)
    dims = np.array([KIND_DIMENSIONS_M[ActorKind(k)] for k in kinds]).reshape(-1, 3)
    col = np.array([rest for _, *rest in items], dtype=np.float64).reshape(-1, 5)
    return ActorsTruth(
        actor_id=tuple(f"a{i}" for i in range(len(items))),
        kind=kinds,
        x_m=col[:, 0].copy(),
        y_m=col[:, 1].copy(),
        yaw_rad=col[:, 2].copy(),
        length_m=dims[:, 0].copy(),
        width_m=dims[:, 1].copy(),
        height_m=dims[:, 2].copy(),
        vx_mps=col[:, 3].copy(),
        vy_mps=col[:, 4].copy(),
        s_m=col[:, 0].copy(),
        d_m=col[:, 1].copy(),
    )


NO_ACTORS = actors()
