"""Standby-side detection: the probe step (each answer judged as Route 53 judges it, one datapoint per
region in the stack region) and the reader that counts the datapoints as votes."""

import http.client
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from failover.clients import Clients
from failover.errors import TransientAwsError
from failover.models import ProbeInput
from failover.probes import (
    CONNECT_TIMEOUT_SECONDS,
    METRIC,
    READ_TIMEOUT_SECONDS,
    WINDOW_SECONDS,
    ProbeResult,
    ProbeVotes,
)
from failover.runtime import Runtime
from failover.steps.intake import evaluate
from failover.steps.probe import probe
from tests.conftest import ACCOUNT, NOW, PLAN_DOCUMENT, PLAN_ENV
from tests.unit.fakes import alarm, plan_with, settings_for

URLS = {
    "us-east-1": "https://app.us-east-1.example.com/health",
    "us-west-2": "https://app.us-west-2.example.com/health",
    "eu-west-1": "https://app.eu-west-1.example.com/health",
}
PROBED = plan_with(
    regions={
        "primary": {**PLAN_DOCUMENT["regions"]["primary"], "probeUrl": URLS["us-east-1"]},
        "standbys": [{**s, "probeUrl": URLS[s["region"]]} for s in PLAN_DOCUMENT["regions"]["standbys"]],
    }
)
STACK_REGION = "us-west-2"  # the test settings' table is there


class Endpoints:
    """Each URL answers a status, or raises what a dead endpoint raises; the timeouts are recorded."""

    def __init__(self, answers: dict[str, int | Exception]) -> None:
        self.answers = answers
        self.timeouts: list[tuple[float, float]] = []

    def __call__(self, url: str, connect_timeout: float, read_timeout: float) -> int:
        self.timeouts.append((connect_timeout, read_timeout))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _points(region: str, vantage: str = STACK_REGION) -> list[dict[str, Any]]:
    return boto3.client("cloudwatch", region_name=STACK_REGION).get_metric_statistics(
        Namespace="Regionshift",
        MetricName=METRIC,
        Dimensions=[
            {"Name": "Plan", "Value": "orders"},
            {"Name": "Region", "Value": region},
            {"Name": "Vantage", "Value": vantage},
        ],
        StartTime=NOW - timedelta(minutes=5),
        EndTime=NOW + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]


@pytest.mark.parametrize(
    ("answer", "healthy"),
    [
        (200, True),
        (302, True),  # a redirect is an answer (Route 53 counts 2xx and 3xx), not followed
        (404, False),
        (500, False),
        (TimeoutError("timed out"), False),
        (ConnectionRefusedError("refused"), False),
        (http.client.BadStatusLine("garbage"), False),
    ],
    ids=["200", "302", "404", "500", "timeout", "refused", "not-http"],
)
def test_each_region_is_judged_as_route53_judges_it_and_recorded_in_the_stack_region(
    answer: int | Exception, healthy: bool
) -> None:
    with mock_aws():
        # Given a plan that probes every region, the primary answering ``answer`` and the standbys 200
        endpoints = Endpoints({URLS["us-east-1"]: answer, URLS["us-west-2"]: 200, URLS["eu-west-1"]: 200})
        rt = Runtime(settings_for(PROBED), Clients(), http=endpoints)
        # When the schedule runs the probe
        out = probe(ProbeInput.model_validate({"scheduledTime": NOW.isoformat()}), rt, NOW + timedelta(seconds=2))
        # Then every region was asked once, within Route 53's timeouts (4 s to connect, 2 s to answer)
        assert endpoints.timeouts == [(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)] * 3
        assert (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS) == (4.0, 2.0)
        by_region = {a.region: a for a in out.answers}
        assert by_region["us-east-1"].healthy is healthy
        assert by_region["us-west-2"].healthy and by_region["eu-west-1"].healthy
        assert (by_region["us-east-1"].error is None) is isinstance(answer, int)
        # And one datapoint per region went to the stack region, stamped with the scheduled time
        assert out.vantage == STACK_REGION and out.at == NOW
        (primary,) = _points("us-east-1")
        assert (primary["SampleCount"], primary["Sum"]) == (1.0, 1.0 if healthy else 0.0)
        assert [p["Sum"] for p in _points("eu-west-1")] == [1.0]


def test_a_plan_without_probe_urls_probes_nothing() -> None:
    with mock_aws():
        rt = Runtime(settings_for(plan_with()), Clients(), http=Endpoints({}))
        assert probe(ProbeInput(), rt, NOW).answers == []
        assert _points("us-east-1") == []


def _votes(results: list[bool], *, minutes_ago: float = 0.5, percent: int = 18) -> Any:
    with mock_aws():
        probes = ProbeVotes(boto3.client("cloudwatch", region_name=STACK_REGION), "orders", (STACK_REGION,))
        for i, healthy in enumerate(results):
            probes.record(STACK_REGION, [ProbeResult("us-east-1", healthy)], NOW - timedelta(minutes=minutes_ago + i))
        return probes.votes("us-east-1", NOW, percent)


def test_the_last_probe_rounds_are_counted_as_votes() -> None:
    # Given the last two rounds both failing the primary: UNHEALTHY
    failing = _votes([False, False])
    assert (failing.healthy, failing.failing, failing.verdict) == (0, 2, "UNHEALTHY")
    assert failing.health_check_id == "probe:us-east-1"
    # Both healthy: HEALTHY
    assert _votes([True, True]).verdict == "HEALTHY"
    # One of two healthy is 50%, more than 18%: HEALTHY (a failover waits for the results to agree)
    mixed = _votes([True, False])
    assert (mixed.healthy, mixed.failing, mixed.healthy_percent, mixed.verdict) == (1, 1, 50.0, "HEALTHY")
    # The plan's percentage decides, strictly more than
    assert _votes([True, False], percent=50).verdict == "UNHEALTHY"


def test_no_probe_result_in_the_window_is_unknown() -> None:
    # Given results older than the reader's window (the probe stopped): no vote at all
    stale = _votes([False, False], minutes_ago=WINDOW_SECONDS / 60 + 1)
    assert (stale.healthy, stale.failing, stale.healthy_percent, stale.verdict) == (0, 0, None, "UNKNOWN")


def test_a_throttled_read_is_a_transient_error() -> None:
    class Throttled:
        def get_metric_statistics(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricStatistics")

    from failover import clock

    slept: list[float] = []
    clock.use(lambda: NOW, slept.append)
    try:
        with pytest.raises(TransientAwsError, match="Throttling"):
            ProbeVotes(Throttled(), "orders", (STACK_REGION,)).votes("us-east-1", NOW, 18)
    finally:
        clock.use(None)
    assert slept  # retried in the Lambda first, in virtual time


def test_the_runtime_reads_the_probe_results_of_the_stack_region() -> None:
    rt = Runtime(settings_for(PROBED), Clients(factory=lambda service, region_name, config: (service, region_name)))
    assert rt.probes._client == ("cloudwatch", STACK_REGION)
    assert rt.probes._vantages == (STACK_REGION,)


PROBE_ALARM = f"arn:aws:cloudwatch:us-west-2:{ACCOUNT}:alarm:regionshift-orders-probe-unhealthy"


def _alarm_event(arn: str) -> dict[str, Any]:
    return alarm(resources=[arn], region=arn.split(":")[3])


def test_intake_accepts_either_alarm_when_the_primary_is_probed() -> None:
    from failover.settings import Settings

    settings = Settings.from_env({**PLAN_ENV, "PROBE_ALARM_ARN": PROBE_ALARM})
    # Given the probe's alarm event; Then it starts a run, as the Route 53 alarm's does
    assert evaluate(_alarm_event(PROBE_ALARM), settings, NOW).decision == "PROCEED"
    assert evaluate(_alarm_event(PLAN_ENV["ALARM_ARN"]), settings, NOW).decision == "PROCEED"
    # But without a probed primary (PROBE_ALARM_ARN empty) the probe's alarm is another alarm
    unprobed = Settings.from_env(PLAN_ENV)
    refused = evaluate(_alarm_event(PROBE_ALARM), unprobed, NOW)
    assert refused.decision == "REFUSED" and "not this plan's alarm" in refused.reason


@pytest.mark.parametrize("value", ["arn:aws:sns:us-west-2:123456789012:topic", "alarm", " "])
def test_a_malformed_probe_alarm_arn_fails_loudly(value: str) -> None:
    from failover.errors import ConfigurationError
    from failover.settings import Settings

    with pytest.raises(ConfigurationError, match="probe_alarm_arn"):
        Settings.from_env({**PLAN_ENV, "PROBE_ALARM_ARN": value})
