"""Unit tests of the steps from the point of no return on (Given / When / Then): Promote and
PromotionStatus (one iteration of the promotion Map each), UpdateDns on moto's Route 53, DnsStatus
and Rollback on fakes."""

import copy
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover.adapters import Route53
from failover.clients import Clients
from failover.errors import (
    DnsSyncTimeoutError,
    DnsUpdateError,
    PromotionError,
    PromotionTimeoutError,
    TransientAwsError,
)
from failover.models import DnsState, Outcome, PromotionItem
from failover.plan import Plan
from failover.runtime import Runtime
from failover.state import RunFact
from failover.steps.dns_status import dns_status
from failover.steps.promote import promote
from failover.steps.promotion_status import promotion_status
from failover.steps.rollback import rollback
from failover.steps.update_dns import update_dns
from tests.conftest import NOW, PLAN, PLAN_DOCUMENT
from tests.unit.fakes import (
    EXECUTION,
    OTHER_ZONE,
    WAITS,
    Estate,
    MemoryStore,
    assessed,
    document,
    plan_with,
    settings_for,
    virtual_sleeps,
)

RUN = EXECUTION["id"]

# --- Promote and PromotionStatus: one replica per Map iteration ------------------------------------


def item(identifier: str = "orders-usw2", promotion: dict[str, Any] | None = None) -> PromotionItem:
    """The Map's item for one replica of the test plan (its database and region looked up)."""
    ((database, region),) = [
        (db.name, region) for db in PLAN.databases for region, name in db.replicas.items() if name == identifier
    ]
    replica = {"identifier": identifier, "database": database, "region": region, "exists": True, "status": "available"}
    return PromotionItem.model_validate(
        {"execution": EXECUTION, "waits": WAITS, "replica": replica, "promotion": promotion}
    )


def test_promotion_is_idempotent_and_its_request_is_a_run_fact_per_replica() -> None:
    # Given two replicas of the target region promoted by two Map iterations, the first one twice
    estate, store = Estate(), MemoryStore()
    rt = estate.runtime(store)
    first = promote(item("orders-usw2"), rt, NOW)
    again = promote(item("orders-usw2"), rt, NOW)  # a retry after a lost response
    other = promote(item("accounts-usw2"), rt, NOW)
    # Then RDS promoted each once, in the replica's region, and the retry counts as already promoted
    assert (first.already_promoted, again.already_promoted, other.already_promoted) == (False, True, False)
    assert estate.called("PromoteReadReplica") == [
        ("us-west-2", "orders-usw2"),
        ("us-west-2", "orders-usw2"),
        ("us-west-2", "accounts-usw2"),
    ]
    assert (first.identifier, first.database, first.region) == ("orders-usw2", "orders", "us-west-2")
    # And each request was written before the call, keyed by its identifier
    for identifier in ("orders-usw2", "accounts-usw2"):
        fact = store.run_fact(RUN, RunFact.PROMOTION_REQUESTED, key=identifier)
        assert (fact["identifier"], fact["region"]) == (identifier, "us-west-2")
    assert store.run_fact(RUN, RunFact.PROMOTION_REQUESTED) is None
    assert store.run_fact(RUN, RunFact.PROMOTION_REQUESTED, key="orders-euw1") is None


def test_a_replica_of_another_region_is_promoted_in_its_own_region() -> None:
    estate = Estate()
    promote(item("accounts-euw1"), estate.runtime(MemoryStore()), NOW)
    assert estate.called("PromoteReadReplica") == [("eu-west-1", "accounts-euw1")]
    assert estate.replicas["accounts-euw1"]["source"] is None and estate.replicas["accounts-usw2"]["source"]


def test_promotion_refused_by_rds_is_a_promotion_error_and_the_request_is_kept() -> None:
    estate, store = Estate(), MemoryStore()
    estate.promote_error = "InvalidParameterCombination"
    with pytest.raises(PromotionError, match="InvalidParameterCombination"):
        promote(item(), estate.runtime(store), NOW)
    # Rollback must still learn that this run asked: the response may have been lost, not the request
    assert store.run_fact(RUN, RunFact.PROMOTION_REQUESTED, key="orders-usw2") is not None


def test_throttling_is_transient() -> None:
    estate = Estate()
    estate.promote_error = "Throttling"
    with virtual_sleeps() as slept, pytest.raises(TransientAwsError, match="PromoteReadReplica orders-usw2"):
        promote(item(), estate.runtime(MemoryStore()), NOW)
    assert slept  # retried in the Lambda first, in virtual time


def test_promotion_polls_are_bounded() -> None:
    estate = Estate()
    estate.replicas["orders-usw2"].update(status="modifying")
    rt = estate.runtime()
    promotion = {"at": NOW.isoformat(), "identifier": "orders-usw2", "database": "orders", "region": "us-west-2"}
    state = promotion_status(item(promotion={**promotion, "alreadyPromoted": False, "polls": 178}), rt, NOW)
    assert (state.polls, state.available, state.status) == (179, False, "modifying")
    with pytest.raises(PromotionTimeoutError, match=r"orders-usw2 in us-west-2 still modifying .* after 180 polls"):
        promotion_status(item(promotion={**promotion, "alreadyPromoted": False, "polls": 179}), rt, NOW)


def test_a_promotion_is_done_when_the_replica_is_a_standalone_available_writer() -> None:
    estate = Estate()
    estate.replicas["accounts-euw1"].update(source=None)
    rt = estate.runtime()
    promotion = {"at": NOW.isoformat(), "identifier": "accounts-euw1", "database": "accounts", "region": "eu-west-1"}
    state = promotion_status(item("accounts-euw1", {**promotion, "alreadyPromoted": False}), rt, NOW)
    assert (state.identifier, state.database, state.region, state.available, state.polls) == (
        "accounts-euw1",
        "accounts",
        "eu-west-1",
        True,
        1,
    )
    assert estate.called("DescribeDBInstances") == [("eu-west-1", "accounts-euw1")]


# --- UpdateDns on moto's Route 53: three zones, alias and CNAME records -----------------------------

# A third zone whose one record already points at us-west-2 (nothing to send for it).
SETTLED_ZONE: dict[str, Any] = {
    "name": "example.net",
    "records": [
        {
            "name": "app.example.net",
            "type": "CNAME",
            "ttl": 30,
            "targets": {r: f"app.{r}.example.net" for r in ("us-east-1", "us-west-2", "eu-west-1")},
        }
    ],
}


class Recording:
    """A boto3 client whose calls are recorded (operation, parameters)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def recorded(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return recorded

    def batches(self) -> dict[str, list[dict[str, Any]]]:
        """Each zone's change batches, in order."""
        found: dict[str, list[dict[str, Any]]] = {}
        for name, kwargs in self.calls:
            if name == "change_resource_record_sets":
                found.setdefault(kwargs["HostedZoneId"], []).append(kwargs["ChangeBatch"])
        return found


def _create_zone(client: Any, name: str, record_sets: list[dict[str, Any]]) -> str:
    zone_id = str(client.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]).split("/")[-1]
    changes = [{"Action": "UPSERT", "ResourceRecordSet": rrset} for rrset in record_sets]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id


@pytest.fixture
def zones() -> Any:
    """Three hosted zones on moto with the plan's records at their us-east-1 targets, but the third
    zone's, already at its us-west-2 target."""
    with mock_aws():
        client = boto3.client("route53", region_name="us-east-1")
        specs = [PLAN_DOCUMENT["zones"][0], OTHER_ZONE, SETTLED_ZONE]
        ids = []
        for spec, region in zip(specs, ("us-east-1", "us-east-1", "us-west-2"), strict=True):
            draft = Plan.model_validate({**PLAN_DOCUMENT, "zones": [{**spec, "id": "ZDRAFT"}]})
            ids.append(_create_zone(client, spec["name"], [r.record_set(region) for r in draft.zones[0].records]))
        plan = plan_with(zones=[{**spec, "id": zone_id} for spec, zone_id in zip(specs, ids, strict=True)])
        recording, store = Recording(client), MemoryStore()
        rt = Runtime(settings_for(plan), Clients(), route53=Route53(recording), store=store)  # type: ignore[arg-type]
        recording.calls.clear()
        yield SimpleNamespace(rt=rt, plan=plan, ids=ids, client=client, recording=recording, store=store)


def listed(zones: Any, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    sets = zones.client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(s["Name"].rstrip("."), s["Type"]): s for s in sets if s["Type"] not in ("NS", "SOA")}


def test_dns_is_captured_then_moved_with_one_change_batch_per_zone(zones: Any) -> None:
    first, second, settled = zones.ids
    # When UpdateDns moves the run to us-west-2
    result = update_dns(assessed("us-west-2", zones.plan), zones.rt, NOW)
    # Then each zone with records to move got one batch; the zone already at its targets got none
    batches = zones.recording.batches()
    assert list(batches) == [first, second] and all(len(b) == 1 for b in batches.values())
    # Alias record sets carry an AliasTarget and no TTL; CNAMEs their TTL and value
    ((batch,),) = [batches[first]]
    sent = {c["ResourceRecordSet"]["Name"]: c["ResourceRecordSet"] for c in batch["Changes"]}
    assert {c["Action"] for c in batch["Changes"]} == {"UPSERT"}
    assert sent["example.com"] == {
        "Name": "example.com",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z1H1FL5HABSF5",
            "DNSName": "dualstack.app-usw2.us-west-2.elb.amazonaws.com",
            "EvaluateTargetHealth": True,
        },
    }
    assert sent["db.example.com"] == {
        "Name": "db.example.com",
        "Type": "CNAME",
        "TTL": 60,
        "ResourceRecords": [{"Value": "orders-usw2.abc.us-west-2.rds.amazonaws.com"}],
    }
    ((other,),) = [batches[second]]
    assert sorted(c["ResourceRecordSet"]["Type"] for c in other["Changes"]) == ["A", "AAAA", "CNAME"]
    assert all(
        "TTL" not in c["ResourceRecordSet"] for c in other["Changes"] if c["ResourceRecordSet"]["Type"] != "CNAME"
    )
    # And Route 53 now holds the us-west-2 targets
    assert listed(zones, first)[("example.com", "A")]["AliasTarget"]["DNSName"].rstrip(".") == (
        "dualstack.app-usw2.us-west-2.elb.amazonaws.com"
    )
    assert listed(zones, second)[("www.example.org", "CNAME")]["ResourceRecords"] == [
        {"Value": "www.us-west-2.example.net"}
    ]
    # The document: every change shown with its zone, one entry per zone
    assert [(c.zone_id, c.name, c.before, c.after) for c in result.changes if c.zone_id == first] == [
        (
            first,
            "example.com",
            "ALIAS dualstack.app-use1.us-east-1.elb.amazonaws.com",
            "ALIAS dualstack.app-usw2.us-west-2.elb.amazonaws.com",
        ),
        (
            first,
            "db.example.com",
            "orders-primary.abc.us-east-1.rds.amazonaws.com",
            "orders-usw2.abc.us-west-2.rds.amazonaws.com",
        ),
    ]
    assert [(z.zone_id, z.status, z.records, z.change_id is None) for z in result.zones] == [
        (first, "PENDING", 2, False),
        (second, "PENDING", 3, False),
        (settled, "INSYNC", 0, True),
    ]
    assert result.status == "PENDING"
    # And the records as they were are kept per zone, before any change
    assert [c["name"] for c in zones.store.run_fact(RUN, RunFact.DNS_BEFORE, key=first)] == [
        "example.com",
        "db.example.com",
    ]
    assert zones.store.run_fact(RUN, RunFact.DNS_BEFORE, key=settled) == []


def test_records_are_read_once_per_zone(zones: Any) -> None:
    update_dns(assessed("us-west-2", zones.plan), zones.rt, NOW)
    reads = [kw["HostedZoneId"] for name, kw in zones.recording.calls if name == "list_resource_record_sets"]
    assert reads == zones.ids


def test_a_retried_dns_update_resends_every_zones_captured_changes(zones: Any) -> None:
    # Given a first attempt whose answer was lost (its changes were applied)
    doc = assessed("us-west-2", zones.plan)
    update_dns(doc, zones.rt, NOW)
    first_batches = zones.recording.batches()
    zones.recording.calls.clear()
    # When the step runs again
    again = update_dns(doc, zones.rt, NOW)
    # Then every zone's captured changes are sent again (a change to wait for: the lost one may be
    # PENDING), with the first capture's "before", although the records already show the new values
    assert zones.recording.batches() == first_batches
    assert again.status == "PENDING" and all(z.change_id for z in again.zones[:2])
    assert again.changes[0].before == "ALIAS dualstack.app-use1.us-east-1.elb.amazonaws.com"


def test_a_dns_update_when_every_record_is_already_at_its_target_sends_nothing(zones: Any) -> None:
    doc = assessed("us-west-2", zones.plan)
    for zone in zones.plan.zones:
        changes = [{"Action": "UPSERT", "ResourceRecordSet": r.record_set("us-west-2")} for r in zone.records]
        zones.client.change_resource_record_sets(HostedZoneId=zone.id, ChangeBatch={"Changes": changes})
    zones.recording.calls.clear()
    result = update_dns(doc, zones.rt, NOW)
    assert zones.recording.batches() == {} and result.changes == []
    assert result.status == "INSYNC" and all(z.status == "INSYNC" for z in result.zones)


def test_a_record_missing_from_any_zone_is_a_dns_error(zones: Any) -> None:
    second = zones.ids[1]
    (spec,) = [r for r in zones.plan.zones[1].records if r.name == "api.example.org"]
    zones.client.change_resource_record_sets(
        HostedZoneId=second,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": spec.record_set("us-east-1")}]},
    )
    with pytest.raises(DnsUpdateError, match=rf"alias AAAA api\.example\.org not found in hosted zone {second}"):
        update_dns(assessed("us-west-2", zones.plan), zones.rt, NOW)


# --- DnsStatus on fakes -----------------------------------------------------------------------------


def dns_document(estate: Estate, statuses: dict[str, str], polls: int = 0) -> Any:
    """A document whose DNS section waits on one change per zone (``None`` status: nothing sent)."""
    zones = []
    for n, (zone_id, status) in enumerate(statuses.items(), start=1):
        change_id = f"/change/C{n}" if status != "NONE" else None
        if change_id:
            estate.change_status[change_id] = status
        zones.append(
            {"zoneId": zone_id, "changeId": change_id, "status": "PENDING" if change_id else "INSYNC", "records": 1}
        )
    dns = {"at": NOW.isoformat(), "changes": [], "zones": zones, "status": "PENDING", "polls": polls}
    return assessed("us-west-2", dns=dns)


def test_dns_status_polls_only_the_zones_still_pending() -> None:
    # Given three zones: two changes sent, one zone with nothing to send
    estate = Estate()
    doc = dns_document(estate, {"ZA": "INSYNC", "ZB": "PENDING", "ZC": "NONE"})
    rt = estate.runtime()
    # When polled, one is INSYNC and the other still PENDING
    first = dns_status(doc, rt, NOW)
    assert [(z.zone_id, z.status) for z in first.zones] == [("ZA", "INSYNC"), ("ZB", "PENDING"), ("ZC", "INSYNC")]
    assert first.status == "PENDING" and first.polls == 1
    assert [change for _, change in estate.called("GetChange")] == ["/change/C1", "/change/C2"]
    # Then the next poll asks about the pending zone's change alone
    estate.calls.clear()
    estate.change_status["/change/C2"] = "INSYNC"
    second = dns_status(doc.model_copy(update={"dns": first}), rt, NOW)
    assert [change for _, change in estate.called("GetChange")] == ["/change/C2"]
    assert second.status == "INSYNC" and second.polls == 2


def test_dns_status_times_out_naming_the_zones_still_pending() -> None:
    estate = Estate()
    doc = dns_document(estate, {"ZA": "INSYNC", "ZB": "PENDING", "ZC": "PENDING"}, polls=59)
    with pytest.raises(DnsSyncTimeoutError) as raised:
        dns_status(doc, estate.runtime(), NOW)
    message = str(raised.value)
    assert "change /change/C2 of zone ZB still PENDING" in message
    assert "change /change/C3 of zone ZC still PENDING" in message
    assert "ZA" not in message and message.endswith("after 60 polls")


def test_dns_status_within_its_bound_keeps_polling() -> None:
    estate = Estate()
    doc = dns_document(estate, {"ZA": "PENDING"}, polls=58)
    assert dns_status(doc, estate.runtime(), NOW).polls == 59


# --- Rollback on fakes ---------------------------------------------------------------------------


def failed(target: str | None = "us-west-2", error: str = "DnsSyncTimeoutError", cause: str = "still PENDING") -> Any:
    """A document whose run failed with ``error`` after Assess chose ``target`` (``None``: before Assess)."""
    error_section = {"Error": error, "Cause": json.dumps({"errorMessage": cause})}
    return assessed(target, error=error_section) if target else document(error=error_section)


def requested(store: MemoryStore, *identifiers: str) -> None:
    for identifier in identifiers:
        store.save_run_fact(RUN, RunFact.PROMOTION_REQUESTED, {"identifier": identifier}, key=identifier)


def test_rollback_without_a_promotion_request_is_rolled_back() -> None:
    # Given a run that failed before asking for any promotion (its target's replicas untouched)
    estate, store = Estate(), MemoryStore()
    result = rollback(failed(error="PromotionError", cause="no"), estate.runtime(store), NOW)
    # Then nothing changed: ROLLED_BACK (re-evaluated), and nothing was changed to get there
    assert result.outcome == Outcome.ROLLED_BACK and result.database_promoted is False and result.transient
    assert "No database was promoted and no DNS record was changed; traffic stays on us-east-1" in result.reason
    assert not estate.called("ChangeResourceRecordSets") and not estate.called("PromoteReadReplica")


def test_a_replica_promoted_before_this_run_is_not_this_runs_promotion() -> None:
    # Given the target's replicas standalone already (an earlier failover) but no request of this run
    estate = Estate()
    for identifier in ("orders-usw2", "accounts-usw2"):
        estate.replicas[identifier]["source"] = None
    result = rollback(failed(error="StateStoreError"), estate.runtime(MemoryStore()), NOW)
    assert result.outcome == Outcome.ROLLED_BACK and result.database_promoted is False


def test_a_request_rds_never_acted_on_changed_nothing() -> None:
    estate, store = Estate(), MemoryStore()
    requested(store, "orders-usw2")  # written before the call; the call then failed
    result = rollback(failed(error="PromotionError"), estate.runtime(store), NOW)
    assert result.outcome == Outcome.ROLLED_BACK


def test_a_failure_before_a_target_was_chosen_is_rolled_back() -> None:
    result = rollback(failed(target=None, error="TransientAwsError"), Estate().runtime(MemoryStore()), NOW)
    assert result.outcome == Outcome.ROLLED_BACK and "TransientAwsError" in result.reason


def test_some_replicas_promoted_is_degraded_and_names_what_changed_and_what_did_not() -> None:
    # Given a two-zone plan: this run promoted orders-usw2 (accounts-usw2 was never requested), and
    # DNS failed after moving the first zone's apex alias only
    estate, store = Estate(plan_with(zones=[*PLAN_DOCUMENT["zones"], OTHER_ZONE])), MemoryStore()
    requested(store, "orders-usw2")
    estate.replicas["orders-usw2"]["source"] = None
    estate.point("Z0EXAMPLE", "example.com", "A", "us-west-2")
    doc = assessed("us-west-2", estate.plan, error={"Error": "DnsUpdateError", "Cause": "Throttling"})
    # When Rollback runs
    result = rollback(doc, estate.runtime(store), NOW)
    # Then the run is DEGRADED, DNS is left as it stands, and the page says exactly what is where
    assert result.outcome == Outcome.DEGRADED and result.database_promoted
    assert result.promoted == ["orders-usw2"]
    assert result.moved == ["example.com"]
    assert result.not_moved == ["api.example.org", "db.example.com", "example.org", "www.example.org"]
    # What to do comes first (the reason is clipped at its limit, so nothing a person needs is last)
    assert result.reason.startswith(
        "A human must act: promote accounts-usw2 in us-west-2 (the application there has no writer for them); "
        "once us-west-2 serves, point api.example.org, db.example.com, example.org, www.example.org at it"
    )
    assert "fence the old primaries (orders-primary, accounts-primary) in us-east-1" in result.reason
    assert "In us-west-2, 1 of 2 database(s) promoted (orders-usw2 is a standalone writer)" in result.reason
    assert "moved: 1, not moved: 4" in result.reason
    assert result.reason.endswith("Cause: DnsUpdateError: Throttling.")
    assert not estate.called("ChangeResourceRecordSets") and not estate.called("PromoteReadReplica")
    # Each zone was read once
    assert [zone for _, zone in estate.called("ListResourceRecordSets")] == ["Z0EXAMPLE", "Z0OTHER"]


def test_after_every_promotion_and_dns_move_rollback_never_points_dns_back() -> None:
    # Given both replicas promoted and every record moved, when a later step fails
    estate, store = Estate(), MemoryStore()
    requested(store, "orders-usw2", "accounts-usw2")
    for identifier in ("orders-usw2", "accounts-usw2"):
        estate.replicas[identifier]["source"] = None
    rt = estate.runtime(store)
    update_dns(assessed("us-west-2"), rt, NOW)
    moved = copy.deepcopy(estate.zones)
    estate.calls.clear()
    result = rollback(failed(cause="still PENDING"), rt, NOW)
    # Then DNS stays on the target, and the page names what moved and what to do
    assert estate.zones == moved
    assert not estate.called("ChangeResourceRecordSets")
    assert result.outcome == Outcome.DEGRADED and result.promoted == ["orders-usw2", "accounts-usw2"]
    assert result.moved == ["db.example.com", "example.com"] and result.not_moved == []
    assert "DnsSyncTimeoutError: still PENDING" in result.reason and "promote " not in result.reason
    assert "check the application in us-west-2" in result.reason


def test_a_requested_promotion_still_in_progress_counts_as_promoted() -> None:
    estate, store = Estate(), MemoryStore()
    requested(store, "accounts-usw2")
    estate.replicas["accounts-usw2"]["status"] = "modifying"  # still a replica, changing role
    result = rollback(failed(error="PromotionTimeoutError"), estate.runtime(store), NOW)
    assert result.outcome == Outcome.DEGRADED and result.promoted == ["accounts-usw2"]
    assert (
        "accounts-usw2 is modifying" in result.reason
        and "promote orders-usw2 in us-west-2 (the application there has no writer for them)" in result.reason
    )


def test_rollback_looks_at_the_replicas_of_the_runs_target_only() -> None:
    # Given a run moving to eu-west-1 that requested orders-euw1; us-west-2's replicas promoted elsewhere
    estate, store = Estate(), MemoryStore()
    requested(store, "orders-euw1")
    estate.replicas["orders-euw1"]["source"] = None
    estate.replicas["orders-usw2"]["source"] = None
    result = rollback(failed(target="eu-west-1"), estate.runtime(store), NOW)
    assert result.outcome == Outcome.DEGRADED and result.promoted == ["orders-euw1"]
    assert {region for region, _ in estate.called("DescribeDBInstances")} == {"eu-west-1"}


def test_a_retried_rollback_reports_the_same() -> None:
    estate, store = Estate(), MemoryStore()
    requested(store, "orders-usw2")
    estate.replicas["orders-usw2"]["source"] = None
    rt, doc = estate.runtime(store), failed()
    first, again = rollback(doc, rt, NOW), rollback(doc, rt, NOW)
    assert first.model_copy(update={"at": None}) == again.model_copy(update={"at": None})


def test_dns_state_lists_zones_not_one_change_id() -> None:
    # The document's DNS section is per zone: a single change id would hide every zone but one
    assert set(DnsState.model_fields) >= {"changes", "zones", "status", "polls"}
    assert "change_id" not in DnsState.model_fields
