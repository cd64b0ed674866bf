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
within the probe's timeouts. The rule is deterministic, so a drill is repeatable.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import boto3

from failover import probes
from regionshift import template as cfn
from regionshift.emulator.deploy import STACK_REGION, Deployment
from regionshift.emulator.detection import HEALTHY_PERCENT, PUBLISH_SECONDS, failing_at
from regionshift.emulator.engine import VirtualClock
from regionshift.emulator.scenario import Scenario

LOGICAL_ID = "ProbeFunction"
HEALTHY_STATUS = 200


class Endpoints:
    """The application's health URLs of the plan's regions, answering from the scenario's timelines."""

    def __init__(self, scenario: Scenario, deployment: Deployment, clock: VirtualClock, origin: float) -> None:
        plan = deployment.plan
        self._regions = {url: region for region, url in plan.probed_regions.items()}
        self._points = {region: deployment.health[plan.health_check(region)] for region in plan.probed_regions}
        self._checkers = scenario.estate.health.checkers
        self._clock = clock
        self._origin = origin

    def healthy(self, region: str) -> bool:
        failing = min(failing_at(self._points[region], self._clock.offset - self._origin), self._checkers)
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

    def __init__(self, deployment: Deployment, document: dict[str, Any] | None = None) -> None:
        document = document if document is not None else cfn.load()
        (event,) = document["Resources"][LOGICAL_ID]["Properties"]["Events"].values()
        props = event["Properties"]
        if event["Type"] != "ScheduleV2" or props["ScheduleExpression"] != f"rate({PUBLISH_SECONDS // 60} minute)":
            raise cfn.ResolveError(f"{LOGICAL_ID}: only a ScheduleV2 of rate(1 minute) is emulated")
        self._input = str(props["Input"])
        self._name = next(name for name, logical in deployment.functions.items() if logical == LOGICAL_ID)

    def __call__(self, at: datetime) -> None:
        payload = self._input.replace("<aws.scheduler.scheduled-time>", at.isoformat())
        json.loads(payload)  # the template's Input must stay JSON once the time is in
        # A failed round is the function's own business (recorded as an errored invocation); the
        # ProbeAlarm sees a missing datapoint, as it would on AWS.
        boto3.client("lambda", region_name=STACK_REGION).invoke(FunctionName=self._name, Payload=payload.encode())


def deployed(deployment: Deployment) -> bool:
    return LOGICAL_ID in deployment.functions.values()
