"""Every Catch clause of the ASL, driven by a persistent Lambda failure of its state's function."""

import json
from pathlib import Path
from typing import Any

import pytest

from failover.clients import BUDGETS
from failover.settings import RUN_OVERHEAD_SECONDS
from tests.conftest import run_scenario

ASL = json.loads(Path("statemachine/failover.asl.json").read_text())
CATCHING = {
    name: state["Catch"][-1]["Next"]
    for name, state in ASL["States"].items()
    if state["Type"] == "Task" and state.get("Catch") and state["Resource"].startswith("${")
}
# The alarm path reaches every task but Rollback; Rollback is reached through a failing Promote.
# One run each: the re-evaluation loop (which would follow a rollback) is proven by its own scenarios.
BASE = {
    "name": "catch",
    "description": "catch path",
    "expect": {"outcome": None},
    "trigger": {"alarm": {}},
    "plan": {"ReevaluateMaxAttempts": 0},
}


def _failing(*functions: str) -> list[dict[str, object]]:
    return [{"service": "lambda", "operation": f"{f}Function", "error": "Lambda.ServiceException"} for f in functions]


def test_every_task_state_has_a_catch() -> None:
    # Lambda tasks; the one service integration (Reevaluate) is checked on its own below.
    tasks = [
        name for name, state in ASL["States"].items() if state["Type"] == "Task" and state["Resource"].startswith("${")
    ]
    assert sorted(tasks) == sorted(CATCHING)
    for name in tasks:
        state = ASL["States"][name]
        assert state["TimeoutSeconds"] <= 60
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "TransientAwsError"} <= retried
        # Full jitter everywhere but TransientAwsError's schedule, which must be deterministic: a
        # throttling storm is survived only if the waits add up to a known minimum, and full jitter
        # has none (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        # One run at a time holds the lock, so there is no herd of executions for jitter to spread.
        assert all(r.get("JitterStrategy") == "FULL" for r in state["Retry"] if r is not _transient(state))


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
    retrier = _transient(ASL["States"][name])
    # Then its retrier is deterministic and its waits alone (the Lambda's own retries only add to
    # them) start the last attempt after the storm has passed, with room to spare
    assert retrier["ErrorEquals"] == ["TransientAwsError"]
    assert retrier.get("JitterStrategy") == "NONE"
    assert sum(_waits(retrier)) >= STORM_SECONDS + 10
    # And surviving it costs at most half the run's overhead allowance: the waits, plus every
    # attempt spending its whole in-Lambda budget on the call the storm hits first
    in_lambda = max(budget.seconds for budget in BUDGETS.values())
    assert sum(_waits(retrier)) + (retrier["MaxAttempts"] + 1) * in_lambda <= RUN_OVERHEAD_SECONDS / 2


@pytest.mark.parametrize("state", ["Intake", "Gate", "Assess", "Promote", "PromotionStatus", "UpdateDns", "DnsStatus"])
def test_a_failing_step_is_caught_into_rollback(state: str) -> None:
    # Intake's failure first starts a fresh document (the raw trigger is dropped), then rolls back.
    assert CATCHING[state] == "Rollback" or ASL["States"][CATCHING[state]]["Next"] == "Rollback"
    result = run_scenario({**BASE, "faults": _failing(state)})
    (run,) = result.runs
    names = [s.name for s in run.states]
    assert names.index("Rollback") > names.index(state)
    assert names[-1] in ("RolledBack", "Degraded")
    # Lambda.ServiceException was retried (4 times) before the Catch
    assert len(result.recorder.retries) == 4
    promoted = state in ("PromotionStatus", "UpdateDns", "DnsStatus")
    assert run.outcome == ("DEGRADED" if promoted else "ROLLED_BACK")
    # DNS moves only in UpdateDns, after the promotion, and is never moved back.
    moved = state == "DnsStatus"
    assert (result.world["dns"] != result.before["dns"]) == moved
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
    assert run.audit is not None and run.audit.notification_error.error == "Lambda.ServiceException"
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
