"""The ``regionshift`` command: the typer app, the options its commands share, exit codes and ``main``.

Each command group lives in its own module, beside its logic: ``drills`` (the emulator commands),
``operations`` (the run table of a stack), ``runs`` (following, reporting and checking a stack) and
``plan`` (plan files: validate, schema, package, deploy).
"""

import importlib.util
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer

from failover.text import unsafe_character

app = typer.Typer(
    help="Regionshift: region failover for AWS - drills on the embedded emulator, operations on a stack.",
    no_args_is_help=True,
    add_completion=False,
)

# Exit codes (documented in README).
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_TARGET, EXIT_RUN_FAILED = 0, 1, 2, 3, 4
# A live drill that changed nothing (REFUSED, NO_ACTION), and an operation its guard refused
# (a second pause without --force, unlocking the lock of a running execution).
EXIT_NOT_DONE, EXIT_REFUSED = 5, 6

# Operator text is stored, notified and shown to the team: bounded, like the run document's fields.
OPERATOR_LIMIT, REASON_LIMIT = 100, 500


def operator_text(limit: int) -> Any:
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise typer.BadParameter("must not be empty")
        if len(value) > limit:
            raise typer.BadParameter(f"at most {limit} characters ({len(value)} given)")
        bad = unsafe_character(value)
        if bad is not None:
            raise typer.BadParameter(f"control or bidirectional character U+{ord(bad):04X} is not allowed")
        return value

    return check


StackOpt = Annotated[str | None, typer.Option("--stack", help="Deployed Regionshift stack (CloudFormation name).")]
TableOpt = Annotated[str | None, typer.Option("--table", help="Run table name, instead of --stack.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region of the stack (default: the usual chain).")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS named profile.")]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint-url", hidden=True, help="AWS endpoint (tests, emulators).")
]
OperatorOpt = Annotated[
    str,
    typer.Option(
        "--operator", help="Who is acting (recorded in the audit trail).", callback=operator_text(OPERATOR_LIMIT)
    ),
]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why (recorded and shown to the team).", callback=operator_text(REASON_LIMIT))
]
JsonOpt = Annotated[bool, typer.Option("--json", help='Print JSON (an error too, as {"error": ...}).')]


@app.callback()
def _root() -> None:
    """Regionshift: region failover for AWS."""


def needs_emulator() -> None:
    """Every emulator command starts here: moto comes with the `emulator` extra only."""
    if importlib.util.find_spec("moto") is None:
        print("regionshift: this command needs the emulator: pip install 'regionshift[emulator]'", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    # moto's interpreter logs every caught error at ERROR; a drill reports them itself.
    if not os.environ.get("REGIONSHIFT_DEBUG"):
        logging.getLogger("moto").setLevel(logging.CRITICAL)


def fail(message: object, status: int, as_json: bool = False) -> NoReturn:
    """End the command with one line on stderr (and, for ``--json``, an error object on stdout)."""
    line = " ".join(str(message).split())
    print(f"regionshift: {line}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": line, "exitStatus": status}))
    raise typer.Exit(status)


def resolve_target(
    stack: str | None,
    table: str | None,
    region: str | None,
    profile: str | None,
    endpoint: str | None,
    as_json: bool = False,
) -> Any:
    from regionshift.target import TargetError, resolve

    try:
        return resolve(stack, table, region, profile, endpoint)
    except TargetError as exc:
        fail(exc, EXIT_TARGET, as_json)


@contextmanager
def aws_errors(as_json: bool = False) -> Iterator[None]:
    """Turn an AWS failure (refusal, DNS, connection, timeout, throttling) into one line and exit 3."""
    from botocore.exceptions import BotoCoreError, ClientError

    from failover.errors import RegionshiftError

    try:
        yield
    except (ClientError, BotoCoreError, RegionshiftError) as exc:
        fail(exc, EXIT_TARGET, as_json)


def now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    app()


# The command groups register themselves on ``app``; imported last, as they import the names above.
from regionshift.cli import drills, failback, operations, plan, runs  # noqa: E402

__all__ = ["app", "drills", "failback", "main", "operations", "plan", "runs"]
