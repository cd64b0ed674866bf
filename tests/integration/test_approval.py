"""The approval gate in drills: the real state machine waits on its callback task in virtual time and
goes on, or ends REFUSED, as the answer (or its absence) and the plan's policy say."""

from failover import report
from failover.history import Visit
from regionshift.drill import DrillResult, Run
from tests.conftest import run_scenario


def _visit(run: Run, name: str) -> Visit:
    (found,) = [v for v in run.states if v.name == name]
    return found


def _waited(run: Run) -> float:
    wait = _visit(run, "AwaitApproval")
    assert wait.exited is not None
    return (wait.exited - wait.entered).total_seconds()


def _pages(result: DrillResult) -> list[str]:
    return [str(n["outcome"]) for n in result.notifications]


def test_an_approved_run_fails_over_only_after_the_answer_and_names_the_approver(library_results) -> None:
    # Given a plan that makes alarm runs wait, and carol approving two virtual minutes after the page
    result = library_results["approval-granted"]
    (run,) = result.runs
    assert result.passed, result.problems
    # Then the run waited for her answer, and moved nothing before it
    assert 120 <= _waited(run) < 130
    entered = [v.name for v in run.states]
    assert entered.index("AwaitApproval") < entered.index("PromoteAll")
    # And the team was asked (with the decision's figures), then told who approved
    assert _pages(result) == ["APPROVAL_NEEDED", "FAILED_OVER"]
    asked, told = (n["message"] for n in result.notifications)
    assert "Verified: 2 replica(s) within 60 s of lag" in asked and f"regionshift approve {run.arn}" in asked
    assert "Approval: APPROVED by carol" in told and "primary confirmed down by the database team" in told
    # And the audit and the run's report name her
    assert run.audit is not None and run.audit.decisions.approval is not None
    answer = run.audit.decisions.approval.answer
    assert answer is not None and (answer.decision, answer.operator) == ("APPROVED", "carol")
    page = report.markdown(result.reports[run.arn])
    assert "Approval: APPROVED by carol" in page and "| approval | 12" in page


def test_a_denied_run_changes_nothing_and_is_not_reevaluated(library_results) -> None:
    result = library_results["approval-denied"]
    (run,) = result.runs  # the alarm stays in ALARM, yet no re-evaluation follows a person's no
    assert result.passed, result.problems
    assert result.mutations == [] and result.world == result.before
    assert run.reason == "approval denied by dave before any change: the primary's team is restoring it in place"
    assert run.audit is not None and run.audit.decisions.approval is not None
    assert run.audit.decisions.approval.answer is not None
    assert run.audit.decisions.approval.answer.decision == "DENIED"
    assert _pages(result) == ["APPROVAL_NEEDED", "REFUSED"]
    assert result.lock is None


def test_no_answer_within_the_timeout_refuses_after_exactly_that_long_in_virtual_time(library_results) -> None:
    result = library_results["approval-timeout-refuse"]
    (run,) = result.runs
    assert result.passed, result.problems
    # The 10-minute wait ran out on the virtual clock (the drill took seconds of real time)
    assert 600 <= _waited(run) < 610
    assert result.mutations == [] and result.world == result.before
    assert run.reason is not None and run.reason.startswith("no answer to the approval request within 600 s")
    assert run.audit is not None and run.audit.decisions.approval is not None
    assert run.audit.decisions.approval.timed_out
    assert [v.name for v in run.states].count("Assess") == 3  # no re-evaluation, no second run


def test_no_answer_with_on_timeout_proceed_fails_over_and_says_so(library_results) -> None:
    result = library_results["approval-timeout-proceed"]
    (run,) = result.runs
    assert result.passed, result.problems
    assert 300 <= _waited(run) < 310
    assert any(m["operation"] == "PromoteReadReplica" for m in result.mutations)
    told = result.notifications[-1]["message"]
    assert "Approval: no answer within 300 s; the plan's onTimeout (proceed): proceeded without an answer" in told


def test_a_dry_run_reports_the_wait_and_does_not_wait() -> None:
    # Given a plan that makes manual runs wait, and an operator's dry run
    result = run_scenario(
        {
            "name": "approval-dry-run",
            "description": "a dry run under an approval plan",
            "expect": {"outcome": "DRY_RUN", "runs": 1},
            "plan": {"approval": {"manual": "approval", "timeoutMinutes": 5}},
            "trigger": {"manual": {"operator": "alice", "reason": "drill", "dryRun": True}},
        }
    )
    (run,) = result.runs
    assert result.passed, result.problems
    # Then nobody is asked, and the page says what a real run would do
    assert "AwaitApproval" not in [v.name for v in run.states]
    assert _pages(result) == ["DRY_RUN"]
    assert "Approval: a real run would wait here up to 300 s" in result.notifications[0]["message"]


def test_the_wait_is_a_callback_task_whose_answers_and_timeout_are_caught_by_name() -> None:
    import json

    from failover import errors
    from regionshift.template import stack_root

    states = json.loads((stack_root() / "statemachine/failover.asl.json").read_text())["States"]
    wait = states["AwaitApproval"]
    # Given the task: Lambda's callback integration, its token in the payload, the plan's timeout
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert wait["TimeoutSecondsPath"] == "$.intake.approval.timeoutSeconds"
    # Then a denial and the timeout are caught by name, anything else last, into Rollback
    caught = [(c["ErrorEquals"], c["Next"]) for c in wait["Catch"]]
    assert caught == [
        ([errors.ApprovalDeniedError.__name__], "ReadDenial"),
        (["States.Timeout"], "NoAnswer"),
        (["States.ALL"], "Rollback"),
    ]
    # And the timeout is never retried (a retry would wait again, and ask again)
    assert not any("States.Timeout" in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"] for r in wait["Retry"])
    # And a denied or unanswered run is refused as final (never re-evaluated)
    for refusal in ("ApprovalDenied", "RefusedWithoutAnswer"):
        assert (
            states[refusal]["Parameters"]["outcome"] == "REFUSED" and "transient" not in states[refusal]["Parameters"]
        )


def test_a_request_that_cannot_be_made_rolls_back_before_any_change() -> None:
    # Given an approval plan whose Approval function the Lambda service keeps failing
    result = run_scenario(
        {
            "name": "approval-unreachable",
            "description": "the request cannot be recorded or paged",
            "expect": {"outcome": "ROLLED_BACK", "runs": 1},
            "plan": {"approval": {"alarm": "approval"}, "rails": {"reevaluateMaxAttempts": 0}},
            "trigger": {"alarm": {}},
            "faults": [{"service": "lambda", "operation": "ApprovalFunction", "error": "Lambda.ServiceException"}],
        }
    )
    # Then nobody was asked, nothing changed, and the run says so
    assert result.passed, result.problems
    assert result.mutations == [] and result.world == result.before
    assert _pages(result) == ["ROLLED_BACK"]
