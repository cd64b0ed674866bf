"""Every Catch clause of the ASL, driven by a persistent Lambda failure of its state's function."""

import json
from pathlib import Path
from typing import Any

import pytest

from failover.clients import BUDGETS
from failover.plan import RUN_OVERHEAD_SECONDS
from tests.conftest import run_scenario

ASL = json.loads(Path("statemachine/failover.asl.json").read_text())
MAP = ASL["States"]["PromoteAll"]
# The outer Map runs the plan's stages one after another; each stage is a Map of Promote/poll loops.
STAGE = MAP["ItemProcessor"]["States"]["PromoteStage"]
INNER = STAGE["ItemProcessor"]["States"]


def _lambda_tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in states.items() if s["Type"] == "Task" and s["Resource"].startswith("${")}


# Top-level Lambda tasks catch their own failures; the promotion Map's tasks (one iteration per
# replica) have none: a failed iteration fails the Map, whose Catch leads to Rollback.
TASKS = {**_lambda_tasks(ASL["States"]), **_lambda_tasks(INNER)}
CATCHING = {
    name: (state if name in ASL["States"] else MAP)["Catch"][-1]["Next"]
    for name, state in TASKS.items()
    if (state if name in ASL["States"] else MAP).get("Catch")
}
# The alarm path reaches every task but Rollback; Rollback is reached through a failing Promote.
# One run each: the re-evaluation loop (which would follow a rollback) is proven by its own scenarios.
BASE = {
    "name": "catch",
    "description": "catch path",
    "expect": {"outcome": None},
    "trigger": {"alarm": {}},
    "plan": {"rails": {"reevaluateMaxAttempts": 0}},
}


def _failing(*functions: str) -> list[dict[str, object]]:
    return [{"service": "lambda", "operation": f"{f}Function", "error": "Lambda.ServiceException"} for f in functions]


def test_every_task_state_has_a_catch() -> None:
    # Lambda tasks, the Map's included; the one service integration (Reevaluate) is checked on its own below.
    assert {"Promote", "PromotionStatus", "TargetHealth"} <= set(TASKS)
    assert sorted(TASKS) == sorted(CATCHING)
    for name, state in TASKS.items():
        assert state["TimeoutSeconds"] <= 60
        if name in INNER:
            # A Catch inside the iteration would hide a failed promotion from the Map: none there.
            assert "Catch" not in state
        else:
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "TransientAwsError"} <= retried
        # Full jitter everywhere but TransientAwsError's schedule, which must be deterministic: a
        # throttling storm is survived only if the waits add up to a known minimum, and full jitter
        # has none (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        # One run at a time holds the lock, so there is no herd of executions for jitter to spread.
        assert all(r.get("JitterStrategy") == "FULL" for r in state["Retry"] if r is not _transient(state))


def test_the_promotion_maps_catch_leads_to_rollback() -> None:
    # Given the Map that moves every stage of the target's members, each stage a Map without a Catch
    assert MAP["Type"] == "Map" and MAP["ItemsPath"] == "$.assess.stages"
    assert STAGE["Type"] == "Map" and "Catch" not in STAGE and "Retry" not in STAGE
    # Then any failed iteration (States.ALL, last) is caught into Rollback, keeping the document
    assert MAP["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert MAP["Catch"][-1]["Next"] == "Rollback" and MAP["Catch"][-1]["ResultPath"] == "$.error"


def _transient(state: dict[str, Any]) -> dict[str, Any]:
    (retrier,) = [r for r in state["Retry"] if "TransientAwsError" in r["ErrorEquals"]]
    return retrier


def _waits(retrier: dict[str, Any]) -> list[float]:
    """The intervals Step Functions waits before each retry (no jitter): grown by BackoffRate, capped."""
    interval, rate = retrier["IntervalSeconds"], retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return [min(cap, interval * rate**n) for n in range(retrier["MaxAttempts"])]


STORM_SECONDS = 60


@pytest.mark.parametrize("name", sorted(CATCHING))
def test_transient_errors_are_retried_long_enough_to_outlast_a_storm(name: str) -> None:
    # Given a storm of throttles on every API from the moment the step's first attempt starts
    retrier = _transient(TASKS[name])
    # Then its retrier is deterministic and its waits alone (the Lambda's own retries only add to
    # them) start the last attempt after the storm has passed, with room to spare
    assert retrier["ErrorEquals"] == ["TransientAwsError"]
    assert retrier.get("JitterStrategy") == "NONE"
    assert sum(_waits(retrier)) >= STORM_SECONDS + 10
    # And surviving it costs at most half the run's overhead allowance: the waits, plus every
    # attempt spending its whole in-Lambda budget on the call the storm hits first
    in_lambda = max(budget.seconds for budget in BUDGETS.values())
    assert sum(_waits(retrier)) + (retrier["MaxAttempts"] + 1) * in_lambda <= RUN_OVERHEAD_SECONDS / 2


# The target's replicas in the default estate: one iteration of the promotion Map each.
TARGET_REPLICAS = ["accounts-us-west-2", "orders-us-west-2"]
RECORDS = ["api.example.com", "db.example.com", "example.com"]


@pytest.mark.parametrize(
    "state", ["Intake", "Gate", "Assess", "Promote", "PromotionStatus", "TargetHealth", "UpdateDns", "DnsStatus"]
)
def test_a_failing_step_is_caught_into_rollback(state: str) -> None:
    # Intake's failure first starts a fresh document (the raw trigger is dropped), then rolls back;
    # a failing iteration of the promotion Map fails the Map, whose Catch rolls back.
    assert CATCHING[state] == "Rollback" or ASL["States"][CATCHING[state]]["Next"] == "Rollback"
    # Given the state's function failing on every invocation
    result = run_scenario({**BASE, "faults": _failing(state)})
    (run,) = result.runs
    names = [s.name for s in run.states]
    # Then the run went through Rollback after the failing state, and ended in a Fail state
    assert names.index("Rollback") > names.index(state)
    assert names[-1] in ("RolledBack", "Degraded")
    # And Lambda.ServiceException was retried (4 times) before the Catch, in each iteration of the Map
    iterations = len(TARGET_REPLICAS) if state in INNER else 1
    assert names.count(state) == iterations
    assert len(result.recorder.retries) == 4 * iterations
    # And the outcome is honest: once a promotion is requested (Promote itself never ran here), the
    # run is DEGRADED and names every database it promoted
    promoted = state in ("PromotionStatus", "TargetHealth", "UpdateDns", "DnsStatus")
    assert run.outcome == ("DEGRADED" if promoted else "ROLLED_BACK")
    assert run.audit is not None
    assert sorted(run.audit.promoted) == (TARGET_REPLICAS if promoted else [])
    # (each is a writer, or on its way to one: RDS answers "modifying" while it promotes)
    changing = sorted(
        d["id"]
        for d in result.world["databases"]
        if d["region"] == "us-west-2" and (d["source"] is None or d["status"] != "available")
    )
    assert changing == (TARGET_REPLICAS if promoted else [])
    # And DNS moves only in UpdateDns, after the promotions, and is never moved back: every record of
    # every zone moved together, or none did
    moved = state == "DnsStatus"
    assert (result.world["dns"] != result.before["dns"]) == moved
    assert {r["region"] for r in result.world["dns"]} == {"us-west-2" if moved else "us-east-1"}
    if promoted:
        assert sorted(run.audit.moved) == (RECORDS if moved else [])
        assert sorted(run.audit.not_moved) == ([] if moved else RECORDS)
    assert [n["outcome"] for n in result.notifications] == [run.outcome]


def test_rollback_failure_ends_in_a_fail_state_keeping_the_original_error() -> None:
    result = run_scenario({**BASE, "faults": _failing("Promote", "Rollback")})
    (run,) = result.runs
    names = [s.name for s in run.states]
    assert names[-4:] == ["RollbackFailed", "Notify", "Finalize", "Conclude"][-4:] or "RollbackFailed" in names
    assert names[-1] == "RollbackFailedEnd"
    assert run.error == "Lambda.ServiceException"
    assert run.outcome == "DEGRADED"
    assert "rollback failed" in (run.reason or "")
    assert [n["outcome"] for n in result.notifications] == ["DEGRADED"]


def test_notification_failure_keeps_the_outcome_and_is_recorded() -> None:
    result = run_scenario({**BASE, "faults": _failing("Notify")})
    (run,) = result.runs
    assert run.status == "SUCCEEDED" and run.outcome == "FAILED_OVER"
    assert result.notifications == []
    assert run.audit is not None and run.audit.notification_error is not None
    assert run.audit.notification_error.error == "Lambda.ServiceException"
    finalize_logs = [i.logs for i in result.recorder.invocations if i.function.endswith("FinalizeFunction")]
    assert "notification failed" in finalize_logs[-1]
    assert "NotificationFailures" in finalize_logs[-1]


def test_finalize_failure_fails_the_execution() -> None:
    result = run_scenario({**BASE, "faults": _failing("Finalize")})
    (run,) = result.runs
    assert run.status == "FAILED" and run.error == "Regionshift.FinalizeFailed"
    assert [s.name for s in run.states][-1] == "FinalizeFailed"


def test_a_failed_reevaluation_start_never_fails_the_run() -> None:
    state = ASL["States"]["Reevaluate"]
    assert state["Resource"] == "arn:aws:states:::states:startExecution"
    assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"] and state["Catch"][-1]["Next"] == "Conclude"
    assert state["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
