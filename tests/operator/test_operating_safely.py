"""Operating a deployed stack safely: guarded live drills, one-line failures, terminal-safe text,
visible operations, and unlock."""

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from moto import mock_aws
from typer.testing import CliRunner

from failover.state import AuditRecord, LockHolder
from failover.store import StateStore
from failover.text import markdown_safe, terminal_safe
from regionshift import runreport, target
from regionshift.cli import app, drills
from tests.conftest import PLAN_FILE, create_run_table
from tests.operator.test_server_mode import emulated

runner = CliRunner()
REGION = "us-west-2"
TABLE = ["--table", "regionshift-runs", "--region", REGION]
EVIL = "mallory\x1b[2K\x1b[1A\rroot ok \u202egnp.exe"
WHO = ["--operator", "alice", "--reason", "game day"]


@pytest.fixture
def store() -> Iterator[StateStore]:
    # Executions stay RUNNING until stopped (the emulator's tests switch moto's ASL execution on).
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        client = boto3.client("dynamodb", region_name=REGION)
        create_run_table(client)
        yield StateStore(client, "regionshift-runs")


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def one_line_exit(result: Any, status: int) -> str:
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("regionshift: ")
    return line


# --- 1. guarded live drills -------------------------------------------------------------------


@pytest.mark.parametrize("option", [["--list"], ["--scenario", "promote-fails"], ["--json"]])
def test_drill_on_a_stack_refuses_emulator_options(option: list[str]) -> None:
    # When an emulator-only option is given with --stack
    result = cli("drill", "--stack", "regionshift-orders", "--region", REGION, *WHO, *option)
    # Then nothing runs: exit 2 with one line naming the option
    assert option[0] in one_line_exit(result, 2)


@pytest.mark.parametrize(
    "args",
    [
        [],  # no --operator / --reason
        [*WHO, "--live", "--dry-run"],
        [*WHO, "--yes"],
        [*WHO, "--live"],  # no terminal to confirm on, no --yes
    ],
)
def test_drill_on_a_stack_needs_who_why_and_a_confirmed_live_run(args: list[str]) -> None:
    with emulated() as (_stack, stack_cli):
        result = stack_cli("drill", *args)
        one_line_exit(result, 2)
        assert "started" not in result.stdout
        assert json.loads(stack_cli("history", "--json").stdout) == []


def test_drill_options_of_a_stack_are_refused_on_the_emulator() -> None:
    one_line_exit(cli("drill", "--live"), 2)


def test_a_drill_of_a_stack_is_a_dry_run_unless_live(tmp_path: Path) -> None:
    with emulated() as (_stack, stack_cli):
        result = stack_cli("drill", *WHO, "--poll", "0.05", "--report-dir", str(tmp_path))
        assert result.exit_code == 0, result.output
        assert "(dry run)" in result.stdout and "outcome: DRY_RUN" in result.stdout


def test_a_live_drill_that_changes_nothing_has_its_own_exit_status(tmp_path: Path) -> None:
    # Given a healthy primary: a live drill assesses and takes no action
    with emulated(health={"primary": [{"failing": 0}]}) as (_stack, stack_cli):
        result = stack_cli("drill", *WHO, "--live", "--yes", "--poll", "0.05", "--report-dir", str(tmp_path))
        assert "(LIVE)" in result.stdout and "outcome: NO_ACTION" in result.stdout
        assert result.exit_code == 5, result.output


def test_a_live_drill_on_a_terminal_needs_the_plan_name_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(drills, "_on_terminal", lambda: True)
    with emulated() as (stack, _cli):
        plan = stack.deployment.parameters["PlanName"]
        refused = runner.invoke(app, ["drill", *_common(stack), *WHO, "--live"], input="wrong\n")
        assert refused.exit_code == 2 and "not confirmed" in refused.stderr and "started" not in refused.stdout
        confirmed = runner.invoke(
            app,
            ["drill", *_common(stack), *WHO, "--live", "--poll", "0.05", "--report-dir", str(tmp_path)],
            input=f"{plan}\n",
        )
        # Then the primary (failing in this estate) is failed over for real
        assert "(LIVE)" in confirmed.stdout and "outcome: FAILED_OVER" in confirmed.stdout
        assert confirmed.exit_code == 0, confirmed.output


def _common(stack: Any) -> list[str]:
    return ["--stack", stack.stack_name, "--region", REGION, "--endpoint-url", stack.endpoint_url]


# --- 2. every failure is one line ---------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _throttled(request: Any, **_: Any) -> AWSResponse:
    """A 400 Throttling answer, in the JSON protocol (Step Functions) or the query protocol (RDS)."""
    if "json" in str(request.headers.get("Content-Type", "")):
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
    else:
        body = b"<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
    return AWSResponse(request.url, 400, {}, _Raw(body))


def _raise(error: type[Exception]) -> Callable[..., None]:
    def hook(request: Any, **_: Any) -> None:
        raise error(endpoint_url=request.url)

    return hook


FAULTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "throttling": ("Rate exceeded", _throttled),
    "read timeout": ("Read timeout", _raise(ReadTimeoutError)),
    "connect timeout": ("Connect timeout", _raise(ConnectTimeoutError)),
}
# The first call each command makes after resolving the stack.
AFTER_RESOLVE = {"check": "before-send.rds.DescribeDBInstances", "drill": "before-send.states.StartExecution"}


@pytest.fixture
def one_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's retries back off with real sleeps: one attempt keeps the test instant.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def _fault_after_resolve(monkeypatch: pytest.MonkeyPatch, event: str, hook: Callable[..., Any]) -> None:
    real = target.Target.client

    def client(self: Any, service: str, region: str | None = None) -> Any:
        made = real(self, service, region)
        made.meta.events.register(event, hook)
        return made

    monkeypatch.setattr(target.Target, "client", client)


@pytest.mark.usefixtures("one_attempt")
@pytest.mark.parametrize("kind", list(FAULTS))
@pytest.mark.parametrize("command", ["check", "drill"])
def test_aws_failures_after_the_stack_is_found_are_one_line(
    monkeypatch: pytest.MonkeyPatch, command: str, kind: str
) -> None:
    expected, hook = FAULTS[kind]
    with emulated() as (stack, stack_cli):
        _fault_after_resolve(monkeypatch, AFTER_RESOLVE[command], hook)
        extra = ["--json", "--plan", str(stack.deployment.parameters["PlanFile"])] if command == "check" else WHO
        result = stack_cli(command, *extra)
        assert expected in one_line_exit(result, 3)
        if command == "check":
            assert json.loads(result.stdout) == {
                "error": result.stderr.strip()[len("regionshift: ") :],
                "exitStatus": 3,
            }


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _no_dns(monkeypatch: pytest.MonkeyPatch) -> str:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "aws.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "http://aws.invalid"


TARGET_MISTAKES: dict[str, tuple[Callable[[pytest.MonkeyPatch], list[str]], str]] = {
    "region": (lambda _m: ["--region", "us-west2"], "unknown region 'us-west2' (did you mean us-west-2?)"),
    "malformed endpoint": (lambda _m: ["--region", REGION, "--endpoint-url", "localhost:4566"], "not an http"),
    "bad port": (lambda _m: ["--region", REGION, "--endpoint-url", "http://127.0.0.1:port"], "is not a URL"),
    "unreachable endpoint": (
        lambda _m: ["--region", REGION, "--endpoint-url", _closed_port()],
        "Could not connect to the endpoint URL",
    ),
    "dns": (lambda m: ["--region", REGION, "--endpoint-url", _no_dns(m)], "Could not connect to the endpoint URL"),
}


@pytest.mark.usefixtures("one_attempt")
@pytest.mark.parametrize("mistake", list(TARGET_MISTAKES))
@pytest.mark.parametrize(
    "command", [["check", "--json", "--plan", str(PLAN_FILE)], ["drill", *WHO], ["status", "--json"], ["log"]]
)
def test_region_and_endpoint_mistakes_are_one_line(
    monkeypatch: pytest.MonkeyPatch, mistake: str, command: list[str]
) -> None:
    options, expected = TARGET_MISTAKES[mistake]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    result = cli(command[0], "--stack", "regionshift-orders", *options(monkeypatch), *command[1:])
    assert expected in one_line_exit(result, 3)
    if "--json" in command:
        assert json.loads(result.stdout)["exitStatus"] == 3


@pytest.mark.parametrize("as_json", [False, True])
def test_check_without_a_plan_file_is_one_line(monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    # Given neither --plan nor REGIONSHIFT_PLAN
    monkeypatch.delenv("REGIONSHIFT_PLAN", raising=False)
    # When the plan of a stack is checked
    result = cli("check", "--stack", "regionshift-orders", "--region", REGION, *(["--json"] if as_json else []))
    # Then it exits 2 before asking AWS anything, with one line naming the option and the variable
    line = one_line_exit(result, 2)
    assert "--plan FILE" in line and "REGIONSHIFT_PLAN" in line
    if as_json:
        assert json.loads(result.stdout) == {"error": line[len("regionshift: ") :], "exitStatus": 2}


def test_check_with_an_invalid_plan_file_is_one_line(tmp_path: Path) -> None:
    # Given a plan file without its regions
    broken = tmp_path / "plan.yaml"
    broken.write_text("name: orders\n")
    result = cli("check", "--stack", "regionshift-orders", "--region", REGION, "--plan", str(broken))
    # Then it exits 2 with one line naming the file and what is wrong
    line = one_line_exit(result, 2)
    assert f"invalid plan {broken}" in line and "regions" in line


# --- 3. terminal-safe output --------------------------------------------------------------------


def test_operator_text_is_neutralised_for_terminals_and_markdown() -> None:
    shown = terminal_safe(EVIL)
    assert "\x1b" not in shown and "\r" not in shown and "\u202e" not in shown
    assert shown == "mallory\\x1b[2K\\x1b[1A\\x0droot ok \\u202egnp.exe"
    assert markdown_safe("[x](http://evil) | <b>") == "\\[x\\](http://evil) \\| \\<b\\>"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--operator", "", "--reason", "r"], "must not be empty"),
        (["--operator", "bob", "--reason", "   "], "must not be empty"),
        (["--operator", "b" * 101, "--reason", "r"], "at most 100 characters"),
        (["--operator", "bob", "--reason", "r" * 501], "at most 500 characters"),
        (["--operator", EVIL, "--reason", "r"], "U+001B"),
        (["--operator", "bob"], "Missing option '--reason'"),
    ],
)
@pytest.mark.parametrize("command", ["pause", "resume", "ack", "unlock"])
def test_operator_and_reason_are_required_non_empty_and_bounded(
    store: StateStore, command: str, args: list[str], problem: str
) -> None:
    result = cli(command, *TABLE, *args)
    assert result.exit_code == 2 and problem in result.output
    assert store.operations() == []


def test_stored_operator_text_is_shown_escaped(store: StateStore) -> None:
    # Given text that did not come through the CLI's validation (written to the table directly)
    now = datetime.now(UTC)
    store.pause(EVIL, EVIL, now)
    store.put_audit(
        AuditRecord(
            execution="run-1",
            started_at=now,
            finished_at=now,
            plan="orders",
            outcome="REFUSED",
            reason=f"paused by {EVIL}",
            lock_released=True,
        )
    )
    # Then no command writes a control or bidirectional character to the terminal
    for command in ("status", "history", "log"):
        output = cli(command, *TABLE).stdout
        assert "mallory\\x1b[2K" in output and "\x1b" not in output and "\u202e" not in output, command
    # And pausing again shows who paused, escaped
    refused = cli("pause", *TABLE, "--operator", "bob", "--reason", "again")
    assert refused.exit_code == 6 and "already paused by mallory\\x1b" in refused.stderr


def test_report_markdown_neutralises_operator_text() -> None:
    report = {
        "outcome": "REFUSED",
        "execution": "arn:x",
        "status": "SUCCEEDED",
        "started": "t0",
        "stopped": "t1",
        "reason": f"paused by {EVIL} | [click](http://evil)",
        "trigger": {"operator": EVIL},
        "decisions": {},
        "changes": {},
        "recovery": {},
        "timeline": [],
    }
    text = runreport.markdown(report)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\[click\\](http://evil)" in text and "\\| " in text


# --- 4. operations are visible; unlock ------------------------------------------------------------


def test_a_second_pause_is_refused_unless_forced_and_every_operation_is_logged(store: StateStore) -> None:
    assert cli("pause", *TABLE, "--operator", "bob", "--reason", "db maintenance").exit_code == 0
    second = cli("pause", *TABLE, "--operator", "carol", "--reason", "network work")
    assert second.exit_code == 6 and "already paused by bob" in second.stderr and "db maintenance" in second.stderr
    assert store.paused() is not None and store.paused().operator == "bob"  # type: ignore[union-attr]
    forced = cli("pause", *TABLE, "--operator", "carol", "--reason", "network work", "--force")
    assert forced.exit_code == 0 and "replaced the pause by bob" in forced.stdout
    assert cli("resume", *TABLE, "--operator", "carol", "--reason", "done").exit_code == 0
    store.start_cooldown("run-1", "FAILED_OVER", datetime.now(UTC) + timedelta(hours=1))
    assert cli("ack", *TABLE, "--operator", "alice", "--reason", "rebuilt").exit_code == 0
    logged = json.loads(cli("log", *TABLE, "--json").stdout)
    assert [(a["kind"], a["operator"]) for a in logged] == [
        ("ack", "alice"),
        ("resume", "carol"),
        ("pause", "carol"),
        ("pause", "bob"),
    ]
    assert all(a["at"] and a["reason"] for a in logged)
    lines = cli("log", *TABLE).stdout.splitlines()
    assert lines[0].split()[1:3] == ["ack", "alice"] and "rebuilt" in lines[0]


def _machine() -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})
    role = "arn:aws:iam::123456789012:role/sfn"
    return str(sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"])


def test_unlock_refuses_the_lock_of_a_running_execution(store: StateStore) -> None:
    # Given the lock held by an execution that still runs (moto leaves an execution RUNNING)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(stateMachineArn=_machine())["executionArn"]
    store.acquire_lock(arn, datetime.now(UTC), 3600)
    result = cli("unlock", *TABLE, "--operator", "bob", "--reason", "stuck")
    assert "still running" in one_line_exit(result, 6)
    assert store.lock_holder() is not None and store.operations() == []
    # When it has stopped, the lock is cleared and the unlock logged
    sfn.stop_execution(executionArn=arn)
    cleared = cli("unlock", *TABLE, "--operator", "bob", "--reason", "stuck")
    assert cleared.exit_code == 0, cleared.output
    assert store.lock_holder() is None
    (action,) = store.operations()
    assert action.kind == "unlock" and action.operator == "bob" and arn in action.reason
    assert cli("unlock", *TABLE, "--operator", "bob", "--reason", "again").stdout.strip() == "no lock held"


def test_unlock_clears_a_lock_whose_execution_no_longer_exists(store: StateStore) -> None:
    gone = _machine().replace(":stateMachine:", ":execution:") + ":long-gone"
    store.acquire_lock(gone, datetime.now(UTC), 3600)
    assert cli("unlock", *TABLE, "--operator", "bob", "--reason", "expired history").exit_code == 0
    assert store.lock_holder() is None


def test_break_lock_never_removes_a_lock_a_new_run_took(store: StateStore) -> None:
    # Given the holder an operator checked, then a new run taking the lock after its lease ended
    now = datetime.now(UTC)
    store.acquire_lock("old-run", now, 1)
    checked = store.lock_holder()
    assert checked is not None
    later = now + timedelta(seconds=5)
    assert store.acquire_lock("new-run", later, 3600)[0]
    # When the stale lock is broken
    assert not store.break_lock(checked, "bob", "stuck", later)
    # Then the new run keeps its lock, and nothing is logged
    assert store.lock_holder() == LockHolder(
        owner="new-run", lease_until=store.lock_holder().lease_until, acquired_at=later
    )  # type: ignore[union-attr]
    assert store.operations() == []
