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
    # The world is the whole estate: every database in every region, every plan record
    databases = data["world"]["databases"]
    assert all({"id", "database", "region", "role"} <= set(db) for db in databases)
    assert sorted((db["database"], db["region"], db["role"]) for db in databases) == sorted(
        [(name, "us-east-1", "primary") for name in ("orders", "accounts")]
        + [(name, region, "replica") for name in ("orders", "accounts") for region in ("us-west-2", "eu-west-1")]
    )
    dns = data["world"]["dns"]
    assert all({"name", "type", "target", "region"} <= set(record) for record in dns)
    # A false alarm moves nothing: every record still points into the primary region
    assert [(r["name"], r["type"], r["region"]) for r in dns] == [
        ("api.example.com", "A", "us-east-1"),
        ("db.example.com", "CNAME", "us-east-1"),
        ("example.com", "A", "us-east-1"),
    ]
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
