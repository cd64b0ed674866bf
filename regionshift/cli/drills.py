"""Emulator commands: drills (on the emulator, or started on a stack), chaos, serve and bench."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from regionshift.cli import (
    EXIT_MISMATCH,
    EXIT_NOT_DONE,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_TARGET,
    EXIT_USAGE,
    OPERATOR_LIMIT,
    REASON_LIMIT,
    EndpointOpt,
    ProfileOpt,
    RegionOpt,
    StackOpt,
    app,
    aws_errors,
    fail,
    needs_emulator,
    operator_text,
    resolve_target,
)
from regionshift.emulator import scenario as scenarios

DEFAULT_SCENARIO = "primary-outage"


@app.command()
def drill(
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario name from the library, or a YAML/JSON file.",
            show_default=DEFAULT_SCENARIO,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the report.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped scenarios, one a line, name first.")] = False,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Where report.md and report.html go (per scenario).")
    ] = Path("reports"),
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --stack: evaluate every decision, change nothing (the default).")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="With --stack: a real failover drill, which can change the estate.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="With --live: confirm without the typed plan name (automation).")
    ] = False,
    operator: Annotated[
        str | None,
        typer.Option("--operator", help="With --stack: who starts the drill.", callback=operator_text(OPERATOR_LIMIT)),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="With --stack: why.", callback=operator_text(REASON_LIMIT))
    ] = None,
    target_region: Annotated[
        str | None,
        typer.Option(
            "--target-region", help="With --stack: the standby region to move to (default: the first ready one)."
        ),
    ] = None,
    poll: Annotated[float, typer.Option("--poll", hidden=True)] = 1.0,
) -> None:
    """Run a failover drill of the real state machine and Lambdas on the embedded emulator.

    Exit status 0 when the outcome matches the scenario's expectation, 1 when it does not.
    With --stack, a drill of the deployed stack: a dry run unless --live (confirmed by typing the
    plan name, or --yes); a live drill that ends REFUSED or NO_ACTION exits 5.
    """
    if stack is not None:
        emulator_only = {"--scenario": scenario is not None, "--list": list_, "--json": as_json}
        given = [name for name, present in emulator_only.items() if present]
        if given:
            fail(f"{', '.join(given)}: only for drills on the emulator, not with --stack", EXIT_USAGE)
        if operator is None or reason is None:
            fail("a drill of a stack needs --operator and --reason (recorded and shown to the team)", EXIT_USAGE)
        if live and dry_run:
            fail("--live and --dry-run contradict each other", EXIT_USAGE)
        if yes and not live:
            fail("--yes confirms a --live drill; without --live a drill is a dry run", EXIT_USAGE)
        target = resolve_target(stack, None, region, profile, endpoint_url)
        if live and not yes:
            _confirm_live(target)
        _drill_stack(target, not live, operator, reason, report_dir, poll, target_region)
        return
    stack_only = {
        "--dry-run": dry_run,
        "--live": live,
        "--yes": yes,
        "--operator": operator,
        "--reason": reason,
        "--target-region": target_region,
    }
    given = [name for name, present in stack_only.items() if present]
    if given:
        fail(f"{', '.join(given)}: only for drills of a deployed stack (--stack)", EXIT_USAGE)
    if list_:
        for path in scenarios.library():
            loaded = scenarios.load(str(path))
            print(f"{loaded.name}\t{loaded.expect.outcome or 'no run'}\t{' '.join(loaded.description.split())}")
        return
    try:
        chosen = scenarios.load(scenario or DEFAULT_SCENARIO)
    except scenarios.ScenarioError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from exc
    needs_emulator()
    from regionshift import drill as drills
    from regionshift import report as drill_report

    console = Console(file=sys.stdout, highlight=False)
    if not as_json:
        console.print(f"[bold]Drill {chosen.name}[/bold]: {' '.join(chosen.description.split())}")
    result = drills.run(chosen, on_state=None if as_json else drill_report.state_printer(console))
    written = []
    if report_dir is not None and result.runs:
        from regionshift import runreport

        written = [str(p) for p in runreport.write(result.reports[result.runs[0].arn], report_dir / chosen.name)]
    if as_json:
        print(json.dumps({**result.wire(), "reports": written}, indent=2, default=str))
    else:
        drill_report.render(result, console)
        for written_path in written:
            console.print(f"Report: {written_path}")
    raise typer.Exit(EXIT_OK if result.passed else EXIT_MISMATCH)


@app.command()
def chaos(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the table.")] = False,
) -> None:
    """Run the whole scenario library and check every invariant after each drill.

    Exit status 0 when every scenario met its expectation and held every invariant, 1 otherwise.
    """
    needs_emulator()
    import time

    from rich.table import Table

    from regionshift import drill as drills
    from regionshift import invariants

    rows = []
    started = time.perf_counter()
    for path in scenarios.library():
        chosen = scenarios.load(str(path))
        result = drills.run(chosen)
        checks = invariants.check(result)
        data = result.wire()
        rows.append(
            {
                "scenario": chosen.name,
                "expected": chosen.expect.outcome,
                "actual": result.outcome,
                "passed": result.passed,
                "problems": result.problems,
                "invariants": {c.name: c.held for c in checks},
                "broken": [f"{c.name}: {c.detail}" for c in checks if not c.held],
                "mutatingCalls": len(data["mutations"]),
                "retries": len(data["retries"]),
                "virtualSeconds": data["virtualSeconds"],
            }
        )
    failed = [r for r in rows if not r["passed"] or r["broken"]]
    if as_json:
        print(json.dumps({"scenarios": rows, "failed": len(failed)}, indent=2))
    else:
        table = Table(title=f"Chaos drills: {len(rows)} scenarios in {time.perf_counter() - started:.0f} s")
        for column in ("scenario", "expected", "actual", "invariants", "mutating calls", "retries", "virtual s"):
            table.add_column(
                column, justify="right" if column in ("mutating calls", "retries", "virtual s") else "left"
            )
        for r in rows:
            held = sum(r["invariants"].values())
            marks = f"{held}/{len(r['invariants'])}" + ("" if not r["broken"] else " " + "; ".join(r["broken"]))
            verdict = "" if r["passed"] else " [red]MISMATCH[/red]"
            table.add_row(
                r["scenario"],
                str(r["expected"]),
                f"{r['actual']}{verdict}",
                marks,
                str(r["mutatingCalls"]),
                str(r["retries"]),
                f"{r['virtualSeconds']:.0f}",
            )
        Console(file=sys.stdout, width=160).print(table)
        print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(EXIT_OK if not failed else EXIT_MISMATCH)


@app.command()
def switchover(
    to: Annotated[str, typer.Option("--to", help="The standby region the writer moves to.")],
    operator: Annotated[str, typer.Option("--operator", help="Who starts it.", callback=operator_text(OPERATOR_LIMIT))],
    reason: Annotated[str, typer.Option("--reason", help="Why.", callback=operator_text(REASON_LIMIT))],
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate every decision, change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm without the typed plan name (automation).")] = False,
    report_dir: Annotated[Path | None, typer.Option("--report-dir", help="Where report.md and report.html go.")] = Path(
        "reports"
    ),
    poll: Annotated[float, typer.Option("--poll", hidden=True)] = 1.0,
) -> None:
    """A planned switchover of a deployed stack to --to, with no data loss (maintenance, a production drill).

    Stop the application's writes first: the run moves the writer only once every replica's lag has
    read 0 for the plan's drain window, and refuses after its maximum wait. Confirmed by typing the
    plan name (or --yes) unless --dry-run; a switchover that ends REFUSED or NO_ACTION exits 5.
    """
    if stack is None:
        fail("a switchover is started on a deployed stack: --stack", EXIT_USAGE)
    if yes and dry_run:
        fail("--yes confirms a switchover; a --dry-run changes nothing", EXIT_USAGE)
    target = resolve_target(stack, None, region, profile, endpoint_url)
    if not dry_run and not yes:
        _confirm_live(target, "a SWITCHOVER")
    _drill_stack(target, dry_run, operator, reason, report_dir, poll, to, switchover=True)


def _on_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm_live(target: Any, what: str = "a LIVE drill") -> None:
    """A live drill (or a switchover) can move the estate: on a terminal, the operator types the plan's name."""
    plan = (target.parameters or {}).get("PlanName") or target.state_machine_arn or "?"
    if not _on_terminal():
        fail(f"{what} is confirmed by typing the plan name on a terminal, or by --yes", EXIT_USAGE)
    print(f"This is {what} of plan {plan}: it can promote the standby database and move DNS.")
    typed = typer.prompt("Type the plan name to start it", default="", show_default=False)
    if typed.strip() != plan:
        fail("not confirmed: nothing was started", EXIT_USAGE)


def _drill_stack(
    target: Any,
    dry_run: bool,
    operator: str,
    reason: str,
    report_dir: Path | None,
    poll: float,
    target_region: str | None = None,
    switchover: bool = False,
) -> None:
    import uuid
    from datetime import UTC, datetime

    from failover.models import Outcome
    from regionshift.cli.runs import follow_run

    name = f"{'switchover' if switchover else 'drill'}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    document: dict[str, Any] = {"operator": operator, "reason": reason, "dryRun": dry_run}
    if switchover:
        document["switchover"] = True
    if target_region:
        # Intake refuses a region that is not one of the plan's standbys.
        document["targetRegion"] = target_region
    from regionshift.execution import ManualRunError, start_manual

    if not target.manual_run_arn:
        fail("the stack has no ManualRunStateMachineArn output: deploy this version's template", EXIT_TARGET)
    with aws_errors():
        try:
            arn = start_manual(target.client("stepfunctions"), target.manual_run_arn, name, document)
        except ManualRunError as exc:
            fail(str(exc), EXIT_RUN_FAILED)
    print(f"started {arn} ({'dry run' if dry_run else 'LIVE'})")
    run_status, outcome = follow_run(target, arn, report_dir, poll)
    if run_status != "SUCCEEDED":
        raise typer.Exit(EXIT_RUN_FAILED)
    # A live drill (or switchover) that changed nothing did not move the writer: the caller must know.
    changed_nothing = outcome in (Outcome.REFUSED, Outcome.NO_ACTION)
    raise typer.Exit(EXIT_NOT_DONE if not dry_run and changed_nothing else EXIT_OK)


@app.command()
def serve(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="The estate to emulate.")] = "primary-outage",
    port: Annotated[int, typer.Option("--port", help="Loopback port (0: any free port).")] = 0,
) -> None:
    """Run the emulated estate as a local AWS endpoint, registered as a stack, until Ctrl-C.

    Every command that takes --stack then works against it, as it would against a deployed stack.
    """
    import threading

    from regionshift.emulator import server

    needs_emulator()
    try:
        chosen = scenarios.load(scenario)
    except scenarios.ScenarioError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from exc
    with server.serve(chosen, port or None) as stack:
        print(f"emulated stack {stack.stack_name} at {stack.endpoint_url} (Ctrl-C stops it); try:")
        print(
            "  AWS_ACCESS_KEY_ID=emulated AWS_SECRET_ACCESS_KEY=emulated "
            f"regionshift check --stack {stack.stack_name} --region us-west-2 --endpoint-url {stack.endpoint_url} "
            f"--plan {stack.deployment.parameters['PlanFile']}"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="Few repetitions: keeps the benchmark from rotting in CI.")
    ] = False,
) -> None:
    """Measure cold starts, the critical path, polling slack, the recovery-time model and peak memory.

    Writes bench/results.json and prints a Markdown report.
    """
    needs_emulator()
    from regionshift import bench as benchmark

    print(benchmark.markdown(benchmark.run(quick)))


@app.command()
def invoke(
    function: Annotated[str, typer.Argument(help="The function's logical id in the template (IntakeFunction...).")],
    event: Annotated[Path, typer.Option("--event", "-e", help="JSON event file (events/NAME.json), or - for stdin.")],
    env_vars: Annotated[
        Path | None,
        typer.Option("--env-vars", "-n", help="JSON file of environment overrides, as sam local invoke reads it."),
    ] = None,
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="The emulated estate it runs against.")
    ] = DEFAULT_SCENARIO,
) -> None:
    """Run one Lambda in-process on an event, against the emulated estate (sam local invoke, no Docker).

    Prints the function's result on stdout, its logs on stderr; exit 4 when the function fails.
    """
    needs_emulator()
    from regionshift import invoke as invoker

    def read_json(path: Path, what: str) -> Any:
        try:
            return json.loads(sys.stdin.read() if str(path) == "-" else path.read_text())
        except (OSError, ValueError) as exc:
            fail(f"{what} {path}: {exc}", EXIT_USAGE)

    document = read_json(event, "--event")
    overrides = read_json(env_vars, "--env-vars") if env_vars is not None else None
    try:
        chosen = scenarios.load(scenario)
        invoked = invoker.invoke(function, document, chosen, overrides)
    except (scenarios.ScenarioError, invoker.InvokeError) as exc:
        fail(exc, EXIT_USAGE)
    sys.stderr.write(invoked.logs)
    print(json.dumps(invoked.payload, indent=2, default=str))
    raise typer.Exit(EXIT_RUN_FAILED if invoked.errored else EXIT_OK)
