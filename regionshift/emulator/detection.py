"""The alarm path in virtual time: Route 53 health checkers -> HealthCheckStatus -> CloudWatch alarm ->
EventBridge, as AWS runs it, so that a drill can start from failing checkers instead of a synthetic event.

``Detection.tick`` is called by whoever advances the virtual clock (the drill, minute by minute): each
minute Route 53 publishes every health check's metrics and CloudWatch evaluates every metric alarm. A
state change reaches EventBridge through ``emit_state_change`` (moto's alarm state setter calls it,
``patches.py``), so ``set-alarm-state`` and an evaluated transition take the same path.
"""

import ast
import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.engine import VirtualClock
from regionshift.emulator.scenario import HealthPoint, Scenario

# Route 53 publishes its health-check metrics in us-east-1 only, once a minute.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
METRIC_REGION = "us-east-1"
PUBLISH_SECONDS = 60
# "If more than 18% of health checkers report that an endpoint is healthy, Route 53 considers it healthy."
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
HEALTHY_PERCENT = 18.0

# CloudWatch's comparison operators (PutMetricAlarm, ComparisonOperator).
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def healthy_share(healthy: int, checkers: int) -> bool:
    """Route 53's 18% rule: healthy when more than 18% of the checkers say so."""
    return checkers > 0 and 100.0 * healthy / checkers > HEALTHY_PERCENT


def failing_at(points: list[HealthPoint], elapsed: float) -> int:
    """How many checkers fail the endpoint ``elapsed`` seconds into the scenario (its health timeline)."""
    failing = points[0].failing
    for point in sorted(points, key=lambda p: p.at):
        if point.at <= elapsed:
            failing = point.failing
    return failing


@dataclass(frozen=True)
class CheckConfig:
    """What decides a health check's status, as read back from Route 53 (HealthCheckConfig)."""

    check_id: str
    interval: int  # RequestInterval: seconds between one checker's checks (10 or 30)
    threshold: int  # FailureThreshold: consecutive results that change a checker's view
    points: list[HealthPoint]


@dataclass
class HealthCheckStatus:
    healthy: bool
    percent_healthy: float


class HealthChecks:
    """Each checker checks every ``RequestInterval`` seconds and changes its view of the endpoint after
    ``FailureThreshold`` consecutive results the other way; the endpoint is healthy while more than
    18% of the checkers consider it healthy.

    https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html (RequestInterval,
    FailureThreshold); https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
    """

    def __init__(self, checkers: int, configs: list[CheckConfig], metric_stops_at: float | None = None) -> None:
        self.checkers = checkers
        self.configs = configs
        self.metric_stops_at = metric_stops_at

    @classmethod
    def deployed(cls, scenario: Scenario, checks: dict[str, list[HealthPoint]]) -> "HealthChecks":
        """The scenario's health checks, configured as Route 53 holds them."""
        route53 = emulated_client("route53", METRIC_REGION)
        configs = []
        for check_id, points in checks.items():
            config = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
            configs.append(
                CheckConfig(check_id, int(config["RequestInterval"]), int(config["FailureThreshold"]), points)
            )
        health = scenario.estate.health
        return cls(health.checkers, configs, health.metric_stops_at)

    def _checker_healthy(self, config: CheckConfig, checker: int, elapsed: float) -> bool:
        """One checker's view at ``elapsed``: its checks run at 0, interval, 2 x interval, ..."""
        healthy, streak = True, 0
        for k in range(math.floor(elapsed / config.interval) + 1):
            passed = checker >= failing_at(config.points, k * config.interval)
            streak = 0 if passed == healthy else streak + 1
            if streak >= config.threshold:
                healthy, streak = passed, 0
        return healthy

    def status(self, config: CheckConfig, elapsed: float) -> HealthCheckStatus:
        if self.checkers == 0:
            return HealthCheckStatus(False, 0.0)
        healthy = sum(self._checker_healthy(config, i, elapsed) for i in range(self.checkers))
        return HealthCheckStatus(healthy_share(healthy, self.checkers), 100.0 * healthy / self.checkers)

    def unhealthy_since(self, config: CheckConfig, until: float) -> float | None:
        """When the endpoint last turned unhealthy up to ``until`` (a check moment), if it is unhealthy then."""
        moment = None
        previous = True
        for k in range(math.floor(until / config.interval) + 1):
            healthy = self.status(config, k * config.interval).healthy
            if previous and not healthy:
                moment = float(k * config.interval)
            previous = healthy
        return moment if not previous else None

    def publish(self, cloudwatch: Any, stamp: datetime, elapsed: float) -> None:
        """The metrics for the minute that ends at ``elapsed``, stamped ``stamp`` (inside that minute):
        the status after the minute's last check. Nothing once the metric stops."""
        if self.metric_stops_at is not None and elapsed > self.metric_stops_at:
            return
        last_check = elapsed - 1e-6  # a check at the minute's end belongs to the next minute
        for config in self.configs:
            status = self.status(config, max(0.0, last_check))
            dimensions = [{"Name": "HealthCheckId", "Value": config.check_id}]
            cloudwatch.put_metric_data(
                Namespace="AWS/Route53",
                MetricData=[
                    {
                        "MetricName": "HealthCheckStatus",
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Value": 1.0 if status.healthy else 0.0,
                    },
                    {
                        "MetricName": "HealthCheckPercentageHealthy",
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Value": status.percent_healthy,
                        "Unit": "Percent",
                    },
                ],
            )


def alarm_state(alarm: dict[str, Any], values: list[float | None]) -> str | None:
    """The state CloudWatch gives a metric alarm for its evaluation range (oldest first, None: missing),
    or None when the state is kept (``ignore`` with no data).

    ALARM when at least DatapointsToAlarm of the EvaluationPeriods breach; missing datapoints count as
    TreatMissingData says: ``breaching`` / ``notBreaching`` fill them in; ``missing`` and ``ignore`` leave
    them out, and with no data at all ``missing`` goes to INSUFFICIENT_DATA and ``ignore`` keeps the
    state. https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    and "Evaluating an alarm", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
    """
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    treat = alarm.get("TreatMissingData") or "missing"
    present = [v for v in values if v is not None]
    breaching = sum(1 for v in present if compare(v, threshold))
    if treat == "breaching":
        breaching += len(values) - len(present)
    elif treat != "notBreaching" and not present:
        return "INSUFFICIENT_DATA" if treat == "missing" else None
    return "ALARM" if breaching >= needed else "OK"


def evaluate_alarms(cloudwatch: Any, end: datetime, names: list[str] | None = None) -> list[tuple[str, str]]:
    """Evaluate the region's metric alarms (or those named) for the periods that ended at ``end``, as
    CloudWatch does once a minute, and set each state that changed: (alarm, new state) for each."""
    found = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"], **({"AlarmNames": names} if names else {}))
    changed = []
    for alarm in found.get("MetricAlarms", []):
        values = _datapoints(cloudwatch, alarm, end) if "MetricName" in alarm else _math(cloudwatch, alarm, end)
        state = alarm_state(alarm, values)
        if state is not None and state != alarm["StateValue"]:
            changed.append((alarm["AlarmName"], state))
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue=state,
                StateReason=f"Threshold Crossed: evaluated at {end.isoformat()}",
            )
    return changed


def evaluated_on_read(clock: VirtualClock) -> Callable[..., None]:
    """An interceptor for the handlers' ``DescribeAlarms``: the named alarms as CloudWatch holds them
    by then. A drill's runs advance the clock without the minute ticks (``Detection.tick`` runs between
    runs), so the alarms a step reads are evaluated when read, for the last whole minute, as CloudWatch
    evaluates a 60 s period once it ends ("Evaluating an alarm", Amazon CloudWatch User Guide)."""
    from regionshift.emulator.engine import untracked

    def intercept(function: str, service: str, operation: str, region: str, params: dict[str, Any]) -> None:
        if service != "cloudwatch" or operation != "DescribeAlarms" or not params.get("AlarmNames"):
            return None
        # The serving alarms only, whose metric the run itself publishes: the detection alarms' metrics
        # come from the detection chain, which a drill ticks between runs (and server mode not at all).
        names = [n for n in params["AlarmNames"] if "-serving-" in n]
        if not names:
            return None
        now = clock.now()
        end = now.replace(second=0, microsecond=0)
        with untracked():
            evaluate_alarms(emulated_client("cloudwatch", region), end, names)
        return None

    return intercept


@dataclass
class Transition:
    alarm: str
    region: str
    state: str
    at: float  # virtual seconds since the emulator started


@dataclass
class Detection:
    """The estate's detection chain, ticked in virtual time from ``origin`` (the scenario's time 0)."""

    scenario: Scenario
    clock: VirtualClock
    checks: dict[str, list[HealthPoint]]
    alarm_regions: tuple[str, ...]
    origin: float = 0.0
    transitions: list[Transition] = field(default_factory=list)
    _next: float = PUBLISH_SECONDS
    _health: HealthChecks | None = None
    # Other metrics the estate publishes once a minute (RDS's ReplicaLag), called with the datapoint's time;
    # each publishes nothing into a lost region.
    publishers: list[Callable[[datetime], None]] = field(default_factory=list)
    # Whether a region is lost now (the scenario's outages, estate.py): its CloudWatch receives no metric
    # and evaluates no alarm (so its EventBridge gets no state change). Route 53's health checkers are a
    # global data plane and keep checking; only the metrics they publish into us-east-1 are lost with it.
    is_down: Callable[[str], bool] = field(default=lambda _region: False)

    @property
    def health(self) -> HealthChecks:
        if self._health is None:
            self._health = HealthChecks.deployed(self.scenario, self.checks)
        return self._health

    @property
    def next_tick(self) -> float:
        """Virtual offset of the next minute boundary."""
        return self.origin + self._next

    def at(self, offset: float) -> datetime:
        """The virtual moment of a clock offset (the clock reads wall time plus its offset)."""
        return self.clock.now() - timedelta(seconds=self.clock.offset - offset)

    def tick(self) -> None:
        """Every minute boundary the clock has passed: publish the metrics, then evaluate the alarms."""
        while self.origin + self._next <= self.clock.offset:
            elapsed = self._next
            # Stamped mid-minute: the wall time that passes between ticks (the clock reads wall time
            # plus its offset) then never moves a datapoint into a neighbouring period.
            end = self.at(self.origin + elapsed)
            if not self.is_down(METRIC_REGION):
                self.health.publish(
                    emulated_client("cloudwatch", METRIC_REGION),
                    end - timedelta(seconds=PUBLISH_SECONDS / 2),
                    elapsed,
                )
            for publish in self.publishers:
                publish(end - timedelta(seconds=PUBLISH_SECONDS / 2))
            for region in self.alarm_regions:
                if not self.is_down(region):
                    self._evaluate(region, end)
            self._next += PUBLISH_SECONDS

    def _evaluate(self, region: str, end: datetime) -> None:
        for name, state in evaluate_alarms(emulated_client("cloudwatch", region), end):
            self.transitions.append(Transition(name, region, state, self.clock.offset))

    def chain(self, check_id: str) -> dict[str, datetime | None]:
        """When ``check_id``'s endpoint turned unhealthy (if it is unhealthy now), and when the outage
        that made it so began: the last moment before then from which the checkers' observations fail
        it as a whole (18% rule, ahead of any FailureThreshold)."""
        config = next(c for c in self.health.configs if c.check_id == check_id)
        unhealthy = self.health.unhealthy_since(config, self.clock.offset - self.origin)
        if unhealthy is None:
            return {"outage": None, "unhealthy": None}
        checkers = self.health.checkers
        began, down = None, False
        for point in sorted(config.points, key=lambda p: p.at):
            if point.at > unhealthy:
                break
            failing = bool(checkers) and not healthy_share(checkers - min(point.failing, checkers), checkers)
            if failing and not down:
                began = point.at
            down = failing
        return {
            "outage": self.at(self.origin + began) if began is not None else None,
            "unhealthy": self.at(self.origin + unhealthy),
        }


def _datapoints(cloudwatch: Any, alarm: dict[str, Any], end: datetime) -> list[float | None]:
    """The alarm's statistic for each of its last EvaluationPeriods periods (oldest first)."""
    period = timedelta(seconds=int(alarm["Period"]))
    statistic = alarm["Statistic"]
    values: list[float | None] = []
    for back in range(int(alarm["EvaluationPeriods"]), 0, -1):
        start = end - back * period
        found = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=start,
            EndTime=start + period,
            Period=int(alarm["Period"]),
            Statistics=[statistic],
        )["Datapoints"]
        values.append(float(found[0][statistic]) if found else None)
    return values


def _math(cloudwatch: Any, alarm: dict[str, Any], end: datetime) -> list[float | None]:
    """A metric-math alarm's series: each MetricStat's statistic per period, then the expression that
    returns data, computed per period ("Creating a CloudWatch alarm based on a metric math
    expression", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html).
    A period where a metric the expression needs has no datapoint is missing. Only arithmetic on
    metric ids and numbers is modelled: any function (FILL, METRICS, ...) is refused loudly."""
    queries = alarm["Metrics"]
    stats: dict[str, list[float | None]] = {}
    for query in queries:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            stats[query["Id"]] = _datapoints(
                cloudwatch,
                {
                    "Namespace": metric["Namespace"],
                    "MetricName": metric["MetricName"],
                    "Dimensions": metric.get("Dimensions", []),
                    "Period": stat["Period"],
                    "Statistic": stat["Stat"],
                    "EvaluationPeriods": alarm["EvaluationPeriods"],
                },
                end,
            )
    (returned,) = [q for q in queries if q.get("ReturnData", True) and "Expression" in q]
    tree = ast.parse(returned["Expression"], mode="eval")
    periods = int(alarm["EvaluationPeriods"])
    series: list[float | None] = []
    for i in range(periods):
        values = {name: points[i] for name, points in stats.items()}
        series.append(_arithmetic(tree.body, values))
    return series


def _arithmetic(node: ast.expr, values: dict[str, float | None]) -> float | None:
    operators = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _arithmetic(node.operand, values)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in operators:
        left, right = _arithmetic(node.left, values), _arithmetic(node.right, values)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None  # CloudWatch returns no value for a period it cannot compute
        return operators[type(node.op)](left, right)
    raise ValueError(f"metric math {ast.unparse(node)!r} is not modelled by the emulator (arithmetic only)")


def state_change_event(alarm: Any, previous: str, at: datetime) -> dict[str, Any]:
    """The EventBridge entry CloudWatch puts on its region's default bus when an alarm changes state.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    """
    stamp = at.isoformat()
    detail = {
        "alarmName": alarm.name,
        "state": {"value": alarm.state_value, "reason": alarm.state_reason, "timestamp": stamp},
        "previousState": {"value": previous, "timestamp": stamp},
        "configuration": {
            "description": alarm.description or "",
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": alarm.namespace,
                            "name": alarm.metric_name,
                            "dimensions": {d.name: d.value for d in (alarm.dimensions or [])},
                        },
                        "period": alarm.period,
                        "stat": alarm.statistic,
                    },
                    "returnData": True,
                }
            ],
        },
    }
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Detail": json.dumps(detail),
        "Resources": [alarm.alarm_arn],
        "Time": at.timestamp(),
    }
