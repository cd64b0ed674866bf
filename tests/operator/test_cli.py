"""The ``regionshift drill`` command: JSON document, exit status, scenario list."""

import json
from pathlib import Path

from typer.testing import CliRunner

from regionshift.cli import app
from regionshift.emulator import scenario as scenarios

runner = CliRunner()


def test_list_prints_one_scenario_a_line_name_first() -> None:
    result = runner.invoke(app, ["drill", "--list"])
    assert result.exit_code == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == [p.stem for p in scenarios.library()]
    assert len(names) >= 6


def test_json_document_has_the_documented_shape() -> None:
    result = runner.invoke(app, ["drill", "--scenario", "false-alarm", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scenario"] == "false-alarm" and data["outcome"] == "NO_ACTION"
    assert set(data["execution"]) >= {"status", "states"}
    assert {"id", "region", "role"} <= set(data["world"]["databases"][0])
    assert {"name", "type", "target", "region"} <= set(data["world"]["dns"][0])
    assert {"subject", "outcome"} <= set(data["notifications"][0])
    assert data["mutations"] == []


def test_mismatch_exits_non_zero(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "name: wrong\ndescription: expects the wrong thing\nexpect: {outcome: FAILED_OVER}\n"
        "estate: {health: {primary: [{failing: 0}]}}\ntrigger: {alarm: {}}\n"
    )
    result = runner.invoke(app, ["drill", "--scenario", str(wrong)])
    assert result.exit_code == 1
    assert "NOT as expected" in result.stdout


def test_unknown_scenario_is_one_clear_line() -> None:
    result = runner.invoke(app, ["drill", "--scenario", "no-such-thing"])
    assert result.exit_code == 2
    assert "no scenario named 'no-such-thing'" in result.output
