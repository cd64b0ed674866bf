"""The Fence step: after the writers moved, each old primary is stopped, or the run says why not."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from failover import fencing
from failover.adapters import Rds
from failover.clients import Clients
from failover.models import FenceCode, FenceResult
from failover.plan import Plan
from failover.runtime import Runtime
from failover.steps.fence import fence
from tests.conftest import NOW, PLAN, PLAN_DOCUMENT
from tests.unit.fakes import assessed, client_error, settings_for, tagged_instance, virtual_sleeps

PROMOTED = {"promoted": ["orders-usw2", "accounts-usw2"]}
FAILED_OVER = {"outcome": "FAILED_OVER", "reason": "moved", "databasePromoted": True}


def _primaries() -> None:
    for identifier in ("orders-primary", "accounts-primary"):
        tagged_instance("us-east-1", identifier, "orders")


def _status(identifier: str) -> str:
    client = boto3.client("rds", region_name="us-east-1")
    return str(client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]["DBInstanceStatus"])


def _run(plan: Plan = PLAN, result: dict[str, Any] | None = None, rt: Runtime | None = None) -> FenceResult:
    doc = assessed("us-west-2", plan, result={**FAILED_OVER, **(result or PROMOTED)})
    return fence(doc, rt or Runtime(settings_for(plan), Clients()), NOW)


@mock_aws
def test_after_a_failover_each_old_primary_is_stopped_and_a_retry_finds_it_done() -> None:
    # Given both old primaries, tagged for the plan and available
    _primaries()
    # When Fence runs after a failover that promoted both replicas, and runs again (a retried step)
    first, again = _run(), _run()
    # Then each is stopped, once, and the retry counts the stopped instances as fenced
    assert first.entries == again.entries == [FenceCode.STOPPED, FenceCode.STOPPED]
    assert _status("orders-primary") == _status("accounts-primary") == "stopped"
    lines = fencing.lines(PLAN, first)
    assert lines[0].startswith("Fence orders (orders-primary, us-east-1): fenced: stopped")
    assert fencing.by_hand(PLAN, first) == []


@mock_aws
def test_an_old_primary_this_run_did_not_move_is_left_as_the_writer() -> None:
    # Given a DEGRADED run that promoted only the orders replica
    _primaries()
    # When Fence runs
    found = _run(result={"outcome": "DEGRADED", "promoted": ["orders-usw2"]})
    # Then accounts' old primary, still its only writer, is not touched
    assert found.entries == [FenceCode.STOPPED, FenceCode.NOT_PROMOTED]
    assert _status("accounts-primary") == "available"


@mock_aws
def test_the_plan_may_say_fence_none_and_the_page_says_to_fence_it_by_hand() -> None:
    # Given a plan whose orders database says fence: none
    databases = [{**PLAN_DOCUMENT["databases"][0], "fence": "none"}, PLAN_DOCUMENT["databases"][1]]
    plan = Plan.model_validate({**PLAN_DOCUMENT, "databases": databases})
    _primaries()
    # When Fence runs
    found = _run(plan)
    # Then orders' old primary is left running, and named for a person
    assert found.entries == [FenceCode.PLAN_NONE, FenceCode.STOPPED]
    assert _status("orders-primary") == "available"
    assert fencing.by_hand(plan, found) == ["orders-primary"]


def test_an_unknown_fence_option_is_refused_by_the_plan() -> None:
    databases = [{**PLAN_DOCUMENT["databases"][0], "fence": "read-only"}, PLAN_DOCUMENT["databases"][1]]
    with pytest.raises(ValueError, match="fence"):
        Plan.model_validate({**PLAN_DOCUMENT, "databases": databases})


def test_an_old_primary_not_tagged_for_the_plan_is_reported_not_stopped() -> None:
    # Given old primaries the stack's role may not stop (not tagged for the plan)
    class Denied:
        def stop_db_instance(self, **_: Any) -> Any:
            raise client_error("AccessDenied", "StopDBInstance")

    rt = Runtime(settings_for(PLAN), Clients(), rds={"us-east-1": Rds(Denied())})
    # When Fence runs; Then each is DENIED, for a person to fence
    found = _run(rt=rt)
    assert found.entries == [FenceCode.DENIED, FenceCode.DENIED]
    assert fencing.by_hand(PLAN, found) == ["orders-primary", "accounts-primary"]


def test_a_refusal_by_rds_is_recorded_with_its_words_and_never_raised() -> None:
    # Given an old primary that still has a read replica following it (a three-region plan's other standby)
    class Refusing:
        def stop_db_instance(self, DBInstanceIdentifier: str) -> Any:
            raise client_error("InvalidDBInstanceState", "StopDBInstance")

        def describe_db_instances(self, DBInstanceIdentifier: str) -> Any:
            return {"DBInstances": [{"DBInstanceStatus": "available"}]}

    rt = Runtime(settings_for(PLAN), Clients(), rds={"us-east-1": Rds(Refusing())})
    # When Fence runs
    found = _run(rt=rt)
    # Then both are REFUSED, RDS's answer is kept (bounded), and the page says what to do by hand
    assert found.entries == [FenceCode.REFUSED, FenceCode.REFUSED]
    assert found.note is not None and "InvalidDBInstanceState" in found.note
    assert any("RDS refused to stop it" in line for line in fencing.lines(PLAN, found))


def test_an_unreachable_primary_region_is_asked_once_and_recorded() -> None:
    # Given a primary region whose endpoint never answers
    calls: list[str] = []

    class Lost:
        def stop_db_instance(self, DBInstanceIdentifier: str) -> Any:
            calls.append(DBInstanceIdentifier)
            raise EndpointConnectionError(endpoint_url="https://rds.us-east-1.amazonaws.com")

    rt = Runtime(settings_for(PLAN), Clients(), rds={"us-east-1": Rds(Lost())})
    # When Fence runs (its retries sleep in virtual time)
    with virtual_sleeps():
        found = _run(rt=rt)
    # Then both are UNREACHABLE, the second without a call of its own, and the run goes on
    assert found.entries == [FenceCode.UNREACHABLE, FenceCode.UNREACHABLE]
    assert set(calls) == {"orders-primary"}
    assert "fence it when the region returns" in fencing.lines(PLAN, found)[0]


def test_a_failed_fence_step_names_every_old_primary_for_a_person() -> None:
    # Given the Catch's trimmed result: only the error's name
    failed = FenceResult.model_validate({"error": "States.Timeout"})
    # Then the page says fencing failed and names every RDS old primary
    assert fencing.by_hand(PLAN, failed) == ["orders-primary", "accounts-primary"]
    assert fencing.lines(PLAN, failed)[0].startswith("Fencing FAILED (States.Timeout)")
