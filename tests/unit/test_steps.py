"""Unit tests of the step logic before the point of no return, and of its AWS adapters, on fakes and
moto (Given / When / Then): Intake, Gate, Assess, TargetHealth, Finalize and the re-evaluation loop."""

from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover.adapters import Route53
from failover.clients import Clients
from failover.models import AssessResult
from failover.runtime import Runtime
from failover.steps.assess import assess as assess_step
from failover.steps.finalize import finalize
from failover.steps.gate import gate
from failover.steps.target_health import target_health
from tests.conftest import HC_EUW1, HC_PRIMARY, HC_USW2, NOW, create_run_table
from tests.unit.fakes import (
    EXECUTION,
    SETTINGS,
    TWO_ZONES,
    Estate,
    FakeRoute53,
    alarm,
    assessed,
    document,
    endpoint,
    intake,
    manual,
)

# --- Intake ------------------------------------------------------------------------------------


def test_alarm_in_alarm_state_proceeds() -> None:
    result = intake(alarm())
    assert result.decision == "PROCEED"
    assert result.trigger is not None and result.trigger.kind == "alarm" and result.trigger.event_id == "evt-1"
    assert result.waits.confirm_interval_seconds == 30
    # The document carries a summary of the plan, not the plan itself.
    assert result.plan.model_dump() == {
        "name": "orders",
        "primary_region": "us-east-1",
        "standby_regions": ["us-west-2", "eu-west-1"],
        "databases": 2,
        "records": 2,
        "zones": 1,
    }


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
        (manual(sourceRegion="us-west-2", targetRegion="us-west-2"), "both us-west-2"),
        (manual(sourceRegion="eu-west-1"), "not the plan's primary region us-east-1"),
        # The target must be one of the plan's standbys: not another region, not the primary.
        (manual(targetRegion="ap-south-1"), "targetRegion ap-south-1 is not a standby region of the plan"),
        (manual(targetRegion="us-east-1"), "targetRegion us-east-1 is not a standby region of the plan"),
        # The replica assertion is checked against the plan's replicas (in the named target, if any).
        (manual(replica="other-db"), "replica other-db is not one of the plan's replicas in any standby region"),
        (manual(replica="orders-primary"), "not one of the plan's replicas"),
        (
            manual(replica="orders-usw2", targetRegion="eu-west-1"),
            "orders-usw2 is not one of the plan's replicas in eu-west-1",
        ),
        (manual(records=["*.example.com"]), "wildcard"),
        (manual(records=["example.com"]), "not the plan's records"),
        (manual(records=["example.com", "db.example.com", "api.example.com"]), "not the plan's records"),
        (alarm(time="2026-11-30T02:59:50"), "timezone"),
        (manual(records=["bad..name"]), "malformed"),
    ],
)
def test_bad_input_is_refused_with_a_reason(trigger: Any, reason: str) -> None:
    result = intake(trigger)
    assert result.decision == "REFUSED"
    assert reason in result.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"targetRegion": "eu-west-1", "replica": "accounts-euw1"},
        {"replica": "accounts-euw1"},  # a replica of any standby, when no target is named
        {"sourceRegion": "us-east-1", "targetRegion": "us-west-2", "replica": "orders-usw2"},
    ],
)
def test_assertions_that_match_the_plan_proceed(fields: dict[str, Any]) -> None:
    result = intake(manual(**fields))
    assert result.decision == "PROCEED"
    assert result.trigger is not None and result.trigger.target_region == fields.get("targetRegion")


def test_manual_run_records_operator_and_flags() -> None:
    result = intake(manual(operator="alice", dryRun=True, records=["DB.example.com", "example.com."]))
    assert result.decision == "PROCEED"
    assert result.trigger is not None and result.trigger.operator == "alice" and result.flags.dry_run


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


# --- Assess (fakes: one estate of health checks, replicas, lags and zones) ----------------------


def run_assess(estate: Estate, probe: int = 3, trigger: Any = None) -> AssessResult:
    """Assess's ``probe``-th look (the third is the last with the plan's two confirmation probes)."""
    previous = {"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": probe - 1}
    doc = document(trigger, assess=previous if probe > 1 else None)
    return assess_step(doc, estate.runtime(), NOW)


def verdicts(result: AssessResult) -> list[tuple[str, bool, str | None]]:
    return [(s.region, s.chosen, s.passed_over) for s in result.standbys]


def test_outage_is_rechecked_before_it_is_believed() -> None:
    estate = Estate()
    assert run_assess(estate, 1).decision == "RECHECK"
    assert run_assess(estate, 2).decision == "RECHECK"
    # Replicas and records are read on the last probe only.
    assert not estate.called("DescribeDBInstances") and not estate.called("ListResourceRecordSets")
    final = run_assess(estate, 3)
    assert final.decision == "PROCEED" and final.target == "us-west-2"
    assert [(r.identifier, r.database, r.region, r.lag_seconds) for r in final.replicas] == [
        ("orders-usw2", "orders", "us-west-2", 2.0),
        ("accounts-usw2", "accounts", "us-west-2", 2.0),
    ]
    assert verdicts(final) == [("us-west-2", True, None), ("eu-west-1", False, None)]


@pytest.mark.parametrize(
    ("failing", "decision", "reason"),
    [
        ({HC_PRIMARY: 0}, "NO_ACTION", "is healthy"),
        ({HC_PRIMARY: 6}, "NO_ACTION", "2/8 checkers healthy"),  # 25% > 18%
        ({HC_PRIMARY: 7}, "PROCEED", "primary down"),  # 12.5% <= 18%
        ({HC_PRIMARY: 8, HC_USW2: 8, HC_EUW1: 8}, "REFUSED", "no standby region is healthy"),
    ],
)
def test_checker_votes_decide_like_route53(failing: dict[str, int], decision: str, reason: str) -> None:
    estate = Estate()
    estate.failing = failing
    result = run_assess(estate)
    assert result.decision == decision and reason in result.reason


def test_the_first_standby_unhealthy_the_second_is_chosen_and_the_first_passed_over_with_its_votes() -> None:
    # Given the first standby's application failing on 7 of 8 checkers
    estate = Estate()
    estate.failing[HC_USW2] = 7
    # When Assess looks
    result = run_assess(estate)
    # Then it moves to the second, and says why the first was passed over, with its votes
    assert result.decision == "PROCEED" and result.target == "eu-west-1"
    assert verdicts(result) == [
        ("us-west-2", False, "not healthy (1/8 checkers healthy)"),
        ("eu-west-1", True, None),
    ]
    assert "us-west-2 passed over: not healthy (1/8 checkers healthy)" in result.reason
    assert [r.identifier for r in result.replicas] == ["orders-euw1", "accounts-euw1"]
    # The passed-over region's replicas were read only to be sure none is a writer already (no lag read)
    assert {region for region, _ in estate.called("DescribeDBInstances")} == {"us-west-2", "eu-west-1"}
    assert {region for region, _ in estate.called("GetMetricStatistics")} == {"eu-west-1"}


def test_one_lagging_replica_passes_its_region_over() -> None:
    # Given one of the first standby's two replicas 120 s behind
    estate = Estate()
    estate.lag["accounts-usw2"] = 120.0
    result = run_assess(estate)
    # Then the second standby is chosen, and the passed-over reason names the lagging replica
    assert result.decision == "PROCEED" and result.target == "eu-west-1"
    ((_, _, why), _) = verdicts(result)
    assert why is not None and why.startswith("accounts-usw2: replica lag 120 s, limit 60 s")
    assert "orders-usw2" not in why
    assert [r.identifier for r in result.replicas] == ["orders-euw1", "accounts-euw1"]
    assert not result.data_loss_accepted


def _lagging(estate: Estate, identifier: str) -> None:
    estate.lag[identifier] = 300.0


def _busy(estate: Estate, identifier: str) -> None:
    estate.replicas[identifier]["status"] = "modifying"


def _missing(estate: Estate, identifier: str) -> None:
    estate.replicas[identifier]["exists"] = False


def _standalone(estate: Estate, identifier: str) -> None:
    estate.replicas[identifier]["source"] = None


@pytest.mark.parametrize("region", ["usw2", "euw1"])
def test_a_replica_already_a_writer_in_any_standby_refuses_the_run(region: str) -> None:
    # Given one replica already standalone (an earlier DEGRADED run promoted it), in the first standby
    # or in the second while the first is ready
    estate = Estate()
    _standalone(estate, f"orders-{region}")
    # When the outage is assessed
    result = run_assess(estate)
    # Then the run refuses for good, naming the writer: promoting any region would make a second one
    assert result.decision == "REFUSED" and not result.transient and result.target is None
    assert result.reason.startswith(f"orders-{region} in ") and "already a standalone writer" in result.reason


def _unhealthy(estate: Estate, identifier: str) -> None:
    estate.failing[HC_USW2 if identifier.endswith("usw2") else HC_EUW1] = 8


@pytest.mark.parametrize(
    ("usw2", "euw1", "transient"),
    [
        (_lagging, _lagging, True),  # lag may shrink
        (_busy, _lagging, True),  # a modifying replica may become available
        (_unhealthy, _lagging, True),  # a region's health may come back
        (_lagging, _missing, False),  # a missing replica will not appear by itself
        (_unhealthy, _missing, False),
    ],
)
def test_no_standby_ready_is_refused_and_transient_only_when_every_reason_may_pass(
    usw2: Any, euw1: Any, transient: bool
) -> None:
    estate = Estate()
    usw2(estate, "orders-usw2")
    euw1(estate, "accounts-euw1")
    result = run_assess(estate)
    assert result.decision == "REFUSED" and result.target is None and not result.replicas
    assert result.reason.startswith("no standby region is ready: us-west-2: ")
    assert "; eu-west-1: " in result.reason
    assert [(region, chosen) for region, chosen, _ in verdicts(result)] == [("us-west-2", False), ("eu-west-1", False)]
    assert all(why for _, _, why in verdicts(result))
    assert result.transient is transient


@pytest.mark.parametrize(
    ("replica", "lag", "reason"),
    [
        ({"exists": False}, 2.0, "standby database orders-usw2 does not exist in us-west-2"),
        ({"source": None}, 2.0, "orders-usw2 in us-west-2 already a standalone writer (an earlier promotion)"),
        ({"source": "arn:aws:rds:us-east-1:123456789012:db:reporting"}, 2.0, "replicates from"),
        ({"source": "arn:aws:rds:eu-west-1:123456789012:db:orders-primary"}, 2.0, "replicates from"),
        ({"source": "accounts-primary"}, 2.0, "replicates from accounts-primary, not orders-primary"),
        ({"status": "storage-full"}, 2.0, "orders-usw2 is storage-full, not available"),
        ({"endpoint": ""}, 2.0, "the endpoint of standby database orders-usw2 is not known"),
        ({}, 61.0, "orders-usw2: replica lag 61 s, limit 60 s"),
        ({}, None, "orders-usw2: replica lag unknown"),
    ],
)
def test_every_replica_of_the_target_must_be_ready(replica: dict[str, Any], lag: float | None, reason: str) -> None:
    # Given the only standby named by a manual run, with the orders replica not ready
    estate = Estate()
    estate.replicas["orders-usw2"].update(replica)
    estate.lag["orders-usw2"] = lag
    result = run_assess(estate, trigger={"manual": {"operator": "a", "reason": "r", "targetRegion": "us-west-2"}})
    assert result.decision == "REFUSED" and reason in result.reason


def test_cross_region_source_arn_and_plain_identifier_both_match_the_plan() -> None:
    estate = Estate()
    estate.replicas["orders-usw2"]["source"] = "orders-primary"
    result = run_assess(estate)
    assert result.decision == "PROCEED" and result.target == "us-west-2"


def test_a_manual_run_naming_a_target_considers_that_region_only() -> None:
    # Given both standbys ready
    estate = Estate()
    trigger = {"manual": {"operator": "alice", "reason": "move to Europe", "targetRegion": "eu-west-1"}}
    # When a manual run names the second
    result = run_assess(estate, trigger=trigger)
    # Then the run moves there, and the first is neither probed nor listed; its replicas are read
    # only to be sure none is already a writer (a second writer is refused whatever the target)
    assert result.decision == "PROCEED" and result.target == "eu-west-1"
    assert verdicts(result) == [("eu-west-1", True, None)]
    assert HC_USW2 not in {hc for _, hc in estate.called("GetHealthCheckStatus")}
    assert {region for region, _ in estate.called("DescribeDBInstances")} == {"us-west-2", "eu-west-1"}
    assert {region for region, _ in estate.called("GetMetricStatistics")} == {"eu-west-1"}


def test_a_manual_run_naming_an_unready_target_is_refused_not_moved_elsewhere() -> None:
    estate = Estate()
    estate.lag["orders-euw1"] = 500.0
    trigger = {"manual": {"operator": "alice", "reason": "move to Europe", "targetRegion": "eu-west-1"}}
    result = run_assess(estate, trigger=trigger)
    assert result.decision == "REFUSED" and "eu-west-1: orders-euw1: replica lag 500 s" in result.reason
    assert result.target is None and verdicts(result) == [
        ("eu-west-1", False, result.reason.split("eu-west-1: ", 1)[1])
    ]


def test_a_record_pointing_neither_at_its_primary_nor_its_target_value_is_refused() -> None:
    # Given db.example.com changed by hand to a host the plan does not know
    estate = Estate()
    estate.zones["Z0EXAMPLE"][("db.example.com", "CNAME")]["ResourceRecords"] = [{"Value": "db.elsewhere.example.net"}]
    result = run_assess(estate)
    # Then no region is ready, and that is not a passing reason
    assert result.decision == "REFUSED" and not result.transient
    assert "db.example.com points to db.elsewhere.example.net, neither at its us-east-1 target" in result.reason
    assert not estate.called("PromoteReadReplica")


def test_a_record_already_at_its_target_value_is_accepted() -> None:
    # Given the apex alias already moved to us-west-2 (an earlier run, or by hand)
    estate = Estate()
    estate.point("Z0EXAMPLE", "example.com", "A", "us-west-2")
    result = run_assess(estate)
    assert result.decision == "PROCEED" and result.target == "us-west-2"
    assert any("already at their us-west-2 targets (1)" in line for line in result.verified)


def test_a_record_moved_to_another_standby_passes_that_standby_over() -> None:
    # Given the apex alias pointing at eu-west-1's load balancer: not us-west-2's primary or target value
    estate = Estate()
    estate.point("Z0EXAMPLE", "example.com", "A", "eu-west-1")
    result = run_assess(estate)
    # Then us-west-2 is passed over (moving it would take traffic from eu-west-1) and eu-west-1 is chosen
    assert result.decision == "PROCEED" and result.target == "eu-west-1"
    ((_, _, why), _) = verdicts(result)
    assert (
        why is not None
        and "example.com points at its eu-west-1 target dualstack.app-euw1.eu-west-1.elb.amazonaws.com" in why
    )


def test_a_cname_to_a_database_must_name_that_replicas_endpoint() -> None:
    estate = Estate()
    estate.replicas["orders-usw2"]["endpoint"] = endpoint("orders-usw2", "us-west-2").replace(".abc.", ".xyz.")
    result = run_assess(estate)
    assert result.target == "eu-west-1"
    ((_, _, why), _) = verdicts(result)
    assert why is not None and "db.example.com would point to orders-usw2.abc.us-west-2" in why


def test_records_are_read_with_one_list_call_per_zone_not_per_record() -> None:
    # Given a plan of five records in two zones, and a first standby that will be passed over
    estate = Estate(TWO_ZONES)
    estate.lag["orders-usw2"] = 90.0
    rt = estate.runtime()
    doc = document(
        settings=rt.settings, assess={"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": 2}
    )
    # When Assess examines both standbys
    result = assess_step(doc, rt, NOW)
    # Then each zone was listed once in all
    assert result.decision == "PROCEED" and result.target == "eu-west-1"
    assert estate.called("ListResourceRecordSets") == [("us-east-1", "Z0EXAMPLE"), ("us-east-1", "Z0OTHER")]
    assert any(line.startswith("5 record(s) in 2 zone(s) exist") for line in result.verified)


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        (("Z0EXAMPLE", "db.example.com", "CNAME"), "CNAME db.example.com not found in hosted zone Z0EXAMPLE"),
        (("Z0OTHER", "api.example.org", "AAAA"), "alias AAAA api.example.org not found in hosted zone Z0OTHER"),
    ],
)
def test_a_record_missing_from_its_zone_refuses_before_the_promotion(
    missing: tuple[str, str, str], problem: str
) -> None:
    estate = Estate(TWO_ZONES)
    zone_id, name, record_type = missing
    del estate.zones[zone_id][(name, record_type)]
    rt = estate.runtime()
    doc = document(
        settings=rt.settings, assess={"at": NOW.isoformat(), "decision": "RECHECK", "reason": "", "probe": 2}
    )
    result = assess_step(doc, rt, NOW)
    assert result.decision == "REFUSED" and problem in result.reason
    assert not result.transient  # a configuration problem: not re-evaluated


def test_a_record_that_is_not_an_alias_where_the_plan_says_alias_is_refused() -> None:
    estate = Estate()
    estate.zones["Z0EXAMPLE"][("example.com", "A")] = {
        "Name": "example.com",
        "Type": "A",
        "TTL": 60,
        "ResourceRecords": [{"Value": "192.0.2.10"}],
    }
    result = run_assess(estate)
    assert result.decision == "REFUSED" and "is not an alias, the plan says alias A" in result.reason


def test_a_proceed_lists_everything_verified_before_the_promotion() -> None:
    result = run_assess(Estate())
    assert result.decision == "PROCEED"
    assert result.verified == [
        "target us-west-2 healthy (8/8 checkers healthy)",
        "2 replica(s) in us-west-2 replicate from the primary and are available",
        "2 replica(s) within 60 s of lag (worst 2 s)",
        "2 record(s) in 1 zone(s) exist and point at their us-east-1 targets",
    ]
    assert {r.identifier: r.endpoint for r in result.replicas} == {
        "orders-usw2": endpoint("orders-usw2", "us-west-2"),
        "accounts-usw2": endpoint("accounts-usw2", "us-west-2"),
    }


def test_a_manual_data_loss_override_takes_the_region_that_loses_least() -> None:
    # Given the first standby's accounts replica without lag data, and the second's orders replica far behind
    estate = Estate()
    estate.lag["accounts-usw2"] = None
    estate.lag["orders-euw1"] = 900.0
    override = {"manual": {"operator": "alice", "reason": "region gone", "acceptDataLoss": True}}
    # When an operator accepts data loss
    accepted = run_assess(estate, trigger=override)
    # Then the region with the smaller worst lag is chosen (unknown lag counts as the worst), the lag
    # accepted is its own replica's, named, and the choice says why
    assert accepted.decision == "PROCEED" and accepted.target == "eu-west-1" and accepted.data_loss_accepted
    assert "orders-euw1 lag 900 s exceeds 60 s: data loss accepted" in accepted.reason
    assert accepted.why_chosen and "least replica lag" in accepted.why_chosen
    assert [v.region for v in accepted.standbys if v.passed_over] == ["us-west-2"]
    # And the override never makes an unready replica ready
    estate.replicas["orders-euw1"]["status"] = "modifying"
    busy = run_assess(estate, trigger=override)
    assert busy.target == "us-west-2" and "accounts-usw2 lag unknown" in busy.reason


def test_a_data_loss_override_prefers_a_region_within_the_bound() -> None:
    # Given the first standby's orders replica far behind and the second standby within the bound
    estate = Estate()
    estate.lag["orders-usw2"] = 900.0
    override = {"manual": {"operator": "alice", "reason": "region gone", "acceptDataLoss": True}}
    # When an operator accepts data loss
    chosen = run_assess(estate, trigger=override)
    # Then no data is lost that the second standby keeps: it is chosen, and no loss is accepted
    assert chosen.decision == "PROCEED" and chosen.target == "eu-west-1" and not chosen.data_loss_accepted
    assert [v.region for v in chosen.standbys if v.passed_over] == ["us-west-2"]
    assert "orders-usw2" in (chosen.standbys[0].passed_over or "")


def test_only_a_manual_run_can_accept_data_loss() -> None:
    estate = Estate()
    for identifier in estate.lag:
        estate.lag[identifier] = None
    assert run_assess(estate).decision == "REFUSED"  # an alarm run carries no override
    unflagged = run_assess(estate, trigger={"manual": {"operator": "a", "reason": "r"}})
    assert unflagged.decision == "REFUSED" and not unflagged.data_loss_accepted
    flagged = run_assess(estate, trigger={"manual": {"operator": "a", "reason": "r", "acceptDataLoss": True}})
    assert flagged.decision == "PROCEED" and flagged.data_loss_accepted


# --- TargetHealth -----------------------------------------------------------------------------------


def test_an_unhealthy_target_after_the_promotion_is_looked_at_then_given_up_on() -> None:
    # Given the run moving to eu-west-1, whose application fails every check after the promotion
    estate = Estate()
    estate.failing[HC_EUW1] = 8
    rt, doc = estate.runtime(), assessed("eu-west-1")
    looks = []
    for _ in range(3):
        look = target_health(doc, rt, NOW)
        looks.append((look.region, look.healthy, look.gave_up))
        doc = doc.model_copy(update={"target": look})
    # Then it is looked at confirm_probes (2) more times, then given up on; only its own check is read
    assert looks == [("eu-west-1", False, False), ("eu-west-1", False, False), ("eu-west-1", False, True)]
    assert {hc for _, hc in estate.called("GetHealthCheckStatus")} == {HC_EUW1}
    assert doc.target is not None and doc.target.votes == "0/8 checkers healthy on probe 3"


def test_a_healthy_target_is_looked_at_once() -> None:
    look = target_health(assessed("us-west-2"), Estate().runtime(), NOW)
    assert (look.region, look.healthy, look.probes, look.gave_up) == ("us-west-2", True, 1, False)


# --- Boundaries: exactly on each documented rule, and one step either side ----------------------


@pytest.mark.parametrize(
    ("healthy", "verdict"),
    [(8, "UNHEALTHY"), (9, "UNHEALTHY"), (10, "HEALTHY")],  # of 50 checkers: 16%, 18%, 20%
)
def test_an_endpoint_is_healthy_only_above_18_percent_of_checkers(healthy: int, verdict: str) -> None:
    estate = Estate(checkers=50)
    estate.failing = {"hc": 50 - healthy}
    votes = Route53(FakeRoute53(estate, "us-east-1")).checker_votes("hc", 18)
    assert votes.verdict == verdict


@pytest.mark.parametrize(("lag", "target"), [(59.0, "us-west-2"), (60.0, "us-west-2"), (61.0, "eu-west-1")])
def test_replica_lag_is_accepted_up_to_and_including_the_limit(lag: float, target: str) -> None:
    estate = Estate()
    estate.lag["orders-usw2"] = lag
    assert run_assess(estate).target == target


# --- Finalize -------------------------------------------------------------------------------------


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
