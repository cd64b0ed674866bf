"""The estate's direction: where the writers are after a run moved them, recorded once, read by every
step, and the plan as runs then see it."""

from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover.clients import Clients
from failover.errors import DirectionUnreadableError
from failover.models import Direction
from failover.plan import PlanProblemsError
from failover.runtime import Runtime
from failover.steps.finalize import record_direction
from failover.steps.gate import gate
from failover.steps.intake import evaluate
from tests.conftest import NOW, PLAN, create_run_table
from tests.unit.fakes import EXECUTION, SETTINGS, alarm, assessed, document, intake, manual

MOVED = Direction(primary_region="us-west-2", version=1, by="run-1")


def test_a_directed_plan_has_the_writers_region_as_primary_and_the_old_primary_in_its_place() -> None:
    # Given the example plan (us-east-1, then us-west-2 and eu-west-1), the writers moved to us-west-2
    directed = PLAN.directed("us-west-2", {})
    # Then us-west-2 is the primary and us-east-1 takes its place first in the standby order
    assert directed.primary_region == "us-west-2"
    assert directed.standby_regions == ["us-east-1", "eu-west-1"]
    # And each RDS database's writer is its us-west-2 replica; its old primary is its us-east-1 member
    orders = directed.mover("orders")
    assert directed.primary_member(orders) == PLAN.mover("orders").member("us-west-2", "us-east-1")
    assert orders.member("us-east-1", "us-west-2") == PLAN.primary_member(PLAN.mover("orders"))
    # And health checks stay with their regions; the plan as deployed (its digest) is unchanged
    assert directed.health_check("us-west-2") == PLAN.health_check("us-west-2")
    assert directed.digest() == PLAN.digest() and directed.origin is PLAN


def test_a_rebuilt_replica_replaces_the_plans_instance_in_its_region() -> None:
    directed = PLAN.directed("us-west-2", {"orders": {"us-east-1": "orders-primary-2"}})
    assert directed.mover("orders").member("us-east-1", "us-west-2") == "orders-primary-2"
    # Back home, the rebuilt replica is the writer
    home = PLAN.directed("us-east-1", {"orders": {"us-east-1": "orders-primary-2"}})
    assert home.primary_member(home.mover("orders")) == "orders-primary-2"
    assert home.standby_regions == PLAN.standby_regions


def test_no_direction_is_the_plan_as_written() -> None:
    assert PLAN.along(None) is PLAN
    assert PLAN.directed(PLAN.primary_region, {}) is PLAN


def test_a_direction_that_does_not_fit_the_plan_lists_every_problem() -> None:
    with pytest.raises(PlanProblemsError) as raised:
        PLAN.directed("ap-south-1", {"nope": {"us-east-1": "x"}, "orders": {"sa-east-1": "y"}})
    assert raised.value.problems == [
        "direction: ap-south-1 is not a region of the plan",
        "direction: nope is not an RDS database of the plan",
        "direction: orders in sa-east-1, which is not a region of the plan",
    ]


def test_intake_checks_an_operators_assertions_against_the_estate_as_it_stands() -> None:
    # Given the writers moved to us-west-2: moving to us-east-1 (the plan's primary) is now a standby move
    home = intake(manual(targetRegion="us-east-1", sourceRegion="us-west-2"), direction=MOVED)
    assert home.decision == "PROCEED", home.reason
    assert home.direction == MOVED and home.plan.primary_region == "us-west-2"
    # And us-west-2, which holds the writers, is no target
    there = intake(manual(targetRegion="us-west-2"), direction=MOVED)
    assert there.decision == "REFUSED" and "targetRegion us-west-2 is not a standby region" in there.reason


def test_intake_refuses_a_recorded_direction_that_does_not_fit_the_plan() -> None:
    wrong = Direction(primary_region="ap-south-1", version=3)
    for trigger in (manual(), alarm()):
        result = intake(trigger, direction=wrong)
        assert result.decision == "REFUSED"
        assert (
            "recorded direction does not fit the plan" in result.reason and "regionshift direction set" in result.reason
        )


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        create_run_table(boto3.client("dynamodb", region_name="us-west-2"))
        yield Runtime(SETTINGS, Clients())


def test_a_direction_is_written_only_over_the_version_it_read(aws: Runtime) -> None:
    store = aws.store
    assert store.direction() is None
    assert store.set_direction(MOVED, None)
    recorded = store.direction()
    assert recorded is not None and recorded.version == 1 and recorded.primary_region == "us-west-2"
    # A second writer that read nothing (or an older version) writes nothing
    assert not store.set_direction(Direction(primary_region="eu-west-1"), None)
    assert not store.set_direction(Direction(primary_region="eu-west-1"), Direction(primary_region="x", version=0))
    assert store.set_direction(Direction(primary_region="us-east-1"), recorded)
    assert (store.direction() or MOVED).version == 2


def test_gate_refuses_a_run_whose_direction_changed_after_intake_read_it(aws: Runtime) -> None:
    # Given Intake read no direction, then another run moved the writers before this one took the lock
    doc = document()
    aws.store.set_direction(MOVED, None)
    result = gate(doc, aws, NOW)
    # Then the run is refused for a passing reason (an alarm run is judged again, as the estate stands)
    assert result.decision == "REFUSED" and result.transient and result.acquired
    assert "primary now us-west-2 by run-1" in result.reason


def test_a_run_that_moved_the_writers_then_refuses_the_one_waiting_behind_it_by_its_cooldown(aws: Runtime) -> None:
    # Given a run started before another moved the writers and, finishing, started a cooldown
    doc = document()
    aws.store.set_direction(MOVED, None)
    aws.store.start_cooldown("run-1", "FAILED_OVER", NOW + timedelta(minutes=30))
    result = gate(doc, aws, NOW)
    # Then the refusal is the cooldown's, final, however the two runs interleaved (not a passing one)
    assert result.decision == "REFUSED" and not result.transient
    assert "cooldown after FAILED_OVER run run-1" in result.reason


def test_a_run_that_moved_the_writers_records_where_they_are(aws: Runtime) -> None:
    doc = assessed("us-west-2", PLAN, result={"outcome": "FAILED_OVER", "reason": "moved", "promoted": ["x"]})
    moved = record_direction(doc, aws, NOW)
    assert moved is not None and moved.primary_region == "us-west-2" and moved.by == EXECUTION["id"]
    assert aws.store.direction() == moved
    # A run that moved nothing records nothing
    refused = assessed("us-west-2", PLAN, result={"outcome": "REFUSED", "reason": "no"})
    assert record_direction(refused, aws, NOW) is None


def test_a_direction_changed_by_hand_during_the_run_keeps_its_instances(aws: Runtime) -> None:
    # Given an operator recorded a rebuilt replica while the run (which read no direction) moved the writers
    aws.store.set_direction(Direction(primary_region="us-east-1", instances={"orders": {"eu-west-1": "o-2"}}), None)
    doc = assessed("us-west-2", PLAN, result={"outcome": "FAILED_OVER", "reason": "moved", "promoted": ["x"]})
    moved = record_direction(doc, aws, NOW)
    # Then what the run did is recorded over it, the operator's instances kept
    assert moved is not None and moved.primary_region == "us-west-2" and moved.version == 2
    assert moved.instances == {"orders": {"eu-west-1": "o-2"}}


def test_an_unreadable_direction_refuses_every_run_until_a_person_corrects_it(aws: Runtime) -> None:
    # Given CONTROL/DIRECTION holds something that is not a direction (written by hand)
    table = aws.settings.table_arn.rsplit("/", 1)[-1]
    boto3.client("dynamodb", region_name="us-west-2").put_item(
        TableName=table, Item={"pk": {"S": "CONTROL"}, "sk": {"S": "DIRECTION"}, "direction": {"S": "{oops"}}
    )
    # Then Intake refuses, saying how to correct it
    with pytest.raises(DirectionUnreadableError) as raised:
        aws.store.direction()

    def unreadable() -> Direction | None:
        raise raised.value

    refused = evaluate(manual(), SETTINGS, NOW, unreadable)
    assert refused.decision == "REFUSED" and "cannot be read" in refused.reason and "direction set" in refused.reason
    # And a correction is written over it
    assert aws.store.set_direction(MOVED, Direction(primary_region="us-west-2", version=raised.value.version))
    assert (aws.store.direction() or MOVED).primary_region == "us-west-2"
