"""The switchover drills of the scenario library, run through the real state machine and handlers."""

import pytest

from regionshift.drill import DrillResult


def _roles(result: DrillResult) -> dict[str, str]:
    return {d["id"]: d["role"] for d in result.world["databases"]}


def _operations(result: DrillResult) -> list[str]:
    return [e["operation"] for e in result.effects]


def test_a_switchover_waits_for_the_lag_to_drain_then_moves_and_fences(library_results: dict[str, DrillResult]) -> None:
    # Given both replicas' lag falling from 4 s to 0 a minute after the run starts
    result = library_results["switchover-drains"]
    (run,) = result.runs
    assert run.outcome == "FAILED_OVER"
    assess = run.audit.decisions.assess if run.audit else None
    assert assess is not None and assess.drained_since is not None
    # Then Assess read again while the lag drained, and moved only after 0 had held for the window (60 s)
    assert assess.probe >= 4
    assert (assess.at - assess.drained_since).total_seconds() >= 60
    assert {r.identifier: r.lag_seconds for r in assess.replicas} == {"orders-us-west-2": 0, "accounts-us-west-2": 0}
    assert not assess.data_loss_accepted
    # And both replicas were promoted, every record moved, and both old primaries were stopped
    roles = _roles(result)
    assert roles["orders-us-west-2"] == roles["accounts-us-west-2"] == "primary"
    assert {r["region"] for r in result.world["dns"]} == {"us-west-2"}
    stops = sorted(e["identifier"] for e in result.effects if e["operation"] == "StopDBInstance")
    assert stops == ["accounts-primary", "orders-primary"]
    # And the page says it was a switchover with no data loss, and shows the drain
    message = result.notifications[0]["message"]
    assert "Reason: switched over to us-west-2 with no data loss" in message
    assert "Switchover: a planned move with no data loss" in message
    assert "Switchover drain: replica lag read 0 s on every read from" in message
    assert "DATA LOSS ACCEPTED" not in message
    report = result.reports[run.arn]
    assert report["flags"]["switchover"] is True


def test_a_switchover_whose_lag_never_reaches_0_is_refused_after_the_maximum_wait(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["switchover-lag-never-zero"]
    (run,) = result.runs
    assert run.outcome == "REFUSED"
    # Then it read until the maximum wait (180 s), and named the replica that never drained
    assert run.audit is not None and "not drained after 18" in run.audit.reason
    assert "accounts-us-west-2 1 s" in run.audit.reason and "orders-us-west-2" not in run.audit.reason
    assert result.wire()["virtualSeconds"] >= 180
    # And nothing changed: zero mutating calls
    assert result.wire()["mutations"] == [] and result.world == result.before


def test_an_aurora_switchover_uses_switchover_global_cluster_never_a_failover(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["switchover-aurora"]
    assert [r.outcome for r in result.runs] == ["FAILED_OVER"]
    operations = _operations(result)
    assert operations.count("SwitchoverGlobalCluster") == 1 and "FailoverGlobalCluster" not in operations
    # Then the old primary cluster is a secondary (Aurora demotes it), the us-west-2 one the writer
    roles = _roles(result)
    assert roles["ledger-us-west-2"] == "primary" and roles["ledger-us-east-1"] == "replica"
    assert "Aurora global database ledger: switched over" in result.notifications[0]["message"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("switchover-primary-unhealthy", "if it is down, start a failover instead"),
        ("switchover-data-loss-refused", "a switchover loses no data: acceptDataLoss does not apply"),
    ],
)
def test_a_switchover_that_is_not_one_is_refused_without_a_change(
    name: str, reason: str, library_results: dict[str, DrillResult]
) -> None:
    result = library_results[name]
    assert [r.outcome for r in result.runs] == ["REFUSED"]
    assert reason in result.notifications[0]["message"]
    assert result.wire()["mutations"] == [] and result.world == result.before
