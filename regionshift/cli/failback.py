"""After a failover: rebuild replicas of the writers (``failback``), and show or correct where the
writers are (``direction``). docs/failback.md tells the whole way home."""

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from failover.text import terminal_safe as safe
from regionshift.cli import (
    EXIT_MISMATCH,
    EXIT_REFUSED,
    EXIT_USAGE,
    EndpointOpt,
    OperatorOpt,
    ProfileOpt,
    ReasonOpt,
    RegionOpt,
    StackOpt,
    app,
    aws_errors,
    fail,
    resolve_target,
)

PlanOpt = Annotated[
    Path | None,
    typer.Option("--plan", envvar="REGIONSHIFT_PLAN", help="The plan document the stack runs (YAML or JSON)."),
]

direction_app = typer.Typer(help="Where the writers are now: show it, or correct it after a change by hand.")
app.add_typer(direction_app, name="direction")


def _plan(plan_file: Path | None) -> Any:
    from regionshift import plans

    if plan_file is None:
        fail("needs the plan document: --plan FILE (or REGIONSHIFT_PLAN)", EXIT_USAGE)
    try:
        return plans.load(plan_file)
    except plans.PlanFileError as exc:
        fail(f"invalid plan {plan_file}: {'; '.join(exc.problems)}", EXIT_USAGE)


def _deployed(target: Any, plan: Any) -> None:
    if (target.parameters or {}).get("PlanDigest") != plan.digest():
        fail("this plan file is not the one the stack runs (its digest differs): pass the deployed plan", EXIT_MISMATCH)


@app.command()
def failback(
    rebuild_in: Annotated[str, typer.Argument(help="The region to rebuild replicas of the writers in.")],
    operator: OperatorOpt,
    reason: ReasonOpt,
    plan_file: PlanOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Create the replicas (else show what would be).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until each is available and caught up.")] = False,
    timeout_minutes: Annotated[int, typer.Option("--timeout-minutes", min=1, max=1440)] = 120,
) -> None:
    """Rebuild read replicas of the writers in a region after a failover (docs/failback.md).

    Brings the estate back to two-region safety: creates a cross-region read replica of each RDS
    writer in REBUILD_IN where none follows it, records it (runs then read the plan with it),
    and with --wait wait until each is available and within the plan's lag bound. Moving the writers
    back is then `regionshift switchover --to REBUILD_IN`. Needs credentials that may create RDS
    instances (docs/failback.md). Exit 1 when a member is not ready at the end."""
    from regionshift import failback as fb

    plan = _plan(plan_file)
    target = resolve_target(stack, None, region, profile, endpoint_url)
    _deployed(target, plan)
    store = target.store()
    with aws_errors():
        direction = store.direction()
        readers = fb.Readers(target.client, plan.along(direction))
        try:
            fb.check_region(readers.plan, rebuild_in)
        except fb.FailbackError as exc:
            fail(exc, EXIT_REFUSED)
        if not apply:
            for m in fb.standing(readers, rebuild_in, datetime.now(UTC)):
                would = " -> would create a replica of the writer" if m.state == "missing" else ""
                print(safe(f"{m.database:<16}{m.state:<9}{m.detail}{would}"))
            print("nothing changed (--apply creates the replicas)")
            return
        try:
            rebuilt, direction = fb.rebuild(readers, store, direction, rebuild_in, operator, reason, datetime.now(UTC))
        except fb.FailbackError as exc:
            fail(exc, EXIT_REFUSED)
        for r in rebuilt:
            verb = "created" if r.created else "adopted (already a replica of the writer)"
            print(safe(f"{r.database}: {r.identifier} in {r.region} {verb}, replicating {r.source}"))
        readers = fb.Readers(target.client, plan.along(direction))
        if not wait:
            print(
                f"not waited for: `regionshift failback {rebuild_in} --apply --wait` or `regionshift check` shows them"
            )
            return
        found = fb.wait(
            readers,
            rebuild_in,
            clock=lambda: datetime.now(UTC),
            sleep=time.sleep,
            timeout_seconds=timeout_minutes * 60,
            on_poll=lambda members: print(safe("; ".join(f"{m.database}: {m.state}" for m in members)), flush=True),
        )
    for m in found:
        print(safe(f"{m.database:<16}{m.state:<9}{m.detail}"))
    if any(m.state != "ready" for m in found):
        raise typer.Exit(EXIT_MISMATCH)
    print(f"ready: `regionshift switchover --to {rebuild_in}` moves the writers there")


@direction_app.command("show")
def direction_show(
    plan_file: PlanOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Where the writers are, and each RDS database's instance per region as runs now read it."""
    plan = _plan(plan_file)
    target = resolve_target(stack, None, region, profile, endpoint_url)
    with aws_errors():
        direction = target.store().direction()
    if direction is None:
        print(f"as the plan was written: the writers are in {plan.primary_region}")
    else:
        print(safe(f"version {direction.version}, set by {direction.by} at {direction.at}"))
    current = plan.along(direction)
    print(f"primary: {current.primary_region}; standbys: {', '.join(current.standby_regions)}")
    # What the detection alarms watch once a run pointed them at the primary (docs/failback.md).
    print(f"primary's health check (the alarm's PrimaryHealthCheckId): {current.regions.primary.health_check_id}")
    for db in current.databases:
        if db.kind == "rds-instance":
            where = ", ".join(f"{r}: {db.member(r, current.primary_region)}" for r in current.region_names)
            print(safe(f"  {db.name}: {where}"))


@direction_app.command("set")
def direction_set(
    primary: Annotated[str, typer.Option("--primary", help="The region that holds the writers now.")],
    operator: OperatorOpt,
    reason: ReasonOpt,
    instance: Annotated[
        list[str] | None,
        typer.Option(
            "--instance", help="DATABASE=REGION:IDENTIFIER, an RDS instance that is not the plan's; repeatable."
        ),
    ] = None,
    plan_file: PlanOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Record where the writers are after a change made by hand (every run reads the plan from there).
    Runs verify what they find, so a wrong direction makes runs refuse, never move the wrong thing."""
    from failover.errors import DirectionUnreadableError
    from failover.models import Direction
    from failover.plan import PlanProblemsError

    plan = _plan(plan_file)
    instances: dict[str, dict[str, str]] = {}
    for given in instance or []:
        name, _, where = given.partition("=")
        member_region, _, identifier = where.partition(":")
        if not (name and member_region and identifier):
            fail(f"--instance {given!r}: expected DATABASE=REGION:IDENTIFIER", EXIT_USAGE)
        instances.setdefault(name, {})[member_region] = identifier
    try:
        plan.directed(primary, instances)
    except PlanProblemsError as exc:
        fail("; ".join(exc.problems), EXIT_USAGE)
    target = resolve_target(stack, None, region, profile, endpoint_url)
    _deployed(target, plan)
    store = target.store()
    at = datetime.now(UTC)
    with aws_errors():
        try:
            over = store.direction()
        except DirectionUnreadableError as exc:
            print(safe(f"replacing an unreadable direction: {exc}"))
            over = Direction(primary_region=primary, version=exc.version)
        wanted = Direction(primary_region=primary, instances=instances, at=at, by=f"{operator} by hand")
        if not store.set_direction(wanted, over):
            fail(
                "the direction changed while this command ran: look at it again (regionshift direction show)",
                EXIT_REFUSED,
            )
        store.record_operation("direction", operator, f"{reason} (primary {primary})", at)
    print(safe(f"recorded: the writers are in {primary}" + (f"; instances {instances}" if instances else "")))
