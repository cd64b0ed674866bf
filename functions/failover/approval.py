"""Approval: a run that the plan makes wait for a person, the page that asks, and the answer.

The state machine waits on a callback task (``lambda:invoke.waitForTaskToken``): the Approval step
records the task token in the run table and pages the team with the decision's figures, and the run
waits until ``regionshift approve`` (SendTaskSuccess) or ``regionshift deny`` (SendTaskFailure with
``ApprovalDeniedError``) answers, or until the task's timeout raises States.Timeout
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token).
The CLI and the drills answer through ``answer`` alone.
"""

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from failover.clients import error_code
from failover.errors import ApprovalDeniedError, ApprovalError
from failover.models import ApprovalAnswer, ApprovalNeed, ApprovalResult, AssessResult, IntakeResult
from failover.settings import Settings
from failover.state import ApprovalRequest
from failover.store import StateStore

# The page's SNS message attribute ``outcome`` (subscribers filter on it); not an outcome of a run.
PAGE_KIND = "APPROVAL_NEEDED"


def request(execution: str, token: str, intake: IntakeResult, assess: AssessResult, now: datetime) -> ApprovalRequest:
    need = intake.approval
    assert need is not None
    return ApprovalRequest(
        execution=execution,
        token=token,
        requested_at=now,
        deadline=now + timedelta(seconds=need.timeout_seconds),
        on_timeout=need.on_timeout,
        target=assess.target,
    )


def subject(settings: Settings, assess: AssessResult) -> str:
    return f"[Regionshift {settings.plan.name}] APPROVAL NEEDED: {settings.plan.primary_region} -> {assess.target}"


def commands(execution: str, settings: Settings) -> list[str]:
    """The exact commands that answer the run (the stack's table and region are in its settings)."""
    table = settings.table_arn.rsplit("/", 1)[-1]
    region = settings.table_arn.split(":")[3]
    where = f"--table {table} --region {region}"
    return [
        f'regionshift {verb} {execution} {where} --operator YOUR-NAME --reason "WHY"' for verb in ("approve", "deny")
    ]


def body(req: ApprovalRequest, intake: IntakeResult, assess: AssessResult, settings: Settings) -> str:
    """The decision's figures (target, lag, what was verified) and how to answer."""
    plan = settings.plan
    trigger = intake.trigger
    lines = [
        f"Run {req.execution} waits for approval before the point of no return: nothing has been changed yet.",
        f"Plan: {plan.name} ({plan.primary_region} -> {assess.target})",
        f"Execution: {req.execution}",
    ]
    if trigger is not None:
        who = trigger.alarm_name if trigger.kind != "manual" else f"operator {trigger.operator}: {trigger.reason}"
        lines.append(f"Trigger: {trigger.kind} ({who}) at {trigger.event_time.isoformat()}")
    lines.append(f"Assessment (probe {assess.probe}): {assess.reason}")
    if assess.why_chosen:
        lines.append(f"Target: {assess.target} ({assess.why_chosen})")
    for verdict in assess.standbys:
        if verdict.passed_over:
            lines.append(f"Passed over: {verdict.region}: {verdict.passed_over}")
    for replica in assess.replicas:
        lag = "unknown" if replica.lag_seconds is None else f"{replica.lag_seconds:g} s"
        lines.append(f"Would move {replica.database or replica.identifier}: {replica.identifier}, lag {lag}")
    if assess.data_loss_accepted:
        lines.append("DATA LOSS ACCEPTED by operator override (recorded in the audit trail).")
    lines.extend(f"Verified: {check}" for check in assess.verified)
    policy = "proceeds with the failover" if req.on_timeout == "proceed" else "is refused (nothing changes)"
    lines.append(
        f"The run waits until {req.deadline.isoformat()}; without an answer by then it {policy} (the plan's onTimeout)."
    )
    lines.append("Answer with one of:")
    lines.extend(f"  {command}" for command in commands(req.execution, settings))
    return "\n".join(lines)


def describe(result: ApprovalResult, need: ApprovalNeed | None) -> str:
    """The approval as the page, the audit and the report say it."""
    if result.answer is not None:
        a = result.answer
        return f"Approval: {a.decision} by {a.operator} at {a.at.isoformat()}: {a.reason}"
    if need is None:
        return "Approval: no answer in time"
    then = "proceeded without an answer" if need.on_timeout == "proceed" else "refused without an answer"
    return f"Approval: no answer within {need.timeout_seconds} s; the plan's onTimeout ({need.on_timeout}): {then}"


def would_wait(need: ApprovalNeed) -> str:
    """A dry run's line: it does not wait, but a real run would."""
    return (
        f"Approval: a real run would wait here up to {need.timeout_seconds} s for regionshift approve / deny "
        f"(then onTimeout: {need.on_timeout})"
    )


def answer(
    store: StateStore,
    sfn: Any,
    execution: str,
    decision: Literal["APPROVED", "DENIED"],
    operator: str,
    reason: str,
    now: datetime,
) -> ApprovalAnswer:
    """Answer the run waiting for approval, once; audited in the operators' log.

    Raises ``ApprovalError`` when no run waits under that name, it was answered already, or its wait
    ended (SendTaskSuccess / SendTaskFailure answer TaskTimedOut, TaskDoesNotExist or InvalidToken:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
    """
    waiting = store.approval_request(execution)
    if waiting is None:
        raise ApprovalError(f"no approval request for {execution}: that run does not wait for approval")
    given = ApprovalAnswer(decision=decision, operator=operator, reason=reason, at=now)
    earlier = store.claim_answer(execution, given)
    if earlier is not None:
        raise ApprovalError(
            f"already answered: {earlier.decision} by {earlier.operator} at {earlier.at.isoformat()}: {earlier.reason}"
        )
    try:
        if decision == "APPROVED":
            sfn.send_task_success(taskToken=waiting.token, output=json.dumps({"answer": given.wire()}))
        else:
            # The answer is the Cause (at most 32,768 characters; it is bounded far below that), read
            # back by the ASL; the error name is what its Catch matches.
            sfn.send_task_failure(
                taskToken=waiting.token, error=ApprovalDeniedError.__name__, cause=json.dumps(given.wire())
            )
    except ClientError as exc:
        store.withdraw_answer(execution, given)
        code = error_code(exc)
        if code == "TaskTimedOut":
            raise ApprovalError(
                f"too late: the wait ended at {waiting.deadline.isoformat()} and the plan's onTimeout "
                f"({waiting.on_timeout}) applied"
            ) from exc
        if code in ("TaskDoesNotExist", "InvalidToken"):
            raise ApprovalError(f"the run {execution} no longer waits for approval ({code})") from exc
        raise
    store.record_operation(
        "approve" if decision == "APPROVED" else "deny", operator, f"{reason} (run {execution})", now
    )
    return given
