"""Read a Step Functions execution (deployed or emulated) into state visits, and follow executions
until they end: one reader and one polling loop for drills, ``watch`` and reports.

The same code serves a real stack and the emulator: it only talks to the Step Functions API.
"""

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FAILED_EVENTS = (
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "TaskFailed",
    "TaskTimedOut",
    "LambdaFunctionStartFailed",
)
SCHEDULED_EVENTS = ("LambdaFunctionScheduled", "TaskScheduled")


@dataclass
class Visit:
    """One entry into one state."""

    name: str
    kind: str  # Task, Choice, Wait, Pass, Succeed, Fail
    entered: datetime
    at: float  # seconds from the execution's start to ``entered`` (virtual seconds on the emulator)
    exited: datetime | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def status(self) -> str:
        if self.exited is None:
            return "running"
        if self.errors and self.attempts and len(self.errors) >= self.attempts:
            return "caught"
        return "done"


@dataclass
class ExecutionHistory:
    """An execution as read back from its history (``failover.models.Execution`` is another thing:
    the execution section of a run's input document)."""

    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    visits: list[Visit]
    error: str | None = None
    cause: str | None = None
    input: Any = None

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def read(sfn: Any, arn: str) -> ExecutionHistory:
    """The execution as visits. Start and stop are its history's first and last events (the
    emulator stamps those in virtual time; on AWS they equal the execution's start and stop dates)."""
    import json

    described = sfn.describe_execution(executionArn=arn)
    events = history(sfn, arn)
    started = events[0]["timestamp"] if events else described["startDate"]
    visits: list[Visit] = []
    for event in events:
        kind = event["type"]
        at = event["timestamp"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            since = max(0.0, (at - started).total_seconds())
            visits.append(Visit(name, kind.removesuffix("StateEntered"), at, since))
        elif kind.endswith("StateExited") and visits:
            visits[-1].exited = at
        elif kind in SCHEDULED_EVENTS and visits:
            visits[-1].attempts += 1
        elif kind in FAILED_EVENTS and visits:
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            visits[-1].errors.append(str(details.get("error", kind)))
    for visit in visits:
        if visit.kind in ("Fail", "Succeed") and visit.exited is None:
            visit.exited = visit.entered
    status = described["status"]
    raw_input = described.get("input")
    return ExecutionHistory(
        arn=arn,
        status=status,
        started=started,
        stopped=(events[-1]["timestamp"] if events else described.get("stopDate")) if status != "RUNNING" else None,
        visits=visits,
        error=described.get("error"),
        cause=described.get("cause"),
        input=json.loads(raw_input) if raw_input else None,
    )


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
