"""Operations on a stack's run table: status, pause, resume, ack, unlock, approve, deny, and their log
and history.

Everything an operator typed is shown through ``terminal_safe`` (stored text may come from anyone
who could start an execution or write the table, not only from this command's validation).
"""

import json
from typing import Annotated, Any, Literal

import typer

from failover.errors import DirectionUnreadableError
from failover.text import terminal_safe as safe
from regionshift.cli import (
    EXIT_REFUSED,
    EXIT_USAGE,
    EndpointOpt,
    JsonOpt,
    OperatorOpt,
    ProfileOpt,
    ReasonOpt,
    RegionOpt,
    StackOpt,
    TableOpt,
    app,
    aws_errors,
    fail,
    now,
    resolve_target,
)

LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=500)]


@app.command()
def status(
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the run lock, the pause switch, the cooldown, runs waiting for approval and the last run's outcome."""
    target = resolve_target(stack, table, region, profile, endpoint_url, as_json)
    with aws_errors(as_json):
        store = target.store()
        last = store.audit(limit=1)
        lock, paused, cooldown = store.lock_holder(), store.paused(), store.cooldown(now())
        try:
            direction, unreadable = store.direction(), None
        except DirectionUnreadableError as exc:
            direction, unreadable = None, str(exc)
        waiting = store.waiting_approvals(now())
    run = last[0] if last else None
    if as_json:
        state = {
            "lock": lock.wire() if lock else None,
            "paused": paused.wire() if paused else None,
            "cooldown": cooldown.wire() if cooldown else None,
            "direction": direction.wire() if direction else None,
            "directionError": unreadable,
            "waitingForApproval": [
                {"execution": w.execution, "deadline": w.deadline.isoformat(), "onTimeout": w.on_timeout}
                for w in waiting
            ],
            "lastRun": run.model_dump(
                mode="json", by_alias=True, include={"execution", "outcome", "reason", "started_at"}
            )
            if run
            else None,
        }
        print(json.dumps(state, indent=2))
        return
    shown = {
        "lock": f"held by {lock.owner} until {lock.lease_until.isoformat()}" if lock else "free",
        "paused": f"yes, by {paused.operator} at {paused.at.isoformat()}: {paused.reason}" if paused else "no",
        "cooldown": (
            f"until {cooldown.until.isoformat()} after {cooldown.outcome} run {cooldown.execution}"
            if cooldown
            else "none"
        ),
        "last run": f"{run.outcome} at {run.started_at.isoformat()}: {run.reason}" if run else "none",
        "writers": (
            f"in {direction.primary_region} since {direction.by} (regionshift direction show)"
            if direction
            else unreadable or "where the plan was written"
        ),
    }
    for key, text in shown.items():
        print(f"{key + ':':<10}{safe(text)}")
    for w in waiting:
        line = f"{w.execution} waits for approval until {w.deadline.isoformat()} (then {w.on_timeout})"
        print(f"{'waiting:':<10}{safe(line)}: regionshift approve / deny")


@app.command()
def pause(
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a pause that is already in place.")] = False,
) -> None:
    """Pause failover: every run is refused as paused (and the team told) until resume.

    A second pause is refused (exit 6, showing who paused and why) unless --force.
    """
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        placed, previous = target.store().pause(operator, reason, now(), replace=force)
    if not placed:
        held = f"by {previous.operator} at {previous.at.isoformat()}: {previous.reason}" if previous else "by someone"
        fail(f"already paused {safe(held)}; --force replaces that pause", EXIT_REFUSED)
    replaced = f" (replaced the pause by {previous.operator}: {previous.reason})" if previous else ""
    print(safe(f"paused by {operator}: {reason}{replaced}"))


@app.command()
def resume(
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Lift the pause."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        lifted = target.store().resume(operator, now(), reason)
    print(safe(f"resumed (was paused by {lifted.operator}: {lifted.reason})") if lifted else "was not paused")


@app.command()
def ack(
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Acknowledge the cooldown after a failover, allowing the next run."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        ended = target.store().acknowledge(operator, reason, now())
    if ended is None:
        print("no active cooldown")
    else:
        print(safe(f"cooldown after {ended.outcome} run {ended.execution} acknowledged by {operator}"))


@app.command()
def unlock(
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Clear the run lock, only if the execution holding it is no longer running (exit 6 if it is)."""
    from failover.runtime import region_of

    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        store = target.store()
        holder = store.lock_holder()
        if holder is None:
            print("no lock held")
            return
        if not holder.owner.startswith("arn:"):
            fail(f"the lock's owner '{safe(holder.owner)}' is not an execution ARN: not cleared", EXIT_REFUSED)
        running = _running(target.client("stepfunctions", region_of(holder.owner)), holder.owner)
        if running:
            fail(f"the lock is held by {holder.owner}, which is still running: not cleared", EXIT_REFUSED)
        cleared = store.break_lock(holder, operator, reason, now())
    if not cleared:
        fail("the lock changed hands while it was checked (a new run took it): not cleared", EXIT_REFUSED)
    print(safe(f"lock of {holder.owner} cleared by {operator}"))


def _running(sfn: Any, arn: str) -> bool:
    """Whether the execution still runs. One that no longer exists (histories are kept 90 days:
    "Step Functions service quotas", https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)
    does not run. DescribeExecution: https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
    """
    from botocore.exceptions import ClientError

    from failover.clients import error_code

    try:
        status: str = sfn.describe_execution(executionArn=arn)["status"]
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return False
        raise
    # PENDING_REDRIVE: a redriven execution about to run again (it may take the lock back).
    return status in ("RUNNING", "PENDING_REDRIVE")


@app.command()
def history(
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    limit: LimitOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """List past runs, newest first, from the audit trail."""
    target = resolve_target(stack, table, region, profile, endpoint_url, as_json)
    with aws_errors(as_json):
        records = target.store().audit(limit=limit)
    if as_json:
        print(json.dumps([r.wire() for r in records], indent=2))
        return
    if not records:
        print("no runs recorded")
    for record in records:
        trigger = record.trigger
        who = (trigger.alarm_name or trigger.operator if trigger else None) or "?"
        print(safe(f"{record.started_at.isoformat()}  {record.outcome:<11}  {who:<30}  {record.reason}"))


@app.command()
def log(
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """List operator actions (pause, resume, ack, unlock, approve, deny), newest first, with who, why and when."""
    target = resolve_target(stack, table, region, profile, endpoint_url, as_json)
    with aws_errors(as_json):
        actions = target.store().operations(limit=limit)
    if as_json:
        print(json.dumps([a.wire() for a in actions], indent=2))
        return
    if not actions:
        print("no operator actions recorded")
    for action in actions:
        print(safe(f"{action.at.isoformat()}  {action.kind:<7}  {action.operator:<20}  {action.reason}"))


ExecutionArg = Annotated[
    str, typer.Argument(help="The run waiting for approval: its execution ARN (or, with --stack, its name).")
]


@app.command()
def approve(
    execution: ExecutionArg,
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Let a run waiting for approval go on past the point of no return (audited).

    Exit 6 when that run does not wait for approval, was answered already, or its wait ended.
    """
    _answer("APPROVED", execution, operator, reason, resolve_target(stack, table, region, profile, endpoint_url))


@app.command()
def deny(
    execution: ExecutionArg,
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Refuse a run waiting for approval: it ends REFUSED with no change, and is not re-evaluated (audited).

    Exit 6 when that run does not wait for approval, was answered already, or its wait ended.
    """
    _answer("DENIED", execution, operator, reason, resolve_target(stack, table, region, profile, endpoint_url))


def _answer(decision: Literal["APPROVED", "DENIED"], execution: str, operator: str, reason: str, target: Any) -> None:
    from failover import approval
    from failover.errors import ApprovalError
    from failover.runtime import region_of

    arn = execution
    if not execution.startswith("arn:"):
        if not target.state_machine_arn:
            fail("with --table, name the run by its execution ARN (or use --stack)", EXIT_USAGE)
        arn = f"{target.state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution}"
    with aws_errors():
        sfn = target.client("stepfunctions", region_of(arn))
        try:
            approval.answer(target.store(), sfn, arn, decision, operator, reason, now())
        except ApprovalError as exc:
            fail(safe(str(exc)), EXIT_REFUSED)
    verb = "approved" if decision == "APPROVED" else "denied"
    print(safe(f"{verb} by {operator}: {arn}: {reason}"))
