"""A planned switchover: Intake's rules, Assess's drain (every RDS replica at 0 s of lag for the drain
window, refused after the maximum wait), the rails that bound it, and Aurora's SwitchoverGlobalCluster."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from failover.members import AuroraGlobal
from failover.models import AssessResult, RunDocument
from failover.plan import Rails
from failover.steps.assess import assess as assess_step
from tests.conftest import HC_PRIMARY, HC_USW2, NOW
from tests.unit.fakes import Estate, document, intake
from tests.unit.test_global_members import FakeAurora, arn

INTERVAL = timedelta(seconds=30)  # the plan's confirmIntervalSeconds: Assess reads again this often


def switchover(**fields: Any) -> dict[str, Any]:
    return {"manual": {"operator": "alice", "reason": "maintenance", "switchover": True, **fields}}


# --- Intake --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        (switchover(targetRegion="us-west-2", acceptDataLoss=True), "a switchover loses no data: acceptDataLoss"),
        (switchover(), "a switchover names the region it moves to (targetRegion)"),
        # Strict like every flag: "yes" is not a boolean.
        ({"manual": {"operator": "a", "reason": "x", "switchover": "yes", "targetRegion": "us-west-2"}}, "switchover"),
    ],
)
def test_a_switchover_that_could_lose_data_or_names_no_target_is_refused_at_intake(trigger: Any, reason: str) -> None:
    result = intake(trigger)
    assert result.decision == "REFUSED" and reason in result.reason


def test_a_switchover_is_carried_in_the_flags() -> None:
    result = intake(switchover(targetRegion="us-west-2", dryRun=True))
    assert result.decision == "PROCEED" and result.flags.switchover and result.flags.dry_run
    assert result.reason.startswith("dry run of a switchover requested by alice")


# --- Assess --------------------------------------------------------------------------------------


def healthy(lag: float | None = 0.0) -> Estate:
    """The primary healthy (a switchover's case), every replica at ``lag``."""
    estate = Estate()
    estate.failing[HC_PRIMARY] = 0
    estate.lag = dict.fromkeys(estate.lag, lag)
    return estate


def look(estate: Estate, previous: AssessResult | None, at: datetime, **fields: Any) -> AssessResult:
    doc: RunDocument = document(switchover(targetRegion="us-west-2", **fields))
    if previous is not None:
        doc = doc.model_copy(update={"assess": previous})
    return assess_step(doc, estate.runtime(), at)


def test_the_writer_moves_once_the_lag_has_read_0_for_the_drain_window() -> None:
    # Given a healthy primary whose replicas read 0 s of lag
    estate = healthy()
    # When Assess reads it every 30 s
    first = look(estate, None, NOW)
    second = look(estate, first, NOW + INTERVAL)
    third = look(estate, second, NOW + 2 * INTERVAL)
    # Then it waits until 0 has held for the 60 s window (no confirmation probes: the primary is up)
    assert [first.decision, second.decision, third.decision] == ["RECHECK", "RECHECK", "PROCEED"]
    assert first.drained_since == second.drained_since == third.drained_since == NOW
    assert "replica lag 0 for 30 s of the 60 s drain window" in second.reason
    assert third.target == "us-west-2" and not third.data_loss_accepted
    assert third.reason.startswith("switchover: primary us-east-1 healthy (8/8 checkers healthy); moving to us-west-2")
    assert "no data loss: 2 replica(s) read 0 s of lag on every read for 60 s (drain window 60 s)" in third.verified


@pytest.mark.parametrize("lag", [1.0, None, -1.0], ids=["one second", "unknown", "replication not active"])
def test_a_read_that_is_not_exactly_0_starts_the_window_again(lag: float | None) -> None:
    estate = healthy()
    first = look(estate, None, NOW)
    # When one replica reads anything but 0 (unknown lag is not 0; -1: RDS says replication is not active)
    estate.lag["accounts-usw2"] = lag
    second = look(estate, first, NOW + INTERVAL)
    assert second.decision == "RECHECK" and second.drained_since is None
    assert "replica lag not yet 0: accounts-usw2" in second.reason
    # Then 0 again counts from that read on
    estate.lag["accounts-usw2"] = 0.0
    third = look(estate, second, NOW + 2 * INTERVAL)
    assert third.decision == "RECHECK" and third.drained_since == NOW + 2 * INTERVAL


def test_a_lag_that_never_drains_is_refused_after_the_maximum_wait() -> None:
    # Given a replica whose lag stays at 1 s (the writes were not stopped)
    estate = healthy()
    estate.lag["orders-usw2"] = 1.0
    # When the maximum wait (600 s) has passed since the run started
    result = look(estate, None, NOW + timedelta(seconds=600))
    # Then the run is refused for a person to act (not a passing reason), and it says what to do
    assert result.decision == "REFUSED" and not result.transient
    assert "not drained after 600 s (switchoverMaxWaitSeconds 600): replica lag not yet 0: orders-usw2 1 s" in (
        result.reason
    )
    assert "stop the writes to us-east-1" in result.reason
    # And one second earlier it was still waiting
    assert look(estate, None, NOW + timedelta(seconds=599)).decision == "RECHECK"


def test_a_switchover_of_an_unhealthy_primary_is_refused_before_anything_is_read() -> None:
    estate = healthy()
    estate.failing[HC_PRIMARY] = 8
    result = look(estate, None, NOW)
    assert result.decision == "REFUSED" and "start a failover instead" in result.reason
    assert estate.called("DescribeDBInstances") == [] and estate.called("GetMetricStatistics") == []


def test_a_switchover_to_an_unhealthy_target_is_refused() -> None:
    estate = healthy()
    estate.failing[HC_USW2] = 8
    result = look(estate, None, NOW)
    assert result.decision == "REFUSED" and "no standby region is healthy" in result.reason


# --- the rails -----------------------------------------------------------------------------------


def test_the_switchover_wait_counts_in_the_longest_run_and_must_fit() -> None:
    rails = Rails()
    shorter = Rails(switchoverMaxWaitSeconds=60, switchoverDrainSeconds=0)
    assert rails.longest_run_seconds() - shorter.longest_run_seconds() == 540
    with pytest.raises(ValueError, match=r"switchoverDrainSeconds .* is longer than switchoverMaxWaitSeconds"):
        Rails(switchoverDrainSeconds=700, switchoverMaxWaitSeconds=600)
    with pytest.raises(ValueError, match="execution timeout"):
        Rails(switchoverMaxWaitSeconds=3000)


# --- Aurora --------------------------------------------------------------------------------------


class SwitchingAurora(FakeAurora):
    def switchover_global_cluster(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("SwitchoverGlobalCluster", params))
        self.moving_to = params["TargetDbClusterIdentifier"].split(":")[3]
        return {}


def test_an_aurora_switchover_calls_switchover_global_cluster_and_never_allows_data_loss() -> None:
    fake = SwitchingAurora()
    assert AuroraGlobal(fake).fail_over("ledger-global", "ledger-us-west-2", "us-west-2", switchover=True) is False
    assert [name for name, _ in fake.calls if not name.startswith("Describe")] == ["SwitchoverGlobalCluster"]
    (call,) = [params for name, params in fake.calls if name == "SwitchoverGlobalCluster"]
    assert call == {
        "GlobalClusterIdentifier": "ledger-global",
        "TargetDbClusterIdentifier": arn("us-west-2", "ledger-us-west-2"),
    }


def test_with_no_drain_window_one_read_of_0_is_enough_and_anything_else_is_not() -> None:
    # Given a plan whose drain window is 0 s
    estate = healthy()
    estate.plan = estate.plan.model_copy(
        update={"rails": estate.plan.rails.model_copy(update={"switchover_drain_seconds": 0})}
    )
    assert look(estate, None, NOW).decision == "PROCEED"
    # But a replica that is not at 0 still holds the move back
    estate.lag["orders-usw2"] = 1.0
    assert look(estate, None, NOW).decision == "RECHECK"
