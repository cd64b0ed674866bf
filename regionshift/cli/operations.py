"""Operations on a stack's run table: status, pause, resume, ack and history."""

import json
from typing import Annotated

import typer

from regionshift.cli import (
    EndpointOpt,
    OperatorOpt,
    ProfileOpt,
    ReasonOpt,
    RegionOpt,
    StackOpt,
    TableOpt,
    app,
    aws_errors,
    now,
    resolve_target,
)


@app.command()
def status(
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the run lock, the pause switch, the cooldown and the last run's outcome."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        store = target.store()
        last = store.audit(limit=1)
        lock, paused, cooldown = store.lock_holder(), store.paused(), store.cooldown(now())
    run = last[0] if last else None
    if as_json:
        state = {
            "lock": lock.wire() if lock else None,
            "paused": paused.wire() if paused else None,
            "cooldown": cooldown.wire() if cooldown else None,
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
    }
    for key, text in shown.items():
        print(f"{key + ':':<10}{text}")


@app.command()
def pause(
    operator: OperatorOpt,
    reason: ReasonOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Pause failover: every run is refused as paused (and the team told) until resume."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        target.store().pause(operator, reason, now())
    print(f"paused by {operator}: {reason}")


@app.command()
def resume(
    operator: OperatorOpt,
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Lift the pause."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        lifted = target.store().resume(operator, now())
    print(f"resumed (was paused by {lifted.operator}: {lifted.reason})" if lifted else "was not paused")


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
        print(f"cooldown after {ended.outcome} run {ended.execution} acknowledged by {operator}")


@app.command()
def history(
    stack: StackOpt = None,
    table: TableOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List past runs, newest first, from the audit trail."""
    target = resolve_target(stack, table, region, profile, endpoint_url)
    with aws_errors():
        records = target.store().audit(limit=limit)
    if as_json:
        print(json.dumps([r.wire() for r in records], indent=2))
        return
    if not records:
        print("no runs recorded")
    for record in records:
        trigger = record.trigger
        who = (trigger.alarm_name or trigger.operator if trigger else None) or "?"
        print(f"{record.started_at.isoformat()}  {record.outcome:<11}  {who:<30}  {record.reason}")
