"""Racing triggers against one estate: one run acts, every other run is refused fast."""

import pytest

from tests.conftest import run_scenario


@pytest.mark.parametrize(
    "trigger",
    [
        {"manual": {"operator": "alice", "reason": "ten operators at once"}, "copies": 10},
        {"alarm": {"state": "ALARM"}, "copies": 10},
    ],
    ids=["ten-manual-runs", "ten-deliveries-of-one-alarm"],
)
def test_ten_triggers_at_once_promote_exactly_once(trigger: dict) -> None:
    result = run_scenario(
        {"name": "race", "description": "race", "expect": {"outcome": "FAILED_OVER"}, "trigger": trigger}
    )
    outcomes = sorted(r.outcome for r in result.runs)
    assert outcomes == ["FAILED_OVER"] + ["REFUSED"] * 9
    # Then one run promoted the target region's databases, one request per database (two in the estate)
    promotions = [c for c in result.recorder.calls if c.operation == "PromoteReadReplica"]
    assert len(promotions) == 2 and len({c.execution for c in promotions}) == 1
    assert {c.region for c in promotions} == {"us-west-2"}
    writers = sorted(d["id"] for d in result.world["databases"] if d["region"] != "us-east-1" and d["source"] is None)
    assert writers == ["accounts-us-west-2", "orders-us-west-2"]
    for run in result.runs:
        if run.outcome == "REFUSED":
            states = [s.name for s in run.states]
            # refused at the gate: no health check, no database or DNS call
            assert "Assess" not in states and "RefusedAtGate" in states
    assert len(result.notifications) == 10
