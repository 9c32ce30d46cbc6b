"""The command line: exit codes, JSON schema, clear errors without stack traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_autopilot.cli import main

SHORT = """\
duration_s: 3
road: {lanes: 2, sections: [{length_m: 300}]}
ego: {lane: 0, s_m: 0, speed_mps: 15, set_speed_mps: 15}
actors:
  - {id: lead, kind: car, lane: 0, s_m: 60, speed_mps: 14}
"""

# drives into a stopped car with no room to stop: the run must fail with a collision
DOOMED = """\
duration_s: 4
road: {lanes: 1, sections: [{length_m: 300}]}
ego: {lane: 0, s_m: 0, speed_mps: 25, set_speed_mps: 25}
actors:
  - {id: wall, kind: car, lane: 0, s_m: 12, speed_mps: 0}
"""


def test_run_writes_json_with_required_fields(tmp_path: Path, capsys: pytest.CaptureFixture
                                              ) -> None:
    scen = tmp_path / "short_follow.yaml"
    scen.write_text(SHORT)
    out = tmp_path / "out" / "result.json"
    assert main(["run", str(scen), "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    (s,) = data["scenarios"]
    for key in ("name", "passed", "collision", "min_ttc_s", "min_gap_m", "cycles",
                "sim_step_ms"):
        assert key in s
    assert s["name"] == "short_follow"
    assert s["cycles"] == 300
    assert set(s["sim_step_ms"]) == {"p50", "p99", "max", "mean"}
    assert s["sim_step_ms"]["p50"] > 0
    summary = data["summary"]
    assert {k: summary[k] for k in ("passed", "failed", "collisions")} == \
        {"passed": 1, "failed": 0, "collisions": 0}
    assert summary["deadline_misses"] >= 0  # the stack drives by default: loop figures too
    assert set(summary["cycle_ms"]) == {"p50", "p99", "max"}
    printed = capsys.readouterr().out
    assert "short_follow" in printed and "1/1 passed" in printed


def test_run_exits_1_when_a_scenario_fails(tmp_path: Path) -> None:
    scen = tmp_path / "doomed.yaml"
    scen.write_text(DOOMED)
    out = tmp_path / "r.json"
    assert main(["run", str(scen), "--json", str(out), "--quiet"]) == 1
    s = json.loads(out.read_text())["scenarios"][0]
    assert s["collision"] is True and s["passed"] is False
    assert s["cycles"] < 400  # the run ends at the collision
    assert "collision" in s["failures"]


def test_bad_scenario_stops_before_anything_runs(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(SHORT)
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHORT.replace("speed_mps: 14", "speed_mps: -14"))
    out = tmp_path / "r.json"
    assert main(["run", str(good), str(bad), "--json", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: actors[0].speed_mps: Input should be greater than or equal to 0" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_scenario"], "no such scenario file, directory or built-in name"),
        (["run", "--driver", "martian", "lead_brake_hard"], "unknown driver 'martian'"),
        (["run", "--seed", "-3", "lead_brake_hard"], "--seed must be >= 0"),
        (["scenarios", "validate", "missing.yaml"], "no such scenario file"),
        (["bogus"], "invalid choice"),
        (["run", "--transport", "dds", "--driver", "expert", "lead_brake_hard"],
         "runs the stack's nodes in lockstep"),
        (["run", "--transport", "zmq", "--realtime", "lead_brake_hard"],
         "runs the stack's nodes in lockstep"),
        (["run", "--record", "out.bag", "lead_brake_hard"], "ending in .mcap"),
        (["run", "--record", "/no/such/dir/x.mcap", "lead_brake_hard"], "no such directory"),
        (["replay", "missing.mcap"], "no such recording"),
        (["replay", "missing.mcap", "--models", "/no/such/models"], "no such models directory"),
        (["bench-transport", "--transports", "pigeon"], "unknown pigeon"),
    ],
)
def test_user_mistakes_exit_2_with_one_message(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_json_path_that_is_a_directory_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "lead_brake_hard", "--json", str(tmp_path), "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_scenarios_list_and_validate(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["scenarios", "list"]) == 0
    listed = capsys.readouterr().out
    assert "lead_brake_hard" in listed and "cut_in_short_gap" in listed
    bad = tmp_path / "bad.yaml"
    bad.write_text("duration_s: 1\n")
    assert main(["scenarios", "validate", "scenarios/", str(bad)]) == 2
    printed = capsys.readouterr().out
    assert "ok" in printed and "bad.yaml: road: required field is missing" in printed


def test_run_with_report_writes_index_and_plots(tmp_path: Path) -> None:
    scen = tmp_path / "short_follow.yaml"
    scen.write_text(SHORT)
    rep = tmp_path / "report"
    assert main(["run", str(scen), "--report", str(rep), "--quiet"]) == 0
    assert (rep / "index.html").read_text().count("short_follow") >= 2
    assert (rep / "short_follow.png").stat().st_size > 20_000


def test_record_then_replay_is_identical(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scen = tmp_path / "short_follow.yaml"
    scen.write_text(SHORT.replace("duration_s: 3", "duration_s: 1"))
    rec = tmp_path / "run.mcap"
    assert main(["run", str(scen), "--record", str(rec), "--quiet"]) == 0
    assert rec.is_file()
    assert f"recorded short_follow: {rec}" in capsys.readouterr().out
    report = tmp_path / "replay.json"
    assert main(["replay", str(rec), "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    div = data["divergence"]
    assert div["cycles_compared"] == div["identical_cycles"] == 100
    assert div["differing_cycles"] == 0 and div["first_divergent_t_ns"] is None


def test_replay_of_a_file_that_is_not_a_recording(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not an mcap file at all")
    assert main(["replay", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "junk.mcap" in err and "Traceback" not in err
