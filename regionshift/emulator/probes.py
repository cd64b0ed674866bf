"""Standby-side detection in virtual time: the probe's schedule, and the endpoints it GETs.

The stack's ProbeFunction (template.yaml) is invoked once a minute, as its EventBridge Scheduler
schedule does, through Lambda Invoke: the real handler runs under the engine, so its calls are
recorded and authorized against its template role like any step's. The detection chain calls the
schedule each minute before it evaluates the alarms (``Detection.publishers``), so the ProbeAlarm
sees the minute's result as CloudWatch would.

The endpoints answer from the scenario's health timeline of each region (the same timeline Route 53's
emulated checkers read): at the moment of the GET, a region answers ``200`` while more than 18% of
its checkers would pass it (Route 53's rule, ``detection.HEALTHY_PERCENT``: the endpoint is healthy as
Route 53 would judge it at that instant, before any FailureThreshold), and otherwise does not answer
within the probe's timeouts.

The chain is ticked only between runs, while on AWS the schedule goes on during a run: so before a
Lambda reads the probe's metric, the rounds missed since the last one are recorded as the probe
would have recorded them (``Rounds.catch_up``, as ``estate.py`` keeps ReplicaLag fresh). A region
lost to one of the scenario's ``outages`` does not answer at all, and while the stack's own region is
lost the schedule does not run. The rules are deterministic, so a drill is repeatable.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from failover import probes
from failover.observability import NAMESPACE
from regionshift import template as cfn
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.deploy import STACK_REGION, Deployment
from regionshift.emulator.detection import HEALTHY_PERCENT, PUBLISH_SECONDS, failing_at
from regionshift.emulator.engine import VirtualClock, untracked
from regionshift.emulator.scenario import Scenario

LOGICAL_ID = "ProbeFunction"
HEALTHY_STATUS = 200


class Endpoints:
    """The application's health URLs of the plan's regions, answering from the scenario's timelines."""

    def __init__(
        self,
        scenario: Scenario,
        deployment: Deployment,
        clock: VirtualClock,
        origin: float,
        is_down: Callable[[str], bool] = lambda _region: False,
    ) -> None:
        plan = deployment.plan
        self._is_down = is_down
        self._regions = {url: region for region, url in plan.probed_regions.items()}
        self._points = {region: deployment.health[plan.health_check(region)] for region in plan.probed_regions}
        self._checkers = scenario.estate.health.checkers
        self._clock = clock
        self._origin = origin

    def healthy(self, region: str, elapsed: float | None = None) -> bool:
        """Whether ``region`` answers now, or ``elapsed`` seconds into the scenario."""
        elapsed = self._clock.offset - self._origin if elapsed is None else elapsed
        if self._is_down(region):
            return False
        failing = min(failing_at(self._points[region], elapsed), self._checkers)
        return self._checkers > 0 and 100.0 * (self._checkers - failing) / self._checkers > HEALTHY_PERCENT

    def __call__(self, url: str, connect_timeout: float, read_timeout: float) -> int:
        region = self._regions.get(url)
        if region is None:
            raise OSError(f"{url}: name or service not known (not a probeUrl of the emulated plan)")
        if not self.healthy(region):
            raise TimeoutError(f"{url}: no answer within {connect_timeout:g} s (the region is down)")
        return HEALTHY_STATUS


@contextmanager
def answering(endpoints: Endpoints) -> Iterator[Endpoints]:
    """The probe's HTTP transport is ``endpoints`` until the block ends."""
    probes.use(endpoints)
    try:
        yield endpoints
    finally:
        probes.use(None)


class Schedule:
    """The ProbeFunction's schedule from the template: one invocation per detection minute, with the
    input the template gives it (``<aws.scheduler.scheduled-time>`` replaced by the round's time)."""

    def __init__(
        self,
        deployment: Deployment,
        document: dict[str, Any] | None = None,
        is_down: Callable[[str], bool] = lambda _region: False,
        rounds: "Rounds | None" = None,
    ) -> None:
        self._is_down = is_down
        self._rounds = rounds
        document = document if document is not None else cfn.load()
        (event,) = document["Resources"][LOGICAL_ID]["Properties"]["Events"].values()
        props = event["Properties"]
        if event["Type"] != "ScheduleV2" or props["ScheduleExpression"] != f"rate({PUBLISH_SECONDS // 60} minute)":
            raise cfn.ResolveError(f"{LOGICAL_ID}: only a ScheduleV2 of rate(1 minute) is emulated")
        self._input = str(props["Input"])
        self._name = next(name for name, logical in deployment.functions.items() if logical == LOGICAL_ID)

    def __call__(self, at: datetime) -> None:
        if self._is_down(STACK_REGION):
            return  # the schedule, the function and CloudWatch are the stack region's: nothing runs
        if self._rounds is not None:
            if not self._rounds.due(at):
                return  # recorded already, when a run read the metric
            self._rounds.ran(at)
        payload = self._input.replace("<aws.scheduler.scheduled-time>", at.isoformat())
        json.loads(payload)  # the template's Input must stay JSON once the time is in
        # A failed round is the function's own business (recorded as an errored invocation); the
        # ProbeAlarm sees a missing datapoint, as it would on AWS.
        emulated_client("lambda", STACK_REGION).invoke(FunctionName=self._name, Payload=payload.encode())


def deployed(deployment: Deployment) -> bool:
    return LOGICAL_ID in deployment.functions.values()


class Rounds:
    """The probe's rounds in virtual time: those the schedule ran (``ran``), and those missed while a run
    held the clock, recorded when a Lambda reads the metric (``catch_up``, an engine interceptor)."""

    def __init__(self, deployment: Deployment, endpoints: Endpoints, clock: VirtualClock, origin: float) -> None:
        self._plan = deployment.plan
        self._endpoints = endpoints
        self._clock = clock
        self._origin = origin
        self._next = float(PUBLISH_SECONDS)  # the next round, in seconds after the origin

    def _round(self, at: datetime) -> float:
        """The round (seconds after the origin, on the minute grid) that ``at`` (mid-minute) stamps. The
        clock reads wall time plus its offset, so the wall time that passes between stamping and now
        (seconds, on a loaded machine) must not move a round off its minute: it is snapped to the grid."""
        offset = self._clock.offset - (self._clock.now() - at).total_seconds() + PUBLISH_SECONDS / 2
        return round((offset - self._origin) / PUBLISH_SECONDS) * float(PUBLISH_SECONDS)

    def ran(self, at: datetime) -> None:
        """The schedule ran the round stamped ``at``: the next is a minute later."""
        self._next = max(self._next, self._round(at) + PUBLISH_SECONDS)

    def due(self, at: datetime) -> bool:
        """Whether the round stamped ``at`` was not recorded yet (by ``catch_up``)."""
        return self._round(at) >= self._next

    def catch_up(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "cloudwatch" or operation != "GetMetricStatistics" or params.get("MetricName") != probes.METRIC:
            return None
        elapsed = self._clock.offset - self._origin
        cloudwatch = emulated_client("cloudwatch", STACK_REGION)
        while self._next <= elapsed:
            stamp = self._clock.now() - timedelta(seconds=elapsed - self._next + PUBLISH_SECONDS / 2)
            data = [
                {
                    "MetricName": probes.METRIC,
                    "Dimensions": probes.dimensions(self._plan.name, probed, STACK_REGION),
                    "Timestamp": stamp,
                    "Value": 1.0 if self._endpoints.healthy(probed, self._next) else 0.0,
                    "Unit": "Count",
                }
                for probed in self._plan.probed_regions
            ]
            with untracked():
                cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
            self._next += PUBLISH_SECONDS
        return None
