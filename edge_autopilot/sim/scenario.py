"""Scenario files: schema, loading and validation.

A scenario is a YAML file validated at load. Unknown keys are errors, and every error names the
file, the field path and what was expected, e.g.::

    scenarios/cut_in.yaml: actors[0].events[1].decel_mps2: must be > 0 (got -6)

The format is documented in README.md ("Scenario format").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge_autopilot.errors import RoadGeometryError, ScenarioError
from edge_autopilot.maps.road import Road, Section
from edge_autopilot.resources import share_dir
from edge_autopilot.sim.faults import FaultSpec
from edge_autopilot.sim.sensors.settings import SensorSettings

BUILTIN_SCENARIO_DIR = share_dir("scenarios")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- road ----------------------------------------------------------------------------------
class SectionSpec(_Strict):
    length_m: float = Field(gt=0, le=20_000)
    radius_m: float | None = Field(
        None, description="signed radius, positive turns left; omitted for a straight"
    )

    @model_validator(mode="after")
    def _radius_not_tiny(self) -> SectionSpec:
        if self.radius_m is not None and abs(self.radius_m) < 10.0:
            raise ValueError("radius_m must be at least 10 m in magnitude (omit it for straight)")
        return self

    @property
    def curvature_1pm(self) -> float:
        return 0.0 if self.radius_m is None else 1.0 / self.radius_m


class RoadSpec(_Strict):
    lanes: int = Field(3, ge=1, le=8)
    lane_width_m: float = Field(3.5, ge=2.5, le=5.0)
    sections: list[SectionSpec] = Field(min_length=1)

    def build(self) -> Road:
        return Road(
            [Section(s.length_m, s.curvature_1pm) for s in self.sections],
            lane_count=self.lanes,
            lane_width_m=self.lane_width_m,
        )


# --- ego -----------------------------------------------------------------------------------
class EgoSpec(_Strict):
    lane: int = Field(ge=0)
    s_m: float = 0.0
    speed_mps: float = Field(ge=0, le=45)
    set_speed_mps: float = Field(gt=0, le=45, description="the driver's cruise set speed")
    allow_lane_change: bool = Field(
        False, description="the driver may change lanes to pass a blocked or slow lane"
    )


# --- actors --------------------------------------------------------------------------------
class Trigger(_Strict):
    """When an event fires: exactly one condition."""

    time_s: float | None = Field(None, ge=0)
    gap_m_below: float | None = Field(
        None, description="longitudinal gap from the ego's front to the actor's rear falls below"
    )
    ego_s_m_above: float | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        set_fields = [k for k in ("time_s", "gap_m_below", "ego_s_m_above") if getattr(self, k)
                      is not None]
        if len(set_fields) != 1:
            raise ValueError(
                "give exactly one of time_s, gap_m_below, ego_s_m_above "
                f"(got {', '.join(set_fields) or 'none'})"
            )
        return self


class BrakeEvent(_Strict):
    """Brake at a constant deceleration down to ``to_speed_mps`` (0 = stop)."""

    do: Literal["brake"]
    at: Trigger
    decel_mps2: float = Field(gt=0, le=10)
    to_speed_mps: float = Field(0.0, ge=0)


class SetSpeedEvent(_Strict):
    """Change the actor's target speed, reached at the given acceleration magnitude."""

    do: Literal["set_speed"]
    at: Trigger
    speed_mps: float = Field(ge=0, le=60)
    accel_mps2: float = Field(1.5, gt=0, le=10)


class LaneChangeEvent(_Strict):
    """Move to another lane over ``duration_s`` (cut-in, cut-out)."""

    do: Literal["lane_change"]
    at: Trigger
    to_lane: int = Field(ge=0)
    duration_s: float = Field(gt=0.2, le=15)


class CrossEvent(_Strict):
    """Walk or ride across the road at ``speed_mps`` until lateral offset ``to_d_m``."""

    do: Literal["cross"]
    at: Trigger
    speed_mps: float = Field(gt=0, le=15)
    to_d_m: float


class StopEvent(_Strict):
    """Come to a stop: at ``at_s_m`` exactly, or at ``decel_mps2``."""

    do: Literal["stop"]
    at: Trigger
    at_s_m: float | None = None
    decel_mps2: float | None = Field(None, gt=0, le=10)

    @model_validator(mode="after")
    def _one_way_to_stop(self) -> StopEvent:
        if (self.at_s_m is None) == (self.decel_mps2 is None):
            raise ValueError("give exactly one of at_s_m, decel_mps2")
        return self


Event = Annotated[
    BrakeEvent | SetSpeedEvent | LaneChangeEvent | CrossEvent | StopEvent,
    Field(discriminator="do"),
]

ActorKindName = Literal["car", "truck", "pedestrian", "cyclist", "static"]


class ActorSpec(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    kind: ActorKindName
    s_m: float
    lane: int | None = Field(None, ge=0, description="lane index; its centre is the actor's d")
    d_m: float | None = Field(None, description="lateral offset from the right road edge")
    lane_offset_m: float = Field(0.0, description="added to the lane centre")
    speed_mps: float = Field(0.0, ge=0, le=60)
    behavior: Literal["constant", "idm"] = "constant"
    desired_speed_mps: float | None = Field(None, ge=0, le=60)
    heading_deg: float | None = Field(
        None, description="heading relative to the road (default: along the road, or across it "
        "for a crossing pedestrian)"
    )
    length_m: float | None = Field(None, gt=0, le=25)
    width_m: float | None = Field(None, gt=0, le=4)
    height_m: float | None = Field(None, gt=0, le=5)
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lane_or_d(self) -> ActorSpec:
        if (self.lane is None) == (self.d_m is None):
            raise ValueError("give exactly one of lane, d_m")
        if self.kind == "static" and (self.speed_mps > 0 or self.events or
                                      self.behavior != "constant"):
            raise ValueError("a static actor does not move: no speed_mps, behavior or events")
        return self


# --- criteria ------------------------------------------------------------------------------
class CriteriaSpec(_Strict):
    """Pass criteria. No collision is always required."""

    stop_before_s_m: float | None = Field(
        None, description="the ego's front bumper never passes this road position"
    )
    min_ttc_s: float | None = Field(None, gt=0)
    stay_in_lane: bool = False
    min_progress_m: float | None = Field(None, ge=0)
    max_decel_mps2: float | None = Field(
        None, gt=0, description="the ego never brakes harder than this (comfort)"
    )


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9_]+$")
    description: str = ""
    duration_s: float = Field(gt=0, le=600)
    seed: int = Field(0, ge=0)
    road: RoadSpec
    ego: EgoSpec
    actors: list[ActorSpec] = Field(default_factory=list)
    sensors: SensorSettings = SensorSettings()
    criteria: CriteriaSpec = CriteriaSpec()
    # injected faults (sim.faults); the plain runner ignores them, sim.fault_matrix applies them
    faults: list[FaultSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        lanes = self.road.lanes
        if self.ego.lane >= lanes:
            raise ValueError(f"ego.lane {self.ego.lane} does not exist (road has {lanes} lanes)")
        ids = [a.id for a in self.actors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"actor ids must be unique; repeated: {', '.join(dupes)}")
        for i, actor in enumerate(self.actors):
            if actor.lane is not None and actor.lane >= lanes:
                raise ValueError(
                    f"actors[{i}] ({actor.id}): lane {actor.lane} does not exist "
                    f"(road has {lanes} lanes)"
                )
            for j, ev in enumerate(actor.events):
                if isinstance(ev, LaneChangeEvent) and ev.to_lane >= lanes:
                    raise ValueError(
                        f"actors[{i}].events[{j}]: to_lane {ev.to_lane} does not exist "
                        f"(road has {lanes} lanes)"
                    )
        return self


# --- loading -------------------------------------------------------------------------------
def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("brake", "set_speed", "lane_change", "cross", "stop") and out.endswith("]"):
            continue  # the discriminated-union branch name adds nothing for the reader
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = _format_loc(tuple(e["loc"]))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see README 'Scenario format')"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "union_tag_invalid":
            ctx = e.get("ctx", {})
            loc += ".do"
            msg = (f"unknown event {ctx.get('tag')!r}; expected one of: "
                   f"{str(ctx.get('expected_tags', '')).replace(chr(39), '')}")
        elif e["type"] == "union_tag_not_found":
            loc += ".do"
            msg = "required field is missing (the event kind: brake, set_speed, ...)"
        got = e.get("input")
        plain = ("missing", "extra_forbidden", "union_tag_invalid", "union_tag_not_found")
        if e["type"] not in plain and not isinstance(got, dict | list):
            msg += f" (got {got!r})"
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


def parse_scenario(data: Any, source: str = "<scenario>", default_name: str = "") -> Scenario:
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(f"{source}: expected a mapping at the top level, got {kind}")
    if "name" not in data and default_name:
        data = {"name": default_name, **data}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation_error(source, err)) from None
    try:
        scenario.road.build()
    except RoadGeometryError as err:
        raise ScenarioError(f"{source}: road: {err}") from None
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file; raises ScenarioError with a readable message."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"{p}: no such scenario file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{p}: cannot read: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(f"{p}:{where}: not valid YAML: {problem}") from None
    default_name = p.stem.replace("-", "_").lower()
    return parse_scenario(data, str(p), default_name)


def builtin_scenario_paths() -> list[Path]:
    return sorted(BUILTIN_SCENARIO_DIR.glob("*.yaml"))


def resolve_scenario_paths(paths: list[str]) -> list[Path]:
    """Expand directories to their *.yaml files; no paths means all built-in scenarios."""
    if not paths:
        found = builtin_scenario_paths()
        if not found:
            raise ScenarioError(f"no built-in scenarios found in {BUILTIN_SCENARIO_DIR}")
        return found
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(p.glob("*.yaml"))
            if not files:
                raise ScenarioError(f"{p}: directory holds no *.yaml scenario files")
            out.extend(files)
        elif p.is_file():
            out.append(p)
        elif (BUILTIN_SCENARIO_DIR / f"{raw}.yaml").is_file():
            out.append(BUILTIN_SCENARIO_DIR / f"{raw}.yaml")  # a built-in scenario by name
        else:
            raise ScenarioError(f"{p}: no such scenario file, directory or built-in name")
    return out
