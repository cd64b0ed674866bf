"""Run reports where the team reads them: Finalize writes them to the stack's bucket, notifications
link them, the template declares the bucket, the emulator models it and `regionshift report` reads it."""

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover import history, notification, report
from failover.adapters import StepFunctions
from failover.clients import Clients
from failover.runtime import Runtime
from failover.settings import Settings
from failover.steps.finalize import MAX_HISTORY_EVENTS, finalize
from regionshift import drill
from regionshift import template as cfn
from regionshift.emulator import scenario as scenarios
from tests.conftest import NOW, PLAN_ENV, create_run_table
from tests.unit.test_steps import EXECUTION, SETTINGS, document

BUCKET = PLAN_ENV["REPORT_BUCKET"]
FOLDER = "reports/run-1/"


def events(*states: tuple[str, str]) -> list[dict[str, Any]]:
    """An execution's history so far: started, then each (state, kind) entered and exited, a second apart."""
    found: list[dict[str, Any]] = [
        {
            "type": "ExecutionStarted",
            "timestamp": NOW,
            "executionStartedEventDetails": {"input": json.dumps({"manual": {"operator": "alice"}})},
        }
    ]
    for i, (name, kind) in enumerate(states, start=1):
        at = NOW + timedelta(seconds=i)
        found.append({"type": f"{kind}StateEntered", "timestamp": at, "stateEnteredEventDetails": {"name": name}})
        found.append({"type": f"{kind}StateExited", "timestamp": at + timedelta(seconds=0.5)})
    return found


class FakeHistory:
    """GetExecutionHistory in pages, counting the pages asked for."""

    def __init__(self, events: list[dict[str, Any]], page: int = 1000) -> None:
        self.events, self.page, self.pages = events, page, 0

    def get_execution_history(self, executionArn: str, maxResults: int, nextToken: str | None = None) -> Any:
        self.pages += 1
        start = int(nextToken or 0)
        end = start + min(self.page, maxResults)
        more = {"nextToken": str(end)} if end < len(self.events) else {}
        return {"events": self.events[start:end], **more}


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        create_run_table(boto3.client("dynamodb", region_name="us-west-2"))
        s3 = boto3.client("s3", region_name="us-west-2")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        steps = [("Intake", "Task"), ("Gate", "Task"), ("Assess", "Task"), ("Notify", "Task"), ("Finalize", "Task")]
        sfn = StepFunctions(FakeHistory(events(*steps)))
        yield Runtime(SETTINGS, Clients(), stepfunctions=sfn), s3


def _object(s3: Any, name: str) -> str:
    return str(s3.get_object(Bucket=BUCKET, Key=FOLDER + name)["Body"].read().decode())


# --- Finalize ---------------------------------------------------------------------------------------


def test_finalize_writes_the_report_in_three_forms_under_the_execution_name(aws: Any) -> None:
    rt, s3 = aws
    # Given a run that ended REFUSED, whose history so far shows its states
    doc = document(result={"outcome": "REFUSED", "reason": "standby unhealthy"})
    # When Finalize runs
    result = finalize(doc, rt, NOW)
    # Then the report is in the bucket: the outcome from the audit record, the timeline from the history
    assert result.report_error is None
    data = json.loads(_object(s3, "report.json"))
    assert data["outcome"] == "REFUSED" and data["reason"] == "standby unhealthy"
    assert data["status"] == "RUNNING" and not data["historyTruncated"]
    assert [s["state"] for s in data["timeline"]] == ["Intake", "Gate", "Assess", "Notify", "Finalize"]
    assert "Regionshift run report: REFUSED" in _object(s3, "report.md")
    assert "<svg" in _object(s3, "report.html")
    head = s3.head_object(Bucket=BUCKET, Key=FOLDER + "report.html")
    assert head["ContentType"].startswith("text/html")


def test_a_report_that_cannot_be_written_never_fails_the_run(aws: Any) -> None:
    rt, s3 = aws
    # Given a bucket that is gone, and a run holding the lock
    s3.delete_bucket(Bucket=BUCKET)
    rt.store.acquire_lock(EXECUTION["id"], NOW, 3600)
    doc = document(result={"outcome": "NO_ACTION", "reason": "healthy"})
    # When Finalize runs
    result = finalize(doc, rt, NOW)
    # Then the run still ends as it should, and says why the report is missing
    assert result.outcome == "NO_ACTION" and result.lock_released
    assert rt.store.lock_holder() is None
    assert rt.store.audit_of(EXECUTION["id"]) is not None
    assert result.report_error is not None and "NoSuchBucket" in result.report_error


def test_a_rendering_bug_does_not_fail_the_run_either(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rt, _ = aws

    def broken(_report: Any) -> Any:
        raise KeyError("timeline")

    monkeypatch.setattr(report, "render", broken)
    rt.store.acquire_lock(EXECUTION["id"], NOW, 3600)
    result = finalize(document(result={"outcome": "NO_ACTION", "reason": "healthy"}), rt, NOW)
    assert result.lock_released and result.report_error == "KeyError: 'timeline'"


# --- the history ---------------------------------------------------------------------------------------


def test_history_is_read_in_pages_and_bounded() -> None:
    # Given a history longer than the bound
    fake = FakeHistory(events(*[(f"S{i}", "Wait") for i in range(3000)]))
    # When at most MAX_HISTORY_EVENTS are read
    found = StepFunctions(fake).history("arn", MAX_HISTORY_EVENTS)
    # Then reading stops at the bound, page by page
    assert len(found) == MAX_HISTORY_EVENTS and fake.pages == MAX_HISTORY_EVENTS // 1000
    assert len(history.history(FakeHistory(events(("A", "Task"))), "arn")) == 3


def test_a_running_execution_is_parsed_from_its_events_alone() -> None:
    parsed = history.parse("arn", events(("Intake", "Task"), ("Wait", "Wait")))
    assert parsed.status == "RUNNING" and parsed.stopped is None
    assert parsed.input == {"manual": {"operator": "alice"}}
    assert [(v.name, v.at) for v in parsed.visits] == [("Intake", 1.0), ("Wait", 2.0)]


# --- notifications ------------------------------------------------------------------------------------


def test_notification_links_the_report_where_finalize_writes_it() -> None:
    doc = document(result={"outcome": "NO_ACTION", "reason": "healthy"})
    assert f"Report: s3://{BUCKET}/reports/run-1/report.html" in notification.summary_lines(doc, SETTINGS)
    override = Settings.from_env({**PLAN_ENV, "REPORT_BASE_URL": "https://reports.example.com/orders/"})
    assert "Report: https://reports.example.com/orders/run-1/report.html" in notification.summary_lines(doc, override)


# --- the template --------------------------------------------------------------------------------------

DOCUMENT = cfn.load()
RESOURCES = DOCUMENT["Resources"]


def test_report_bucket_is_encrypted_private_tls_only_and_expires_reports() -> None:
    props = RESOURCES["ReportBucket"]["Properties"]
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Prefix"] == report.PREFIX
    assert rule["ExpirationInDays"] == {"Ref": "ReportRetentionDays"}
    assert DOCUMENT["Parameters"]["ReportRetentionDays"]["Default"] == 400
    (deny,) = RESOURCES["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert DOCUMENT["Outputs"]["ReportBucketName"]["Value"] == {"Ref": "ReportBucket"}


def test_finalize_may_write_only_under_the_report_prefix_and_readers_only_read_there() -> None:
    finalize_statements = RESOURCES["FinalizeFunction"]["Properties"]["Policies"][0]["Statement"]
    (put,) = [s for s in finalize_statements if s["Action"] == "s3:PutObject"]
    assert put["Resource"] == {"Fn::Sub": f"${{ReportBucket.Arn}}/{report.PREFIX}*"}
    reader = RESOURCES["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (get,) = [s for s in reader if s.get("Sid") == "ReadReports"]
    assert get["Action"] == "s3:GetObject" and get["Resource"] == put["Resource"]
    assert DOCUMENT["Globals"]["Function"]["Environment"]["Variables"]["REPORT_BUCKET"] == {"Ref": "ReportBucket"}


# --- the emulator -----------------------------------------------------------------------------------------


def test_a_drill_leaves_its_report_in_the_emulated_bucket_as_the_template_declares_it() -> None:
    scenario = scenarios.load("primary-outage-synthetic")
    with drill.Session(scenario) as session:
        session.step(scenarios.Step(trigger=scenario.trigger))
        result = session.result()
        deployment = session.deployment
        s3 = boto3.client("s3", region_name="us-west-2")
        # Then the bucket is encrypted, private and expires reports, as the template says
        bucket = deployment.report_bucket
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert rule["Expiration"]["Days"] == 400 and rule["Filter"]["Prefix"] == report.PREFIX
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        # And the run's report is there, with the run's outcome and its timeline
        (run,) = result.runs
        files = deployment.report(run.arn)
    assert result.passed, result.problems
    assert files is not None
    data = json.loads(files["report.json"])
    assert data["outcome"] == run.outcome == "FAILED_OVER"
    assert {"PromoteAll", "Promote", "TargetHealth", "UpdateDns", "Notify"} <= {s["state"] for s in data["timeline"]}
    assert "<svg" in files["report.html"] and ">Promote</text>" in files["report.html"]


# The estate's default zone and a second one, whose CNAME follows the accounts database.
TWO_ZONES = [
    {
        "name": "example.com",
        "records": [
            {"name": "example.com"},
            {"name": "api.example.com"},
            {"name": "db.example.com", "type": "CNAME", "target": "orders"},
        ],
    },
    {"name": "example.org", "records": [{"name": "accounts.example.org", "type": "CNAME", "target": "accounts"}]},
]


@pytest.fixture(scope="module")
def passed_over() -> tuple[drill.DrillResult, dict[str, str]]:
    """A run that passes over us-west-2 (its orders replica lags 600 s) and fails over to eu-west-1,
    across two zones, with its report as the bucket holds it."""
    scenario = scenarios.Scenario.model_validate(
        {
            "name": "first-standby-lags",
            "description": "us-west-2's orders replica lags: the run moves to eu-west-1",
            "expect": {"outcome": "FAILED_OVER", "runs": 1},
            "estate": {"zones": TWO_ZONES, "replicas": {"orders-us-west-2": {"lagSeconds": 600}}},
            "trigger": {"alarm": {"state": "ALARM", "ageSeconds": 5}},
        }
    )
    with drill.Session(scenario) as session:
        session.step(scenarios.Step(trigger=scenario.trigger))
        result = session.result()
        (run,) = result.runs
        files = session.deployment.report(run.arn)
    assert result.passed, result.problems
    assert files is not None
    return result, files


def test_a_report_says_which_standby_was_chosen_and_why_another_was_passed_over(
    passed_over: tuple[drill.DrillResult, dict[str, str]],
) -> None:
    result, files = passed_over
    data, md = json.loads(files["report.json"]), files["report.md"]
    # Then the report names both standbys in plan order, the chosen one and the reason for the other
    standbys = data["decisions"]["assess"]["standbys"]
    assert [(s["region"], s["chosen"]) for s in standbys] == [("us-west-2", False), ("eu-west-1", True)]
    assert "orders-us-west-2" in standbys[0]["passedOver"] and "600 s" in standbys[0]["passedOver"]
    assert "Passed over us-west-2: orders-us-west-2: replica lag 600 s" in md
    assert "Target: eu-west-1" in md
    assert "Checker votes, standby us-west-2:" in md and "Checker votes, standby eu-west-1:" in md
    # And the same in the page a person opens
    assert "Passed over us-west-2: orders-us-west-2: replica lag 600 s" in files["report.html"]
    # And the run moved there
    assert data["outcome"] == "FAILED_OVER" and "eu-west-1" in data["reason"]
    assert {r["region"] for r in result.world["dns"]} == {"eu-west-1"}


def test_a_report_lists_every_replica_promotion_and_zone_of_the_target(
    passed_over: tuple[drill.DrillResult, dict[str, str]],
) -> None:
    _, files = passed_over
    data, md = json.loads(files["report.json"]), files["report.md"]
    # Then every replica of the target was verified and listed (database, region, lag)
    (replicas,) = data["decisions"]["assess"]["stages"]  # one stage: the plan has no after
    assert sorted((r["identifier"], r["database"], r["region"]) for r in replicas) == [
        ("accounts-eu-west-1", "accounts", "eu-west-1"),
        ("orders-eu-west-1", "orders", "eu-west-1"),
    ]
    for identifier, database in (("orders-eu-west-1", "orders"), ("accounts-eu-west-1", "accounts")):
        assert f"Replica {identifier} ({database}, eu-west-1): available" in md
        # And every promotion, as a change from read replica to writer
        assert f"| database {database}: {identifier} (eu-west-1) | read replica | standalone writer |" in md
    assert sorted(p["identifier"] for p in data["changes"]["promotions"]) == ["accounts-eu-west-1", "orders-eu-west-1"]
    # And each zone's change batch, with every record of both zones moved to the target
    zones = data["changes"]["dns"]["zones"]
    assert sorted(z["records"] for z in zones) == [1, 3]
    assert all(z["status"] == "INSYNC" and z["changeId"] for z in zones)
    assert len({z["zoneId"] for z in zones}) == 2
    for row in (
        "| example.com A | ALIAS dualstack.app-us-east-1.us-east-1.elb.amazonaws.com "
        "| ALIAS dualstack.app-eu-west-1.eu-west-1.elb.amazonaws.com |",
        "| api.example.com A |",
        "| db.example.com CNAME |",
        "| accounts.example.org CNAME |",
    ):
        assert row in md, row
    # And the Markdown names each zone's batch and its status (a zone left PENDING would show here)
    for zone in zones:
        assert (
            f"| hosted zone {zone['zoneId']} | {zone['records']} record(s) | change {zone['changeId']}: INSYNC |" in md
        )
