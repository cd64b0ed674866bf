"""The commands a deployed stack uses, driven against the emulator in server mode through an endpoint
URL: the AWS-facing code under test is the code that talks to a real stack."""

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from regionshift.cli import app
from regionshift.emulator import scenario as scenarios
from regionshift.emulator import server
from regionshift.execution import follow

runner = CliRunner()


@contextmanager
def emulated(**estate: Any) -> Iterator[tuple[server.ServedStack, Callable[..., Any]]]:
    chosen = scenarios.Scenario.model_validate(
        {
            "name": "server",
            "description": "server mode",
            "expect": {"outcome": "DRY_RUN"},
            "estate": estate,
            "trigger": {"raw": None},
        }
    )
    with server.serve(chosen) as stack:
        common = ["--stack", stack.stack_name, "--region", "us-west-2", "--endpoint-url", stack.endpoint_url]

        def cli(command: str, *args: str) -> Any:
            return runner.invoke(app, [command, *common, *args])

        yield stack, cli


def client(stack: server.ServedStack, service: str, region: str = "us-west-2") -> Any:
    return boto3.client(service, region_name=region, endpoint_url=stack.endpoint_url)


def test_drill_on_a_stack_shows_progress_writes_reports_and_is_listed(tmp_path: Path) -> None:
    with emulated() as (_stack, cli):
        result = cli(
            "drill",
            "--dry-run",
            "--operator",
            "alice",
            "--reason",
            "game day",
            "--poll",
            "0.05",
            "--report-dir",
            str(tmp_path),
        )
        assert result.exit_code == 0, result.output
        assert "started arn:aws:states:" in result.output
        assert "Assess" in result.output and "outcome: DRY_RUN" in result.output
        (md,) = tmp_path.glob("*/report.md")
        (page,) = tmp_path.glob("*/report.html")
        assert "Regionshift run report: DRY_RUN" in md.read_text()
        assert "<svg" in page.read_text() and "Checker votes, primary" in page.read_text()
        history = cli("history", "--json")
        assert json.loads(history.stdout)[0]["trigger"]["operator"] == "alice"
        status = cli("status", "--json")
        assert json.loads(status.stdout)["lastRun"]["outcome"] == "DRY_RUN"
        arn = result.output.split("started ", 1)[1].split()[0]
        again = cli("watch", arn, "--poll", "0.05", "--report-dir", str(tmp_path / "again"))
        assert again.exit_code == 0 and "execution SUCCEEDED" in again.output
        assert cli("report", arn, "--report-dir", str(tmp_path / "report")).exit_code == 0
        assert (tmp_path / "report" / arn.rsplit(":", 1)[-1] / "report.html").exists()


def test_report_reads_what_finalize_wrote_to_the_bucket_and_builds_it_when_it_is_not_there(tmp_path: Path) -> None:
    with emulated() as (stack, cli):
        # Given a run on the stack
        started = cli(
            "drill",
            "--dry-run",
            "--operator",
            "alice",
            "--reason",
            "r",
            "--poll",
            "0.05",
            "--report-dir",
            str(tmp_path / "drill"),
        )
        arn = started.output.split("started ", 1)[1].split()[0]
        name = arn.rsplit(":", 1)[-1]
        outputs = client(stack, "cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]["Outputs"]
        bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ReportBucketName")
        # When its report is asked for, it is the one Finalize wrote while the run was still running
        assert cli("report", arn, "--report-dir", str(tmp_path / "s3")).exit_code == 0
        written = json.loads((tmp_path / "s3" / name / "report.json").read_text())
        assert written["status"] == "RUNNING" and written["timeline"][-1]["state"] == "Finalize"
        # And when the bucket holds none, it is built from the finished execution
        s3 = client(stack, "s3")
        for file in ("report.md", "report.html", "report.json"):
            s3.delete_object(Bucket=bucket, Key=f"reports/{name}/{file}")
        assert cli("report", arn, "--report-dir", str(tmp_path / "built")).exit_code == 0
        built = json.loads((tmp_path / "built" / name / "report.json").read_text())
        assert built["status"] == "SUCCEEDED" and built["outcome"] == written["outcome"]


def test_unknown_execution_is_one_clear_line() -> None:
    with emulated() as (_stack, cli):
        result = cli("report", "arn:aws:states:us-west-2:123456789012:execution:regionshift-orders:nope")
        assert result.exit_code == 3
        assert result.output.strip().startswith("regionshift: ") and "\n" not in result.output.strip()


def test_check_finds_a_ready_plan_ready() -> None:
    with emulated() as (_stack, cli):
        result = cli("check", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["ready"] and all(f["status"] == "OK" for f in data["findings"])
        assert data["estimatedRecoverySeconds"]["total"] > 0


def _blocking(cli: Callable[..., Any]) -> list[dict[str, str]]:
    result = cli("check", "--json")
    assert result.exit_code == 1, result.output
    return [f for f in json.loads(result.stdout)["findings"] if f["status"] == "BLOCKING"]


def test_check_finds_a_missing_replica() -> None:
    with emulated(replica={"exists": False}) as (_stack, cli):
        assert any(f["check"] == "replica" and "does not exist" in f["detail"] for f in _blocking(cli))


def test_check_finds_a_replica_of_the_wrong_source() -> None:
    with emulated(replica={"source": "reporting-db"}) as (_stack, cli):
        assert any(f["check"] == "replica" and "reporting-db" in f["detail"] for f in _blocking(cli))


def test_check_finds_a_missing_health_check() -> None:
    with emulated() as (stack, cli):
        check_id = stack.deployment.parameters["StandbyHealthCheckId"]
        client(stack, "route53", "us-east-1").delete_health_check(HealthCheckId=check_id)
        assert [f["check"] for f in _blocking(cli)] == ["standby-health-check"]


def test_check_finds_an_alarm_not_wired_to_the_rule() -> None:
    with emulated() as (stack, cli):
        client(stack, "events").remove_targets(Rule="regionshift-primary-unhealthy", Ids=["StateMachine"])
        assert [f["check"] for f in _blocking(cli)] == ["alarm-wiring"]


def test_check_finds_a_missing_record() -> None:
    with emulated() as (stack, cli):
        route53 = client(stack, "route53", "us-east-1")
        zone = stack.deployment.parameters["HostedZoneId"]
        record = next(
            r
            for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if r["Name"].startswith("app.")
        )
        route53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]}
        )
        blocking = _blocking(cli)
        assert [f["check"] for f in blocking] == ["records"] and "app.example.com" in blocking[0]["detail"]


def test_check_finds_a_topic_without_subscribers() -> None:
    with emulated() as (stack, cli):
        sns = client(stack, "sns")
        for subscription in sns.list_subscriptions_by_topic(TopicArn=stack.deployment.topic_arn)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        assert [f["check"] for f in _blocking(cli)] == ["notification-topic"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_html_report_renders_with_a_visible_timeline(tmp_path: Path) -> None:
    from regionshift import drill

    result = drill.run(scenarios.load("throttled-promote-recovers"))
    from regionshift import runreport

    page = tmp_path / "report.html"
    runreport.write(result.reports[result.runs[0].arn], tmp_path)
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50  # not blank: text, tables, chart

    def near(rgb: tuple[int, int, int], target: tuple[int, int, int]) -> bool:
        return sum(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 40

    # the timeline is drawn: pixels of its step bars (green) and of its wait bars (grey)
    steps = sum(count for count, rgb in colours if near(rgb, (0x2E, 0x7D, 0x32)))
    waits = sum(count for count, rgb in colours if near(rgb, (0x90, 0xA4, 0xAE)))
    assert steps > 300 and waits > 2000, (steps, waits)


def test_check_says_an_alarm_that_can_never_fire_is_blocking() -> None:
    # Given an alarm deployed with Threshold 0 (HealthCheckStatus is never below 0)
    with emulated(alarm={"Threshold": 0}) as (_stack, cli):
        # When the plan is checked, before any outage
        blocking = _blocking(cli)
        # Then the alarm is BLOCKING, and says why
        assert [f["check"] for f in blocking] == ["alarm"]
        assert "can never fire" in blocking[0]["detail"] and "(0)" in blocking[0]["detail"]


def test_set_alarm_state_on_the_plans_alarm_starts_exactly_one_run() -> None:
    with emulated() as (stack, _cli):
        cloudwatch = client(stack, "cloudwatch", "us-east-1")
        sfn = client(stack, "stepfunctions")
        machine = stack.deployment.state_machine_arn
        assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
        # Given the served stack, When an operator game-days the plan's alarm (set-alarm-state ALARM)
        cloudwatch.set_alarm_state(AlarmName="regionshift-primary-unhealthy", StateValue="ALARM", StateReason="drill")
        # Then the event goes us-east-1 -> the orchestrator's bus -> the rule -> one execution
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        assert len(executions) == 1
        document = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
        assert document["detail-type"] == "CloudWatch Alarm State Change"
        assert document["region"] == "us-east-1" and document["detail"]["state"]["value"] == "ALARM"
        # And setting the same state again is no transition: no second event, no second run
        cloudwatch.set_alarm_state(AlarmName="regionshift-primary-unhealthy", StateValue="ALARM", StateReason="again")
        assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
        # And a return to OK is a transition the rule does not match (it matches ALARM only)
        cloudwatch.set_alarm_state(AlarmName="regionshift-primary-unhealthy", StateValue="OK", StateReason="over")
        assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
        # And the run it started is a real run of the plan: it ends (here it fails over)
        ended = follow(sfn, [executions[0]["executionArn"]], None, 0.05, 120)
        assert ended[executions[0]["executionArn"]].status == "SUCCEEDED"
