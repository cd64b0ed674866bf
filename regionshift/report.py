"""Human-readable drill output: states as they run, then the report."""

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from failover.history import Visit
from failover.text import terminal_safe
from regionshift.drill import DrillResult, Run

OUTCOME_STYLE = {
    "FAILED_OVER": "bold green",
    "NO_ACTION": "bold cyan",
    "REFUSED": "bold yellow",
    "DRY_RUN": "bold blue",
    "ROLLED_BACK": "bold magenta",
    "DEGRADED": "bold red",
}


def state_printer(console: Console) -> Any:
    def show(run: Run, entry: Visit) -> None:
        console.print(f"  [dim]+{entry.at:6.1f}s[/dim]  {entry.name}  [dim]{run.arn.rsplit(':', 1)[-1]}[/dim]")

    return show


def _records(world: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: f"{r['target']} ({r['region'] or '?'})" for r in world["dns"]}


def _roles(world: dict[str, Any]) -> dict[str, str]:
    return {f"{d['id']} ({d['region']})": d["role"] for d in world["databases"]}


def render(result: DrillResult, console: Console) -> None:
    data = result.wire()
    outcome = data["outcome"] or "no run started"
    style = OUTCOME_STYLE.get(data["outcome"] or "", "bold")
    verdict = (
        "[green]as expected[/green]"
        if result.passed
        else "[red]NOT as expected: " + "; ".join(result.problems) + "[/red]"
    )
    console.print(
        Panel(
            f"[{style}]{outcome}[/{style}]  {verdict}\n{escape(terminal_safe(data['reason'] or ''))}",
            title=f"Drill {data['scenario']}",
            subtitle=f"{len(result.runs)} run(s), {data['virtualSeconds']} s of virtual time",
        )
    )
    for run in result.runs:
        if len(result.runs) > 1:
            reason = escape(terminal_safe(run.reason))
            console.print(f"[bold]{run.arn.rsplit(':', 1)[-1]}[/bold]: {run.outcome} - {reason}")
    for run in result.runs:
        for line in _choice(run):
            console.print(escape(terminal_safe(line)))
    changes = Table(title="What changed", show_lines=False)
    changes.add_column("resource")
    changes.add_column("before")
    changes.add_column("after")
    for key, (before, after) in _diff(_roles(result.before), _roles(result.world)).items():
        changes.add_row(key, before, after)
    for key, (before, after) in _diff(_records(result.before), _records(result.world)).items():
        changes.add_row(key, before, after)
    console.print(changes if changes.row_count else "[dim]Nothing in the estate changed.[/dim]")
    first = result.runs[0] if result.runs else None
    if first is not None and first.arn in result.reports:
        run_report = result.reports[first.arn]
        steps = Table(title="Steps (virtual seconds)")
        for column in ("+s", "step", "took", "retries", "errors"):
            steps.add_column(column, justify="right" if column in ("+s", "took", "retries") else "left")
        for step in run_report["timeline"]:
            if step["kind"] == "Task" and step["end"] is not None:
                took = f"{step['end'] - step['start']:.1f}"
                steps.add_row(
                    f"{step['start']:.1f}", step["state"], took, str(step["retries"] or ""), ", ".join(step["errors"])
                )
        console.print(steps)
        recovery = run_report["recovery"]
        console.print("Recovery time: " + ", ".join(f"{k} {v:.1f} s" for k, v in recovery.items() if v is not None))
    console.print(
        f"Mutating calls: {len(data['mutations'])}  "
        + ", ".join(f"{m['service']}:{m['operation']}" for m in data["mutations"])
    )
    console.print(f"Retries: {len(data['retries'])}   Waits: {len(data['waits'])} ({sum(data['waits']):.0f} s)")
    for note in result.notifications:
        console.print(f"Notification: {note['subject']}")


def _choice(run: Run) -> list[str]:
    """Where the run went and why: the chosen standby and every region passed over before it."""
    assess = run.audit.decisions.assess if run.audit and run.audit.decisions else None
    if assess is None or not assess.standbys:
        return []
    prefix = run.arn.rsplit(":", 1)[-1] + ": "
    lines = []
    for verdict in assess.standbys:
        votes = verdict.votes
        health = f" ({votes.healthy}/{votes.healthy + votes.failing} checkers healthy)" if votes else ""
        if verdict.chosen:
            lines.append(f"{prefix}target {verdict.region}{health}: {assess.why_chosen}")
        elif verdict.passed_over:
            lines.append(f"{prefix}passed over {verdict.region}: {verdict.passed_over}")
    return lines


def _diff(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    keys = sorted(set(before) | set(after))
    return {k: (before.get(k, "-"), after.get(k, "-")) for k in keys if before.get(k) != after.get(k)}
