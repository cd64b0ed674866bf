"""Route 53's change-batch rules, as the emulator models them on moto (route53.py via patches.py)."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from regionshift.emulator import patches, route53
from regionshift.emulator.engine import Engine, Recorder, VirtualClock

ZONE = "example.com"
ELB_ZONE = "Z35SXDOTRQ7X7K"
LB = "app-primary.us-east-1.elb.amazonaws.com"


class Zone:
    def __init__(self) -> None:
        self.client = boto3.client("route53", region_name="us-east-1")
        self.id = self.client.create_hosted_zone(Name=ZONE, CallerReference="rules")["HostedZone"]["Id"]

    def change(self, *changes: dict[str, Any]) -> None:
        self.client.change_resource_record_sets(HostedZoneId=self.id, ChangeBatch={"Changes": list(changes)})

    def refused(self, *changes: dict[str, Any]) -> dict[str, Any]:
        before = self.records()
        with pytest.raises(ClientError) as refused:
            self.change(*changes)
        assert self.records() == before, "a refused batch changed the zone"
        return refused.value.response

    def records(self) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=self.id)
        return [r for page in pages for r in page["ResourceRecordSets"] if r["Type"] not in ("NS", "SOA")]


@pytest.fixture
def zone() -> Iterator[Zone]:
    with mock_aws(), patches.applied(Engine(Recorder(VirtualClock()), base_env={})):
        yield Zone()


def basic(action: str, name: str, rtype: str, *values: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    records = [{"Value": v} for v in values]
    return {
        "Action": action,
        "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": records, **extra},
    }


def alias(
    action: str, name: str, rtype: str = "A", zone_id: str = ELB_ZONE, target: str = LB, **extra: Any
) -> dict[str, Any]:
    target_set = {"HostedZoneId": zone_id, "DNSName": target, "EvaluateTargetHealth": extra.pop("evaluate", False)}
    return {"Action": action, "ResourceRecordSet": {"Name": name, "Type": rtype, "AliasTarget": target_set, **extra}}


def code_and_messages(response: dict[str, Any]) -> tuple[str, str]:
    return response["Error"]["Code"], response["Error"]["Message"]


def test_a_valid_batch_is_applied_whole_and_alias_targets_list_as_route53_returns_them(zone: Zone) -> None:
    # Given an empty zone
    # When one batch creates an alias A, an alias AAAA and a CNAME
    zone.change(
        alias("CREATE", "app.example.com", "A"),
        alias("CREATE", "app.example.com", "AAAA"),
        basic("CREATE", "db.example.com", "CNAME", "orders.abc.us-east-1.rds.amazonaws.com"),
    )
    # Then all three are listed; alias targets carry the trailing dot and no TTL
    target = {"HostedZoneId": ELB_ZONE, "DNSName": LB + ".", "EvaluateTargetHealth": False}
    assert zone.records() == [
        {"Name": "app.example.com.", "Type": "A", "AliasTarget": target},
        {"Name": "app.example.com.", "Type": "AAAA", "AliasTarget": target},
        {
            "Name": "db.example.com.",
            "Type": "CNAME",
            "TTL": 60,
            "ResourceRecords": [{"Value": "orders.abc.us-east-1.rds.amazonaws.com"}],
        },
    ]


def test_a_cname_at_the_apex_is_refused(zone: Zone) -> None:
    response = zone.refused(basic("CREATE", "example.com.", "CNAME", "elsewhere.example.net"))
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com.]",
    )


def test_a_cname_beside_another_type_is_refused_in_either_order(zone: Zone) -> None:
    # Given an alias A at app and a CNAME at db
    zone.change(alias("CREATE", "app.example.com", "A"), basic("CREATE", "db.example.com", "CNAME", "x.example.net"))
    # When a CNAME is added at app, Then it conflicts with the A record
    response = zone.refused(basic("UPSERT", "App.Example.com", "CNAME", "y.example.net"))
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[RRSet of type CNAME with DNS name App.Example.com. is not permitted as it conflicts with other records "
        "with the same DNS name in zone example.com.]",
    )
    # When a TXT record is added beside the CNAME at db, Then it conflicts with the CNAME
    response = zone.refused(basic("CREATE", "db.example.com", "TXT", '"v=1"'))
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[RRSet of type TXT with DNS name db.example.com. is not permitted because a conflicting RRSet of type "
        "CNAME with the same DNS name already exists in zone example.com.]",
    )


def test_a_type_change_needs_the_delete_first_in_the_same_batch(zone: Zone) -> None:
    # Given an alias A record
    zone.change(alias("CREATE", "app.example.com", "A"))
    # When the CNAME is created before the A record is deleted, Then Route 53 (which applies in order) refuses
    cname = basic("CREATE", "app.example.com", "CNAME", "app.example.net")
    assert zone.refused(cname, alias("DELETE", "app.example.com", "A"))["Error"]["Code"] == "InvalidChangeBatch"
    # When the A record is deleted first, Then the batch replaces it
    zone.change(alias("DELETE", "app.example.com", "A"), cname)
    assert [(r["Name"], r["Type"]) for r in zone.records()] == [("app.example.com.", "CNAME")]


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (alias("CREATE", "app.example.com", TTL=60), "more than one"),
        (alias("UPSERT", "app.example.com", ResourceRecords=[{"Value": "192.0.2.1"}]), "more than one"),
        ({"Action": "CREATE", "ResourceRecordSet": {"Name": "app.example.com", "Type": "A"}}, "none"),
        ({"Action": "CREATE", "ResourceRecordSet": {"Name": "app.example.com", "Type": "A", "TTL": 60}}, "none"),
    ],
)
def test_an_alias_with_a_ttl_or_records_and_a_basic_record_without_them_are_invalid_input(
    zone: Zone, change: dict[str, Any], found: str
) -> None:
    # Given a batch whose first change is valid and whose second is malformed
    response = zone.refused(basic("CREATE", "ok.example.com", "A", "192.0.2.9"), change)
    # Then nothing is applied and Route 53's InvalidInput message names the change
    assert code_and_messages(response) == (
        "InvalidInput",
        "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or "
        f"TrafficPolicyInstanceId], but found {found} in Change with "
        f"[Action={change['Action']}, Name=app.example.com, Type=A, SetIdentifier=null]",
    )


def test_evaluate_target_health_is_refused_for_a_cloudfront_alias(zone: Zone) -> None:
    cdn = "d111111abcdef8.cloudfront.net"
    response = zone.refused(
        alias("CREATE", "www.example.com", zone_id=route53.CLOUDFRONT_ZONE_ID, target=cdn, evaluate=True)
    )
    code, message = code_and_messages(response)
    assert code == "InvalidChangeBatch" and "EvaluateTargetHealth" in message and cdn + "." in message
    # The same alias without target health is accepted
    zone.change(alias("CREATE", "www.example.com", zone_id=route53.CLOUDFRONT_ZONE_ID, target=cdn))


def test_create_of_an_existing_record_and_delete_of_a_missing_or_different_one_are_refused(zone: Zone) -> None:
    # Given db as a CNAME
    zone.change(basic("CREATE", "db.example.com", "CNAME", "a.example.net"))
    # When it is created again with another value (moto alone would keep two record sets)
    response = zone.refused(basic("CREATE", "db.example.com.", "CNAME", "b.example.net"))
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[Tried to create resource record set [name='db.example.com.', type='CNAME'] but it already exists]",
    )
    # When a missing record, or the record with other values, is deleted
    response = zone.refused(basic("DELETE", "www.example.com", "CNAME", "a.example.net"))
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[Tried to delete resource record set [name='www.example.com.', type='CNAME'] but it was not found]",
    )
    response = zone.refused(basic("DELETE", "db.example.com", "CNAME", "a.example.net", ttl=300))
    assert "but the values provided do not match the current values" in response["Error"]["Message"]
    # Then the same record deleted twice in one batch is refused too (the second finds nothing)
    delete = basic("DELETE", "db.example.com", "CNAME", "a.example.net")
    assert zone.refused(delete, delete)["Error"]["Code"] == "InvalidChangeBatch"
    zone.change(delete)
    assert zone.records() == []


def test_failover_records_are_deleted_by_name_type_and_set_identifier(zone: Zone) -> None:
    # Given primary/secondary failover aliases at app and a primary at api
    def failover(action: str, name: str, role: str) -> dict[str, Any]:
        return alias(action, name, SetIdentifier=role.lower(), Failover=role)

    zone.change(
        failover("CREATE", "app.example.com", "PRIMARY"),
        failover("CREATE", "app.example.com", "SECONDARY"),
        failover("CREATE", "api.example.com", "PRIMARY"),
    )
    # When app's primary is deleted (moto alone deletes every record with that set identifier)
    zone.change(failover("DELETE", "app.example.com", "PRIMARY"))
    # Then only that one record set is gone
    assert sorted((r["Name"], r["SetIdentifier"]) for r in zone.records()) == [
        ("api.example.com.", "primary"),
        ("app.example.com.", "secondary"),
    ]


def test_a_record_outside_the_zone_refuses_the_whole_batch(zone: Zone) -> None:
    response = zone.refused(
        basic("CREATE", "a.example.com", "A", "192.0.2.1"), basic("CREATE", "a.example.org", "A", "192.0.2.1")
    )
    assert code_and_messages(response) == (
        "InvalidChangeBatch",
        "[RRSet with DNS name a.example.org. is not permitted in zone example.com.]",
    )


def test_every_message_of_a_batch_is_reported(zone: Zone) -> None:
    response = zone.refused(
        basic("CREATE", "example.com", "CNAME", "x.example.net"),
        basic("DELETE", "gone.example.com", "A", "192.0.2.1"),
    )
    assert response["messages"] == [
        "RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com.",
        "Tried to delete resource record set [name='gone.example.com.', type='A'] but it was not found",
    ]


# --- quotas ---------------------------------------------------------------------------------------


def _txt(action: str, index: int, *values: str) -> dict[str, Any]:
    return basic(action, f"t{index}.example.com", "TXT", *values)


@pytest.mark.parametrize(
    ("action", "per_change", "accepted"),
    [("CREATE", 1000, True), ("CREATE", 1001, False), ("UPSERT", 500, True), ("UPSERT", 501, False)],
)
def test_at_most_1000_resource_records_upsert_counting_twice(
    zone: Zone, action: str, per_change: int, accepted: bool
) -> None:
    # Route 53 Developer Guide, Quotas: 1,000 ResourceRecord elements; UPSERT counts each twice.
    changes = [_txt(action, i, f'"{i}"') for i in range(per_change)]
    if accepted:
        zone.change(*changes)
        assert len(zone.records()) == per_change
        return
    assert zone.refused(*changes)["Error"]["Code"] == "InvalidChangeBatch"


@pytest.mark.parametrize(
    ("action", "characters", "accepted"),
    [("CREATE", 32_000, True), ("CREATE", 32_001, False), ("UPSERT", 16_000, True), ("UPSERT", 16_001, False)],
)
def test_at_most_32000_value_characters_upsert_counting_twice(
    zone: Zone, action: str, characters: int, accepted: bool
) -> None:
    # Values of 200 characters (the last one shorter), each in its own TXT record set.
    sizes = [200] * (characters // 200) + ([characters % 200] if characters % 200 else [])
    changes = [_txt(action, i, "x" * size) for i, size in enumerate(sizes)]
    if accepted:
        zone.change(*changes)
        return
    response = zone.refused(*changes)
    assert code_and_messages(response) == ("InvalidChangeBatch", "[Number of characters limit of 32000 exceeded.]")
