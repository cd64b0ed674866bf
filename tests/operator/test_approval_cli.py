"""regionshift approve / deny against a run that really waits, on the emulator: the real state machine
waits on its callback task until the command answers it."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from failover.state import ApprovalRequest
from regionshift.cli import EXIT_REFUSED, EXIT_USAGE, app
from regionshift.drill import Run, Session
from regionshift.emulator.deploy import STACK_REGION
from regionshift.emulator.scenario import Scenario
from regionshift.execution import start_manual

runner = CliRunner()
TABLE = ["--table", "regionshift-runs", "--region", STACK_REGION]
# The plan makes manual runs wait ten minutes for a second person.
SCENARIO = Scenario.model_validate(
    {
        "name": "approval-cli",
        "description": "a manual run waits for an operator's answer",
        "expect": {"outcome": None},
        "plan": {"approval": {"manual": "approval", "timeoutMinutes": 10}},
        "trigger": {"manual": {"operator": "alice", "reason": "drill"}},
    }
)


@pytest.fixture
def session() -> Iterator[Session]:
    with Session(SCENARIO) as started:
        yield started


def waiting_run(session: Session) -> tuple[str, ApprovalRequest]:
    """Start a manual run and return once it waits for approval (its request recorded)."""
    name = f"approval-cli-{uuid.uuid4().hex[:8]}"
    arn = start_manual(
        session.sfn, session.deployment.manual_run_arn, name, {"operator": "alice", "reason": "failover"}, 0.02
    )
    deadline = time.monotonic() + 60
    while (request := session.store.approval_request(arn)) is None:
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.05)
    return arn, request


def finish(session: Session, arn: str) -> Run:
    run = Run(arn)
    session._follow([run])
    session._conclude([run])
    return run


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_approve_lets_the_waiting_run_fail_over_and_a_second_answer_is_refused(session: Session) -> None:
    # Given a manual run waiting for approval, which status shows
    arn, _ = waiting_run(session)
    status = cli("status", *TABLE)
    assert status.exit_code == 0 and f"waiting:  {arn} waits for approval until" in status.stdout
    assert json.loads(cli("status", *TABLE, "--json").stdout)["waitingForApproval"][0]["execution"] == arn
    # When carol approves it from the command line, as the page says
    approved = cli("approve", arn, *TABLE, "--operator", "carol", "--reason", "second pair of eyes")
    assert approved.exit_code == 0, approved.output
    assert "approved by carol" in approved.stdout
    # Then the run fails over, and her answer is audited
    run = finish(session, arn)
    assert run.outcome == "FAILED_OVER"
    assert run.audit is not None and run.audit.decisions.approval is not None
    assert run.audit.decisions.approval.answer.operator == "carol"  # type: ignore[union-attr]
    assert [(a.kind, a.operator) for a in session.store.operations()] == [("approve", "carol")]
    # And it no longer waits
    assert json.loads(cli("status", *TABLE, "--json").stdout)["waitingForApproval"] == []
    # And a second answer is refused, naming the first
    again = cli("deny", arn, *TABLE, "--operator", "dave", "--reason", "too late")
    assert again.exit_code == EXIT_REFUSED and "already answered: APPROVED by carol" in again.stderr


def test_deny_refuses_the_waiting_run_with_no_change(session: Session) -> None:
    arn, _ = waiting_run(session)
    before = session.snapshot()
    denied = cli("deny", arn, *TABLE, "--operator", "dave", "--reason", "restoring in place")
    assert denied.exit_code == 0, denied.output
    run = finish(session, arn)
    assert run.outcome == "REFUSED" and run.reason is not None and "denied by dave" in run.reason
    assert session.snapshot() == before


def test_a_run_that_does_not_wait_or_no_longer_waits_is_one_clear_line(session: Session) -> None:
    unknown = f"{session.deployment.state_machine_arn.replace(':stateMachine:', ':execution:')}:nobody"
    result = cli("approve", unknown, *TABLE, "--operator", "carol", "--reason", "?")
    assert result.exit_code == EXIT_REFUSED and "does not wait for approval" in result.stderr
    # A bare name needs the stack's state machine
    result = cli("approve", "nobody", *TABLE, "--operator", "carol", "--reason", "?")
    assert result.exit_code == EXIT_USAGE and "execution ARN" in result.stderr
    # When the wait ran out (ten virtual minutes), the run was refused and an answer is too late
    arn, request = waiting_run(session)
    session.recorder.clock.advance((request.deadline - session.recorder.clock.now()).total_seconds() + 1)
    run = finish(session, arn)
    assert run.outcome == "REFUSED"
    late = cli("approve", arn, *TABLE, "--operator", "carol", "--reason", "sorry, asleep")
    assert late.exit_code == EXIT_REFUSED and "no longer waits" in late.stderr
    # And the late answer is not left standing
    assert session.store.approval_request(arn).answer is None  # type: ignore[union-attr]
