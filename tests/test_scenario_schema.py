"""Scenario validation: every built-in loads; bad files give one clear, located message."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_autopilot.errors import ScenarioError
from edge_autopilot.sim.scenario import (
    BrakeEvent,
    builtin_scenario_paths,
    load_scenario,
    resolve_scenario_paths,
)

MINIMAL = """\
duration_s: 10
road: {lanes: 2, sections: [{length_m: 200}]}
ego: {lane: 0, s_m: 0, speed_mps: 10, set_speed_mps: 12}
"""


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_all_builtins_load_and_cover_the_required_situations() -> None:
    paths = builtin_scenario_paths()
    assert len(paths) >= 12
    names = {load_scenario(p).name for p in paths}
    for required in ("free_driving_curves", "car_following_steady", "lead_brake_hard",
                     "slow_lead_approach", "stationary_car_30kph", "stationary_car_50kph",
                     "stationary_car_70kph", "cut_in_short_gap", "cut_out_stopped_car",
                     "pedestrian_crossing_near_side", "cyclist_ahead", "low_speed_obstacle",
                     "curve_with_traffic"):
        assert required in names


def test_lead_brake_hard_is_minus_6_from_a_short_gap() -> None:
    s = load_scenario(Path("scenarios/lead_brake_hard.yaml"))
    ev = s.actors[0].events[0]
    assert isinstance(ev, BrakeEvent) and ev.decel_mps2 == 6.0
    gap_m = s.actors[0].s_m - 2.3 - (s.ego.s_m + 3.75)
    assert gap_m / s.ego.speed_mps <= 1.2  # about a one-second gap


def test_minimal_file_gets_defaults_and_name_from_file(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, MINIMAL, "My-Case.yaml"))
    assert s.name == "my_case"
    assert s.sensors.camera.rate_hz == 30.0
    assert s.actors == []


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("duration_s: -1\n", "duration_s: Input should be greater than 0 (got -1)"),
        ("colour: red\n", "colour: unknown key"),
        ("actors:\n  - {id: a, kind: car, lane: 0, s_m: 20, events: [{do: brake, "
         "at: {time_s: 1}, decel_mps2: -6}]}\n",
         "actors[0].events[0].decel_mps2: Input should be greater than 0 (got -6)"),
        ("actors:\n  - {id: a, kind: spaceship, lane: 0, s_m: 20}\n", "actors[0].kind:"),
        ("actors:\n  - {id: a, kind: car, lane: 5, s_m: 20}\n", "lane 5 does not exist"),
        ("actors:\n  - {id: a, kind: car, s_m: 20}\n", "give exactly one of lane, d_m"),
        ("actors:\n  - {id: a, kind: car, lane: 0, s_m: 20, events: [{do: fly, "
         "at: {time_s: 1}}]}\n", "actors[0].events[0]"),
        ("actors:\n  - {id: a, kind: car, lane: 0, s_m: 20, events: [{do: brake, "
         "at: {time_s: 1, gap_m_below: 3}, decel_mps2: 3}]}\n",
         "give exactly one of time_s, gap_m_below, ego_s_m_above (got time_s, gap_m_below)"),
        ("actors:\n  - {id: a, kind: car, lane: 0, s_m: 1}\n  - {id: a, kind: car, lane: 1, "
         "s_m: 2}\n", "actor ids must be unique; repeated: a"),
        ("sensors: {radar: {fov_deg: 400}}\n", "sensors.radar.fov_deg"),
    ],
)
def test_invalid_files_name_file_field_and_expectation(tmp_path: Path, patch: str,
                                                       expected: str) -> None:
    text = MINIMAL
    key = patch.split(":")[0]
    if key in ("duration_s",):
        text = text.replace("duration_s: 10\n", "")
    path = write(tmp_path, text + patch)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "Traceback" not in message


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = write(tmp_path, "duration_s: 10\nroad: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"line \d+, column \d+: not valid YAML"):
        load_scenario(path)


def test_missing_required_and_wrong_top_level(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="ego: required field is missing"):
        load_scenario(write(tmp_path, "duration_s: 3\nroad: {sections: [{length_m: 9}]}\n"))
    with pytest.raises(ScenarioError, match="expected a mapping at the top level, got list"):
        load_scenario(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.yaml")


def test_road_too_tight_is_a_scenario_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("[{length_m: 200}]", "[{length_m: 200, radius_m: 12}]")
    text = text.replace("lanes: 2", "lanes: 4")
    with pytest.raises(ScenarioError, match=r"road: section 0: radius 12\.0 m is tighter"):
        load_scenario(write(tmp_path, text))


def test_resolve_paths_accepts_dirs_files_and_builtin_names(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL, "b.yaml")
    assert [p.name for p in resolve_scenario_paths([str(tmp_path)])] == ["a.yaml", "b.yaml"]
    assert resolve_scenario_paths(["lead_brake_hard"])[0].name == "lead_brake_hard.yaml"
    assert len(resolve_scenario_paths([])) == len(builtin_scenario_paths())
    with pytest.raises(ScenarioError, match="no such scenario file, directory or built-in"):
        resolve_scenario_paths(["nope_nothing"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScenarioError, match="holds no"):
        resolve_scenario_paths([str(empty)])
