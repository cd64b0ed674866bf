"""Route 53 health checks that follow a CloudWatch alarm (emulator/healthchecks.py over moto)."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from regionshift import drill
from regionshift.emulator import patches
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.emulator.estate import EstateHealth
from regionshift.emulator.healthchecks import metric_check_healthy, metric_status
from regionshift.emulator.scenario import Scenario

ALARM = "app-errors"


def put_alarm(cloudwatch: Any, name: str = ALARM) -> None:
    """The alarm the metric checks follow: one metric, one 60 s period."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="App",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


class World:
    def __init__(self) -> None:
        self.route53 = boto3.client("route53", region_name="us-east-1")
        self.cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        self.down: set[str] = set()

    def alarm(self, name: str = ALARM) -> None:
        put_alarm(self.cloudwatch, name)

    def state(self, value: str, name: str = ALARM) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=value, StateReason="test")

    def check(self, insufficient: str | None = None, **config: Any) -> str:
        config = {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "eu-west-1", "Name": ALARM}, **config}
        if insufficient is not None:
            config["InsufficientDataHealthStatus"] = insufficient
        created = self.route53.create_health_check(
            CallerReference=str(len(config)) + str(id(config)), HealthCheckConfig=config
        )
        return str(created["HealthCheck"]["Id"])

    def healthy(self, check_id: str) -> bool | None:
        return metric_check_healthy(check_id, lambda region: region in self.down)


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws(), patches.applied(Engine(Recorder(VirtualClock()), base_env={})):
        yield World()


# --- CreateHealthCheck / GetHealthCheck ----------------------------------------------------------------


def test_a_metric_check_keeps_its_alarm_and_insufficient_data_status(world: World) -> None:
    world.alarm()
    check_id = world.check("Unhealthy")
    config = world.route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
    assert config["AlarmIdentifier"] == {"Region": "eu-west-1", "Name": ALARM}
    assert config["InsufficientDataHealthStatus"] == "Unhealthy"


def test_a_metric_check_without_a_status_for_insufficient_data_uses_the_last_known_one(world: World) -> None:
    check_id = world.check()
    config = world.route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
    assert config["InsufficientDataHealthStatus"] == "LastKnownStatus"


@pytest.mark.parametrize(
    "config",
    [
        {"Type": "CLOUDWATCH_METRIC"},  # no AlarmIdentifier
        {
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": "eu-west-1", "Name": ALARM},
            "InsufficientDataHealthStatus": "Maybe",
        },
    ],
)
def test_route53_refuses_an_incomplete_metric_check(world: World, config: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as refused:
        world.route53.create_health_check(CallerReference="bad", HealthCheckConfig=config)
    assert refused.value.response["Error"]["Code"] == "InvalidInput"
    assert world.route53.list_health_checks()["HealthChecks"] == []


# --- the check's status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "insufficient", "healthy"),
    [
        (["OK"], "Unhealthy", True),
        (["OK", "ALARM"], "Healthy", False),
        (["ALARM", "INSUFFICIENT_DATA"], "Healthy", True),
        (["OK", "INSUFFICIENT_DATA"], "Unhealthy", False),
        (["OK", "ALARM", "INSUFFICIENT_DATA"], "LastKnownStatus", False),
        (["ALARM", "OK", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"], "LastKnownStatus", True),
        (["INSUFFICIENT_DATA"], "LastKnownStatus", True),  # a new check with no last known status: healthy
        ([], "LastKnownStatus", True),
    ],
)
def test_a_metric_check_follows_its_alarm(states: list[str], insufficient: str, healthy: bool) -> None:
    assert metric_status(states, insufficient) is healthy


def test_the_status_reads_the_alarm_as_cloudwatch_holds_it(world: World) -> None:
    world.alarm()
    last_known, unhealthy = world.check("LastKnownStatus"), world.check("Unhealthy")
    world.state("ALARM")
    assert world.healthy(last_known) is False
    world.state("INSUFFICIENT_DATA")
    # The last decided state was ALARM
    assert world.healthy(last_known) is False and world.healthy(unhealthy) is False
    world.state("OK")
    assert world.healthy(last_known) is True and world.healthy(unhealthy) is True


def test_a_lost_alarm_region_or_a_missing_alarm_is_insufficient_data(world: World) -> None:
    world.alarm()
    world.state("OK")
    healthy_if_unknown, unhealthy_if_unknown, last_known = (
        world.check("Healthy"),
        world.check("Unhealthy"),
        world.check(),
    )
    world.down.add("eu-west-1")
    assert world.healthy(healthy_if_unknown) is True
    assert world.healthy(unhealthy_if_unknown) is False
    assert world.healthy(last_known) is True  # OK when the region was lost
    world.down.clear()
    world.cloudwatch.delete_alarms(AlarmNames=[ALARM])
    assert world.healthy(unhealthy_if_unknown) is False


def test_inverted_and_disabled_checks(world: World) -> None:
    world.alarm()
    world.state("ALARM")
    assert world.healthy(world.check("Healthy", Inverted=True)) is True
    assert world.healthy(world.check("Healthy", Disabled=True)) is True  # "always healthy"


def test_other_checks_are_not_metric_checks(world: World) -> None:
    created = world.route53.create_health_check(
        CallerReference="https", HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "example.com"}
    )
    assert world.healthy(created["HealthCheck"]["Id"]) is None


# --- GetHealthCheckStatus in a drill -------------------------------------------------------------------


def test_every_checker_reports_the_alarms_verdict() -> None:
    scenario = Scenario.model_validate(
        {"name": "metric-check", "description": "d", "expect": {"outcome": None}, "trigger": {"manual": {}}}
    )
    with drill.Session(scenario) as session:
        cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
        put_alarm(cloudwatch)
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")
        check_id = boto3.client("route53", region_name="us-east-1").create_health_check(
            CallerReference="metric",
            HealthCheckConfig={
                "Type": "CLOUDWATCH_METRIC",
                "AlarmIdentifier": {"Region": "us-west-2", "Name": ALARM},
                "InsufficientDataHealthStatus": "Healthy",
            },
        )["HealthCheck"]["Id"]
        estate = session.stack.estate
        answer = estate._model_health("f", "route53", "GetHealthCheckStatus", "aws-global", {"HealthCheckId": check_id})
        assert answer is not None
        reports = [o["StatusReport"]["Status"] for o in answer["HealthCheckObservations"]]
        assert len(reports) == scenario.estate.health.checkers
        assert all(r.startswith("Failure") for r in reports)
        # And DNS answers see the same status
        assert EstateHealth(estate).check(check_id) is False
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="test")
        answer = estate._model_health("f", "route53", "GetHealthCheckStatus", "aws-global", {"HealthCheckId": check_id})
        assert answer is not None
        assert all(o["StatusReport"]["Status"].startswith("Success") for o in answer["HealthCheckObservations"])
        assert EstateHealth(estate).check(check_id) is True
