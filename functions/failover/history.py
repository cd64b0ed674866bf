"""Read a Step Functions execution (deployed or emulated) into state visits: one reader for drills,
``watch``, the operator's reports and the report Finalize writes.

The same code serves a real stack and the emulator: it only talks to the Step Functions API.
"""

import json
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
    truncated: bool = False  # only the first events were read (a bound on what a report shows)

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"


def history(sfn: Any, arn: str, max_events: int | None = None) -> list[dict[str, Any]]:
    """The execution's events, oldest first; at most ``max_events`` of them when given."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token or (max_events is not None and len(events) >= max_events):
            return events if max_events is None else events[:max_events]


def read(sfn: Any, arn: str) -> ExecutionHistory:
    """The execution as visits, with its status from DescribeExecution."""
    return parse(arn, history(sfn, arn), sfn.describe_execution(executionArn=arn))


def parse(
    arn: str, events: list[dict[str, Any]], described: dict[str, Any] | None = None, truncated: bool = False
) -> ExecutionHistory:
    """The execution as visits. Start and stop are its history's first and last events (the
    emulator stamps those in virtual time; on AWS they equal the execution's start and stop dates).

    Without ``described`` (Finalize reads only the history of its own execution, which is still
    running), the execution counts as RUNNING and its input is the ExecutionStarted event's.
    """
    started = events[0]["timestamp"] if events else (described or {})["startDate"]
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
    if described is None:
        first = events[0] if events else {}
        described = {"status": "RUNNING", "input": first.get("executionStartedEventDetails", {}).get("input")}
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
        truncated=truncated,
    )
