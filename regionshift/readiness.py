"""``regionshift check``: is the plan ready to fail over? Reads only; changes nothing.

Every finding is OK, WARN or BLOCKING; any BLOCKING finding means a run started now would be refused
or would fail.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# The checks read the estate through the same adapters and rules as the steps.
from failover.adapters import CloudWatch, Rds, Route53
from failover.errors import RegionshiftError
from failover.rules import EXPECTED_RECORD_TYPE, lag_problem, lag_text, record_problems, standby_replica_problem
from failover.settings import normalise_record_name
from regionshift import rto
from regionshift.target import Target, is_unreachable

OK, WARN, BLOCKING = "OK", "WARN", "BLOCKING"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str


def _names(value: str) -> list[str]:
    return [normalise_record_name(v) for v in value.split(",") if v.strip()]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


class Readiness:
    def __init__(self, target: Target) -> None:
        if not target.parameters:
            raise ValueError("check needs --stack (the plan is read from the stack's parameters)")
        self.t = target
        self.p = target.parameters
        self.account = target.client("sts").get_caller_identity()["Account"]

    @property
    def alarm_arn(self) -> str:
        return f"arn:aws:cloudwatch:{self.p['AlarmRegion']}:{self.account}:alarm:{self.p['AlarmName']}"

    def run(self) -> list[Finding]:
        checks: list[Callable[[], list[Finding]]] = [
            self.replica,
            self.health_checks,
            self.alarm,
            self.records,
            self.topic,
        ]
        findings: list[Finding] = []
        for check in checks:
            try:
                findings.extend(check())
            except (ClientError, BotoCoreError, RegionshiftError) as exc:
                if is_unreachable(exc):
                    raise  # not a finding about the plan: the operator cannot reach AWS (exit 3)
                findings.append(Finding(check.__name__, BLOCKING, f"could not check: {exc}"))
        return findings

    def replica(self) -> list[Finding]:
        name, region = self.p["StandbyDbIdentifier"], self.p["StandbyRegion"]
        replica = Rds(self.t.client("rds", region)).describe(name)
        problem = standby_replica_problem(replica, region, self.p["PrimaryRegion"], self.p["PrimaryDbIdentifier"])
        if problem:
            return [Finding("replica", BLOCKING, problem)]
        return [Finding("replica", OK, f"{name} replicates from {replica.source}"), self._lag(name)]

    def _lag(self, name: str) -> Finding:
        lag = CloudWatch(self.t.client("cloudwatch", self.p["StandbyRegion"])).replica_lag(name, datetime.now(UTC))
        limit = int(self.p["MaxReplicaLagSeconds"])
        problem = lag_problem(lag, limit)
        if problem:
            return Finding("replica-lag", BLOCKING, f"{problem}: a run would refuse")
        return Finding("replica-lag", OK, f"{lag_text(lag)} (limit {limit} s)")

    def health_checks(self) -> list[Finding]:
        route53 = self.t.client("route53", "us-east-1")
        findings = []
        for label in ("Primary", "Standby"):
            check_id = self.p[f"{label}HealthCheckId"]
            try:
                route53.get_health_check(HealthCheckId=check_id)
                findings.append(Finding(f"{label.lower()}-health-check", OK, check_id))
            except ClientError as exc:
                if _code(exc) != "NoSuchHealthCheck":
                    raise
                findings.append(
                    Finding(f"{label.lower()}-health-check", BLOCKING, f"health check {check_id} does not exist")
                )
        return findings

    def alarm(self) -> list[Finding]:
        cloudwatch = self.t.client("cloudwatch", self.p["AlarmRegion"])
        alarms = cloudwatch.describe_alarms(AlarmNames=[self.p["AlarmName"]]).get("MetricAlarms", [])
        findings = []
        if not alarms:
            findings.append(
                Finding("alarm", BLOCKING, f"alarm {self.p['AlarmName']} not found in {self.p['AlarmRegion']}")
            )
        else:
            dimensions = {d["Name"]: d["Value"] for d in alarms[0].get("Dimensions", [])}
            never = alarm_never_fires(alarms[0], self.p["AlarmRegion"])
            if dimensions.get("HealthCheckId") != self.p["PrimaryHealthCheckId"]:
                findings.append(
                    Finding("alarm", BLOCKING, f"alarm watches {dimensions}, not the primary's health check")
                )
            elif never:
                findings.append(Finding("alarm", BLOCKING, f"{self.p['AlarmName']} can never fire: {never}"))
            else:
                findings.append(Finding("alarm", OK, f"{self.p['AlarmName']} watches {self.p['PrimaryHealthCheckId']}"))
        findings.append(self._rule())
        return findings

    def _rule(self) -> Finding:
        events = self.t.client("events")
        names = events.list_rule_names_by_target(TargetArn=self.t.state_machine_arn).get("RuleNames", [])
        for name in names:
            pattern = json.loads(events.describe_rule(Name=name).get("EventPattern") or "{}")
            states = ((pattern.get("detail") or {}).get("state") or {}).get("value") or []
            if self.alarm_arn in (pattern.get("resources") or []) and states == ["ALARM"]:
                return Finding("alarm-wiring", OK, f"rule {name} starts the state machine on ALARM")
        return Finding("alarm-wiring", BLOCKING, f"no rule sends {self.alarm_arn} in ALARM to the state machine")

    def records(self) -> list[Finding]:
        zone = self.p["HostedZoneId"]
        names, targets = _names(self.p["RecordNames"]), _names(self.p["StandbyTargets"])
        current = Route53(self.t.client("route53", "us-east-1")).records(zone, tuple(names))
        plan = dict(zip(names, targets, strict=False))
        problems = record_problems(zone, plan, current)
        findings = [Finding("records", BLOCKING, problem) for problem in problems]
        for name, target in plan.items():
            record = current.get(name)
            if record is not None and record.type == EXPECTED_RECORD_TYPE:
                where = (
                    "already points to the standby"
                    if record.value == target
                    else f"points to {record.value}; standby {target}"
                )
                findings.append(Finding("records", OK, f"{name} {where}"))
        return findings

    def topic(self) -> list[Finding]:
        sns = self.t.client("sns")
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=self.t.topic_arn).get("Subscriptions", [])
        confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
        if not confirmed:
            return [
                Finding("notification-topic", BLOCKING, "the topic has no confirmed subscriber: nobody would be told")
            ]
        return [Finding("notification-topic", OK, f"{len(confirmed)} subscriber(s)")]

    def estimate(self) -> dict[str, float]:
        return rto.estimate(self.p)


# HealthCheckStatus is 1 while Route 53 considers the endpoint healthy and 0 otherwise; it exists only in
# us-east-1, and Minimum, Maximum and Average are its meaningful statistics.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
STATUS_STATISTICS = ("Minimum", "Maximum", "Average")


def alarm_never_fires(alarm: dict[str, Any], region: str) -> str | None:
    """Why an alarm on the primary's HealthCheckStatus could never go to ALARM in an outage (or None)."""
    from regionshift.emulator.detection import COMPARISONS, METRIC_REGION

    metric = f"{alarm.get('Namespace')}/{alarm.get('MetricName')}"
    if metric != "AWS/Route53/HealthCheckStatus":
        return f"it watches {metric}, not AWS/Route53/HealthCheckStatus"
    if region != METRIC_REGION:
        return f"it is in {region}; Route 53 publishes HealthCheckStatus only in {METRIC_REGION}"
    if alarm.get("Statistic") not in STATUS_STATISTICS:
        return f"statistic {alarm.get('Statistic') or alarm.get('ExtendedStatistic')} does not follow the status"
    compare = COMPARISONS.get(str(alarm.get("ComparisonOperator")))
    if compare is None:
        return f"comparison {alarm.get('ComparisonOperator')} is not a static threshold"
    threshold = float(alarm["Threshold"])
    if not compare(0.0, threshold):
        return f"an unhealthy endpoint's status (0) is not {alarm['ComparisonOperator']} {threshold:g}"
    if compare(1.0, threshold):
        return f"a healthy endpoint's status (1) already breaches {alarm['ComparisonOperator']} {threshold:g}"
    return None


def evaluate(target: Target) -> dict[str, Any]:
    readiness = Readiness(target)
    findings = readiness.run()
    return {
        "ready": not any(f.status == BLOCKING for f in findings),
        "findings": [asdict(f) for f in findings],
        "estimatedRecoverySeconds": readiness.estimate(),
        "assumptions": rto.ASSUMPTIONS,
    }
