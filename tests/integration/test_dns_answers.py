"""What clients resolve (emulator/dns.py): Route 53's choice of record from the records and their health."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from regionshift.emulator import dns, patches
from regionshift.emulator.engine import Engine, Recorder, VirtualClock

ELB_ZONE = "Z35SXDOTRQ7X7K"
PRIMARY_LB = "dualstack.app-us-east-1.us-east-1.elb.amazonaws.com"
STANDBY_LB = "dualstack.app-us-west-2.us-west-2.elb.amazonaws.com"


@dataclass
class Health:
    """A health oracle with fixed answers; it records what it was asked."""

    checks: dict[str, bool] = field(default_factory=dict)
    targets: dict[str, bool] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def check(self, health_check_id: str) -> bool:
        self.asked.append(health_check_id)
        return self.checks[health_check_id]

    def target(self, hosted_zone_id: str, dns_name: str) -> bool:
        self.asked.append(dns_name)
        return self.targets[dns_name]


@pytest.fixture
def zone() -> Iterator[Any]:
    with mock_aws(), patches.applied(Engine(Recorder(VirtualClock()), base_env={})):
        client = boto3.client("route53", region_name="us-east-1")
        zone_id = client.create_hosted_zone(Name="example.com", CallerReference="dns")["HostedZone"]["Id"]

        def create(*record_sets: dict[str, Any]) -> None:
            changes = [{"Action": "CREATE", "ResourceRecordSet": r} for r in record_sets]
            client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})

        yield create


def basic(name: str, *values: str, rtype: str = "A", **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": rtype, "TTL": 60, "ResourceRecords": [{"Value": v} for v in values], **extra}


def alias(name: str, target: str, evaluate: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "A",
        "AliasTarget": {"HostedZoneId": ELB_ZONE, "DNSName": target, "EvaluateTargetHealth": evaluate},
        **extra,
    }


def pair(primary: dict[str, Any], secondary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {**primary, "Failover": "PRIMARY", "SetIdentifier": "primary"},
        {**secondary, "Failover": "SECONDARY", "SetIdentifier": "secondary"},
    )


# --- simple records ----------------------------------------------------------------------------------


def test_a_simple_record_answers_its_values(zone: Any) -> None:
    zone(
        basic("www.example.com", "192.0.2.1", "192.0.2.2"),
        basic("db.example.com", "orders.rds.example.", rtype="CNAME"),
    )
    got = dns.answer("WWW.example.com.", "A", Health())
    assert got is not None and got.values == ["192.0.2.1", "192.0.2.2"] and not got.alias
    cname = dns.answer("db.example.com", "CNAME", Health())
    assert cname is not None and cname.values == ["orders.rds.example."]


def test_a_simple_alias_answers_its_target_even_when_the_target_is_unhealthy(zone: Any) -> None:
    # Given the only record of its group, an alias whose target is unhealthy
    zone(alias("example.com", PRIMARY_LB + "."))
    health = Health(targets={PRIMARY_LB: False})
    # Then it is answered: a group whose records are all unhealthy is answered as if all were healthy
    got = dns.answer("example.com", "A", health)
    assert got is not None and got.values == [PRIMARY_LB] and got.alias and got.failover is None


def test_no_record_no_answer(zone: Any) -> None:
    zone(basic("www.example.com", "192.0.2.1"))
    assert dns.answer("api.example.com", "A", Health()) is None
    assert dns.answer("www.example.com", "AAAA", Health()) is None
    assert dns.answer("www.example.org", "A", Health()) is None  # no hosted zone for it


# --- failover pairs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary", "secondary", "answered"),
    [
        (True, True, "PRIMARY"),
        (True, False, "PRIMARY"),
        (False, True, "SECONDARY"),
        (False, False, "PRIMARY"),  # none healthy: all are considered healthy, the primary is chosen
    ],
)
def test_a_failover_pair_answers_the_healthy_record_primary_first(
    zone: Any, primary: bool, secondary: bool, answered: str
) -> None:
    zone(
        *pair(
            basic("api.example.com", "192.0.2.1", HealthCheckId="hc-1"),
            basic("api.example.com", "198.51.100.1", HealthCheckId="hc-2"),
        )
    )
    got = dns.answer("api.example.com", "A", Health(checks={"hc-1": primary, "hc-2": secondary}))
    assert got is not None and got.failover == answered
    assert got.values == (["192.0.2.1"] if answered == "PRIMARY" else ["198.51.100.1"])


def test_a_secondary_without_health_check_is_always_healthy(zone: Any) -> None:
    zone(*pair(basic("api.example.com", "192.0.2.1", HealthCheckId="hc-1"), basic("api.example.com", "198.51.100.1")))
    got = dns.answer("api.example.com", "A", Health(checks={"hc-1": False}))
    assert got is not None and got.failover == "SECONDARY"


def test_an_alias_pair_follows_its_targets_health_when_it_evaluates_it(zone: Any) -> None:
    # Given alias records to each region's load balancer, evaluating target health, no health checks
    zone(*pair(alias("example.com", PRIMARY_LB), alias("example.com", STANDBY_LB)))
    # When the primary's load balancer is unhealthy, Then clients resolve the standby's
    got = dns.answer("example.com", "A", Health(targets={PRIMARY_LB: False, STANDBY_LB: True}))
    assert got is not None and got.values == [STANDBY_LB] and got.set_identifier == "secondary"
    # And while it is healthy, the primary's
    got = dns.answer("example.com", "A", Health(targets={PRIMARY_LB: True, STANDBY_LB: True}))
    assert got is not None and got.values == [PRIMARY_LB]


def test_an_alias_that_does_not_evaluate_its_target_is_healthy_without_asking(zone: Any) -> None:
    zone(*pair(alias("example.com", PRIMARY_LB, evaluate=False), alias("example.com", STANDBY_LB)))
    health = Health()
    got = dns.answer("example.com", "A", health)
    assert got is not None and got.failover == "PRIMARY" and health.asked == []


def test_a_health_check_and_the_target_must_both_be_healthy(zone: Any) -> None:
    zone(*pair(alias("example.com", PRIMARY_LB, HealthCheckId="hc-1"), alias("example.com", STANDBY_LB)))
    got = dns.answer("example.com", "A", Health(checks={"hc-1": True}, targets={PRIMARY_LB: False, STANDBY_LB: True}))
    assert got is not None and got.failover == "SECONDARY"


def test_other_routing_policies_are_refused_loudly(zone: Any) -> None:
    zone(
        basic("api.example.com", "192.0.2.1", SetIdentifier="a", Weight=1),
        basic("api.example.com", "192.0.2.2", SetIdentifier="b", Weight=2),
    )
    with pytest.raises(dns.UnmodelledRoutingError, match=r"api\.example\.com A"):
        dns.answer("api.example.com", "A", Health())
