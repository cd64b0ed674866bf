"""Runs on a stack: follow one, report on one, check the plan's readiness before one."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from regionshift.cli import (
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    EndpointOpt,
    JsonOpt,
    ProfileOpt,
    RegionOpt,
    StackOpt,
    app,
    aws_errors,
    fail,
    resolve_target,
)


def follow_run(target: Any, arn: str, report_dir: Path | None, poll: float) -> tuple[str, str | None]:
    """Show the run until it ends and write its report: (execution status, outcome).

    Ctrl-C detaches (exit 0): the execution goes on in Step Functions.
    """
    from regionshift import execution as executions

    sfn = target.client("stepfunctions")
    try:
        with aws_errors():
            run = executions.Follower(sfn, arn, poll_seconds=poll).run()
    except KeyboardInterrupt:
        print(f"\ndetached; the run goes on. Re-attach with: regionshift watch {arn} --stack <stack>")
        raise typer.Exit(EXIT_OK) from None
    outcome = write_report(target, arn, report_dir)
    print(f"outcome: {outcome}")
    return run.status, outcome


def write_report(target: Any, arn: str, report_dir: Path | None) -> str | None:
    from failover.history import read
    from regionshift import runreport

    with aws_errors():
        audit = target.store().audit_of(arn)
        data = runreport.build(read(target.client("stepfunctions"), arn), audit)
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
    run_status, _ = follow_run(resolve_target(stack, None, region, profile, endpoint_url), execution, report_dir, poll)
    raise typer.Exit(EXIT_OK if run_status == "SUCCEEDED" else EXIT_RUN_FAILED)


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

    target = resolve_target(stack, None, region, profile, endpoint_url)
    with aws_errors():
        files = runreport.fetch(target.client("s3"), target.report_bucket, execution) if target.report_bucket else None
    if files is None:
        outcome = write_report(target, execution, report_dir)
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
    as_json: JsonOpt = False,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", envvar="REGIONSHIFT_PLAN", help="The plan document the stack runs (YAML or JSON)."),
    ] = None,
) -> None:
    """Evaluate the plan's readiness on every resource and region without changing anything; exit 1
    on any blocking finding. The plan file must be the deployed one (its digest is compared).

    Exit 3 (one line; with --json an error object too) when AWS cannot be asked.
    """
    from regionshift import plans, readiness

    if plan_file is None:
        fail("check needs the plan document: --plan FILE (or REGIONSHIFT_PLAN)", EXIT_USAGE, as_json)
    try:
        plan = plans.load(plan_file)
    except plans.PlanFileError as exc:
        fail(f"invalid plan {plan_file}: {'; '.join(exc.problems)}", EXIT_USAGE, as_json)
    target = resolve_target(stack, None, region, profile, endpoint_url, as_json)
    with aws_errors(as_json):
        result = readiness.evaluate(target, plan)
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
