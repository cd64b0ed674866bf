"""The ``regionshift`` command."""

import json
import logging
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from regionshift.emulator import scenario as scenarios

app = typer.Typer(
    help="Regionshift: region failover for AWS - drills on the embedded emulator, operations on a stack.",
    no_args_is_help=True,
    add_completion=False,
)

# Exit codes (documented in README).
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


@app.callback()
def _root() -> None:
    """Regionshift: region failover for AWS."""


def _quiet_moto() -> None:
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
) -> None:
    """Run a failover drill of the real state machine and Lambdas on the embedded emulator.

    Exit status 0 when the outcome matches the scenario's expectation, 1 when it does not.
    """
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
    from regionshift import report

    console = Console(file=sys.stdout, highlight=False)
    if not as_json:
        console.print(f"[bold]Drill {chosen.name}[/bold]: {' '.join(chosen.description.split())}")
    result = drills.run(chosen, on_state=None if as_json else report.state_printer(console))
    if as_json:
        print(json.dumps(result.wire(), indent=2, default=str))
    else:
        report.render(result, console)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_MISMATCH)


def main() -> None:
    app()
