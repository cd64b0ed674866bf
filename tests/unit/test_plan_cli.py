"""``regionshift plan``: validate's output and exit status, the committed schema, package and deploy
(the commands run through an injected runner: no SAM, no AWS)."""

import hashlib
import json
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from regionshift import plans
from regionshift.cli import app
from regionshift.cli import plan as plan_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "plans" / "example.yaml"
cli = CliRunner()


class Recorder:
    """Stands in for ``plan_cli.run``: records each command line, and what functions/plan.json held then."""

    def __init__(self, statuses: Sequence[int] = (0, 0)) -> None:
        self.calls: list[list[str]] = []
        self.packaged: list[bytes | None] = []
        self.statuses = list(statuses)

    def __call__(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        path = Path("functions/plan.json")
        self.packaged.append(path.read_bytes() if path.exists() else None)
        return self.statuses[len(self.calls) - 1]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout-like working directory: functions/, the example plan, the Makefile's SAM, no sam on PATH."""
    (tmp_path / "functions").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "plan.yaml")
    sam = tmp_path / ".venv-sam" / "bin" / "sam"
    sam.parent.mkdir(parents=True)
    sam.write_text("#!/bin/sh\nexit 99\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    return tmp_path


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    monkeypatch.setattr(plan_cli, "run", found)
    return found


def broken_plan(path: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["regions"]["standbys"][1]["healthCheckId"] = data["regions"]["standbys"][0]["healthCheckId"]
    del data["databases"][0]["replicas"]["eu-west-1"]
    path.write_text(yaml.safe_dump(data))
    return path


EXPECTED_PROBLEMS = [
    "regions: each region needs its own health check",
    "databases.orders: no replica in standby region(s) eu-west-1",
]


def test_validate_prints_a_summary_per_valid_plan(checkout: Path) -> None:
    # Given the example plan; When validated
    result = cli.invoke(app, ["plan", "validate", "plan.yaml"])
    # Then exit 0 and one summary line
    digest = plans.load("plan.yaml").digest()
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "plan.yaml: plan myapp: 3 regions (primary us-east-1, standbys us-west-2, eu-west-1), "
        f"3 databases, 1 caches, 1 tables, 1 zones, 3 records, digest {digest[:12]}\n"
    )


def test_validate_lists_every_problem_of_each_invalid_file_and_exits_1(checkout: Path) -> None:
    # Given an invalid plan, a file with a field error and the valid example
    broken_plan(checkout / "broken.yaml")
    (checkout / "typo.yaml").write_text(EXAMPLE.read_text().replace("confirmProbes", "confirmProbe"))
    # When all three are validated
    result = cli.invoke(app, ["plan", "validate", "broken.yaml", "typo.yaml", "plan.yaml"])
    # Then every problem is a line "FILE: where: problem", the valid one still summarised, exit 1
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        *(f"broken.yaml: {p}" for p in EXPECTED_PROBLEMS),
        "typo.yaml: rails.confirmProbe: Extra inputs are not permitted",
    ]
    assert lines[3].startswith("plan.yaml: plan myapp:") and len(lines) == 4
    assert result.stderr == "regionshift: 2 of 3 plan file(s) invalid\n"


def test_the_committed_schema_is_the_generated_one() -> None:
    # Given docs/plan.schema.json; When the schema command prints the schema
    result = cli.invoke(app, ["plan", "schema"])
    # Then they are the same text (the committed file cannot drift from the model)
    committed = (REPO / "docs" / "plan.schema.json").read_text()
    assert result.exit_code == 0
    assert result.stdout == committed
    schema = json.loads(committed)
    assert schema["$schema"] == plans.SCHEMA_DIALECT and schema["title"] == plans.SCHEMA_TITLE


def test_the_schema_accepts_the_example_and_refuses_a_typo() -> None:
    # Given the committed schema, as an editor reads it
    validator = jsonschema.Draft202012Validator(json.loads((REPO / "docs" / "plan.schema.json").read_text()))
    data = yaml.safe_load(EXAMPLE.read_text())
    # When the example is checked; Then it passes, and a misspelt rail does not
    assert list(validator.iter_errors(data)) == []
    data["rails"]["confirmProbe"] = 2
    assert [e.validator for e in validator.iter_errors(data)] == ["additionalProperties"]


def test_package_writes_the_canonical_plan(checkout: Path) -> None:
    # Given the example; When packaged
    result = cli.invoke(app, ["plan", "package", "plan.yaml"])
    # Then functions/plan.json holds its canonical form (what PLAN_DIGEST is computed over)
    assert result.exit_code == 0, result.output
    assert (checkout / "functions" / "plan.json").read_bytes() == plans.load("plan.yaml").canonical()


def test_package_outside_a_checkout_is_a_usage_error(checkout: Path) -> None:
    # Given no functions/ directory; When packaging; Then exit 2 with one line, nothing written
    (checkout / "functions").rmdir()
    result = cli.invoke(app, ["plan", "package", "plan.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith("regionshift: no functions/ here")


def expected_overrides(digest: str) -> list[str]:
    return [
        "PlanName=myapp",
        "PlanFile=plan.json",
        f"PlanDigest={digest}",
        "PrimaryRegion=us-east-1",
        "PrimaryHealthCheckId=11111111-1111-1111-1111-111111111111",
        "TrafficMode=upsert",
        "TrafficStandbyRegion=us-west-2",
        "HealthCheckArns=arn:aws:route53:::healthcheck/11111111-1111-1111-1111-111111111111,"
        "arn:aws:route53:::healthcheck/22222222-2222-2222-2222-222222222222,"
        "arn:aws:route53:::healthcheck/33333333-3333-3333-3333-333333333333",
        "HostedZoneArns=arn:aws:route53:::hostedzone/Z0EXAMPLE0APEX",
        "GlobalClusterArns=arn:aws:rds::*:global-cluster:ledger-global",
        "GlobalDatastoreArns=arn:aws:elasticache::*:globalreplicationgroup:ldgnf-sessions",
        "GlobalTableArns=arn:aws:dynamodb:us-east-1:*:table/carts,arn:aws:dynamodb:us-west-2:*:table/carts,"
        "arn:aws:dynamodb:eu-west-1:*:table/carts",
        "LagWatchRegion=us-west-2",
        "LagWatchReplica=orders-us-west",
        "LagWatchMetric=ReplicaLag",
        "LagWatchDimension=DBInstanceIdentifier",
        "LagWatchUnitsPerSecond=1",
        "MaxReplicaLagSeconds=60",
        "MaxEventAgeSeconds=900",
        "StandbyHealthCheckId=22222222-2222-2222-2222-222222222222",
        "ProbedRegions=none",
        "PrimaryProbed=false",
    ]


def test_deploy_print_only_shows_commands_and_overrides_and_runs_nothing(checkout: Path, recorder: Recorder) -> None:
    # Given the example plan; When deployed with --print-only
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs-orders", "--print-only"])
    # Then the overrides are printed one per line, lists joined with commas, and the two commands
    digest = plans.load("plan.yaml").digest()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("parameter overrides:") + 1
    overrides = expected_overrides(digest)
    assert lines[start : start + len(overrides)] == [f"  {o}" for o in overrides]
    assert f"would write functions/plan.json (sha256 {digest})" in lines
    assert lines[-2:] == [
        "  .venv-sam/bin/sam build",
        # a shell command: a value with a wildcard is quoted
        "  .venv-sam/bin/sam deploy --stack-name rs-orders --capabilities CAPABILITY_IAM --parameter-overrides "
        + " ".join(shlex.quote(o) for o in expected_overrides(digest)),
    ]
    # and nothing ran or was written
    assert recorder.calls == []
    assert not (checkout / "functions" / "plan.json").exists()


def test_deploy_packages_the_plan_then_builds_and_deploys(checkout: Path, recorder: Recorder) -> None:
    # Given the example plan and SAM in the Makefile's virtualenv
    # When deployed to a region, with an extra argument for sam deploy
    argv = ["plan", "deploy", "plan.yaml", "--stack", "rs-orders", "--region", "us-west-2"]
    result = cli.invoke(app, [*argv, "--", "--no-confirm-changeset"])
    # Then sam build, then sam deploy with the stack, IAM capability, region, extra argument and overrides
    assert result.exit_code == 0, result.output
    canonical = plans.load("plan.yaml").canonical()
    digest = hashlib.sha256(canonical).hexdigest()
    sam = ".venv-sam/bin/sam"
    assert recorder.calls == [
        [sam, "build"],
        [sam, "deploy", "--stack-name", "rs-orders", "--capabilities", "CAPABILITY_IAM", "--region", "us-west-2",
         "--no-confirm-changeset", "--parameter-overrides", *expected_overrides(digest)],
    ]  # fmt: skip
    # and the package held the canonical plan (whose digest is the PlanDigest) before the build
    assert recorder.packaged == [canonical, canonical]


def test_deploy_refuses_an_invalid_plan_with_every_problem(checkout: Path, recorder: Recorder) -> None:
    # Given a plan with two problems; When deployed
    broken_plan(checkout / "broken.yaml")
    result = cli.invoke(app, ["plan", "deploy", "broken.yaml", "--stack", "rs-orders"])
    # Then both are listed, exit 1, and nothing ran or was written
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"broken.yaml: {p}" for p in EXPECTED_PROBLEMS]
    assert recorder.calls == []
    assert not (checkout / "functions" / "plan.json").exists()


def test_a_failed_build_stops_before_deploy(checkout: Path, recorder: Recorder) -> None:
    # Given sam build failing; When deploying
    recorder.statuses = [1]
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs-orders"])
    # Then sam deploy does not run and the command exits 3 with one line
    assert result.exit_code == 3
    assert [call[1] for call in recorder.calls] == ["build"]
    assert result.stderr == "regionshift: `sam build` failed (exit 1)\n"


def test_deploy_without_sam_says_so_and_writes_nothing(checkout: Path, recorder: Recorder) -> None:
    # Given no SAM CLI in .venv-sam nor on PATH; When deploying
    shutil.rmtree(checkout / ".venv-sam")
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs-orders"])
    # Then one line says how to install it; exit 2; nothing ran or was written
    assert result.exit_code == 2
    assert result.stderr.startswith("regionshift: the AWS SAM CLI is not installed")
    assert recorder.calls == []
    assert not (checkout / "functions" / "plan.json").exists()


def test_sam_on_path_is_used_when_the_makefile_has_none(checkout: Path, recorder: Recorder) -> None:
    # Given no .venv-sam but an executable sam on PATH
    shutil.rmtree(checkout / ".venv-sam")
    bin_dir = checkout / "no-bin"
    bin_dir.mkdir()
    (bin_dir / "sam").write_text("#!/bin/sh\n")
    (bin_dir / "sam").chmod(0o755)
    # When deploying; Then that sam runs
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs-orders"])
    assert result.exit_code == 0, result.output
    assert [call[0] for call in recorder.calls] == [str(bin_dir / "sam")] * 2


def test_a_malformed_stack_name_is_a_usage_error(checkout: Path, recorder: Recorder) -> None:
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs_orders"])
    assert result.exit_code == 2
    assert recorder.calls == []


def test_deploy_passes_the_stacks_own_settings_after_the_plans(checkout: Path, recorder: Recorder) -> None:
    # Given the example plan and a stack setting
    args = ["plan", "deploy", "plan.yaml", "--stack", "rs-orders", "--print-only", "--set", "NotificationEmail=a@b.c"]
    # When deployed with --print-only
    result = cli.invoke(app, args)
    # Then the setting follows the plan's parameters (SAM replaces samconfig's overrides with these)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("NotificationEmail=a@b.c")


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("PlanName=other", "derived from the plan document"),
        ("NoSuchParameter=1", "not a parameter of template.yaml"),
        ("NotificationEmail", "expected KEY=VALUE"),
    ],
)
def test_deploy_refuses_a_setting_the_plan_owns_or_the_template_lacks(
    checkout: Path, recorder: Recorder, setting: str, problem: str
) -> None:
    # Given a setting that is the plan's, unknown, or malformed; When deployed
    result = cli.invoke(app, ["plan", "deploy", "plan.yaml", "--stack", "rs-orders", "--set", setting])
    # Then it is refused before anything runs
    assert result.exit_code == 2 and problem in result.stderr
    assert recorder.calls == []
