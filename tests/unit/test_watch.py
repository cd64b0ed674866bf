"""The Watch step: after the writers moved, the detection alarms watch the new primary."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from failover.adapters import CloudWatch
from failover.clients import Clients
from failover.runtime import Runtime
from failover.steps.watch import watch
from tests.conftest import ACCOUNT, NOW, PLAN, PLAN_ENV
from tests.unit.fakes import assessed, settings_for, virtual_sleeps

FAILED_OVER = {"outcome": "FAILED_OVER", "reason": "moved", "promoted": ["orders-us-west"]}
PROBE_ARN = f"arn:aws:cloudwatch:us-west-2:{ACCOUNT}:alarm:regionshift-orders-probe-unhealthy"


def _alarm(region: str, name: str, dimension: str, value: str) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_alarm(
        AlarmName=name,
        AlarmDescription="the primary's health",
        Namespace="AWS/Route53" if dimension == "HealthCheckId" else "Regionshift",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": dimension, "Value": value}, {"Name": "Other", "Value": "kept"}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:alerts"],
    )


def _described(region: str, name: str) -> dict[str, Any]:
    return dict(boto3.client("cloudwatch", region_name=region).describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


def _runtime(probe_arn: str = "") -> Runtime:
    from failover.settings import Settings

    settings = Settings.from_env({**PLAN_ENV, "PROBE_ALARM_ARN": probe_arn})
    return Runtime(settings, Clients())


@mock_aws
def test_the_route53_alarm_is_pointed_at_the_new_primarys_health_check_every_setting_kept() -> None:
    _alarm("us-east-1", "regionshift-primary-unhealthy", "HealthCheckId", PLAN.health_check("us-east-1"))
    before = _described("us-east-1", "regionshift-primary-unhealthy")
    result = watch(assessed("us-west-2", PLAN, result=FAILED_OVER), _runtime(), NOW)
    (moved,) = result.alarms
    assert (moved.before, moved.after, moved.note) == (
        PLAN.health_check("us-east-1"),
        PLAN.health_check("us-west-2"),
        None,
    )
    after = _described("us-east-1", "regionshift-primary-unhealthy")
    assert after["Dimensions"] == [
        {"Name": "HealthCheckId", "Value": PLAN.health_check("us-west-2")},
        {"Name": "Other", "Value": "kept"},
    ]
    kept = ("AlarmDescription", "Threshold", "EvaluationPeriods", "TreatMissingData", "AlarmActions", "Statistic")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    # A retry finds it done and writes nothing
    again = watch(assessed("us-west-2", PLAN, result=FAILED_OVER), _runtime(), NOW)
    assert (again.alarms[0].before, again.alarms[0].after) == (PLAN.health_check("us-west-2"), None)


@mock_aws
def test_the_probe_alarm_follows_only_to_a_region_the_probe_watches() -> None:
    _alarm("us-east-1", "regionshift-primary-unhealthy", "HealthCheckId", PLAN.health_check("us-east-1"))
    _alarm("us-west-2", "regionshift-orders-probe-unhealthy", "Region", "us-east-1")
    # The example plan gives no region a probeUrl: the probe cannot watch us-west-2
    result = watch(assessed("us-west-2", PLAN, result=FAILED_OVER), _runtime(PROBE_ARN), NOW)
    probe = result.alarms[1]
    assert probe.note == "us-west-2 has no probeUrl: the probe cannot watch it" and probe.after is None
    assert _described("us-west-2", "regionshift-orders-probe-unhealthy")["Dimensions"][0]["Value"] == "us-east-1"


@mock_aws
def test_a_run_that_moved_nothing_leaves_detection_alone() -> None:
    _alarm("us-east-1", "regionshift-primary-unhealthy", "HealthCheckId", PLAN.health_check("us-east-1"))
    refused = assessed("us-west-2", PLAN, result={"outcome": "REFUSED", "reason": "no"})
    assert watch(refused, _runtime(), NOW).alarms == []


@mock_aws
def test_a_missing_alarm_is_said_not_created() -> None:
    (alarm,) = watch(assessed("us-west-2", PLAN, result=FAILED_OVER), _runtime(), NOW).alarms
    assert alarm.note == "no alarm regionshift-primary-unhealthy in us-east-1"


def test_an_alarm_region_that_does_not_answer_is_recorded_for_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    class Lost:
        def describe_alarms(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")

    rt = Runtime(settings_for(PLAN), Clients(), cloudwatch={"us-east-1": CloudWatch(Lost())})
    with virtual_sleeps():
        (alarm,) = watch(assessed("us-west-2", PLAN, result=FAILED_OVER), rt, NOW).alarms
    assert alarm.note is not None and alarm.note.startswith(
        f"us-east-1 did not answer: point it at {PLAN.health_check('us-west-2')} when it does"
    )


@mock_aws
def test_the_page_says_where_detection_now_looks_and_what_to_point_by_hand() -> None:
    from failover.notification import watch_lines

    _alarm("us-east-1", "regionshift-primary-unhealthy", "HealthCheckId", PLAN.health_check("us-east-1"))
    _alarm("us-west-2", "regionshift-orders-probe-unhealthy", "Region", "us-east-1")
    doc = assessed("us-west-2", PLAN, result=FAILED_OVER)
    doc.watch = watch(doc, _runtime(PROBE_ARN), NOW)
    assert watch_lines(doc) == [
        f"Detection: alarm regionshift-primary-unhealthy (us-east-1) now watches {PLAN.health_check('us-west-2')} "
        f"(was {PLAN.health_check('us-east-1')})",
        "Detection: alarm regionshift-orders-probe-unhealthy (us-west-2) NOT re-pointed: us-west-2 has no probeUrl: "
        "the probe cannot watch it",
    ]
    doc.watch = doc.watch.model_copy(update={"error": "Sandbox.Timedout", "alarms": []})
    assert watch_lines(doc)[0].startswith("Detection NOT re-pointed (Sandbox.Timedout)")
