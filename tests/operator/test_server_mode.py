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
from regionshift.emulator import patches, server
from regionshift.emulator import scenario as scenarios
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


def _plan_file(stack: server.ServedStack) -> str:
    """The plan file the served stack was deployed with (its functions' packaged plan)."""
    return str(stack.deployment.parameters["PlanFile"])


def _check(stack: server.ServedStack, cli: Callable[..., Any], status: int) -> list[dict[str, str]]:
    result = cli("check", "--json", "--plan", _plan_file(stack))
    assert result.exit_code == status, result.output
    findings: list[dict[str, str]] = json.loads(result.stdout)["findings"]
    return findings


def _blocking(stack: server.ServedStack, cli: Callable[..., Any]) -> list[dict[str, str]]:
    return [f for f in _check(stack, cli, 1) if f["status"] == "BLOCKING"]


def _about_now(findings: list[dict[str, str]]) -> list[dict[str, str]]:
    """The findings about the estate as it stands (not the region losses it would survive)."""
    return [f for f in findings if f["check"] != "region-loss"]


def _target(findings: list[dict[str, str]]) -> dict[str, str]:
    (target,) = [f for f in findings if f["check"] == "target"]
    return target


WHO = ["--operator", "alice", "--reason", "game day"]
REPLICAS = ["orders-us-west-2", "accounts-us-west-2", "orders-eu-west-1", "accounts-eu-west-1"]


def test_check_finds_a_ready_plan_ready() -> None:
    with emulated() as (stack, _cli):
        # Given the default estate (us-east-1 -> us-west-2, eu-west-1; orders and accounts), the plan
        # file given through REGIONSHIFT_PLAN
        common = ["--stack", stack.stack_name, "--region", "us-west-2", "--endpoint-url", stack.endpoint_url]
        result = runner.invoke(app, ["check", *common, "--json"], env={"REGIONSHIFT_PLAN": _plan_file(stack)})
        # Then every finding is OK, and every region, replica and zone was looked at
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["ready"] and all(f["status"] == "OK" for f in _about_now(data["findings"]))
        # And the region losses it would not survive are warnings: us-west-2 holds the stack, and
        # us-east-1 (the primary, with Route 53's API and alarm) has no probes nor data-plane traffic
        losses = {f["detail"].split(":")[0]: f["status"] for f in data["findings"] if f["check"] == "region-loss"}
        assert losses == {"us-east-1": "WARN", "us-west-2": "WARN", "eu-west-1": "OK"}
        assert data["estimatedRecoverySeconds"]["total"] > 0
        details = [f"{f['check']}: {f['detail']}" for f in data["findings"]]
        for identifier in REPLICAS:
            region = identifier.split("-", 1)[1]
            assert any(d.startswith(f"replica: {region}: {identifier} replicates from") for d in details), identifier
            assert any(d.startswith(f"replica-lag: {region}: {identifier}: 2 s") for d in details), identifier
        assert [d.split(":")[0] for d in details if "health-check" in d] == [
            "primary-health-check",
            "standby-health-check",
            "standby-health-check",
        ]
        assert _target(data["findings"])["detail"].startswith("a run would move to us-west-2")
        (zone,) = stack.deployment.plan.zones
        assert f"records: {zone.id}: 3 record(s) point into us-east-1" in details


def test_check_finds_every_missing_replica() -> None:
    with emulated(replica={"exists": False}) as (stack, cli):
        blocking = _blocking(stack, cli)
        missing = [f["detail"] for f in blocking if f["check"] == "replica"]
        assert missing == [
            f"{region}: standby database {r} does not exist in {region} "
            f"(regionshift failback {region} --apply rebuilds a replica of the writer)"
            for r in REPLICAS
            for region in [r.split("-", 1)[1]]
        ]
        assert _target(blocking)["detail"] == "no standby region has every replica ready"


def test_check_names_the_ready_region_when_the_first_standby_is_missing_a_replica() -> None:
    # Given orders has no replica in us-west-2 (the first standby), every replica in eu-west-1 ready
    with emulated(replicas={"orders-us-west-2": {"exists": False}}) as (stack, cli):
        # When the plan is checked
        findings = _check(stack, cli, 0)
        # Then it is READY: us-west-2's problem is a warning that names the region a run would use
        (warning,) = [f for f in _about_now(findings) if f["status"] != "OK"]
        assert warning["status"] == "WARN" and warning["check"] == "replica"
        assert "orders-us-west-2 does not exist in us-west-2" in warning["detail"]
        assert warning["detail"].endswith("(eu-west-1 is ready)")
        assert _target(findings)["detail"].startswith("a run would move to eu-west-1")


def test_check_finds_replicas_of_the_wrong_source_in_every_region() -> None:
    overrides = {"orders-us-west-2": {"source": "reporting-db"}, "orders-eu-west-1": {"source": "analytics-db"}}
    with emulated(replicas=overrides) as (stack, cli):
        blocking = _blocking(stack, cli)
        wrong = [f["detail"] for f in blocking if f["check"] == "replica"]
        assert len(wrong) == 2
        assert wrong[0].startswith("us-west-2: standby database orders-us-west-2 replicates from") and (
            "reporting-db" in wrong[0]
        )
        assert wrong[1].startswith("eu-west-1: standby database orders-eu-west-1 replicates from") and (
            "analytics-db" in wrong[1]
        )
        assert _target(blocking)["status"] == "BLOCKING"


def test_check_finds_an_untagged_replica_blocking_only_when_no_region_is_ready() -> None:
    # Given one replica without the regionshift:plan tag the functions' IAM requires
    with emulated(replicas={"accounts-us-west-2": {"tagged": False}}) as (stack, cli):
        # Then us-west-2 is passed over with a warning, and a run would move to eu-west-1
        findings = _check(stack, cli, 0)
        (warning,) = [f for f in _about_now(findings) if f["status"] != "OK"]
        assert warning["status"] == "WARN" and warning["check"] == "replica"
        assert warning["detail"].startswith("us-west-2: accounts-us-west-2 is not tagged regionshift:plan=orders")
        assert _target(findings)["detail"].startswith("a run would move to eu-west-1")
    # And with no replica tagged, each one is BLOCKING
    with emulated(replica={"tagged": False}) as (stack, cli):
        blocking = _blocking(stack, cli)
        untagged = [f["detail"] for f in blocking if f["check"] == "replica"]
        assert [d.split(": ", 1)[1].split()[0] for d in untagged] == REPLICAS
        assert all("is not tagged regionshift:plan=orders" in d for d in untagged)
        assert _target(blocking)["status"] == "BLOCKING"


def test_check_refuses_a_plan_file_that_is_not_the_deployed_one(tmp_path: Path) -> None:
    with emulated() as (stack, cli):
        # Given the deployed plan with one rail changed: the same estate, another digest
        document = json.loads(Path(_plan_file(stack)).read_text())
        document["rails"]["confirmProbes"] += 1
        other = tmp_path / "plan.json"
        other.write_text(json.dumps(document))
        # When the plan is checked with that file
        result = cli("check", "--json", "--plan", str(other))
        # Then only the plan finding blocks: the file is not what the stack runs
        assert result.exit_code == 1, result.output
        blocking = [f for f in json.loads(result.stdout)["findings"] if f["status"] == "BLOCKING"]
        assert [f["check"] for f in blocking] == ["plan"]
        assert "is not the deployed plan" in blocking[0]["detail"]
        assert stack.deployment.parameters["PlanDigest"][:12] in blocking[0]["detail"]


@pytest.mark.parametrize(("region", "check"), [("us-east-1", "primary"), ("eu-west-1", "standby")])
def test_check_finds_a_missing_health_check(region: str, check: str) -> None:
    with emulated() as (stack, cli):
        check_id = stack.deployment.plan.health_check(region)
        client(stack, "route53", "us-east-1").delete_health_check(HealthCheckId=check_id)
        blocking = _blocking(stack, cli)
        assert [f["check"] for f in blocking] == [f"{check}-health-check"]
        assert blocking[0]["detail"] == f"{region}: health check {check_id} does not exist"


def test_check_finds_an_alarm_not_wired_to_the_rule() -> None:
    with emulated() as (stack, cli):
        client(stack, "events").remove_targets(Rule="regionshift-primary-unhealthy", Ids=["StateMachine"])
        assert [f["check"] for f in _blocking(stack, cli)] == ["alarm-wiring"]


TWO_ZONES = [
    {"name": "example.com", "records": [{"name": "example.com"}]},
    {
        "name": "example.org",
        "records": [{"name": "api.example.org"}, {"name": "db.example.org", "type": "CNAME", "target": "orders"}],
    },
]


def test_check_finds_a_missing_record_in_its_zone() -> None:
    with emulated(zones=TWO_ZONES) as (stack, cli):
        # Given a plan record deleted from the second zone
        route53 = client(stack, "route53", "us-east-1")
        first, second = stack.deployment.plan.zones
        record = next(
            r
            for r in route53.list_resource_record_sets(HostedZoneId=second.id)["ResourceRecordSets"]
            if r["Name"].startswith("api.")
        )
        route53.change_resource_record_sets(
            HostedZoneId=second.id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]}
        )
        # Then that record blocks, named with its zone; the other zone is fine
        findings = _check(stack, cli, 1)
        blocking = [f for f in findings if f["status"] == "BLOCKING"]
        assert [f["check"] for f in blocking] == ["records"]
        assert blocking[0]["detail"] == f"alias A api.example.org not found in hosted zone {second.id}"
        records = [f["detail"] for f in findings if f["check"] == "records" and f["status"] == "OK"]
        assert records == [
            f"{first.id}: 1 record(s) point into us-east-1",
            f"{second.id}: 1 record(s) point into us-east-1",
        ]


def test_check_says_where_each_zones_records_point() -> None:
    # Given one record of the second zone already moved to us-west-2 (an earlier, partial run)
    with emulated(zones=TWO_ZONES, records={"api.example.org": "us-west-2"}) as (stack, cli):
        findings = _check(stack, cli, 0)
        first, second = stack.deployment.plan.zones
        # Then the records are placed per zone, and a run (which may complete that move) is possible
        records = sorted(f["detail"] for f in findings if f["check"] == "records" and f["status"] == "OK")
        assert records == sorted(
            [
                f"{first.id}: 1 record(s) point into us-east-1",
                f"{second.id}: 1 record(s) point into us-east-1",
                f"{second.id}: 1 record(s) point into us-west-2",
            ]
        )
        assert _target(findings)["detail"].startswith("a run would move to us-west-2")
        # And only eu-west-1 is warned about: a run could not move there without taking that record from us-west-2
        (warning,) = [f for f in _about_now(findings) if f["status"] != "OK"]
        assert warning["status"] == "WARN" and warning["check"] == "records"
        assert warning["detail"].startswith(
            "eu-west-1: api.example.org points at its us-west-2 target dualstack.app-us-west-2"
        )


def test_check_passes_over_a_region_when_a_record_points_into_another_standby(tmp_path: Path) -> None:
    # Given api.example.com pointing into eu-west-1, the second standby: a run moving to us-west-2
    # would have to take traffic from a region other than the primary, so Assess passes us-west-2 over
    with emulated(records={"api.example.com": "eu-west-1"}) as (stack, cli):
        findings = _check(stack, cli, 0)
        # Then the check says so, and names the region a run would move to
        (warning,) = [f for f in _about_now(findings) if f["status"] != "OK"]
        assert warning["check"] == "records" and warning["status"] == "WARN"
        assert warning["detail"].startswith(
            "us-west-2: api.example.com points at its eu-west-1 target dualstack.app-eu-west-1"
        )
        assert _target(findings)["detail"].startswith("a run would move to eu-west-1")
        # And a run started now goes where the check said (its dry run's Assess picks eu-west-1)
        drill = cli("drill", "--dry-run", *WHO, "--poll", "0.05", "--report-dir", str(tmp_path))
        assert drill.exit_code == 0, drill.output
        (report,) = tmp_path.glob("*/report.json")
        assess = json.loads(report.read_text())["decisions"]["assess"]
        assert assess["target"] == "eu-west-1"
        assert assess["standbys"][0]["passedOver"].startswith(
            "api.example.com points at its eu-west-1 target dualstack.app-eu-west-1"
        )


def test_check_finds_a_record_pointing_at_no_target_of_the_plan() -> None:
    with emulated() as (stack, cli):
        # Given someone pointed db.example.com at a host the plan does not know
        (zone,) = stack.deployment.plan.zones
        rogue = {
            "Name": "db.example.com",
            "Type": "CNAME",
            "TTL": 60,
            "ResourceRecords": [{"Value": "rogue.example.net"}],
        }
        client(stack, "route53", "us-east-1").change_resource_record_sets(
            HostedZoneId=zone.id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": rogue}]}
        )
        blocking = _blocking(stack, cli)
        # Then the zone's finding names it, and no standby region is a safe target
        assert {
            "check": "records",
            "status": "BLOCKING",
            "detail": f"{zone.id}: db.example.com point at no target of the plan",
        } in blocking
        assert _target(blocking)["status"] == "BLOCKING"


def test_check_finds_a_topic_without_subscribers() -> None:
    with emulated() as (stack, cli):
        sns = client(stack, "sns")
        for subscription in sns.list_subscriptions_by_topic(TopicArn=stack.deployment.topic_arn)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        assert [f["check"] for f in _blocking(stack, cli)] == ["notification-topic"]


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
    with emulated(alarm={"Threshold": 0}) as (stack, cli):
        # When the plan is checked, before any outage
        blocking = _blocking(stack, cli)
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


def test_check_says_a_run_would_refuse_when_a_standby_already_has_a_writer() -> None:
    # Given the orders replica in eu-west-1 promoted by an earlier run (us-west-2 still ready)
    with emulated() as (stack, cli):
        # (as the emulated estate completes a promotion: moto's own leaves the source in place)
        patches.rds_instance("eu-west-1", "orders-eu-west-1").source_db_instance_identifier = None
        # When the plan is checked
        findings = _check(stack, cli, 1)
        # Then it is not ready, as Assess would refuse: promoting us-west-2 would make a second writer
        target = _target(findings)
        assert target["status"] == "BLOCKING"
        assert target["detail"].startswith("orders-eu-west-1 in eu-west-1 already a standalone writer")


def test_check_and_plan_pairs_on_a_data_plane_stack() -> None:
    chosen = scenarios.Scenario.model_validate(
        {
            "name": "server-data-plane",
            "description": "server mode, data-plane plan",
            "expect": {"outcome": "DRY_RUN"},
            "plan": {
                "traffic": {"mode": "data-plane"},
                "regions": {"primary": {"probeUrl": "https://app.us-east-1.example.com/health"}},
            },
            "estate": {"standbys": ["us-west-2"]},
            "trigger": {"raw": None},
        }
    )
    with server.serve(chosen) as stack:
        common = ["--stack", stack.stack_name, "--region", "us-west-2", "--endpoint-url", stack.endpoint_url]
        plan_file = _plan_file(stack)
        # When the deployed data-plane plan is checked
        result = runner.invoke(app, ["check", *common, "--json", "--plan", plan_file])
        assert result.exit_code == 0, result.output
        details = {f"{f['check']}: {f['detail']}" for f in json.loads(result.stdout)["findings"]}
        # Then its serving alarms and failover pairs are found wired, traffic on the PRIMARY
        assert "serving-alarms: no Serving datapoint yet: the pairs answer their PRIMARY (us-east-1)" in details
        (zone,) = stack.deployment.plan.zones
        assert f"failover-pairs: {zone.id}: 3 failover pair(s)" in details
        assert (
            "failover-pairs: recorded as provisioned for this plan (a run without Route 53's API relies on it)"
            in details
        )
        assert not any(d.startswith("records:") for d in details)
        # And the probe: its alarm starts the state machine; no round has run on a served stack yet
        assert any(
            d.startswith("alarm-wiring: rule") and d.endswith("regionshift-orders-probe-unhealthy in ALARM")
            for d in details
        )
        assert (
            "probes: us-east-1: no probe result in the last 120 s: the probe is not running, so runs cannot be "
            "started or decided from the stack region" in details
        )
        # When the pairs are provisioned again
        printed = runner.invoke(app, ["plan", "pairs", plan_file, *common, "--apply"])
        assert printed.exit_code == 0, printed.output
        # Then nothing is deleted (they are pairs already), each pair is upserted, and the change is sent
        batch = json.loads(printed.stdout[: printed.stdout.rindex("}") + 1])["ChangeBatch"]
        assert {c["Action"] for c in batch["Changes"]} == {"UPSERT"} and len(batch["Changes"]) == 6
        *_, sent, recorded = printed.stdout.splitlines()
        assert sent.startswith(f"zone {zone.id}: change ") and recorded.startswith("recorded in ")
        # And check still finds them wired
        again = runner.invoke(app, ["check", *common, "--json", "--plan", plan_file])
        assert f"failover-pairs: {zone.id}: 3 failover pair(s)" in {
            f"{f['check']}: {f['detail']}" for f in json.loads(again.stdout)["findings"]
        }


def test_failback_rebuilds_replicas_of_the_writers_where_the_direction_says_they_are() -> None:
    with emulated() as (stack, cli):
        plan = ["--plan", _plan_file(stack)]
        common = ["--stack", stack.stack_name, "--region", "us-west-2", "--endpoint-url", stack.endpoint_url]
        shown = runner.invoke(app, ["direction", "show", *common, *plan])
        assert "as the plan was written: the writers are in us-east-1" in shown.output
        # Given the writers moved to us-west-2 by hand (promoted there), and recorded so
        rds = client(stack, "rds", "us-west-2")
        for name in ("orders", "accounts"):
            rds.promote_read_replica(DBInstanceIdentifier=f"{name}-us-west-2")
            # moto keeps a promoted instance's source; RDS shows none (the emulator's promotion model
            # clears it for the functions' calls: emulator/estate.py)
            patches.rds_instance("us-west-2", f"{name}-us-west-2").source_db_instance_identifier = None
        moved = runner.invoke(
            app,
            ["direction", "set", *common, *plan, "--primary", "us-west-2", "--operator", "bob", "--reason", "moved"],
        )
        assert moved.exit_code == 0, moved.output
        shown = runner.invoke(app, ["direction", "show", *common, *plan])
        assert "primary: us-west-2; standbys: us-east-1, eu-west-1" in shown.output
        # When failback looks at us-east-1 without --apply: each old primary is standalone, nothing changes
        look = cli("failback", "us-east-1", *plan, "--operator", "bob", "--reason", "home")
        assert look.exit_code == 0, look.output
        assert look.output.count("-> would create a replica of the writer") == 2
        assert "nothing changed" in look.output
        assert len(client(stack, "rds", "us-east-1").describe_db_instances()["DBInstances"]) == 2
        # And the region that holds the writers is refused
        there = cli("failback", "us-west-2", *plan, "--operator", "bob", "--reason", "home")
        assert there.exit_code == 6 and "us-west-2 holds the writers" in there.output
        # When it applies: a replica of each writer in us-east-1, recorded in the direction
        done = cli("failback", "us-east-1", *plan, "--operator", "bob", "--reason", "home", "--apply")
        assert done.exit_code == 0, done.output
        assert "orders: orders-primary-2 in us-east-1 created, replicating orders-us-west-2" in done.output
        shown = runner.invoke(app, ["direction", "show", *common, *plan])
        assert "orders: us-west-2: orders-us-west-2, us-east-1: orders-primary-2, eu-west-1: orders-eu-west-1" in (
            shown.output
        )
        status = cli("status")
        assert "writers:  in us-west-2 since failback by bob" in status.output
