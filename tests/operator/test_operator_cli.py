"""Operator commands (pause, resume, ack, status, history) against a run table or a stack on moto."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from failover.models import Outcome, TriggerInfo
from failover.state import AuditRecord
from failover.store import StateStore
from regionshift.cli import app
from tests.conftest import create_run_table

runner = CliRunner()
REGION = "us-west-2"
TABLE = ["--table", "regionshift-runs", "--region", REGION]


@pytest.fixture
def store() -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_run_table(client)
        yield StateStore(client, "regionshift-runs")


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_pause_then_resume_is_recorded(store: StateStore) -> None:
    assert cli("pause", *TABLE, "--operator", "bob", "--reason", "db maintenance").exit_code == 0
    status = json.loads(cli("status", *TABLE, "--json").stdout)
    assert status["paused"]["operator"] == "bob"
    result = cli("resume", *TABLE, "--operator", "bob", "--reason", "maintenance done")
    assert result.exit_code == 0 and "was paused by bob" in result.stdout
    assert json.loads(cli("status", *TABLE, "--json").stdout)["paused"] is None
    assert [op.kind for op in store.operations()] == ["resume", "pause"]


def test_ack_ends_the_cooldown(store: StateStore) -> None:
    store.start_cooldown("run-1", Outcome.FAILED_OVER, datetime.now(UTC) + timedelta(hours=1))
    assert "cooldown: until" in cli("status", *TABLE).stdout
    result = cli("ack", *TABLE, "--operator", "alice", "--reason", "primary rebuilt as replica")
    assert result.exit_code == 0 and "acknowledged by alice" in result.stdout
    assert json.loads(cli("status", *TABLE, "--json").stdout)["cooldown"] is None
    assert cli("ack", *TABLE, "--operator", "alice", "--reason", "again").stdout.strip() == "no active cooldown"
    assert store.operations()[0].kind == "ack"


def test_history_lists_runs_newest_first(store: StateStore) -> None:
    for minute, outcome in ((1, "REFUSED"), (2, "FAILED_OVER")):
        started = datetime(2026, 11, 30, 3, minute, tzinfo=UTC)
        store.put_audit(
            AuditRecord(
                execution=f"run-{minute}",
                started_at=started,
                finished_at=started + timedelta(seconds=30),
                plan="orders",
                outcome=outcome,
                reason="r",
                trigger=TriggerInfo(kind="manual", event_time=started, operator="alice", reason="drill"),
                lock_released=True,
            )
        )
    lines = cli("history", *TABLE).stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["FAILED_OVER", "REFUSED"]
    assert len(json.loads(cli("history", *TABLE, "--json", "--limit", "1").stdout)) == 1


def test_status_resolves_the_table_from_the_stack_outputs(store: StateStore) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"RunTableName": {"Value": "regionshift-runs"}, "NotificationTopicArn": {"Value": {"Ref": "Topic"}}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="regionshift-orders", TemplateBody=json.dumps(template)
    )
    result = cli("status", "--stack", "regionshift-orders", "--region", REGION)
    assert result.exit_code == 0, result.output
    assert "lock:     free" in result.stdout


def test_missing_stack_is_one_clear_line(store: StateStore) -> None:
    result = cli("status", "--stack", "no-such-stack", "--region", REGION)
    assert result.exit_code == 3
    assert result.output.strip().count("\n") == 0
    assert "no-such-stack" in result.output and "does not exist" in result.output


def test_stack_or_table_is_required() -> None:
    result = cli("status", "--region", REGION)
    assert result.exit_code == 3 and "exactly one of --stack NAME or --table NAME" in result.output
