"""The data-plane traffic mode (failover/traffic.py): the failover pairs a plan's records become, what
Assess checks of them, and UpdateDns / DnsStatus moving traffic with the Serving metric and its alarms
in the stack region, on moto's CloudWatch (Given / When / Then)."""

import copy
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover import traffic
from failover.adapters import Record
from failover.clients import Clients
from failover.errors import DnsSyncTimeoutError
from failover.models import DnsState
from failover.plan import Plan
from failover.runtime import Runtime
from failover.steps.dns_status import dns_status
from failover.steps.update_dns import update_dns
from regionshift.emulator.detection import evaluate_alarms
from tests.conftest import NOW, PLAN_DOCUMENT
from tests.unit.fakes import assessed, settings_for


def _without(value: Any, region: str) -> Any:
    """``value`` with every mention of ``region`` (a key, or a list entry naming it) taken out."""
    if isinstance(value, dict):
        return {k: _without(v, region) for k, v in value.items() if k != region}
    if isinstance(value, list):
        return [_without(v, region) for v in value if not (isinstance(v, dict) and v.get("region") == region)]
    return value


DATA_PLANE = Plan.model_validate(
    {**_without(copy.deepcopy(PLAN_DOCUMENT), "eu-west-1"), "traffic": {"mode": "data-plane"}}
)
CHECKS = {"us-east-1": "11111111-1111-1111-1111-111111111111", "us-west-2": "22222222-2222-2222-2222-222222222222"}


def test_a_data_plane_plan_has_exactly_one_standby() -> None:
    # Given the test plan (two standbys) in data-plane mode
    with pytest.raises(ValueError, match="data-plane mode moves traffic between two regions"):
        Plan.model_validate({**copy.deepcopy(PLAN_DOCUMENT), "traffic": {"mode": "data-plane"}})
    assert DATA_PLANE.standby_regions == ["us-west-2"]


def test_each_record_becomes_a_failover_pair_on_each_regions_serving_check() -> None:
    for _, spec in DATA_PLANE.records:
        primary, secondary = traffic.pair_record_sets(spec, DATA_PLANE, CHECKS)
        # Then the PRIMARY is the primary's target on its check, the SECONDARY the standby's on its own
        assert (primary["Failover"], primary["HealthCheckId"]) == ("PRIMARY", CHECKS["us-east-1"])
        assert (secondary["Failover"], secondary["HealthCheckId"]) == ("SECONDARY", CHECKS["us-west-2"])
        assert primary["SetIdentifier"] != secondary["SetIdentifier"]
        assert {k: v for k, v in primary.items() if k not in ("Failover", "HealthCheckId", "SetIdentifier")} == (
            spec.record_set("us-east-1")
        )


def test_assess_names_every_pair_that_would_not_move_traffic() -> None:
    zone = DATA_PLANE.zones[0]
    good = {
        (spec.name, spec.type): {
            role: Record(spec.name, spec.type, spec.target(region), None, spec.alias, role, CHECKS[region])
            for role, region in (("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2"))
        }
        for spec in zone.records
    }
    assert traffic.pair_problems(zone, good, DATA_PLANE, CHECKS) == []
    # A pair on another health check (the application's, say) would never follow the switch
    other = {k: {r: Record(*v[r].__dict__.values()) for r in v} for k, v in good.items()}
    first_key = next(iter(other))
    primary = other[first_key]["PRIMARY"]
    other[first_key]["PRIMARY"] = Record(
        primary.name, primary.type, primary.value, None, primary.alias, "PRIMARY", "0" * 36
    )
    (problem,) = traffic.pair_problems(zone, other, DATA_PLANE, CHECKS)
    assert "not the stack's serving check of us-east-1" in problem
    # Given one record whose SECONDARY is missing, and one whose PRIMARY points elsewhere and whose
    # SECONDARY has no health check
    first, second = zone.records[:2]
    broken = copy.deepcopy(good)
    del broken[(first.name, first.type)]["SECONDARY"]
    wrong = broken[(second.name, second.type)]["PRIMARY"]
    broken[(second.name, second.type)]["PRIMARY"] = Record(wrong.name, wrong.type, "elsewhere.example.net")
    unchecked = broken[(second.name, second.type)]["SECONDARY"]
    broken[(second.name, second.type)]["SECONDARY"] = Record(
        unchecked.name, unchecked.type, unchecked.value, None, unchecked.alias, "SECONDARY"
    )
    problems = traffic.pair_problems(zone, broken, DATA_PLANE, CHECKS)
    # Then each is named, and nothing else
    assert len(problems) == 3
    assert f"{first.name} (SECONDARY)" in problems[0] and "not found" in problems[0]
    assert "elsewhere.example.net" in problems[1]
    assert "no health check" in problems[2]


@pytest.fixture
def cloudwatch() -> Any:
    """moto's CloudWatch in the stack region with the template's two serving alarms, us-east-1 serving."""
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-west-2")
        for region in DATA_PLANE.region_names:
            client.put_metric_alarm(
                AlarmName=traffic.serving_alarm(DATA_PLANE.name, region),
                Namespace=traffic.serving_namespace(DATA_PLANE.name),
                MetricName=traffic.SERVING_METRIC,
                Dimensions=[{"Name": n, "Value": v} for n, v in traffic.serving_dimensions(region)],
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="LessThanThreshold",
                TreatMissingData="ignore",
            )
            client.set_alarm_state(
                AlarmName=traffic.serving_alarm(DATA_PLANE.name, region),
                StateValue="OK" if region == "us-east-1" else "ALARM",
                StateReason="deployed",
            )
        yield client


class Recording:
    """A client factory that keeps every call's (service, operation) in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str, region_name: str, **kwargs: Any) -> Any:
        client = boto3.client(service, region_name=region_name, **kwargs)
        calls = self.calls

        def record(params: Any, model: Any, **_: Any) -> None:
            calls.append((service, model.name, params))

        client.meta.events.register("provide-client-params", record)
        return client


def test_update_dns_publishes_the_targets_serving_first_and_calls_no_route53(cloudwatch: Any) -> None:
    # Given a data-plane run that moves to us-west-2
    recording = Recording()
    rt = Runtime(settings_for(DATA_PLANE), Clients(recording))
    doc = assessed("us-west-2", plan=DATA_PLANE)
    # When UpdateDns runs
    dns = update_dns(doc, rt, NOW)
    # Then it published us-west-2's 1 in one call, then us-east-1's 0 in the next, in the stack region
    published = [
        (c[2]["MetricData"][0]["Dimensions"][0]["Value"], c[2]["MetricData"][0]["Value"]) for c in recording.calls
    ]
    assert published == [("us-west-2", 1.0), ("us-east-1", 0.0)]
    assert {service for service, _, _ in recording.calls} == {"cloudwatch"}
    assert {c[2]["Namespace"] for c in recording.calls} == {f"Regionshift/Serving/{DATA_PLANE.name}"}
    assert (dns.mode, dns.status) == ("data-plane", "PENDING")
    assert {(s.region, s.wanted) for s in dns.switch} == {("us-west-2", "OK"), ("us-east-1", "ALARM")}
    assert sum(z.records for z in dns.zones) == len(DATA_PLANE.records)


def test_dns_status_waits_for_the_serving_alarms_then_is_in_sync(cloudwatch: Any) -> None:
    rt = Runtime(settings_for(DATA_PLANE), Clients())
    doc = assessed("us-west-2", plan=DATA_PLANE)
    doc.dns = update_dns(doc, rt, NOW)
    # When DnsStatus looks before CloudWatch evaluated the new datapoints
    first = dns_status(doc, rt, NOW)
    assert first.status == "PENDING"
    assert {s.region: s.state for s in first.switch} == {"us-east-1": "OK", "us-west-2": "ALARM"}
    # And after CloudWatch's evaluation of the minute that holds them
    evaluate_alarms(cloudwatch, NOW.replace(second=0, microsecond=0) + timedelta(minutes=1))
    doc.dns = first
    second = dns_status(doc, rt, NOW)
    # Then traffic has moved
    assert second.status == "INSYNC" and all(z.status == "INSYNC" for z in second.zones)
    assert second.polls == 2


def test_dns_status_gives_up_naming_each_alarm_that_did_not_switch(cloudwatch: Any) -> None:
    rt = Runtime(settings_for(DATA_PLANE), Clients())
    doc = assessed("us-west-2", plan=DATA_PLANE)
    dns = update_dns(doc, rt, NOW)
    doc.dns = DnsState.model_validate({**dns.model_dump(), "polls": DATA_PLANE.rails.dns_max_polls - 1})
    with pytest.raises(DnsSyncTimeoutError) as raised:
        dns_status(doc, rt, NOW)
    assert traffic.serving_alarm(DATA_PLANE.name, "us-west-2") in str(raised.value)
    assert "is ALARM, not OK" in str(raised.value)


def test_plan_pairs_refuses_a_simple_record_that_is_not_at_the_primarys_target() -> None:
    # Given a plan record already moved to the standby (an earlier upsert-mode failover)
    zone = DATA_PLANE.zones[0]
    moved = {**zone.records[0].record_set("us-west-2"), "Name": zone.records[0].name + "."}
    # Then no batch is made: a new pair answers its PRIMARY and would send the traffic back
    with pytest.raises(traffic.PairsError, match="would send its traffic back to us-east-1"):
        traffic.pair_changes(zone, DATA_PLANE, CHECKS, [moved])


def test_plan_pairs_deletes_each_simple_plan_record_as_it_stands_and_upserts_the_pairs() -> None:
    zone = DATA_PLANE.zones[0]
    first, second = zone.records[:2]
    simple = {**first.record_set("us-east-1"), "Name": first.name + "."}
    other = {"Name": "other." + zone.name + ".", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "x.net"}]}
    already = {**traffic.pair_record_sets(second, DATA_PLANE, CHECKS)[0], "Name": second.name + "."}
    # Given a zone where the first plan record is still simple, the second already a pair, one other record
    changes = traffic.pair_changes(zone, DATA_PLANE, CHECKS, [simple, other, already])
    # Then only the simple plan record is deleted, exactly as listed, before every pair is upserted
    assert changes[0] == {"Action": "DELETE", "ResourceRecordSet": simple}
    assert [c["Action"] for c in changes[1:]] == ["UPSERT"] * 2 * len(zone.records)
    assert {(c["ResourceRecordSet"]["Name"], c["ResourceRecordSet"]["Failover"]) for c in changes[1:]} == {
        (spec.name, role) for spec in zone.records for role in ("PRIMARY", "SECONDARY")
    }
