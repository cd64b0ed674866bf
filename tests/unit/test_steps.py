"""Unit tests of the step logic and its AWS adapters on moto (Given / When / Then)."""

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover.clients import Clients
from failover.errors import DnsUpdateError, PromotionError, PromotionTimeoutError, TransientAwsError
from failover.models import IntakeInput, RunDocument
from failover.runtime import Runtime
from failover.settings import Settings
from failover.state import RunFact
from failover.steps.assess import assess as assess_step
from failover.steps.finalize import finalize
from failover.steps.gate import gate
from failover.steps.intake import intake as intake_step
from failover.steps.promote import promote
from failover.steps.promotion_status import promotion_status
from failover.steps.rollback import rollback
from failover.steps.update_dns import update_dns
from tests.conftest import NOW, PLAN_ENV, create_run_table

SETTINGS = Settings.from_env(PLAN_ENV)
EXECUTION = {
    "id": "arn:aws:states:us-west-2:123456789012:execution:regionshift-orders:run-1",
    "startedAt": NOW.isoformat(),
}


def alarm(**overrides: Any) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": "evt-1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": (NOW - timedelta(seconds=10)).isoformat(),
        "region": "us-east-1",
        "resources": [PLAN_ENV["ALARM_ARN"]],
        "detail": {"alarmName": "regionshift-primary-unhealthy", "state": {"value": "ALARM"}},
    }
    event.update(overrides)
    return event


def intake(trigger: Any) -> Any:
    output = intake_step(
        IntakeInput.model_validate({"trigger": trigger, "execution": EXECUTION}), Runtime(SETTINGS, Clients()), NOW
    )
    assert output.execution.id == EXECUTION["id"]
    return output.intake


def document(**sections: Any) -> RunDocument:
    base = {"execution": EXECUTION, "intake": intake(alarm()).wire()}
    return RunDocument.model_validate({**base, **sections})


# --- Intake ------------------------------------------------------------------------------------


def test_alarm_in_alarm_state_proceeds() -> None:
    result = intake(alarm())
    assert result.decision == "PROCEED"
    assert result.trigger.kind == "alarm" and result.trigger.event_id == "evt-1"
    assert result.waits.confirm_interval_seconds == 30


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ("not json at all", "must be a JSON object"),
        ([1, 2], "must be a JSON object"),
        (alarm(detail={"alarmName": "x", "state": {"value": "OK"}}), "alarm state is OK"),
        (alarm(resources=["arn:aws:cloudwatch:us-east-1:123456789012:alarm:other"]), "not this plan's alarm"),
        (alarm(time=(NOW - timedelta(hours=2)).isoformat()), "stale event"),
        (alarm(time=(NOW + timedelta(hours=2)).isoformat()), "in the future"),
        ({"detail-type": "CloudWatch Alarm State Change", "source": "aws.ec2"}, "not a CloudWatch alarm event"),
        ({"manual": {"operator": "alice"}}, "reason: Field required"),
        ({"manual": {"operator": "alice", "reason": "x", "sudo": True}}, "sudo: Extra inputs are not permitted"),
        ({"manual": {"operator": " ", "reason": "x"}}, "must not be blank"),
        (
            {"manual": {"operator": "a", "reason": "x", "sourceRegion": "us-west-2", "targetRegion": "us-west-2"}},
            "both us-west-2",
        ),
        ({"manual": {"operator": "a", "reason": "x", "targetRegion": "eu-west-1"}}, "not the plan's standby region"),
        ({"manual": {"operator": "a", "reason": "x", "replica": "other-db"}}, "not the plan's standby database"),
        ({"manual": {"operator": "a", "reason": "x", "records": ["*.example.com"]}}, "wildcard"),
        ({"manual": {"operator": "a", "reason": "x", "records": ["shop.example.com"]}}, "not the plan's records"),
        ({"manual": {"operator": "a", "reason": "x", "records": ["app.example.com"]}}, "not the plan's records"),
        (alarm(time="2026-11-30T02:59:50"), "timezone"),
        ({"manual": {"operator": "a", "reason": "x", "records": ["bad..name"]}}, "malformed"),
    ],
)
def test_bad_input_is_refused_with_a_reason(trigger: Any, reason: str) -> None:
    result = intake(trigger)
    assert result.decision == "REFUSED"
    assert reason in result.reason


def test_manual_run_records_operator_and_flags() -> None:
    result = intake(
        {
            "manual": {
                "operator": "alice",
                "reason": "drill",
                "dryRun": True,
                "records": ["DB.example.com", "APP.example.com."],
            }
        }
    )
    assert result.decision == "PROCEED"
    assert result.trigger.operator == "alice" and result.flags.dry_run


# --- Gate and the run-state table -----------------------------------------------------------------


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        create_run_table(boto3.client("dynamodb", region_name="us-west-2"))
        yield Runtime(SETTINGS, Clients())


def test_gate_takes_the_lock_and_a_second_run_is_refused(aws: Runtime) -> None:
    first = gate(document(), aws, NOW)
    other_alarm = alarm(id="evt-2")
    other = document(execution={**EXECUTION, "id": EXECUTION["id"] + "-2"}, intake=intake(other_alarm).wire())
    second = gate(other, aws, NOW)
    assert first.decision == "PROCEED" and first.acquired
    assert second.decision == "REFUSED" and not second.acquired
    assert "holds the lock" in second.reason and second.transient  # re-evaluated later


def test_gate_is_idempotent_for_its_own_run(aws: Runtime) -> None:
    gate(document(), aws, NOW)
    # a retried Gate of the same run re-takes its own lock, but its event is already its own
    again = gate(document(), aws, NOW)
    assert again.decision == "PROCEED"


def test_expired_lease_is_taken_over(aws: Runtime) -> None:
    aws.store.acquire_lock("crashed-run", NOW - timedelta(hours=2), lease_seconds=60)
    assert gate(document(), aws, NOW).decision == "PROCEED"


def test_duplicate_event_is_refused_even_after_the_lock_is_released(aws: Runtime) -> None:
    gate(document(), aws, NOW)
    aws.store.release_lock(EXECUTION["id"])
    other = document(execution={**EXECUTION, "id": EXECUTION["id"] + "-2"})
    result = gate(other, aws, NOW)
    assert result.decision == "REFUSED" and "duplicate delivery of event evt-1" in result.reason
    # Refused before the lock is tried, and for good: its twin handles the event.
    assert not result.acquired and not result.transient


def test_pause_and_cooldown_refuse_until_lifted(aws: Runtime) -> None:
    aws.store.pause("bob", "maintenance", NOW)
    assert "paused by bob" in gate(document(), aws, NOW).reason
    aws.store.resume("bob", NOW)
    aws.store.release_lock(EXECUTION["id"])
    aws.store.start_cooldown("earlier", "FAILED_OVER", NOW + timedelta(minutes=30))
    manual = document(intake=intake({"manual": {"operator": "a", "reason": "r"}}).wire())
    assert "cooldown" in gate(manual, aws, NOW).reason
    bypass = document(intake=intake({"manual": {"operator": "a", "reason": "r", "bypassCooldown": True}}).wire())
    assert gate(bypass, aws, NOW).decision == "PROCEED"
    assert aws.store.acknowledge("alice", "checked", NOW) is not None
    assert aws.store.cooldown(NOW) is None


# --- Assess (fake clients: moto's health-check status is always one healthy checker) -----------


PRIMARY_VALUES = {
    "app.example.com": "app-primary.us-east-1.elb.amazonaws.com",
    "db.example.com": "orders-primary.abc.us-east-1.rds.amazonaws.com",
}
STANDBY_ENDPOINT = "orders-standby.abc.us-west-2.rds.amazonaws.com"


class FakeRoute53:
    def __init__(self, failing: dict[str, int], checkers: int = 8, values: dict[str, str] | None = None) -> None:
        self.failing, self.checkers = failing, checkers
        self.values = PRIMARY_VALUES if values is None else values

    def list_resource_record_sets(self, HostedZoneId: str, StartRecordName: str, **_: Any) -> dict[str, Any]:
        value = self.values.get(StartRecordName)
        sets = (
            []
            if value is None
            else [{"Name": StartRecordName + ".", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]}]
        )
        return {"ResourceRecordSets": sets}

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:
        failing = self.failing[HealthCheckId]
        return {
            "HealthCheckObservations": [
                {"StatusReport": {"Status": "Failure: timeout" if i < failing else "Success: HTTP 200"}}
                for i in range(self.checkers)
            ]
        }


class FakeRds:
    def __init__(self, source: str | None = "orders-primary", status: str = "available", exists: bool = True) -> None:
        self.source, self.status, self.exists = source, status, exists
        self.promotions = 0

    def describe_db_instances(self, DBInstanceIdentifier: str) -> dict[str, Any]:
        if not self.exists:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "DBInstanceNotFound", "Message": "nope"}}, "DescribeDBInstances")
        instance = {
            "DBInstanceIdentifier": DBInstanceIdentifier,
            "DBInstanceStatus": self.status,
            "Endpoint": {"Address": STANDBY_ENDPOINT},
        }
        if self.source:
            instance["ReadReplicaSourceDBInstanceIdentifier"] = self.source
        return {"DBInstances": [instance]}

    def promote_read_replica(self, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if self.source is None:
            raise ClientError(
                {"Error": {"Code": "InvalidDBInstanceState", "Message": "not a replica"}}, "PromoteReadReplica"
            )
        self.promotions += 1
        self.source = None
        return {}


class FakeCloudWatch:
    def __init__(self, lag: float | None) -> None:
        self.lag = lag

    def get_metric_statistics(self, **_: Any) -> dict[str, Any]:
        return {"Datapoints": [] if self.lag is None else [{"Timestamp": NOW, "Maximum": self.lag}]}


def fake_runtime(route53: Any = None, rds: Any = None, cloudwatch: Any = None) -> Runtime:
    services = {"route53": route53, "rds": rds, "cloudwatch": cloudwatch}
    return Runtime(SETTINGS, Clients(lambda service, **_: services[service]))


def assess(
    probe: int, failing: dict[str, int], rds: FakeRds | None = None, lag: float | None = 2.0, trigger: Any = None
) -> Any:
    doc = document(
        intake=intake(trigger or alarm()).wire(),
        assess={"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": probe - 1} if probe > 1 else None,
    )
    return assess_step(doc, fake_runtime(FakeRoute53(failing), rds or FakeRds(), FakeCloudWatch(lag)), NOW)


DOWN = {"hc-primary": 8, "hc-standby": 0}


def test_outage_is_rechecked_before_it_is_believed() -> None:
    assert assess(1, DOWN).decision == "RECHECK"
    assert assess(2, DOWN).decision == "RECHECK"
    final = assess(3, DOWN)
    assert final.decision == "PROCEED" and final.replica.lag_seconds == 2.0


@pytest.mark.parametrize(
    ("failing", "decision", "reason"),
    [
        ({"hc-primary": 0, "hc-standby": 0}, "NO_ACTION", "is healthy"),
        ({"hc-primary": 6, "hc-standby": 0}, "NO_ACTION", "2/8 checkers healthy"),  # 25% >= 18%
        ({"hc-primary": 7, "hc-standby": 0}, "PROCEED", "primary down"),  # 12.5% < 18%
        ({"hc-primary": 8, "hc-standby": 8}, "REFUSED", "not healthy either"),
    ],
)
def test_checker_votes_decide_like_route53(failing: dict[str, int], decision: str, reason: str) -> None:
    result = assess(3, failing)
    assert result.decision == decision and reason in result.reason


@pytest.mark.parametrize(
    ("rds", "lag", "reason"),
    [
        (FakeRds(exists=False), 2.0, "does not exist"),
        (FakeRds(source=None), 2.0, "already standalone"),
        (FakeRds(source="arn:aws:rds:us-east-1:123456789012:db:reporting"), 2.0, "replicates from"),
        (FakeRds(source="arn:aws:rds:eu-west-1:123456789012:db:orders-primary"), 2.0, "replicates from"),
        (FakeRds(status="storage-full"), 2.0, "storage-full"),
        (FakeRds(), 61.0, "replica lag 61 s, limit 60 s"),
        (FakeRds(), None, "unknown"),
    ],
)
def test_standby_readiness_and_lag_are_required(rds: FakeRds, lag: float | None, reason: str) -> None:
    result = assess(3, DOWN, rds=rds, lag=lag)
    assert result.decision == "REFUSED" and reason in result.reason


def test_cross_region_source_arn_matches_the_plan() -> None:
    rds = FakeRds(source="arn:aws:rds:us-east-1:123456789012:db:orders-primary")
    assert assess(3, DOWN, rds=rds).decision == "PROCEED"


def test_only_a_manual_run_can_accept_data_loss() -> None:
    override = {"manual": {"operator": "alice", "reason": "region gone", "acceptDataLoss": True}}
    accepted = assess(3, DOWN, lag=None, trigger=override)
    assert accepted.decision == "PROCEED" and accepted.data_loss_accepted
    assert "accepted by alice" in accepted.reason


# --- Promote -------------------------------------------------------------------------------------


class MemoryStore:
    def __init__(self) -> None:
        self.facts: dict[tuple[str, str], Any] = {}

    def save_run_fact(self, run: str, fact: str, value: Any) -> None:
        self.facts[(run, fact)] = value

    def run_fact(self, run: str, fact: str) -> Any:
        return self.facts.get((run, fact))


def with_store(rt: Runtime, store: MemoryStore) -> Runtime:
    return Runtime(rt.settings, rt._clients, store=store)  # type: ignore[arg-type]


def test_promotion_is_idempotent() -> None:
    rds, store = FakeRds(), MemoryStore()
    rt = with_store(fake_runtime(rds=rds), store)
    first = promote(document(), rt, NOW)
    again = promote(document(), rt, NOW)  # a retry after a lost response
    assert (first.already_promoted, again.already_promoted) == (False, True)
    assert rds.promotions == 1
    assert store.run_fact(EXECUTION["id"], RunFact.PROMOTION_REQUESTED)["identifier"] == "orders-standby"


def test_promotion_refused_by_rds_is_a_promotion_error() -> None:
    class Refusing(FakeRds):
        def promote_read_replica(self, **_: Any) -> dict[str, Any]:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "InvalidParameterCombination", "Message": "no"}}, "PromoteReadReplica")

    with pytest.raises(PromotionError, match="InvalidParameterCombination"):
        promote(document(), with_store(fake_runtime(rds=Refusing()), MemoryStore()), NOW)


def test_throttling_is_transient() -> None:
    class Throttled(FakeRds):
        def promote_read_replica(self, **_: Any) -> dict[str, Any]:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "PromoteReadReplica")

    with pytest.raises(TransientAwsError):
        promote(document(), with_store(fake_runtime(rds=Throttled()), MemoryStore()), NOW)


def test_promotion_polls_are_bounded() -> None:
    doc = document(
        promotion={"at": NOW.isoformat(), "identifier": "orders-standby", "alreadyPromoted": False, "polls": 178}
    )
    rt = fake_runtime(rds=FakeRds(status="modifying"))
    assert promotion_status(doc, rt, NOW).polls == 179
    doc = document(
        promotion={"at": NOW.isoformat(), "identifier": "orders-standby", "alreadyPromoted": False, "polls": 179}
    )
    with pytest.raises(PromotionTimeoutError, match="after 180 polls"):
        promotion_status(doc, rt, NOW)


# --- DNS and rollback on moto's Route 53 ---------------------------------------------------------


@pytest.fixture
def zone() -> Any:
    with mock_aws():
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="t")["HostedZone"]["Id"].split("/")[-1]
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {"Name": n, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": v}]},
                    }
                    for n, v in (
                        ("app.example.com", "app-primary.us-east-1.elb.amazonaws.com"),
                        ("db.example.com", "orders-primary.abc.us-east-1.rds.amazonaws.com"),
                    )
                ]
            },
        )
        settings = Settings.from_env({**PLAN_ENV, "HOSTED_ZONE_ID": zone_id})
        store = MemoryStore()
        rt = standby_says(Runtime(settings, Clients(), store=store), fake_rds_state(source=None))
        yield SimpleNamespace(rt=rt, store=store, route53=route53, zone_id=zone_id)


def standby_says(rt: Runtime, state: Any) -> Runtime:
    """The same runtime, with an RDS adapter that describes the standby as ``state``."""
    rds = SimpleNamespace(describe=lambda _id: state)
    return Runtime(rt.settings, rt._clients, store=rt._store, rds=rds)  # type: ignore[arg-type]


def fake_rds_state(source: str | None, status: str = "available") -> Any:
    from failover.models import ReplicaState

    return ReplicaState(identifier="orders-standby", exists=True, source=source, status=status)


def records(zone: Any) -> dict[str, str]:
    sets = zone.route53.list_resource_record_sets(HostedZoneId=zone.zone_id)["ResourceRecordSets"]
    return {r["Name"].rstrip("."): r["ResourceRecords"][0]["Value"] for r in sets if r["Type"] == "CNAME"}


def test_dns_is_captured_then_moved_in_one_batch(zone: Any) -> None:
    result = update_dns(document(), zone.rt, NOW)
    assert result.status == "PENDING" and len(result.changes) == 2
    assert records(zone) == dict(zip(SETTINGS.record_names, SETTINGS.standby_targets, strict=True))
    captured = zone.store.run_fact(EXECUTION["id"], RunFact.DNS_BEFORE)
    assert {c["name"]: c["before"] for c in captured}["app.example.com"] == "app-primary.us-east-1.elb.amazonaws.com"


def test_a_retried_dns_update_keeps_the_first_capture_and_waits_again(zone: Any) -> None:
    update_dns(document(), zone.rt, NOW)
    again = update_dns(document(), zone.rt, NOW)  # the first answer was lost
    assert again.changes[0].before == "app-primary.us-east-1.elb.amazonaws.com"
    # the change is sent again so that there is a change to wait for: the lost one may be PENDING
    assert again.status == "PENDING" and again.change_id is not None


def test_missing_record_is_a_dns_error(zone: Any) -> None:
    zone.route53.change_resource_record_sets(
        HostedZoneId=zone.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "DELETE",
                    "ResourceRecordSet": {
                        "Name": "db.example.com",
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "orders-primary.abc.us-east-1.rds.amazonaws.com"}],
                    },
                }
            ]
        },
    )
    with pytest.raises(DnsUpdateError, match=r"db\.example\.com"):
        update_dns(document(), zone.rt, NOW)


def test_after_the_promotion_rollback_never_points_dns_back(zone: Any) -> None:
    # Given a promoted standby and DNS already moved, when a later step fails
    zone.store.save_run_fact(EXECUTION["id"], RunFact.PROMOTION_REQUESTED, {"identifier": "orders-standby"})
    update_dns(document(), zone.rt, NOW)
    moved = records(zone)
    failed = document(error={"Error": "DnsSyncTimeoutError", "Cause": json.dumps({"errorMessage": "still PENDING"})})
    result = rollback(failed, zone.rt, NOW)
    # Then DNS stays on the standby, and the page names what moved and what to do
    assert records(zone) == moved
    assert result.outcome == "DEGRADED" and result.database_promoted
    assert result.moved == ["app.example.com", "db.example.com"] and result.not_moved == []
    assert "DnsSyncTimeoutError: still PENDING" in result.reason and "fence the old primary" in result.reason


def test_a_promotion_with_no_dns_moved_lists_every_record_as_not_moved(zone: Any) -> None:
    zone.store.save_run_fact(EXECUTION["id"], RunFact.PROMOTION_REQUESTED, {"identifier": "orders-standby"})
    before = records(zone)
    result = rollback(document(error={"Error": "DnsUpdateError", "Cause": "Throttling"}), zone.rt, NOW)
    assert records(zone) == before
    assert result.outcome == "DEGRADED" and result.moved == []
    assert result.not_moved == ["app.example.com", "db.example.com"]
    assert "not moved: app.example.com, db.example.com" in result.reason


def test_rollback_before_promotion_is_rolled_back(zone: Any) -> None:
    rt = standby_says(zone.rt, fake_rds_state(source="orders-primary"))
    result = rollback(document(error={"Error": "PromotionError", "Cause": "no"}), rt, NOW)
    assert result.outcome == "ROLLED_BACK" and result.database_promoted is False


def test_requested_promotion_still_in_progress_counts_as_promoted(zone: Any) -> None:
    zone.store.save_run_fact(EXECUTION["id"], RunFact.PROMOTION_REQUESTED, {"identifier": "orders-standby"})
    rt = standby_says(zone.rt, fake_rds_state(source="orders-primary", status="modifying"))
    result = rollback(document(error={"Error": "PromotionTimeoutError"}), rt, NOW)
    assert result.outcome == "DEGRADED"


def test_a_retried_rollback_reports_the_same(zone: Any) -> None:
    zone.store.save_run_fact(EXECUTION["id"], RunFact.PROMOTION_REQUESTED, {"identifier": "orders-standby"})
    update_dns(document(), zone.rt, NOW)
    failed = document(error={"Error": "DnsSyncTimeoutError"})
    first = rollback(failed, zone.rt, NOW)
    again = rollback(failed, zone.rt, NOW)
    assert first.model_copy(update={"at": None}) == again.model_copy(update={"at": None})


def test_a_standby_promoted_before_this_run_is_not_this_runs_promotion(zone: Any) -> None:
    # the standby is standalone (an earlier failover), this run failed before promoting anything
    result = rollback(document(error={"Error": "StateStoreError"}), zone.rt, NOW)
    assert result.outcome == "ROLLED_BACK" and result.database_promoted is False


def test_finalize_releases_the_lock_even_when_gate_failed_after_taking_it(aws: Runtime) -> None:
    aws.store.acquire_lock(EXECUTION["id"], NOW, 3600)
    doc = document(result={"outcome": "ROLLED_BACK", "reason": "Gate failed"})  # no gate section
    assert finalize(doc, aws, NOW).lock_released
    assert aws.store.lock_holder() is None


def test_finalize_never_releases_another_runs_lock(aws: Runtime) -> None:
    aws.store.acquire_lock("other-run", NOW, 3600)
    doc = document(result={"outcome": "REFUSED", "reason": "lock held"})
    assert not finalize(doc, aws, NOW).lock_released
    assert aws.store.lock_holder().owner == "other-run"


# --- Boundaries: exactly on each documented rule, and one step either side ----------------------


@pytest.mark.parametrize(
    ("healthy", "verdict"),
    [(8, "UNHEALTHY"), (9, "UNHEALTHY"), (10, "HEALTHY")],  # of 50 checkers: 16%, 18%, 20%
)
def test_an_endpoint_is_healthy_only_above_18_percent_of_checkers(healthy: int, verdict: str) -> None:
    from failover.adapters import Route53

    votes = Route53(FakeRoute53({"hc": 50 - healthy}, checkers=50)).checker_votes("hc", 18)
    assert votes.verdict == verdict


@pytest.mark.parametrize(("lag", "decision"), [(59.0, "PROCEED"), (60.0, "PROCEED"), (61.0, "REFUSED")])
def test_replica_lag_is_accepted_up_to_and_including_the_limit(lag: float, decision: str) -> None:
    assert assess(3, DOWN, lag=lag).decision == decision


# --- The point of no return -------------------------------------------------------------------------


def test_a_record_missing_from_the_zone_refuses_before_the_promotion() -> None:
    values = {"app.example.com": PRIMARY_VALUES["app.example.com"]}
    rt = fake_runtime(FakeRoute53(DOWN, values=values), FakeRds(), FakeCloudWatch(2.0))
    result = assess_step(
        document(assess={"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": 2}), rt, NOW
    )
    assert result.decision == "REFUSED" and "db.example.com not found" in result.reason
    assert not result.transient  # a configuration problem: not re-evaluated


def test_a_record_pointing_elsewhere_refuses_before_the_promotion() -> None:
    values = {**PRIMARY_VALUES, "app.example.com": "app.eu-west-1.elb.amazonaws.com"}
    rt = fake_runtime(FakeRoute53(DOWN, values=values), FakeRds(), FakeCloudWatch(2.0))
    result = assess_step(
        document(assess={"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": 2}), rt, NOW
    )
    assert result.decision == "REFUSED" and "neither into us-east-1" in result.reason


def test_a_proceed_lists_everything_verified_before_the_promotion() -> None:
    result = assess(3, DOWN)
    assert result.decision == "PROCEED"
    assert any(line.startswith("2 record(s) exist as CNAME") for line in result.verified)
    assert any(STANDBY_ENDPOINT in line for line in result.verified)


def test_an_unhealthy_standby_after_the_promotion_is_looked_at_then_given_up_on() -> None:
    rt = fake_runtime(FakeRoute53({"hc-primary": 8, "hc-standby": 8}), FakeRds(source=None))
    promotion = {"at": NOW.isoformat(), "identifier": "orders-standby", "alreadyPromoted": False, "polls": 1}
    looks = []
    for _ in range(3):
        state = promotion_status(document(promotion=promotion), rt, NOW)
        looks.append((state.standby_healthy, state.standby_gave_up))
        promotion = state.wire()
    assert looks == [(False, False), (False, False), (False, True)]  # confirm_probes = 2 more looks


# --- Who started the run -------------------------------------------------------------------------------


def test_manual_input_must_arrive_through_manual_run() -> None:
    assert intake({"operator": "alice", "reason": "drill"}).decision == "REFUSED"
    assert "ManualRun" in intake({"operator": "alice", "reason": "drill"}).reason
    assert intake({"manual": {"operator": "alice", "reason": "drill"}}).trigger.kind == "manual"


def test_an_alarm_shaped_manual_input_is_refused() -> None:
    result = intake({"manual": alarm()})
    assert result.decision == "REFUSED" and "Extra inputs are not permitted" in result.reason


def test_reevaluations_are_bounded_and_keep_the_alarm() -> None:
    from failover.reevaluation import next_attempt

    refused = document(result={"outcome": "REFUSED", "reason": "lag", "transient": True})
    again = next_attempt(refused, SETTINGS)
    assert again is not None and again.attempt == 1 and again.trigger.kind == "alarm"
    second = intake({"reevaluation": again.wire()})
    assert second.decision == "PROCEED" and second.trigger.kind == "reevaluation"
    assert second.trigger.event_id == "evt-1#r1"
    last = document(
        intake=intake({"reevaluation": {**again.wire(), "attempt": 6}}).wire(), result=refused.result.wire()
    )
    assert next_attempt(last, SETTINGS) is None  # 6 of 6
    assert intake({"reevaluation": {**again.wire(), "attempt": 7}}).decision == "REFUSED"


@pytest.mark.parametrize(
    ("result", "again"),
    [
        ({"outcome": "REFUSED", "reason": "paused", "transient": False}, False),
        ({"outcome": "ROLLED_BACK", "reason": "x"}, True),
        ({"outcome": "DEGRADED", "reason": "x"}, False),
        ({"outcome": "NO_ACTION", "reason": "x"}, False),
        ({"outcome": "FAILED_OVER", "reason": "x"}, False),
    ],
)
def test_only_passing_refusals_and_rollbacks_are_reevaluated(result: dict[str, Any], again: bool) -> None:
    from failover.reevaluation import next_attempt

    assert (next_attempt(document(result=result), SETTINGS) is not None) == again
    manual = document(intake=intake({"manual": {"operator": "a", "reason": "r"}}).wire(), result=result)
    assert next_attempt(manual, SETTINGS) is None  # the operator decides what comes next
