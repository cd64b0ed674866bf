"""Plan files: validate them, print their JSON Schema, package one with the functions, deploy it.

The functions read the plan from their code package (``functions/plan.json``) and the stack is
deployed with that file's digest, so ``deploy`` writes the file, builds and deploys in one go: the
code and the stack's parameters (its IAM included) always come from the same plan. Format:
docs/plan.md.
"""

import getpass
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from failover.plan import Plan
from failover.text import terminal_safe as safe
from regionshift import plans
from regionshift import template as cfn
from regionshift.cli import (
    EXIT_MISMATCH,
    EXIT_TARGET,
    EXIT_USAGE,
    EndpointOpt,
    ProfileOpt,
    RegionOpt,
    StackOpt,
    app,
    aws_errors,
    fail,
    resolve_target,
)

plan_app = typer.Typer(
    help="Plan files: validate, print the JSON Schema, package with the functions, deploy.",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")

# Where `sam build` takes the functions from (the template's CodeUri), relative to the checkout.
FUNCTIONS_DIR = Path("functions")
# The Makefile's SAM CLI (a virtualenv of its own, `make setup`); else one on PATH.
MAKEFILE_SAM = Path(".venv-sam/bin/sam")
# CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters
# ("CreateStack", AWS CloudFormation API Reference).
STACK_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"

PlanFile = Annotated[Path, typer.Argument(help="Plan file (YAML or JSON).")]


def run(argv: Sequence[str]) -> int:
    """Run one command, its output shown as it comes; its exit status. Tests replace this function."""
    return subprocess.run(list(argv), check=False).returncode  # noqa: S603 (an argument list, no shell)


def load_or_refuse(path: Path) -> Plan:
    """The plan in ``path``; or every problem of it, one per line, and exit 1."""
    try:
        return plans.load(path)
    except plans.PlanFileError as exc:
        for problem in exc.problems:
            print(safe(f"{path}: {problem}"))
        fail(f"{path}: {len(exc.problems)} problem(s); the plan is refused", EXIT_MISMATCH)


def summary(plan: Plan) -> str:
    records = len(plan.records)
    return (
        f"plan {plan.name}: {len(plan.region_names)} regions (primary {plan.primary_region}, standbys "
        f"{', '.join(plan.standby_regions)}), {len(plan.databases)} databases, "
        f"{len(plan.caches)} caches, {len(plan.tables)} tables, {len(plan.zones)} zones, "
        f"{records} records, digest {plan.digest()[:12]}"
    )


def parameter_overrides(plan: Plan, settings: dict[str, str] | None = None) -> list[str]:
    """``Key=Value`` for ``sam deploy --parameter-overrides``; a list joined with commas (a
    CommaDelimitedList parameter, "Parameters", AWS CloudFormation User Guide:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html).
    ``settings`` are the stack's own parameters (``--set``), after the plan's."""
    derived = [
        f"{key}={','.join(str(v) for v in value) if isinstance(value, list) else value}"
        for key, value in plans.stack_parameters(plan).items()
    ]
    return derived + [f"{key}={value}" for key, value in (settings or {}).items()]


def stack_settings(values: list[str], plan: Plan) -> dict[str, str]:
    """``--set KEY=VALUE`` values: the stack's own parameters (never one the plan derives). SAM
    replaces samconfig's parameter_overrides with the command line's, so they must be given here."""
    derived = set(plans.stack_parameters(plan))
    known = set(cfn.load()["Parameters"])
    settings: dict[str, str] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            fail(f"--set {value!r}: expected KEY=VALUE", EXIT_USAGE)
        if key in derived:
            fail(f"--set {key}: derived from the plan document; change the plan instead", EXIT_USAGE)
        if key not in known:
            fail(f"--set {key}: not a parameter of template.yaml", EXIT_USAGE)
        settings[key] = setting
    return settings


def packaged_path() -> Path:
    return FUNCTIONS_DIR / plans.PACKAGED_PLAN


def write_package(plan: Plan) -> Path:
    """Write the canonical plan where the code package takes it from (its digest is the stack's)."""
    if not FUNCTIONS_DIR.is_dir():
        fail(f"no {FUNCTIONS_DIR}/ here: run this from the Regionshift checkout (where template.yaml is)", EXIT_USAGE)
    path = packaged_path()
    path.write_bytes(plan.canonical())
    return path


def find_sam() -> str | None:
    if MAKEFILE_SAM.is_file():
        return str(MAKEFILE_SAM)
    return shutil.which("sam")


@plan_app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Plan files (YAML or JSON).")]) -> None:
    """Check plan files: every problem of each invalid one, one per line; exit 1 if any is invalid."""
    invalid = 0
    for path in files:
        try:
            plan = plans.load(path)
        except plans.PlanFileError as exc:
            invalid += 1
            for problem in exc.problems:
                print(safe(f"{path}: {problem}"))
            continue
        print(safe(f"{path}: {summary(plan)}"))
    if invalid:
        fail(f"{invalid} of {len(files)} plan file(s) invalid", EXIT_MISMATCH)


@plan_app.command()
def schema() -> None:
    """Print the plan's JSON Schema (docs/plan.schema.json; editors validate plan files with it)."""
    print(plans.schema_text(), end="")


@plan_app.command()
def package(file: PlanFile) -> None:
    """Validate a plan and write it to functions/plan.json, the file the functions' code package ships."""
    plan = load_or_refuse(file)
    path = write_package(plan)
    print(safe(f"{path}: {summary(plan)}"))


def _stack_name(value: str) -> str:
    if not re.match(STACK_NAME_PATTERN, value):
        raise typer.BadParameter("a CloudFormation stack name: a letter, then letters, digits or hyphens (max 128)")
    return value


@plan_app.command(context_settings={"allow_extra_args": True})
def deploy(
    ctx: typer.Context,
    file: PlanFile,
    stack: Annotated[str, typer.Option("--stack", help="Stack to create or update.", callback=_stack_name)],
    region: RegionOpt = None,
    print_only: Annotated[
        bool, typer.Option("--print-only", help="Print the commands and parameters; run and write nothing.")
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="A stack setting KEY=VALUE (e.g. NotificationEmail=ops@example.com); repeatable."),
    ] = None,
) -> None:
    """Validate a plan, package it with the functions, then `sam build` and `sam deploy` the stack.

    Arguments after `--` are passed to `sam deploy` (e.g. `-- --no-confirm-changeset`).
    """
    plan = load_or_refuse(file)
    extra: list[str] = list(ctx.args)
    sam = find_sam()
    chosen = stack_settings(settings or [], plan)
    commands = _commands(sam or "sam", plan, stack, region, extra, chosen)
    if print_only:
        print(safe(f"{file}: {summary(plan)}"))
        print(f"would write {packaged_path()} (sha256 {plan.digest()})")
        print("parameter overrides:")
        for override in parameter_overrides(plan, chosen):
            print(f"  {override}")
        print("commands:")
        for argv in commands:
            print(f"  {shlex.join(argv)}")
        return
    if sam is None:
        fail(
            f"the AWS SAM CLI is not installed: `make setup` puts it in {MAKEFILE_SAM}, or put sam on PATH", EXIT_USAGE
        )
    path = write_package(plan)
    print(safe(f"{path}: {summary(plan)}"))
    for argv in commands:
        print(f"$ {shlex.join(argv)}", flush=True)
        status = run(argv)
        if status != 0:
            # Exit 3, like any AWS failure of the CLI; SAM has printed why.
            fail(f"`sam {argv[1]}` failed (exit {status})", EXIT_TARGET)
    if plan.traffic.mode == "data-plane":
        # The pairs are the one part of the data-plane wiring a stack cannot own (the records exist already).
        print(f"next: regionshift plan pairs {file} --stack {stack} --apply (the records as failover pairs)")


def _commands(
    sam: str, plan: Plan, stack: str, region: str | None, extra: list[str], settings: dict[str, str]
) -> list[list[str]]:
    deploy_argv: list[Any] = [sam, "deploy", "--stack-name", stack, "--capabilities", "CAPABILITY_IAM"]
    if region:
        deploy_argv += ["--region", region]
    # The extra arguments go before the overrides: --parameter-overrides takes every value after it.
    deploy_argv += [*extra, "--parameter-overrides", *parameter_overrides(plan, settings)]
    return [[sam, "build"], deploy_argv]


@plan_app.command()
def pairs(
    file: PlanFile,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Send each zone's change batch (else print it).")] = False,
) -> None:
    """Data-plane mode: make the plan's records Route 53 failover pairs on the stack's serving health
    checks (docs/traffic.md). Prints each hosted zone's change batch (the plan's simple records deleted
    as they stand, the pairs UPSERTed, all or nothing); --apply sends it. A setup step, with credentials
    that may change the zones: it calls Route 53's API, never part of a run."""
    from failover import traffic

    plan = load_or_refuse(file)
    if plan.traffic.mode != "data-plane":
        fail(f"{file}: plan {plan.name} is in upsert mode: its records stay simple records", EXIT_USAGE)
    target = resolve_target(stack, None, region, profile, endpoint_url, False)
    checks = target.serving_checks(plan)
    if (target.parameters or {}).get("PlanDigest") != plan.digest() or len(checks) != 2:
        fail(
            f"stack {stack} does not run this data-plane plan (deploy it first: regionshift plan deploy)", EXIT_MISMATCH
        )
    route53 = target.client("route53", "us-east-1")
    with aws_errors(False):
        for zone in plan.zones:
            existing = [
                rrset
                for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone.id)
                for rrset in page["ResourceRecordSets"]
            ]
            try:
                changes = traffic.pair_changes(zone, plan, checks, existing)
            except traffic.PairsError as exc:
                fail(f"zone {zone.id}: {exc}; nothing sent for it", EXIT_MISMATCH)
            batch = {"Comment": f"Regionshift {plan.name}: failover pairs", "Changes": changes}
            print(json.dumps({"HostedZoneId": zone.id, "ChangeBatch": batch}, indent=2))
            if apply:
                change = route53.change_resource_record_sets(HostedZoneId=zone.id, ChangeBatch=batch)["ChangeInfo"]
                print(safe(f"zone {zone.id}: change {change['Id']} {change['Status']}"))
        if apply:
            # What a run reads when Route 53's API cannot show it the pairs (an outage of us-east-1).
            target.store().record_pairs(plan.digest(), getpass.getuser(), datetime.now(UTC))
            print(f"recorded in {target.table}: the pairs of plan {plan.name} (digest {plan.digest()[:12]})")
