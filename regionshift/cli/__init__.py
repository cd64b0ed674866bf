"""The ``regionshift`` command: the typer app, the options its commands share, exit codes and ``main``.

Each command group lives in its own module, beside its logic: ``drills`` (the emulator commands),
``operations`` (the run table of a stack) and ``runs`` (following, reporting and checking a stack).
"""

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

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


def needs_emulator() -> None:
    """Every emulator command starts here: moto comes with the `emulator` extra only."""
    if importlib.util.find_spec("moto") is None:
        print("regionshift: this command needs the emulator: pip install 'regionshift[emulator]'", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    # moto's interpreter logs every caught error at ERROR; a drill reports them itself.
    if not os.environ.get("REGIONSHIFT_DEBUG"):
        logging.getLogger("moto").setLevel(logging.CRITICAL)


def resolve_target(
    stack: str | None, table: str | None, region: str | None, profile: str | None, endpoint: str | None
) -> Any:
    from regionshift.target import TargetError, resolve

    try:
        return resolve(stack, table, region, profile, endpoint)
    except TargetError as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_TARGET) from exc


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn an AWS failure into one line on stderr and exit status 3."""
    from botocore.exceptions import BotoCoreError, ClientError

    from failover.errors import RegionshiftError

    try:
        yield
    except (ClientError, BotoCoreError, RegionshiftError) as exc:
        print(f"regionshift: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_TARGET) from exc


def now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    app()


# The command groups register themselves on ``app``; imported last, as they import the names above.
from regionshift.cli import drills, operations, runs  # noqa: E402

__all__ = ["app", "drills", "main", "operations", "runs"]
