"""What a recording says about its run, beyond the messages: the MCAP metadata records
``edge_autopilot`` (written first: scenario, seed, driver, models, distro, package version) and
``edge_autopilot.end`` (written at close: cycles recorded, and whether the run ended normally).

MCAP metadata values are strings: numbers are written in decimal, the models as JSON, the
scenario as the YAML of ``scenario.model_dump(mode="json")`` (``parse_scenario`` rebuilds it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from edge_autopilot import __version__

if TYPE_CHECKING:
    from edge_autopilot.sim.scenario import Scenario

RUN_METADATA = "edge_autopilot"
END_METADATA = "edge_autopilot.end"
# bump when the recording's content changes in a way a reader must know about
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RunInfo:
    scenario_name: str
    scenario_yaml: str
    seed: int
    driver: str
    # network name -> sha256 of the file the run loaded (verified against the manifest), or
    # None for a network that did not load (the stack drove on its fallback); {} for a driver
    # without networks
    models_sha256: dict[str, str | None]
    distro: str
    package_version: str
    format_version: int
    # from the end record; None when the file has none
    cycles: int | None = None
    complete: bool | None = None
    end_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario_name, "seed": self.seed, "driver": self.driver,
                "models_sha256": self.models_sha256, "ros_distro": self.distro,
                "package_version": self.package_version, "format_version": self.format_version,
                "cycles": self.cycles, "complete": self.complete, "end_reason": self.end_reason}


def scenario_yaml(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)


def run_metadata(scenario: Scenario, seed: int, driver: str,
                 models_sha256: dict[str, str | None], distro: str) -> dict[str, str]:
    return {
        "format_version": str(FORMAT_VERSION),
        "scenario_name": scenario.name,
        "scenario": scenario_yaml(scenario),
        "seed": str(seed),
        "driver": driver,
        "models_sha256": json.dumps(models_sha256, sort_keys=True),
        "ros_distro": distro,
        "package_version": __version__,
    }


def end_metadata(cycles: int, complete: bool, reason: str = "") -> dict[str, str]:
    return {"cycles": str(cycles), "complete": "true" if complete else "false",
            "reason": reason}


def parse_run_metadata(run: dict[str, str], end: dict[str, str] | None) -> RunInfo:
    """The records back; ValueError naming the first field that is missing or wrong."""
    def need(key: str) -> str:
        if key not in run:
            raise ValueError(f"field {key!r} is missing")
        return run[key]

    def integer(value: str, key: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"field {key!r} is not an integer: {value!r}") from None

    try:
        models = json.loads(need("models_sha256"))
    except json.JSONDecodeError:
        raise ValueError("field 'models_sha256' is not JSON") from None
    if not isinstance(models, dict):
        raise ValueError("field 'models_sha256' is not a JSON object")
    info = RunInfo(
        scenario_name=run.get("scenario_name", ""),
        scenario_yaml=need("scenario"),
        seed=integer(need("seed"), "seed"),
        driver=need("driver"),
        models_sha256={str(k): (None if v is None else str(v)) for k, v in models.items()},
        distro=need("ros_distro"),
        package_version=run.get("package_version", ""),
        format_version=integer(need("format_version"), "format_version"),
    )
    if end is None:
        return info
    return RunInfo(**{**info.__dict__,
                      "cycles": integer(end.get("cycles", "0"), "cycles"),
                      "complete": end.get("complete") == "true",
                      "end_reason": end.get("reason", "")})


def driver_models_sha256(driver: object) -> dict[str, str | None]:
    """The networks a driver loaded (the stack's ``models``: a ModelSetResult), by name."""
    from edge_autopilot.perception.onnx_session import DEFAULT_MODEL_NAMES

    loaded = getattr(getattr(driver, "models", None), "models", None)
    if not isinstance(loaded, dict):
        return {}
    return {name: (loaded[name].spec.sha256.lower() if name in loaded else None)
            for name in DEFAULT_MODEL_NAMES}
