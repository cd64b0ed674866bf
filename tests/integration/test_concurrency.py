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
    promotions = [m for m in result.mutations if m["operation"] == "PromoteReadReplica"]
    assert len(promotions) == 1
    for run in result.runs:
        if run.outcome == "REFUSED":
            states = [s.name for s in run.states]
            # refused at the gate: no health check, no database or DNS call
            assert "Assess" not in states and "RefusedAtGate" in states
    assert len(result.notifications) == 10
