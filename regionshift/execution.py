"""Follow executions until they end: one polling loop for drills and ``watch``.

Reading an execution into visits is ``failover.history``, shared with the Finalize step's report.
"""

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from failover.history import ExecutionHistory, Visit, read

__all__ = ["ExecutionHistory", "Follower", "Visit", "follow", "read"]


def follow(
    sfn: Any,
    arns: list[str],
    on_read: Callable[[ExecutionHistory], None] | None = None,
    poll_seconds: float = 1.0,
    deadline_seconds: float | None = None,
) -> dict[str, ExecutionHistory]:
    """Poll the executions until each has ended, or the deadline; the last history read of each.

    With ``on_read``, each running execution's history is read (and handed to it) every poll;
    without, only its status is, and the history once, when it has ended: history reads compete with
    emulated executions for the interpreter.
    """
    stop_at = time.monotonic() + deadline_seconds if deadline_seconds is not None else None
    pending = list(arns)
    latest: dict[str, ExecutionHistory] = {}
    while True:
        for arn in list(pending):
            if on_read is None and sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                continue
            latest[arn] = read(sfn, arn)
            if on_read is not None:
                on_read(latest[arn])
            if latest[arn].finished:
                pending.remove(arn)
        if not pending or (stop_at is not None and time.monotonic() >= stop_at):
            return latest
        time.sleep(poll_seconds)


class Follower:
    """Show an execution's states as they run: a live table on a terminal, plain lines otherwise."""

    def __init__(self, sfn: Any, arn: str, poll_seconds: float = 1.0, out: Any = None) -> None:
        self.sfn, self.arn, self.poll_seconds = sfn, arn, poll_seconds
        self.out = out or sys.stdout
        self._printed = 0

    def run(self, deadline_seconds: float | None = None) -> ExecutionHistory:
        interactive = hasattr(self.out, "isatty") and self.out.isatty()
        if interactive:
            from rich.console import Console
            from rich.live import Live

            with Live(console=Console(file=self.out), refresh_per_second=4) as live:
                return self._follow(lambda execution: live.update(self._table(execution)), deadline_seconds)
        return self._follow(self._lines, deadline_seconds)

    def _follow(self, show: Callable[[ExecutionHistory], None], deadline_seconds: float | None) -> ExecutionHistory:
        return follow(self.sfn, [self.arn], show, self.poll_seconds, deadline_seconds)[self.arn]

    def _lines(self, execution: ExecutionHistory) -> None:
        """Plain output: one line a state when it finishes, so logs and pipes stay readable."""
        done = [v for v in execution.visits if v.exited is not None]
        for visit in done[self._printed :]:
            took = (visit.exited - visit.entered).total_seconds() if visit.exited else 0.0
            retries = f" retries={visit.retries}" if visit.retries else ""
            errors = f" errors={','.join(visit.errors)}" if visit.errors else ""
            print(
                f"+{visit.at:7.1f}s  {visit.name:<20} {visit.status:<7} {took:6.1f}s{retries}{errors}",
                file=self.out,
                flush=True,
            )
        self._printed = len(done)
        if execution.finished:
            print(f"execution {execution.status}" + (f": {execution.error}" if execution.error else ""), file=self.out)

    @staticmethod
    def _table(execution: ExecutionHistory) -> Any:
        from rich.table import Table

        table = Table(title=f"{execution.arn.rsplit(':', 1)[-1]}  [{execution.status}]")
        for column in ("+s", "state", "status", "took", "retries", "errors"):
            table.add_column(column)
        for visit in execution.visits:
            end = visit.exited or datetime.now(visit.entered.tzinfo)
            table.add_row(
                f"{visit.at:.1f}",
                visit.name,
                visit.status,
                f"{(end - visit.entered).total_seconds():.1f}s",
                str(visit.retries or ""),
                ",".join(visit.errors),
            )
        return table


class ManualRunError(RuntimeError):
    """ManualRun did not start the failover state machine (its error, or the deadline)."""


def start_manual(
    sfn: Any, manual_run_arn: str, name: str, document: Any, poll_seconds: float = 0.2, deadline_seconds: float = 60
) -> str:
    """Start a run the way people may: through ManualRun, which marks it manual and starts the
    failover state machine under the same name. Returns that execution's ARN once it exists."""
    sfn.start_execution(stateMachineArn=manual_run_arn, name=name, input=json.dumps(document))
    arn = manual_run_arn.replace(":stateMachine:", ":execution:") + ":" + name
    final = follow(sfn, [arn], None, poll_seconds, deadline_seconds).get(arn)
    described = sfn.describe_execution(executionArn=arn)
    if final is None or described["status"] != "SUCCEEDED":
        raise ManualRunError(
            f"ManualRun {name} ended {described['status']}: {described.get('cause') or described.get('error') or ''}"
        )
    return str(json.loads(described["output"])["executionArn"])
