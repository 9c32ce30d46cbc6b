"""Sensor scheduling: each sensor captures at its own rate, its samples arrive after its latency,
and some never arrive (dropouts).

Captures happen on simulator step boundaries (10 ms grid): a 30 Hz camera captures at the first
step at or after each nominal capture time, and its ``stamp_ns`` is that capture time. The rig
keeps a delivery queue ordered by arrival time, so a step returns exactly the samples that
arrive within it, in arrival order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_autopilot.constants import NS_PER_S
from edge_autopilot.maps.road import Road
from edge_autopilot.sensors.calibration import SensorRigCalibration
from edge_autopilot.sensors.samples import SensorSample
from edge_autopilot.sim.sensors.camera import CameraModel
from edge_autopilot.sim.sensors.odometry import OdometryModel
from edge_autopilot.sim.sensors.radar import RadarModel
from edge_autopilot.sim.sensors.settings import SensorSettings
from edge_autopilot.sim.sensors.ultrasonic import UltrasonicArray
from edge_autopilot.sim.truth import ActorsTruth, EgoTruth

Measure = Callable[[EgoTruth, ActorsTruth, int, np.random.Generator], list[SensorSample]]


@dataclass
class _Channel:
    """One scheduled sensor (a camera, the radar, the ultrasonic array, odometry)."""

    name: str
    period_ns: int
    latency_ns: int
    dropout_prob: float
    measure: Measure
    rng: np.random.Generator
    dropout_rng: np.random.Generator
    next_capture_ns: int = 0
    captures: int = 0
    dropped: int = 0


@dataclass(order=True)
class _InFlight:
    deliver_ns: int
    seq: int
    sample: SensorSample = field(compare=False)


def _hz_to_ns(rate_hz: float) -> int:
    return round(NS_PER_S / rate_hz)


def _ms_to_ns(ms: float) -> int:
    return round(ms * 1_000_000)


class SensorRig:
    """All sensors of the ego vehicle with their schedules."""

    def __init__(
        self,
        calib: SensorRigCalibration,
        settings: SensorSettings,
        road: Road,
        seed_sequence: np.random.SeedSequence,
    ) -> None:
        cam, rad, uss, odo = settings.camera, settings.radar, settings.ultrasonic, settings.odometry
        cams = [CameraModel(c, cam, road) for c in calib.cameras]
        radars = [RadarModel(r, rad.model_copy(update={
            k: v for k, v in (("fov_deg", r.fov_deg), ("max_range_m", r.max_range_m))
            if v is not None})) for r in calib.radars]
        ultrasonic = UltrasonicArray(calib.ultrasonics, uss)
        odometry = OdometryModel(odo)

        def one(model_measure: Callable[..., SensorSample]) -> Measure:
            return lambda ego, actors, t, rng: [model_measure(ego, actors, t, rng)]

        specs: list[tuple[str, float, float, float, Measure]] = [
            (f"camera/{c.calib.name}", cam.rate_hz, cam.latency_ms, cam.dropout_prob,
             one(c.measure))
            for c in cams
        ]
        specs.append((f"radar/{radars[0].calib.name}", rad.rate_hz, rad.latency_ms,
                      rad.dropout_prob, one(radars[0].measure)))
        specs.append(("ultrasonic", uss.rate_hz, uss.latency_ms, uss.dropout_prob,
                      ultrasonic.measure))
        specs.append(("odometry", odo.rate_hz, odo.latency_ms, 0.0,
                      lambda ego, actors, t, rng: [odometry.measure(ego, t, rng)]))
        # appended last: each sensor's noise stream is its index in this list, so the corner
        # radars leave the front sensors' noise exactly as it was
        for r in radars[1:]:
            specs.append((f"radar/{r.calib.name}", rad.rate_hz, rad.latency_ms,
                          rad.dropout_prob, one(r.measure)))
        # one independent stream per sensor, so adding a sensor never changes another's noise
        streams = seed_sequence.spawn(2 * len(specs))
        self.channels = [
            _Channel(name, _hz_to_ns(rate), _ms_to_ns(lat), drop, measure,
                     np.random.default_rng(streams[2 * k]),
                     np.random.default_rng(streams[2 * k + 1]))
            for k, (name, rate, lat, drop, measure) in enumerate(specs)
        ]
        self._queue: list[_InFlight] = []
        self._seq = itertools.count()

    def capture(self, t_ns: int, ego: EgoTruth, actors: ActorsTruth) -> None:
        """Take the measurements due at ``t_ns`` and put them in flight."""
        for ch in self.channels:
            if t_ns < ch.next_capture_ns:
                continue
            ch.next_capture_ns += ch.period_ns
            ch.captures += 1
            if ch.dropout_prob > 0.0 and ch.dropout_rng.random() < ch.dropout_prob:
                ch.dropped += 1
                continue
            for sample in ch.measure(ego, actors, t_ns, ch.rng):
                heapq.heappush(self._queue, _InFlight(t_ns + ch.latency_ns, next(self._seq),
                                                      sample))

    def deliver(self, t_ns: int) -> list[SensorSample]:
        """Samples whose arrival time is at or before ``t_ns``, in arrival order."""
        out: list[SensorSample] = []
        q = self._queue
        while q and q[0].deliver_ns <= t_ns:
            out.append(heapq.heappop(q).sample)
        return out
