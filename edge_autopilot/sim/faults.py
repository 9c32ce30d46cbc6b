"""Fault injection: fault specs (declared in scenario files under ``faults:``) and the injector
that applies them to the sensor samples of each cycle.

Every fault has ``kind``, ``start_s`` and ``duration_s`` (omitted: until the end of the run); the
window is half open, ``start_s <= t < start_s + duration_s``, in simulated time of delivery (the
cycle the samples are handed to the stack). Sensor faults select sensors with ``sensor``: a full
key (``radar/front``, ``camera/front_left``, ``ultrasonic/front_left_center``, ``odometry``), a
kind (``camera``: every camera) or ``all``.

Sensor faults change the samples (``FaultInjector.apply``); loop faults (``network_raises``,
``stage_overrun``, ``corrupt_model``, ``loop_killed``) are queried by the fault harness
(``sim.fault_matrix``), which is where they take effect.

The injector never mutates a sample the world handed over (the world and its recorders may
keep them): a changed sample is a new object, a changed array a new array. Random faults draw
from one generator per fault, seeded from (seed, fault index): same faults + seed -> the same
samples, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from edge_autopilot.constants import NS_PER_S
from edge_autopilot.sensors.calibration import CAMERA_NAMES, ULTRASONIC_NAMES
from edge_autopilot.sensors.samples import (
    CameraFrame,
    Odometry,
    RadarScan,
    SensorSample,
    UltrasonicRange,
)

SENSOR_KINDS = ("camera", "radar", "ultrasonic", "odometry")
RADAR_NAMES = ("front", "rear_left", "rear_right")  # sensors.calibration.default_rig
SENSOR_KEYS = (
    tuple(f"camera/{n}" for n in CAMERA_NAMES)
    + tuple(f"radar/{n}" for n in RADAR_NAMES)
    + tuple(f"ultrasonic/{n}" for n in ULTRASONIC_NAMES)
    + ("odometry",)
)
STAGES = ("perception", "fusion", "planning", "control")
MODELS = ("perception", "planning", "control")

StageName = Literal["perception", "fusion", "planning", "control"]


def sample_key(sample: SensorSample) -> str:
    """The sample's sensor key, as the monitor names it (``safety.sensor_health.sensor_key``)."""
    if isinstance(sample, Odometry):
        return "odometry"
    if isinstance(sample, RadarScan):
        return f"radar/{sample.sensor_id}"
    if isinstance(sample, CameraFrame):
        return f"camera/{sample.sensor_id}"
    return f"ultrasonic/{sample.sensor_id}"


def selector_matches(selector: str, key: str) -> bool:
    return selector in ("all", key) or key.startswith(selector + "/")


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(_Strict):
    kind: str
    start_s: float = Field(ge=0, le=600)
    duration_s: float | None = Field(None, gt=0, le=600,
                                     description="omitted: until the end of the run")
    # the monitor's finding families that count as detecting this fault
    families: ClassVar[tuple[str, ...]] = ()

    @property
    def start_ns(self) -> int:
        return _ns(self.start_s)

    @property
    def end_ns(self) -> int | None:
        return None if self.duration_s is None else _ns(self.start_s + self.duration_s)

    def active(self, t_ns: int) -> bool:
        end = self.end_ns
        return self.start_ns <= t_ns and (end is None or t_ns < end)

    @property
    def label(self) -> str:
        """Short name for tables: ``dropout(radar/front)``."""
        target = getattr(self, "sensor", None) or getattr(self, "stage", None) or \
            getattr(self, "model", None)
        return f"{self.kind}({target})" if target else self.kind


# --- sensor faults -------------------------------------------------------------------------
class SensorFault(Fault):
    sensor: str = Field(description="a sensor key, a kind (camera, radar, ...) or 'all'")
    families: ClassVar[tuple[str, ...]] = ("sensor",)
    # sensor kinds the fault can apply to
    sensor_kinds: ClassVar[tuple[str, ...]] = SENSOR_KINDS

    @field_validator("sensor")
    @classmethod
    def _known_sensor(cls, value: str) -> str:
        allowed = cls.sensor_kinds
        if value == "all":
            if allowed != SENSOR_KINDS:
                raise ValueError(f"'all' is not allowed here; give one of the kinds "
                                 f"{', '.join(allowed)} or a sensor of them")
            return value
        kind = value.split("/", 1)[0]
        if kind not in allowed:
            raise ValueError(f"this fault applies to {', '.join(allowed)} sensors only")
        if value not in allowed and value not in SENSOR_KEYS:
            names = ", ".join(k for k in SENSOR_KEYS if k.startswith(kind))
            raise ValueError(f"unknown sensor; expected {kind} or one of: {names}")
        return value

    def selects(self, key: str) -> bool:
        return selector_matches(self.sensor, key)

    @property
    def sensor_kind(self) -> str:
        return self.sensor.split("/", 1)[0]


class DropoutFault(SensorFault):
    """The selected sensors deliver nothing."""

    kind: Literal["dropout"]


class DelayFault(SensorFault):
    """Stale timestamps: each sample's stamp is shifted back by ``delay_ms``."""

    kind: Literal["delay"]
    delay_ms: float = Field(gt=0, le=10_000)


class NanFault(SensorFault):
    """Non-finite payload: radar ranges, the ultrasonic range, every odometry value.
    ``inf`` on an ultrasonic writes -inf (+inf is sensor_msgs/Range's legitimate "no echo")."""

    kind: Literal["nan"]
    value: Literal["nan", "inf"] = "nan"
    sensor_kinds: ClassVar[tuple[str, ...]] = ("radar", "ultrasonic", "odometry")


class FrozenFault(SensorFault):
    """The last payload before the window repeats with fresh stamps."""

    kind: Literal["frozen"]


class NoiseBurstFault(SensorFault):
    """Gaussian noise added to the payload, ``sigma`` in the sensor's unit: radar and
    ultrasonic range (m), odometry speed (m/s), camera pixels (8-bit levels)."""

    kind: Literal["noise_burst"]
    sigma: float = Field(gt=0, le=1000)


class RadarGhostFault(SensorFault):
    """A strong ghost target in the radar's boresight: ``range_m`` at the start, then closing
    like a stationary object (Doppler = -ego speed from the odometry passing through: the
    classic ghost of a manhole cover or an overhead sign), or with a fixed ``doppler_mps``
    (negative closes; 0 keeps its distance, which the monitor rightly does not brake for)."""

    kind: Literal["radar_ghost"]
    sensor: str = "radar/front"
    range_m: float = Field(gt=0.5, le=160)
    azimuth_deg: float = Field(0.0, ge=-45, le=45)
    doppler_mps: float | None = Field(None, ge=-60, le=60,
                                      description="omitted: a stationary ghost")
    amplitude_db: float = Field(30.0, ge=0, le=60)
    families: ClassVar[tuple[str, ...]] = ("collision",)
    sensor_kinds: ClassVar[tuple[str, ...]] = ("radar",)


class CameraBlackoutFault(SensorFault):
    """All-zero images."""

    kind: Literal["camera_blackout"]
    sensor: str = "camera"
    sensor_kinds: ClassVar[tuple[str, ...]] = ("camera",)


class StuckUltrasonicFault(SensorFault):
    """The ultrasonic reports ``range_m`` whatever is there (a stuck transducer or a lump of
    snow); below the near-field distance in front it reads as an obstacle."""

    kind: Literal["stuck_ultrasonic"]
    range_m: float = Field(ge=0, le=10)
    families: ClassVar[tuple[str, ...]] = ("sensor", "collision")
    sensor_kinds: ClassVar[tuple[str, ...]] = ("ultrasonic",)


class ClockJumpFault(SensorFault):
    """The selected sensors' clock jumps by ``jump_ms`` (negative: back) for the window."""

    kind: Literal["clock_jump"]
    sensor: str = "odometry"
    jump_ms: float = Field(ge=-10_000, le=10_000)

    @field_validator("jump_ms")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0")
        return value


# --- loop faults ---------------------------------------------------------------------------
class NetworkRaisesFault(Fault):
    """The stage raises an exception on every cycle of the window."""

    kind: Literal["network_raises"]
    stage: StageName = "planning"
    families: ClassVar[tuple[str, ...]] = ("network",)


class StageOverrunFault(Fault):
    """The stage takes ``extra_ms`` longer on every cycle of the window (N cycles =
    duration_s / 10 ms)."""

    kind: Literal["stage_overrun"]
    stage: StageName = "planning"
    extra_ms: float = Field(gt=0, le=1000)
    families: ClassVar[tuple[str, ...]] = ("timing",)


class CorruptModelFault(Fault):
    """The model file is corrupt when the stack loads it (bytes flipped in the middle)."""

    kind: Literal["corrupt_model"]
    model: Literal["perception", "planning", "control"] = "planning"
    start_s: float = Field(0.0, ge=0, le=0, description="at start only")
    families: ClassVar[tuple[str, ...]] = ("network",)

    @field_validator("duration_s")
    @classmethod
    def _whole_run(cls, value: float | None) -> float | None:
        if value is not None:
            raise ValueError("a model is loaded once: omit duration_s")
        return value


class LoopKilledFault(Fault):
    """The loop process dies (SIGKILL) at ``start_s``; the supervisor must take over."""

    kind: Literal["loop_killed"]
    families: ClassVar[tuple[str, ...]] = ("supervisor",)

    @field_validator("duration_s")
    @classmethod
    def _stays_dead(cls, value: float | None) -> float | None:
        if value is not None:
            raise ValueError("a killed process stays dead: omit duration_s")
        return value


FAULT_TYPES: dict[str, type[Fault]] = {
    "dropout": DropoutFault,
    "delay": DelayFault,
    "nan": NanFault,
    "frozen": FrozenFault,
    "noise_burst": NoiseBurstFault,
    "radar_ghost": RadarGhostFault,
    "camera_blackout": CameraBlackoutFault,
    "stuck_ultrasonic": StuckUltrasonicFault,
    "clock_jump": ClockJumpFault,
    "network_raises": NetworkRaisesFault,
    "stage_overrun": StageOverrunFault,
    "corrupt_model": CorruptModelFault,
    "loop_killed": LoopKilledFault,
}
SENSOR_FAULT_KINDS = tuple(k for k, t in FAULT_TYPES.items() if issubclass(t, SensorFault))

AnyFault = (DropoutFault | DelayFault | NanFault | FrozenFault | NoiseBurstFault
            | RadarGhostFault | CameraBlackoutFault | StuckUltrasonicFault | ClockJumpFault
            | NetworkRaisesFault | StageOverrunFault | CorruptModelFault | LoopKilledFault)


def _error(loc: tuple[str, ...], value: Any, kind: str, message: str) -> ValidationError:
    err = InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)
    return ValidationError.from_exception_data("fault", [err])


def _validate_fault(value: Any) -> Fault:
    # Dispatch on ``kind`` by hand rather than with a pydantic discriminated union: the union
    # puts the tag into every error location (faults[0].dropout.start_s); here errors name the
    # field as written in the file (faults[0].start_s), like the rest of the scenario schema.
    if isinstance(value, Fault):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("fault_type", "expected a mapping with a 'kind'")
    kind = value.get("kind")
    if kind is None:
        raise ValidationError.from_exception_data(
            "fault", [InitErrorDetails(type="missing", loc=("kind",), input=value)])
    cls = FAULT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _error(("kind",), kind, "fault_kind",
                     "unknown fault kind; expected one of: " + ", ".join(FAULT_TYPES))
    return cls.model_validate(value)


FaultSpec = Annotated[AnyFault, PlainValidator(_validate_fault)]
"""One fault of a scenario's ``faults:`` list (validated by ``kind``)."""


def parse_fault(data: Any) -> Fault:
    """One fault from a mapping (e.g. given on the command line); raises ValidationError."""
    return _validate_fault(data)


# --- the injector --------------------------------------------------------------------------
class FaultInjector:
    """Applies the sensor faults to each cycle's samples, and answers what the loop faults
    need at a given time."""

    def __init__(self, faults: list[Fault] | tuple[Fault, ...], seed: int = 0) -> None:
        self.faults = tuple(faults)
        self.sensor_faults = tuple(f for f in self.faults if isinstance(f, SensorFault))
        self._rngs = {id(f): np.random.default_rng([seed, i]) for i, f in enumerate(self.faults)}
        # the last sample of each sensor seen outside a frozen window (what a frozen one repeats)
        self._last: dict[str, SensorSample] = {}
        self._frozen: dict[tuple[int, str], SensorSample] = {}
        self._speed_mps = 0.0  # the latest finite odometry speed (a stationary ghost closes)
        self._ghost: dict[int, tuple[int, float]] = {}  # fault -> (last stamp, range)

    # --- sensor side -----------------------------------------------------------------------
    def apply(self, t_ns: int, samples: list[SensorSample]) -> list[SensorSample]:
        """The samples as the stack receives them at ``t_ns`` (a new list; the inputs and
        their arrays are left untouched)."""
        active = [f for f in self.sensor_faults if f.active(t_ns)]
        if not active and not any(isinstance(f, FrozenFault) for f in self.sensor_faults):
            return list(samples)
        for sample in samples:  # the true ego speed, before any fault (a ghost's Doppler)
            if isinstance(sample, Odometry) and math.isfinite(sample.speed_mps):
                self._speed_mps = sample.speed_mps
        out: list[SensorSample] = []
        for sample in samples:
            key = sample_key(sample)
            s: SensorSample | None = sample
            for f in active:
                if s is None:
                    break
                if f.selects(key):
                    s = self._apply_one(f, t_ns, key, s)
            if not any(isinstance(f, FrozenFault) and f.selects(key) for f in active):
                self._last[key] = sample
            if s is not None:
                out.append(s)
        return out

    def _apply_one(self, f: Fault, t_ns: int, key: str,
                   s: SensorSample) -> SensorSample | None:
        rng = self._rngs[id(f)]
        if isinstance(f, DropoutFault):
            return None
        if isinstance(f, DelayFault):
            return dataclasses.replace(s, stamp_ns=s.stamp_ns - round(f.delay_ms * 1e6))
        if isinstance(f, ClockJumpFault):
            return dataclasses.replace(s, stamp_ns=s.stamp_ns + round(f.jump_ms * 1e6))
        if isinstance(f, NanFault):
            return _non_finite(s, math.nan if f.value == "nan" else math.inf)
        if isinstance(f, FrozenFault):
            held = self._frozen.setdefault((id(f), key), self._last.get(key, s))
            return dataclasses.replace(held, stamp_ns=s.stamp_ns)
        if isinstance(f, NoiseBurstFault):
            return _noisy(s, f.sigma, rng)
        if isinstance(f, RadarGhostFault) and isinstance(s, RadarScan):
            return self._with_ghost(s, f)
        if isinstance(f, CameraBlackoutFault) and isinstance(s, CameraFrame):
            return dataclasses.replace(s, image_rgb=np.zeros_like(s.image_rgb))
        if isinstance(f, StuckUltrasonicFault) and isinstance(s, UltrasonicRange):
            return dataclasses.replace(s, range_m=f.range_m)
        return s

    def _with_ghost(self, s: RadarScan, f: RadarGhostFault) -> RadarScan:
        last_ns, r = self._ghost.get(id(f), (s.stamp_ns, f.range_m))
        doppler = -self._speed_mps if f.doppler_mps is None else f.doppler_mps
        r = max(r + doppler * (s.stamp_ns - last_ns) / NS_PER_S, 0.5)
        self._ghost[id(f)] = (s.stamp_ns, r)

        def add(arr: np.ndarray, v: float) -> np.ndarray:
            return np.append(arr, np.asarray(v, dtype=arr.dtype))

        return dataclasses.replace(
            s, range_m=add(s.range_m, r),
            azimuth_rad=add(s.azimuth_rad, math.radians(f.azimuth_deg)),
            elevation_rad=add(s.elevation_rad, 0.0), doppler_mps=add(s.doppler_mps, doppler),
            amplitude_db=add(s.amplitude_db, f.amplitude_db))

    # --- loop side -------------------------------------------------------------------------
    def raising_stage(self, t_ns: int) -> str | None:
        """The stage that raises this cycle, if any."""
        for f in self.faults:
            if isinstance(f, NetworkRaisesFault) and f.active(t_ns):
                return f.stage
        return None

    def overrun_ns(self, stage: str, t_ns: int) -> int:
        """Extra time the stage takes this cycle."""
        return sum(round(f.extra_ms * 1e6) for f in self.faults
                   if isinstance(f, StageOverrunFault) and f.stage == stage and f.active(t_ns))

    def corrupt_models(self) -> tuple[str, ...]:
        return tuple(f.model for f in self.faults if isinstance(f, CorruptModelFault))

    def loop_killed_ns(self) -> int | None:
        kills = [f.start_ns for f in self.faults if isinstance(f, LoopKilledFault)]
        return min(kills) if kills else None


def _non_finite(s: SensorSample, value: float) -> SensorSample:
    if isinstance(s, RadarScan):
        if s.count == 0:  # an empty scan has nowhere to put it: one broken detection
            one = np.zeros(1)
            return dataclasses.replace(s, range_m=np.full(1, value), azimuth_rad=one,
                                       elevation_rad=one, doppler_mps=one, amplitude_db=one)
        return dataclasses.replace(s, range_m=np.full_like(s.range_m, value))
    if isinstance(s, UltrasonicRange):
        return dataclasses.replace(s, range_m=-math.inf if value == math.inf else value)
    if isinstance(s, Odometry):
        return dataclasses.replace(s, x_m=value, y_m=value, yaw_rad=value, speed_mps=value,
                                   yaw_rate_rps=value, accel_mps2=value)
    return s  # a camera frame is uint8: it cannot hold a NaN (the schema rejects it)


def _noisy(s: SensorSample, sigma: float, rng: np.random.Generator) -> SensorSample:
    if isinstance(s, RadarScan):
        noise = rng.normal(0.0, sigma, s.count).astype(s.range_m.dtype)
        return dataclasses.replace(s, range_m=s.range_m + noise)
    if isinstance(s, UltrasonicRange):
        if not math.isfinite(s.range_m):
            return s  # no echo stays no echo
        return dataclasses.replace(s, range_m=s.range_m + float(rng.normal(0.0, sigma)))
    if isinstance(s, Odometry):
        return dataclasses.replace(s, speed_mps=s.speed_mps + float(rng.normal(0.0, sigma)))
    img = s.image_rgb.astype(np.float32) + rng.normal(0.0, sigma, s.image_rgb.shape)
    return dataclasses.replace(s, image_rgb=np.clip(img, 0, 255).astype(np.uint8))

