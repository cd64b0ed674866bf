"""What the models of AWS's global resources (``aurora.py``, ``elasticache.py``, ``dynamodb.py``) share:
an asynchronous operation that completes after some virtual seconds (or never), the ground truth of
when it completed and how late a poll noticed, and the error a service answers.

An operation takes effect when its call is answered, as AWS's asynchronous control-plane calls do:
the response already shows it under way. Its completion is applied lazily, by the next call that
reads (or refreshes) the resource, so that virtual time needs no background thread.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.engine import VirtualClock, untracked


def service_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """The ``ClientError`` botocore raises for a service's error response (``estate.client_error``'s shape)."""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class Operation:
    """One asynchronous operation on a global resource, in virtual seconds since the emulator started."""

    kind: str  # e.g. "failover", "switchover", "replica-create"
    resource: str  # the global resource's id
    started: float
    seconds: float | None  # None: stuck, it never completes
    detail: dict[str, Any] = field(default_factory=dict)
    completed: float | None = None  # the virtual moment it completed (set when applied)
    noticed: float | None = None  # the first read at or after completion

    @property
    def done_at(self) -> float | None:
        return None if self.seconds is None else self.started + self.seconds

    def due(self, now: float) -> bool:
        done_at = self.done_at
        return done_at is not None and now >= done_at

    def wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resource": self.resource,
            "started": round(self.started, 3),
            "completed": None if self.completed is None else round(self.completed, 3),
            "noticed": None if self.noticed is None else round(self.noticed, 3),
            **self.detail,
        }


class Ledger:
    """Every operation a model started, and how late reads noticed each completion (the slack)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.operations: list[Operation] = []

    def start(self, kind: str, resource: str, seconds: float | None, **detail: Any) -> Operation:
        operation = Operation(kind, resource, self.clock.offset, seconds, dict(detail))
        self.operations.append(operation)
        return operation

    def settle(self, operation: Operation, apply: Callable[[Operation], None]) -> bool:
        """Apply ``operation``'s completion if it is due (once); True when it is complete."""
        if operation.completed is not None:
            return True
        if not operation.due(self.clock.offset):
            return False
        operation.completed = operation.done_at
        with untracked():
            apply(operation)
        return True

    def noticed(self, operation: Operation) -> None:
        """A read that saw ``operation`` complete: the first such read sets how late it was noticed."""
        if operation.completed is not None and operation.noticed is None:
            operation.noticed = self.clock.offset

    @property
    def slack(self) -> list[float]:
        """Seconds between each completion and the first read that saw it."""
        return [o.noticed - o.completed for o in self.operations if o.noticed is not None and o.completed is not None]

    def pending(self, resource: str) -> Operation | None:
        return next((o for o in self.operations if o.resource == resource and o.completed is None), None)


def seconds_or_stuck(seconds: float, stuck: bool) -> float | None:
    return None if stuck else max(0.0, float(seconds))


# --- CloudWatch datapoints the models publish -----------------------------------------------------


def metric_names(operation: str, params: dict[str, Any]) -> set[str]:
    """The metric names a CloudWatch read asks for (GetMetricStatistics or GetMetricData)."""
    if operation == "GetMetricStatistics":
        return {str(params.get("MetricName", ""))}
    if operation == "GetMetricData":
        return {
            str(q["MetricStat"]["Metric"].get("MetricName", ""))
            for q in params.get("MetricDataQueries", [])
            if "MetricStat" in q
        }
    return set()


def put_metric(
    region: str, namespace: str, name: str, dimensions: dict[str, str], value: float, unit: str, at: Any
) -> None:
    """One datapoint in moto's CloudWatch, as the service publishes it (not a handler's call)."""

    with untracked():
        emulated_client("cloudwatch", region).put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Timestamp": at,
                    "Value": value,
                    "Unit": unit,
                }
            ],
        )


class Model:
    """The interface every global-resource model offers the engine and the tests."""

    service = ""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.ledger = Ledger(clock)

    def interceptor(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    def call(self, operation: str, region: str, **params: Any) -> dict[str, Any]:
        """A call as a handler would make it, in-process: the model answers, or moto does (tests)."""
        from botocore import xform_name

        service = "cloudwatch" if operation in ("GetMetricStatistics", "GetMetricData") else self.service
        answer = self.interceptor("test", service, operation, region, params)
        if answer is not None:
            return answer
        with untracked():
            result: dict[str, Any] = getattr(emulated_client(service, region), xform_name(operation))(**params)
        return result
