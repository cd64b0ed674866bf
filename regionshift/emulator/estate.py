"""The estate's behaviour over time, where moto has none: health checks that fail and recover, a
promotion and a DNS change that take time, a fresh ``ReplicaLag`` datapoint, and the scenario's
faults. It sits in front of moto as the engine's interceptors and after-hooks, and keeps the ground
truth of what took effect (``effects``) and how late the run noticed a completion (``slack``).
"""

import functools
from datetime import datetime, timedelta
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, EndpointConnectionError

from failover.clients import CONNECT_TIMEOUT_SECONDS
from failover.plan import PLAN_TAG
from regionshift.emulator import dns, patches
from regionshift.emulator.aurora import AuroraGlobal
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.deploy import PRIMARY_REGION, Deployment, GlobalModels, global_cluster_id, replica_id
from regionshift.emulator.detection import HealthChecks, failing_at, healthy_share
from regionshift.emulator.dynamodb import GlobalTables
from regionshift.emulator.elasticache import Datastore
from regionshift.emulator.engine import ESTATE_SERVICES, READ_PREFIXES, Engine, Recorder, untracked
from regionshift.emulator.healthchecks import metric_check_healthy
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.scenario import Fault, HealthPoint, Replica, Scenario, Storm, replica_spec

# Route 53 health checkers' regions (HealthCheckConfig.Regions), in the order the emulator fails them.
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)


# Where a global service's API (its control plane) is served from, whatever region its client names
# (boto3 gives a Route 53 client the region "aws-global"). "Route 53 ... operates its control plane in
# the us-east-1 Region" (AWS Fault Isolation Boundaries, "Global services":
# https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html).
CONTROL_PLANE_REGIONS = {"route53": "us-east-1"}


@functools.cache
def _endpoint_prefix(service: str) -> str:
    """The service's endpoint host prefix (``monitoring`` for CloudWatch), from botocore's model."""
    return str(botocore.session.get_session().get_service_model(service).endpoint_prefix)


def endpoint_url(service: str, region: str) -> str:
    """The endpoint a client of ``service`` in ``region`` connects to (Route 53's API is global)."""
    if service in CONTROL_PLANE_REGIONS:
        return f"https://{_endpoint_prefix(service)}.amazonaws.com"
    return f"https://{_endpoint_prefix(service)}.{region}.amazonaws.com"


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class EstateModel:
    """One scenario's estate, as it behaves once deployed."""

    def __init__(self, scenario: Scenario, recorder: Recorder, deployment: Deployment) -> None:
        self.scenario = scenario
        self.recorder = recorder
        self.deployment = deployment
        # The health timeline counts from here (the moment the first trigger can fire).
        self.trigger_offset: float = 0.0
        self._fault_counts: dict[int, int] = {}
        # Virtual moment each storm (by index) started; a storm tied to a step starts with it.
        self._storm_starts: dict[int, float] = {}
        self._promotion_polls: dict[str, int] = {}
        # Read replicas being created (failback), and the virtual moment each becomes available.
        self._building: dict[str, float] = {}
        self._change_polls: dict[str, int] = {}
        self._promoting: set[str] = set()
        self._lost: list[tuple[Fault, str]] = []
        # Mutating estate calls that took effect (whatever the caller saw): the ground truth.
        self.effects: list[dict[str, str]] = []
        # Virtual moments at which a promotion / change completed, and how late the run noticed.
        self._completes: dict[str, float] = {}
        self.slack: dict[str, list[float]] = {"promotion": [], "dns": []}
        self._noticed: set[str] = set()
        self._submitted: dict[str, float] = {}

    def attach(self, engine: Engine) -> None:
        """Put the scenario's starting state in place and sit in front of moto for the handlers' calls."""
        self._seed()
        models = self._seed_globals()
        # The outage first: a call to a lost region never reaches anything (stack.py keeps it ahead of IAM).
        engine.interceptors.extend(
            [
                self.outages,
                self._storms,
                self._faults,
                self._model_health,
                self._model_promotion,
                self._model_dns,
                self._model_lag,
            ]
        )
        # After the faults and storms: a faulted call never reaches the models.
        engine.interceptors.extend(
            [models.aurora.interceptor, models.datastores.interceptor, models.tables.interceptor]
        )
        engine.after_hooks.append(self._after_call)
        engine.lambda_faults = self.lambda_fault
        engine.region_down = self.is_down
        self.trigger_offset = self.recorder.clock.offset
        for index, storm in enumerate(self.scenario.storms):
            if storm.at is not None:
                self._storm_starts[index] = self.trigger_offset + storm.at

    def _replicas(self) -> list[tuple[str, str, Replica]]:
        """(region, identifier, state) of every replica of the plan that exists."""
        plan = self.deployment.plan
        found = []
        for region in plan.standby_regions:
            for resource, identifier in plan.replicas(region):
                if resource.kind != "rds-instance":
                    continue  # the global resources' models keep their own state
                spec = replica_spec(self.scenario.estate, identifier)
                if spec.exists:
                    found.append((region, identifier, spec))
        return found

    def _spec(self, identifier: str) -> Replica:
        return replica_spec(self.scenario.estate, identifier)

    def _seed(self) -> None:
        for region, identifier, replica in self._replicas():
            patches.rds_instance(region, identifier).status = replica.status
            lag = self._lag(replica)
            if lag is not None:
                # RDS publishes ReplicaLag every minute; reads by the steps refresh it (_model_lag).
                self._put_lag(region, identifier, lag)
        control = self.scenario.estate.control
        store = self.deployment.store()
        now = self.recorder.clock.now()
        if control.paused is not None:
            store.pause(control.paused.get("operator", "ops"), control.paused.get("reason", "maintenance"), now)
        if control.cooldown_seconds is not None:
            store.start_cooldown("earlier-run", "FAILED_OVER", now + timedelta(seconds=control.cooldown_seconds))
        if control.lock is not None:
            # What a crashed run leaves behind (a negative lease has already expired).
            store.acquire_lock(control.lock.owner, now, control.lock.lease_seconds)

    def _seed_globals(self) -> GlobalModels:
        """Aurora global databases, global datastores and global tables (emulator/aurora.py,
        elasticache.py, dynamodb.py: the models of what moto lacks), as the scenario starts them."""
        estate, clock = self.scenario.estate, self.recorder.clock
        plan = self.deployment.plan
        models = GlobalModels(AuroraGlobal(clock), Datastore(clock), GlobalTables(clock))
        for shape in estate.aurora:
            members = {r: replica_id(shape.name, r) for r in plan.region_names}
            models.aurora.add(
                global_cluster_id(shape.name),
                members,
                shape.writer or PRIMARY_REGION,
                failover_seconds=shape.failover_seconds,
                stuck=shape.stuck,
                rpo_lag_ms=None if shape.lag_seconds is None else shape.lag_seconds * 1000,
                in_progress=shape.in_progress or False,
            )
            if shape.tagged:
                for region, cluster in members.items():
                    arn = f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{cluster}"
                    with untracked():
                        emulated_client("rds", region).add_tags_to_resource(
                            ResourceName=arn, Tags=[{"Key": PLAN_TAG, "Value": plan.name}]
                        )
        for resource in plan.caches:
            shape = next(c for c in estate.caches if c.name == resource.name)
            models.datastores.add(
                resource.global_datastore,
                dict(resource.members),
                shape.writer or PRIMARY_REGION,
                failover_seconds=shape.failover_seconds,
                stuck=shape.stuck,
                lag_seconds=shape.lag_seconds,
            )
        for table in estate.tables:
            present = [r for r in plan.region_names if table.replicas.get(r, "ACTIVE") != "absent"]
            latency = {
                r: (lambda s: None if s is None else s * 1000)(table.latencies.get(r, table.latency_seconds))
                # "emitted for every source- and destination-Region pair" (emulator/dynamodb.py): into the
                # plan's primary region too, which a run reads once the writers have moved away from it.
                for r in present
            }
            models.tables.add(
                table.name, {r: str(table.replicas.get(r, "ACTIVE")) for r in present}, latency_ms=latency
            )
        self.deployment.models = models
        return models

    # --- DNS answers -------------------------------------------------------------------------------

    def answers(self) -> list[dict[str, Any]]:
        """What clients resolve now for every plan record present in its zone (``dns.answer``), in
        ``Deployment.dns()``'s shape: the answered target and the region it is in."""
        health = EstateHealth(self)
        found = []
        for _zone, record in self.deployment.plan.records:
            got = dns.answer(record.name, record.type, health)
            if got is None:
                continue  # absent from its zone: no answer (dns() lists no record either)
            target = got.values[0].lower().rstrip(".") if got.values else ""
            found.append(
                {
                    "name": got.name,
                    "type": got.type,
                    "target": target,
                    "region": self.deployment.targets.get(target),
                    "failover": got.failover,
                }
            )
        return sorted(found, key=lambda r: (r["name"], r["type"]))

    # --- region outages ---------------------------------------------------------------------------

    def is_down(self, region: str) -> bool:
        """Whether ``region`` is lost now (one of the scenario's outages covers this moment)."""
        elapsed = self.recorder.clock.offset - self.trigger_offset
        return any(o.region == region and o.covers(elapsed) for o in self.scenario.outages)

    def outages(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A call to an endpoint in a lost region: the connection is never made, so nothing takes effect.

        It fails after the client's connect timeout (``failover.clients``), as botocore raises
        ``EndpointConnectionError`` for a connection that cannot be made; the caller retries it as
        transient. Route 53's API is us-east-1's (``CONTROL_PLANE_REGIONS``).
        """
        served_from = CONTROL_PLANE_REGIONS.get(service, region)
        if not self.is_down(served_from):
            return None
        self.recorder.clock.advance(CONNECT_TIMEOUT_SECONDS)
        raise EndpointConnectionError(endpoint_url=endpoint_url(service, region))

    # --- faults ------------------------------------------------------------------------------------

    def _matching(self, service: str, operation: str) -> Fault | None:
        """The fault that applies to this call (each fault counts the calls it matches)."""
        chosen = None
        for index, fault in enumerate(self.scenario.faults):
            if fault.service.lower() != service.lower() or fault.operation != operation:
                continue
            seen = self._fault_counts.get(index, 0)
            self._fault_counts[index] = seen + 1
            if chosen is None and fault.after <= seen < fault.after + fault.times:
                chosen = fault
        return chosen

    def _faults(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        fault = self._matching(service, operation)
        if fault is None:
            return None
        self.recorder.clock.advance(fault.latency)
        if fault.error is None:
            return None
        if fault.lost_response:
            self._lost.append((fault, operation))
            return None
        raise client_error(fault.error, fault.message, operation)

    def lambda_fault(self, function_name: str) -> Fault | None:
        """A Lambda-level fault (``service: lambda``, ``operation``: the function's logical id).

        Called as each invocation starts: a storm tied to this function starts with its first one.
        """
        logical_id = self.deployment.functions.get(function_name, function_name)
        for index, storm in enumerate(self.scenario.storms):
            if storm.step == logical_id and index not in self._storm_starts:
                self._storm_starts[index] = self.recorder.clock.offset
        return self._matching("lambda", logical_id)

    def _raging(self, service: str) -> Storm | None:
        now = self.recorder.clock.offset
        for index, storm in enumerate(self.scenario.storms):
            start = self._storm_starts.get(index)
            in_scope = not storm.services or service.lower() in (s.lower() for s in storm.services)
            if start is not None and start <= now < start + storm.seconds and in_scope:
                return storm
        return None

    def _storms(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A throttling (or 5xx) storm: the call is refused before it reaches the service.

        A throttled request is rejected, not applied (Amazon EC2 API reference, "Request throttling":
        https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html), so nothing takes effect.
        """
        storm = self._raging(service)
        if storm is not None:
            raise client_error(storm.error, storm.message, operation, storm.status)
        return None

    # --- health checks -----------------------------------------------------------------------------

    def _health_at(self, points: list[HealthPoint]) -> int:
        # The same timeline the emulated health checkers publish HealthCheckStatus from (detection.py).
        return failing_at(points, self.recorder.clock.offset - self.trigger_offset)

    def _model_health(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "route53" or operation != "GetHealthCheckStatus":
            return None
        health = self.scenario.estate.health
        points = self.deployment.health.get(params["HealthCheckId"])
        if points is not None:
            failing = min(self._health_at(points), health.checkers)
            return self._observations(
                [
                    "Failure: Connection timed out." if i < failing else "Success: HTTP Status Code 200, OK"
                    for i in range(health.checkers)
                ]
            )
        metric = metric_check_healthy(params["HealthCheckId"], self.is_down)
        if metric is None:
            return None  # neither a health check of the plan nor one that follows an alarm: moto answers
        # Every checker reads the same alarm, so every checker reports the same status (modelling choice:
        # the wording of the reports is the emulator's).
        status = "Success: the CloudWatch alarm is OK" if metric else "Failure: the CloudWatch alarm is not OK"
        return self._observations([status] * health.checkers)

    def _observations(self, statuses: list[str]) -> dict[str, Any]:
        """GetHealthCheckStatus's answer: one observation per checker, in CHECKER_REGIONS' order."""
        now = self.recorder.clock.now()
        return {
            "HealthCheckObservations": [
                {
                    "Region": checker,
                    "IPAddress": f"198.51.100.{i + 1}",
                    "StatusReport": {"Status": status, "CheckedTime": now},
                }
                for i, (checker, status) in enumerate(zip(CHECKER_REGIONS, statuses, strict=False))
            ]
        }

    # --- replica lag -------------------------------------------------------------------------------

    def _model_lag(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """RDS publishes ReplicaLag every minute: keep a fresh datapoint in moto before it is read."""
        if service != "cloudwatch" or operation != "GetMetricStatistics" or params.get("MetricName") != "ReplicaLag":
            return None
        dimensions = {d["Name"]: d["Value"] for d in params.get("Dimensions", [])}
        identifier = dimensions.get("DBInstanceIdentifier", "")
        replica = self._spec(identifier)
        lag = self._lag(replica)
        if replica.exists and lag is not None:
            with untracked():
                self._put_lag(region, identifier, lag)
        return None

    def _lag(self, replica: Replica) -> float | None:
        return replica.lag_at(self.recorder.clock.offset - self.trigger_offset)

    def publish_lag(self, at: datetime) -> None:
        """The minute's ReplicaLag datapoint, as RDS publishes it while the replica reports a lag (the
        detection chain calls this each minute, so the replica-lag alarm sees what it would see)."""
        for region, identifier, replica in self._replicas():
            lag = self._lag(replica)
            # A lost region's CloudWatch receives nothing.
            if lag is not None and not self.is_down(region):
                self._put_lag(region, identifier, lag, at)

    def _put_lag(self, region: str, identifier: str, seconds: float, at: datetime | None = None) -> None:
        emulated_client("cloudwatch", region).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
                    "Timestamp": at or self.recorder.clock.now() - timedelta(seconds=30),
                    "Value": seconds,
                    "Unit": "Seconds",
                }
            ],
        )

    # --- promotion ---------------------------------------------------------------------------------

    def _model_promotion(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "rds":
            return None
        identifier = params.get("DBInstanceIdentifier", "")
        if operation == "PromoteReadReplica":
            try:
                db = patches.rds_instance(region, identifier)
            except KeyError:
                return None
            if not db.is_replica or identifier in self._promoting:
                # What RDS answers for an instance that is not (or no longer) a read replica.
                raise client_error(
                    "InvalidDBInstanceState", f"DB instance {identifier} is not a read replica.", operation
                )
        if (
            operation == "DescribeDBInstances"
            and self._building.get(identifier, float("inf")) <= self.recorder.clock.offset
        ):
            patches.rds_instance(region, identifier).status = "available"
            del self._building[identifier]
        if operation == "DescribeDBInstances" and identifier in self._promoting:
            polls = self._promotion_polls[identifier] = self._promotion_polls.get(identifier, 0) + 1
            done_at = self._completes.get(identifier)
            if done_at is not None:
                if self.recorder.clock.offset >= done_at:
                    self.slack["promotion"].append(self.recorder.clock.offset - done_at)
                    self._finish_promotion(region, identifier)
            elif polls >= self._spec(identifier).promotion_polls:
                self._finish_promotion(region, identifier)
        return None

    def _start_promotion(self, region: str, identifier: str) -> None:
        patches.rds_instance(region, identifier).status = "modifying"
        self._promoting.add(identifier)
        replica = self._spec(identifier)
        if replica.promotion_seconds is not None:
            self._completes[identifier] = self.recorder.clock.offset + replica.promotion_seconds
        elif replica.promotion_polls == 0:
            self._finish_promotion(region, identifier)

    def _finish_promotion(self, region: str, identifier: str) -> None:
        db = patches.rds_instance(region, identifier)
        db.source_db_instance_identifier = None
        db.status = "available"
        self._promoting.discard(identifier)

    # --- DNS change propagation --------------------------------------------------------------------

    def _model_dns(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "route53" or operation != "GetChange":
            return None
        change = params["Id"]
        polls = self._change_polls[change] = self._change_polls.get(change, 0) + 1
        sync_seconds = self.scenario.estate.dns_sync_seconds
        if sync_seconds is not None:
            done_at = self._submitted.get(change, self.recorder.clock.offset) + sync_seconds
            if self.recorder.clock.offset < done_at:
                return {"ChangeInfo": {"Id": change, "Status": "PENDING", "SubmittedAt": self.recorder.clock.now()}}
            if change not in self._noticed:
                self._noticed.add(change)
                self.slack["dns"].append(self.recorder.clock.offset - done_at)
            return None
        if polls <= self.scenario.estate.dns_pending_polls:
            return {"ChangeInfo": {"Id": change, "Status": "PENDING", "SubmittedAt": self.recorder.clock.now()}}
        return None

    # --- after a call took effect ------------------------------------------------------------------

    def _after_call(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        if service in ESTATE_SERVICES and not operation.startswith(READ_PREFIXES):
            effect = {"service": service, "operation": operation, "region": region, "function": function}
            for key in ("DBInstanceIdentifier", "TargetDbClusterIdentifier", "PrimaryReplicationGroupId"):
                if key in params:
                    effect["identifier"] = str(params[key]).rsplit(":", 1)[-1]
            self.effects.append(effect)
        if service == "route53" and operation == "ChangeResourceRecordSets":
            self._submitted[str(response["ChangeInfo"]["Id"])] = self.recorder.clock.offset
        if service == "rds" and operation == "PromoteReadReplica":
            self._start_promotion(region, params["DBInstanceIdentifier"])
        if service == "rds" and operation == "CreateDBInstanceReadReplica":
            # moto makes the replica available at once; RDS takes minutes to create it ("Working with DB
            # instance read replicas", Amazon RDS User Guide: its status is "creating" until then).
            identifier = params["DBInstanceIdentifier"]
            patches.rds_instance(region, identifier).status = "creating"
            self._building[identifier] = self.recorder.clock.offset + self.scenario.estate.rebuild_seconds
        lost = [item for item in self._lost if item[1] == operation]
        if lost:
            self._lost.remove(lost[0])
            raise client_error(lost[0][0].error or "InternalFailure", lost[0][0].message, operation)


class EstateHealth:
    """Route 53's view of the estate's health now, for DNS answers (``dns.RecordHealth``).

    A plan health check (HTTPS) is healthy as the emulated checkers make it (``detection.HealthChecks``,
    the status behind HealthCheckStatus); a CLOUDWATCH_METRIC check follows its alarm
    (``healthchecks.metric_check_healthy``). A load balancer alias target is healthy while its region's
    application is, by the region's health timeline: Route 53 "checks the health status of the resource
    that the alias record references" (Route 53 Developer Guide, "How Amazon Route 53 chooses records
    when health checking is configured"); for an Application Load Balancer, "based on the health of the
    target groups" (API Reference, AliasTarget, EvaluateTargetHealth). **Modelling choice**: the same
    18% rule over the timeline's checkers at this moment.
    """

    def __init__(self, estate: "EstateModel") -> None:
        self.estate = estate
        deployment = estate.deployment
        with untracked():
            self.checks = HealthChecks.deployed(estate.scenario, deployment.health)

    @property
    def elapsed(self) -> float:
        return self.estate.recorder.clock.offset - self.estate.trigger_offset

    def check(self, health_check_id: str) -> bool:
        config = next((c for c in self.checks.configs if c.check_id == health_check_id), None)
        if config is not None:
            plan = self.estate.deployment.plan
            region = next((r for r in plan.region_names if plan.health_check(r) == health_check_id), None)
            # A lost region's endpoint fails every checker, whatever the timeline says.
            up = region is None or not self.estate.is_down(region)
            return up and self.checks.status(config, self.elapsed).healthy
        with untracked():
            metric = metric_check_healthy(health_check_id, self.estate.is_down)
        if metric is None:
            raise KeyError(f"health check {health_check_id} is neither a plan region's nor a CLOUDWATCH_METRIC check")
        return metric

    def target(self, hosted_zone_id: str, dns_name: str) -> bool:
        deployment = self.estate.deployment
        region = deployment.targets.get(dns_name)
        if region is None:
            raise KeyError(f"alias target {dns_name} (zone {hosted_zone_id}) is not a load balancer of the estate")
        if self.estate.is_down(region):
            return False  # a lost region's load balancer has no healthy target, whatever the timeline says
        points = deployment.health[deployment.plan.health_check(region)]
        checkers = self.estate.scenario.estate.health.checkers
        return healthy_share(checkers - min(failing_at(points, self.elapsed), checkers), checkers)


def alarm_event(alarm_arn: str, alarm_name: str, state: str, at: datetime, event_id: str) -> dict[str, Any]:
    """An EventBridge ``CloudWatch Alarm State Change`` event as CloudWatch emits it.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    """
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": alarm_arn.split(":")[3],
        "resources": [alarm_arn],
        "detail": {
            "alarmName": alarm_name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": at.isoformat()},
            "previousState": {"value": "OK" if state == "ALARM" else "ALARM", "timestamp": at.isoformat()},
            "configuration": {
                "metrics": [
                    {"id": "m1", "metricStat": {"metric": {"namespace": "AWS/Route53", "name": "HealthCheckStatus"}}}
                ]
            },
        },
    }
