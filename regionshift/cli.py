"""The ``regionshift`` command."""

import importlib.util
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from regionshift.emulator import scenario as scenarios

app = typer.Typer(
    help="Regionshift: region failover for AWS - drills on the embedded emulator, operations on a stack.",
    no_args_is_help=True,
    add_completion=False,
)

# Exit codes (documented in README).
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_TARGET, EXIT_RUN_FAILED = 0, 1, 2, 3, 4

StackOpt = Annotated[str | None, typer.Option("--stack", help="Deployed Regionshift stack (CloudFormation name).")]
TableOpt = Annotated[str | None, typer.Option("--table", help="Run table name, instead of --stack.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region of the stack (default: the usual chain).")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS named profile.")]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint-url", hidden=True, help="AWS endpoint (tests, emulators).")
]
OperatorOpt = Annotated[str, typer.Option("--operator", help="Who is acting (recorded in the audit trail).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded and shown to the team).")]


@app.callback()
def _root() -> None:
    """Regionshift: region failover for AWS."""


def _quiet_moto() -> None:
    """Every emulator command starts here: moto comes with the `emulator` extra only."""
    if importlib.util.find_spec("moto") is None:
        print("regionshift: this command needs the emulator: pip install 'regionshift[emulator]'", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    # moto's interpreter logs every caught error at ERROR; a drill reports them itself.
    if not os.environ.get("REGIONSHIFT_DEBUG"):
        logging.getLogger("moto").setLevel(logging.CRITICAL)


@app.command()
def drill(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name from the library, or a YAML/JSON file.")
    ] = "primary-outage",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the report.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped scenarios, one a line, name first.")] = False,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Where report.md, report.html and report.json go (per scenario)."),
    ] = Path("reports"),
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --stack: evaluate every decision, change nothing.")
    ] = False,
    operator: Annotated[str, typer.Option("--operator", help="With --stack: who starts the drill.")] = "",
    reason: Annotated[str, typer.Option("--reason", help="With --stack: why.")] = "drill",
    poll: Annotated[float, typer.Option("--poll", hidden=True)] = 1.0,
) -> None:
    """Run a failover drill of the real state machine and Lambdas on the embedded emulator.

    Exit status 0 when the outcome matches the scenario's expectation, 1 when it does not.
    """
    if stack is not None:
        target = _target(stack, None, region, profile, endpoint_url)
        _drill_stack(target, dry_run, operator or os.environ.get("USER", "operator"), reason, report_dir, poll)
        return
    if list_:
        for path in scenarios.library():
            loaded = scenarios.load(str(path))
            print(f"{loaded.name}\t{loaded.expect.outcome or 'no run'}\t{' '.join(loaded.description.split())}")
        return
    try:
        chosen = scenarios.load(scenario)
    except scenarios.ScenarioError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from exc
    _quiet_moto()
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
    _quiet_moto()
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


def _drill_stack(target: Any, dry_run: bool, operator: str, reason: str, report_dir: Path | None, poll: float) -> None:
    import uuid
    from datetime import UTC, datetime

    name = f"drill-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    document = {"operator": operator, "reason": reason, "dryRun": dry_run}
    with _aws_errors():
        arn = target.client("stepfunctions").start_execution(
            stateMachineArn=target.state_machine_arn, name=name, input=json.dumps(document)
        )["executionArn"]
    print(f"started {arn}")
    _watch(target, arn, report_dir, poll)


def _watch(target: Any, arn: str, report_dir: Path | None, poll: float) -> None:
    from regionshift import execution as executions

    sfn = target.client("stepfunctions")
    try:
        with _aws_errors():
            run = executions.Follower(sfn, arn, poll_seconds=poll).run()
    except KeyboardInterrupt:
        # Detach only: the execution goes on in Step Functions.
        print(f"\ndetached; the run goes on. Re-attach with: regionshift watch {arn} --stack <stack>")
        raise typer.Exit(EXIT_OK) from None
    outcome = _write_report(target, arn, report_dir)
    print(f"outcome: {outcome}")
    raise typer.Exit(EXIT_OK if run.status == "SUCCEEDED" else EXIT_RUN_FAILED)


def _write_report(target: Any, arn: str, report_dir: Path | None) -> str | None:
    from regionshift import execution as executions
    from regionshift import runreport

    with _aws_errors():
        audit = target.store().audit_of(arn)
        data = runreport.build(executions.read(target.client("stepfunctions"), arn), audit)
    if report_dir is not None:
        for path in runreport.write(data, report_dir / arn.rsplit(":", 1)[-1]):
            print(f"report: {path}")
    return str(data["outcome"])


@app.command()
def watch(
    execution: Annotated[str, typer.Argument(help="Execution ARN.")],
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    report_dir: Annotated[Path | None, typer.Option("--report-dir")] = Path("reports"),
    poll: Annotated[float, typer.Option("--poll", hidden=True)] = 1.0,
) -> None:
    """Follow a run as it happens (Ctrl-C detaches; the run goes on), then write its report."""
    _watch(_target(stack, None, region, profile, endpoint_url), execution, report_dir, poll)


@app.command()
def report(
    execution: Annotated[str, typer.Argument(help="Execution ARN.")],
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    report_dir: Annotated[Path, typer.Option("--report-dir")] = Path("reports"),
) -> None:
    """Write report.md, report.html and report.json for any run: the ones Finalize wrote to the stack's
    report bucket when they are there, else built from the execution's history and audit record."""
    from regionshift import runreport

    target = _target(stack, None, region, profile, endpoint_url)
    with _aws_errors():
        files = runreport.fetch(target.client("s3"), target.report_bucket, execution) if target.report_bucket else None
    if files is None:
        outcome = _write_report(target, execution, report_dir)
    else:
        for path in runreport.write_files(files, report_dir / execution.rsplit(":", 1)[-1]):
            print(f"report: {path}")
        outcome = json.loads(files["report.json"])["outcome"]
    print(f"outcome: {outcome}")


@app.command()
def check(
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Evaluate the plan's readiness without changing anything; exit 1 on any blocking finding."""
    from regionshift import readiness

    target = _target(stack, None, region, profile, endpoint_url)
    with _aws_errors():
        result = readiness.evaluate(target)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for finding in result["findings"]:
            print(f"{finding['status']:<9}{finding['check']:<22}{finding['detail']}")
        rto = result["estimatedRecoverySeconds"]
        parts = ", ".join(f"{k} {v:.0f}" for k, v in rto.items() if k != "total")
        print(f"estimated recovery: {rto['total']:.0f} s ({parts}); assumptions: {result['assumptions']}")
        print("READY" if result["ready"] else "NOT READY")
    raise typer.Exit(EXIT_OK if result["ready"] else EXIT_MISMATCH)


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

    _quiet_moto()
    try:
        chosen = scenarios.load(scenario)
    except scenarios.ScenarioError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from exc
    with server.serve(chosen, port or None) as stack:
        print(f"emulated stack {stack.stack_name} at {stack.endpoint_url} (Ctrl-C stops it); try:")
        print(
            "  AWS_ACCESS_KEY_ID=emulated AWS_SECRET_ACCESS_KEY=emulated "
            f"regionshift check --stack {stack.stack_name} --region us-west-2 --endpoint-url {stack.endpoint_url}"
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
    _quiet_moto()
    from regionshift import bench as benchmark

    print(benchmark.markdown(benchmark.run(quick)))


def _target(stack: str | None, table: str | None, region: str | None, profile: str | None, endpoint: str | None) -> Any:
    from regionshift.target import TargetError, resolve

    try:
        return resolve(stack, table, region, profile, endpoint)
    except TargetError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_TARGET) from exc


@contextmanager
def _aws_errors() -> Iterator[None]:
    """Turn an AWS failure into one line on stderr and exit status 3."""
    from botocore.exceptions import BotoCoreError, ClientError

    from failover.errors import RegionshiftError

    try:
        yield
    except (ClientError, BotoCoreError, RegionshiftError) as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_TARGET) from exc


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


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
    target = _target(stack, table, region, profile, endpoint_url)
    with _aws_errors():
        store = target.store()
        last = store.audit(limit=1)
        lock, paused, cooldown = store.lock_holder(), store.paused(), store.cooldown(_now())
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
    target = _target(stack, table, region, profile, endpoint_url)
    with _aws_errors():
        target.store().pause(operator, reason, _now())
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
    target = _target(stack, table, region, profile, endpoint_url)
    with _aws_errors():
        lifted = target.store().resume(operator, _now())
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
    target = _target(stack, table, region, profile, endpoint_url)
    with _aws_errors():
        ended = target.store().acknowledge(operator, reason, _now())
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
    target = _target(stack, table, region, profile, endpoint_url)
    with _aws_errors():
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


def main() -> None:
    app()
