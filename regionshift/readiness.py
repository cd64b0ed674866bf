"""``regionshift check``: is the plan ready to fail over? Reads only; changes nothing.

Every finding is OK, WARN or BLOCKING; any BLOCKING finding means a run started now would be refused
or would fail.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# The checks read the estate through the same adapters and rules as the steps.
from failover import members, traffic
from failover.adapters import CloudWatch, Record, Route53, table_replication_latency
from failover.errors import DirectionUnreadableError, RegionshiftError
from failover.health import votes_text
from failover.models import Direction, ReplicaState
from failover.plan import PLAN_TAG, Movable, Plan, PlanProblemsError
from failover.probes import WINDOW_SECONDS, ProbeVotes, probe_alarm
from failover.rules import (
    earlier_writers,
    lag_problem,
    lag_text,
    record_problems,
    record_target_problems,
    replicates_from,
    standby_replica_problem,
    table_problem,
)
from regionshift import rto, survival
from regionshift.target import Readers, Target, is_unreachable

OK, WARN, BLOCKING = "OK", "WARN", "BLOCKING"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


class Readiness:
    def __init__(self, target: Target, plan: Plan) -> None:
        if not target.parameters:
            raise ValueError("check needs --stack (the stack's parameters name its alarm and plan digest)")
        self.t = target
        self.p = target.parameters
        self.plan = plan
        self.readers = Readers(target.client, plan)
        self.account = target.client("sts").get_caller_identity()["Account"]

    @property
    def alarm_arn(self) -> str:
        return f"arn:aws:cloudwatch:{self.p['AlarmRegion']}:{self.account}:alarm:{self.p['AlarmName']}"

    def run(self) -> list[Finding]:
        checks: list[Callable[[], list[Finding]]] = [
            self.plan_deployed,
            self.standbys,
            self.health_checks,
            self.alarm,
            self.records,
            self.traffic,
            self.probes,
            self.topic,
            self.region_losses,
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

    def plan_deployed(self) -> list[Finding]:
        deployed = self.p.get("PlanDigest", "")
        if deployed != self.plan.digest():
            return [
                Finding(
                    "plan",
                    BLOCKING,
                    f"this plan file (digest {self.plan.digest()[:12]}) is not the deployed plan "
                    f"({deployed[:12] or 'none'}): check the file the stack runs, or deploy this one",
                )
            ]
        return [Finding("plan", OK, f"{self.plan.name}: the deployed plan (digest {deployed[:12]})")]

    def standbys(self) -> list[Finding]:
        """Every replica in every standby region, then the records' targets there, as Assess judges a
        candidate region. A run needs one ready region: a region's problems block only when no region is
        ready."""
        per_region: dict[str, list[Finding]] = {}
        every: list[ReplicaState] = []
        for region in self.plan.standby_regions:
            found: list[Finding] = []
            replicas: list[ReplicaState] = []
            for resource, identifier in self.plan.replicas(region):
                replica, findings = self._replica(region, resource, identifier)
                replicas.append(replica)
                every.append(replica)
                found += findings
            found += self._tables(region)
            if all(f.status == OK for f in found):
                # A record pointing into another standby region would make a run pass this one over.
                found += [
                    Finding("records", BLOCKING, f"{region}: {problem}")
                    for zone in self.plan.zones
                    for problem in record_target_problems(
                        zone, self._current[zone.id], self.plan.primary_region, region, replicas
                    )
                ]
            per_region[region] = found
        ready = [r for r, found in per_region.items() if all(f.status == OK for f in found)]
        # As Assess: a writer already in any standby refuses every run.
        writers = earlier_writers(every)
        if writers:
            ready = []
        findings = [
            f if f.status == OK or not ready else Finding(f.check, WARN, f"{f.detail} ({ready[0]} is ready)")
            for found in per_region.values()
            for f in found
        ]
        if writers:
            findings.append(
                Finding(
                    "target",
                    BLOCKING,
                    f"{writers}: a run would refuse",
                )
            )
        elif ready:
            findings.append(
                Finding("target", OK, f"a run would move to {ready[0]} (first ready standby in plan order)")
            )
        else:
            findings.append(Finding("target", BLOCKING, "no standby region has every replica ready"))
        return findings

    def _replica(self, region: str, resource: Movable, identifier: str) -> tuple[ReplicaState, list[Finding]]:
        replica = members.read(self.readers, resource, region)
        problem = standby_replica_problem(replica, region, self.plan.primary_region, self.plan.primary_member(resource))
        if problem:
            # RDS cannot make an instance a replica again: failback creates one of the writer.
            rebuild = (
                f" (regionshift failback {region} --apply rebuilds a replica of the writer)"
                if resource.kind == "rds-instance"
                and not replica.denied
                and not replicates_from(replica.source, self.plan.primary_region, self.plan.primary_member(resource))
                else ""
            )
            return replica, [Finding("replica", BLOCKING, f"{region}: {problem}{rebuild}")]
        # The functions' IAM acts on RDS instances and Aurora clusters by the plan's tag.
        kind = {"rds-instance": "db", "aurora-global": "cluster"}.get(resource.kind)
        if kind is not None:
            arn = f"arn:aws:rds:{region}:{self.account}:{kind}:{identifier}"
            rds = self.t.client("rds", region)
            tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])}
            if tags.get(PLAN_TAG) != self.plan.name:
                return replica, [
                    Finding(
                        "replica",
                        BLOCKING,
                        f"{region}: {identifier} is not tagged {PLAN_TAG}={self.plan.name}: the functions' IAM "
                        "would refuse to promote it",
                    )
                ]
        findings = [Finding("replica", OK, f"{region}: {identifier} replicates from {replica.source}")]
        metric = members.lag_metric(replica)
        if metric is None:
            return replica, findings
        lag = members.lag_seconds(self.readers, replica, datetime.now(UTC))
        limit = self.plan.rails.max_replica_lag_seconds
        too_far = lag_problem(lag, limit, metric=metric.name)
        if too_far:
            findings.append(Finding("replica-lag", BLOCKING, f"{region}: {identifier}: {too_far}: a run would refuse"))
        else:
            findings.append(
                Finding("replica-lag", OK, f"{region}: {identifier}: {lag_text(lag, metric.name)} (limit {limit} s)")
            )
        return replica, findings

    def _tables(self, region: str) -> list[Finding]:
        """Each global table's replica in ``region``, and its replication latency from the primary's."""
        findings = []
        limit = self.plan.rails.max_replica_lag_seconds
        unreachable: set[str] = set()
        for spec in self.plan.tables:
            table = members.table_state(self.readers, spec, region, datetime.now(UTC), unreachable)
            problem = table_problem(table)
            if problem:
                findings.append(Finding("table", BLOCKING, f"{region}: {problem}"))
                continue
            metric = table_replication_latency(spec.table, region).name
            too_far = lag_problem(table.lag_seconds, limit, "replication latency", metric)
            findings.append(
                Finding("table", BLOCKING, f"{region}: table {spec.table}: {too_far}: a run would refuse")
                if too_far
                else Finding("table", OK, f"{region}: table {spec.table} ACTIVE, {lag_text(table.lag_seconds, metric)}")
            )
        return findings

    def health_checks(self) -> list[Finding]:
        route53 = self.t.client("route53", "us-east-1")
        findings = []
        for region in self.plan.region_names:
            check_id = self.plan.health_check(region)
            label = "primary" if region == self.plan.primary_region else "standby"
            try:
                route53.get_health_check(HealthCheckId=check_id)
                findings.append(Finding(f"{label}-health-check", OK, f"{region}: {check_id}"))
            except ClientError as exc:
                if _code(exc) != "NoSuchHealthCheck":
                    raise
                findings.append(
                    Finding(f"{label}-health-check", BLOCKING, f"{region}: health check {check_id} does not exist")
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
            if dimensions.get("HealthCheckId") != self.plan.regions.primary.health_check_id:
                findings.append(
                    Finding("alarm", BLOCKING, f"alarm watches {dimensions}, not the primary's health check")
                )
            elif never:
                findings.append(Finding("alarm", BLOCKING, f"{self.p['AlarmName']} can never fire: {never}"))
            else:
                watched = self.plan.regions.primary.health_check_id
                findings.append(Finding("alarm", OK, f"{self.p['AlarmName']} watches {watched}"))
        findings.append(self._rule())
        return findings

    def _rule(self, alarm_arn: str | None = None) -> Finding:
        alarm_arn = alarm_arn or self.alarm_arn
        events = self.t.client("events")
        names = events.list_rule_names_by_target(TargetArn=self.t.state_machine_arn).get("RuleNames", [])
        for name in names:
            pattern = json.loads(events.describe_rule(Name=name).get("EventPattern") or "{}")
            states = ((pattern.get("detail") or {}).get("state") or {}).get("value") or []
            if alarm_arn in (pattern.get("resources") or []) and states == ["ALARM"]:
                return Finding("alarm-wiring", OK, f"rule {name} starts the state machine on {alarm_arn} in ALARM")
        return Finding("alarm-wiring", BLOCKING, f"no rule sends {alarm_arn} in ALARM to the state machine")

    def probes(self) -> list[Finding]:
        """Standby-side detection: each probed region has recent probe results in the stack region, and
        a probed primary's alarm exists and starts the state machine."""
        plan = self.plan
        if not plan.probed_regions:
            return []
        stack_region = self.t.session.region_name
        cloudwatch = self.t.client("cloudwatch", stack_region)
        reader = ProbeVotes(cloudwatch, plan.name, (stack_region,))
        now = datetime.now(UTC)
        findings = []
        for region in plan.probed_regions:
            seen = reader.votes(region, now, plan.rails.healthy_checker_percent)
            if seen.verdict == "UNKNOWN":
                findings.append(
                    Finding(
                        "probes",
                        WARN,
                        f"{region}: no probe result in the last {WINDOW_SECONDS} s: the probe is not running, "
                        "so runs cannot be started or decided from the stack region",
                    )
                )
            else:
                status = OK if seen.verdict == "HEALTHY" else WARN
                findings.append(Finding("probes", status, f"{region}: {votes_text(seen)} ({seen.verdict})"))
        if plan.primary_region in plan.probed_regions:
            name = probe_alarm(plan.name)
            if not cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms"):
                findings.append(Finding("probes", BLOCKING, f"the probe alarm {name} is missing in {stack_region}"))
            else:
                findings.append(self._rule(f"arn:aws:cloudwatch:{stack_region}:{self.account}:alarm:{name}"))
        return findings

    @cached_property
    def _current(self) -> dict[str, dict[tuple[str, str], Record]]:
        """The plan's records as Route 53 holds them, per zone: read once, like Assess does."""
        route53 = Route53(self.t.client("route53", "us-east-1"))
        return {zone.id: route53.records(zone.id, {r.name for r in zone.records}) for zone in self.plan.zones}

    def records(self) -> list[Finding]:
        if self.plan.traffic.mode == "data-plane":
            return []  # failover pairs: traffic() checks them
        findings = []
        for zone in self.plan.zones:
            current = self._current[zone.id]
            problems = record_problems(zone, current)
            findings += [Finding("records", BLOCKING, problem) for problem in problems]
            regions: dict[str, list[str]] = {}
            for spec in zone.records:
                found = current.get((spec.name, spec.type))
                if found is None:
                    continue
                where = next((r for r in self.plan.region_names if spec.target(r) == found.value), None)
                regions.setdefault(where or "elsewhere", []).append(spec.name)
            for region, names in regions.items():
                if region == "elsewhere":
                    findings.append(
                        Finding("records", BLOCKING, f"{zone.id}: {', '.join(names)} point at no target of the plan")
                    )
                else:
                    findings.append(Finding("records", OK, f"{zone.id}: {len(names)} record(s) point into {region}"))
        return findings

    def traffic(self) -> list[Finding]:
        """Data-plane mode: the serving alarms in the stack region, and every record a failover pair
        whose two health checks are the stack's serving checks (docs/traffic.md)."""
        plan = self.plan
        if plan.traffic.mode != "data-plane":
            return []
        stack_region = self.t.session.region_name
        names = {r: traffic.serving_alarm(plan.name, r) for r in plan.region_names}
        states = CloudWatch(self.t.client("cloudwatch", stack_region)).alarm_states(list(names.values()))
        findings = [Finding("serving-alarms", BLOCKING, p) for p in traffic.serving_problems(states, plan)]
        serving = [r for r, name in names.items() if states.get(name) == "OK"]
        if not findings:
            findings.append(_serving_finding(plan, serving, states))
        outputs = self.t.outputs or {}
        checks = traffic.serving_checks(
            plan, outputs.get("PrimaryServingCheckId"), outputs.get("StandbyServingCheckId")
        )
        route53 = Route53(self.t.client("route53", "us-east-1"))
        for zone in plan.zones:
            pairs = route53.pairs(zone.id, {r.name for r in zone.records})
            problems = traffic.pair_problems(zone, pairs, plan, checks)
            findings += [Finding("failover-pairs", BLOCKING, p) for p in problems]
            if not problems:
                findings.append(Finding("failover-pairs", OK, f"{zone.id}: {len(zone.records)} failover pair(s)"))
        if self.t.store().pairs_digest() == plan.digest():
            findings.append(
                Finding(
                    "failover-pairs",
                    OK,
                    "recorded as provisioned for this plan (a run without Route 53's API relies on it)",
                )
            )
        else:
            findings.append(
                Finding(
                    "failover-pairs",
                    WARN,
                    "not recorded as provisioned for this plan: a run without Route 53's API would refuse "
                    "(regionshift plan pairs --apply records them)",
                )
            )
        return findings

    def region_losses(self) -> list[Finding]:
        """Which region losses the plan survives, as deployed (regionshift/survival.py)."""
        return [
            Finding("region-loss", OK if loss.survived else WARN, f"{loss.region}: {loss.why}")
            for loss in survival.losses(self.plan, self.t.session.region_name)
        ]

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
        return rto.estimate(self.plan.rails, int(self.p["AlarmEvaluationPeriods"]), plan=self.plan)


def _serving_finding(plan: Plan, serving: list[str], states: dict[str, str]) -> Finding:
    """Where the serving alarms send traffic (Route 53 answers a pair's PRIMARY while both records are
    healthy, or both unhealthy: docs/traffic.md)."""
    if len(serving) == 1:
        return Finding("serving-alarms", OK, f"traffic goes to {serving[0]} (its serving alarm is OK)")
    if all(state == "INSUFFICIENT_DATA" for state in states.values()):
        return Finding(
            "serving-alarms", OK, f"no Serving datapoint yet: the pairs answer their PRIMARY ({plan.primary_region})"
        )
    shown = ", ".join(f"{alarm} {state}" for alarm, state in sorted(states.items()))
    return Finding("serving-alarms", WARN, f"not one region serves ({shown}): Route 53 answers the PRIMARY records")


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


def direction_finding(plan: Plan, direction: Direction | None) -> Finding:
    """Where the writers are: as the plan was written, or where a run (or failback) left them."""
    if direction is None or (direction.primary_region == plan.primary_region and not direction.instances):
        return Finding("direction", OK, f"the writers are in {plan.primary_region}, as the plan was written")
    rebuilt = sum(len(where) for where in direction.instances.values())
    return Finding(
        "direction",
        WARN if direction.primary_region != plan.primary_region else OK,
        f"the writers are in {direction.primary_region} since {direction.by or 'an operator'}"
        + (f" at {direction.at.isoformat()}" if direction.at else "")
        + f" (the plan was written with {plan.primary_region})"
        + (f"; {rebuilt} replica(s) rebuilt by failback" if rebuilt else "")
        + ": runs, and this check, read the plan from there",
    )


def evaluate(target: Target, plan: Plan) -> dict[str, Any]:
    """The plan's readiness as the estate stands: a run reads the plan through the recorded direction
    (docs/failback.md), so this check does too (after a failover it shows what failback still needs)."""
    try:
        direction = target.store().direction()
        readiness, found = Readiness(target, plan.along(direction)), direction_finding(plan, direction)
    except DirectionUnreadableError as exc:
        readiness, found = Readiness(target, plan), Finding("direction", BLOCKING, f"{exc}: every run refuses")
    except PlanProblemsError as exc:
        readiness = Readiness(target, plan)
        found = Finding(
            "direction",
            BLOCKING,
            f"the recorded direction does not fit this plan ({'; '.join(exc.problems)}): every run refuses; "
            "correct it with regionshift direction set",
        )
    findings = [found, *readiness.run()]
    return {
        "ready": not any(f.status == BLOCKING for f in findings),
        "findings": [asdict(f) for f in findings],
        "estimatedRecoverySeconds": readiness.estimate(),
        "assumptions": rto.ASSUMPTIONS,
    }
