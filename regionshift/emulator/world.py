"""The emulated two-region estate: provisioned on moto from the template, modelled where moto is not
enough, and read back after a run.

Topology: the primary region serves traffic; the standby region holds the cross-region read replica
and the whole orchestrator (functions, state machine, table, topic), so that running it never needs
the failed region. Route 53 and its health checks are global (served from us-east-1).
"""

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from regionshift import template as cfn
from regionshift.emulator import iam
from regionshift.emulator.engine import ESTATE_SERVICES, READ_PREFIXES, Engine, Recorder, untracked
from regionshift.emulator.scenario import Fault, HealthPoint, Scenario

ACCOUNT = "123456789012"
PRIMARY_REGION = "us-east-1"
STANDBY_REGION = "us-west-2"
ZONE = "example.com"
PRIMARY_DB = "orders-primary"
STANDBY_DB = "orders-standby"
FOREIGN_DB = "reporting-db"
ALARM_NAME = "regionshift-primary-unhealthy"
APP_RECORD = f"app.{ZONE}"
DB_RECORD = f"db.{ZONE}"
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


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class Deployment:
    """Where the emulated stack's pieces are."""

    parameters: dict[str, Any]
    state_machine_arn: str
    topic_arn: str
    table_arn: str
    notification_queue: str
    event_queue: str
    functions: dict[str, str]  # function name -> logical id
    targets: dict[str, str] = field(default_factory=dict)  # DNS target -> region


def _session_client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


class World:
    """One emulated estate for one scenario."""

    def __init__(self, scenario: Scenario, recorder: Recorder) -> None:
        self.scenario = scenario
        self.recorder = recorder
        self.trigger_offset: float = 0.0
        self._fault_counts: dict[int, int] = {}
        self._promotion_polls: dict[str, int] = {}
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
        self.deployment: Deployment | None = None

    # --- provisioning ----------------------------------------------------------------------------

    def provision(self, engine: Engine) -> Deployment:
        estate = self.scenario.estate
        rds_primary = _session_client("rds", PRIMARY_REGION)
        rds_standby = _session_client("rds", STANDBY_REGION)
        iam = _session_client("iam", "us-east-1")
        role = iam.create_role(RoleName="regionshift-emulated", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

        primary = self._create_db(rds_primary, PRIMARY_DB)
        source_arn = primary["DBInstanceArn"]
        if estate.replica.source != "primary":
            source_arn = self._create_db(rds_primary, estate.replica.source or FOREIGN_DB)["DBInstanceArn"]
        if estate.replica.exists:
            replica = rds_standby.create_db_instance_read_replica(
                DBInstanceIdentifier=STANDBY_DB,
                SourceDBInstanceIdentifier=source_arn,
                DBInstanceClass="db.r6g.large",
            )["DBInstance"]
            standby_endpoint = replica["Endpoint"]["Address"] if "Endpoint" in replica else None
            self._db_model(STANDBY_REGION, STANDBY_DB).status = estate.replica.status
        else:
            standby_endpoint = None
        primary_endpoint = primary["Endpoint"]["Address"]
        standby_endpoint = standby_endpoint or f"{STANDBY_DB}.emulated.{STANDBY_REGION}.rds.amazonaws.com"

        route53 = _session_client("route53", "us-east-1")
        zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="regionshift")["HostedZone"]["Id"].split("/")[
            -1
        ]
        app_primary = f"app-primary.{PRIMARY_REGION}.elb.amazonaws.com"
        app_standby = f"app-standby.{STANDBY_REGION}.elb.amazonaws.com"
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    _upsert(APP_RECORD, app_primary),
                    _upsert(DB_RECORD, primary_endpoint),
                ]
            },
        )
        checks = {}
        for label, fqdn in (("primary", app_primary), ("standby", app_standby)):
            checks[label] = route53.create_health_check(
                CallerReference=f"regionshift-{label}",
                HealthCheckConfig={
                    "Type": "HTTPS",
                    "FullyQualifiedDomainName": fqdn,
                    "Port": 443,
                    "ResourcePath": "/health",
                },
            )["HealthCheck"]["Id"]

        if estate.replica.exists and estate.replica.lag_seconds is not None:
            # RDS publishes ReplicaLag every minute; reads by the steps refresh it (_model_lag).
            self._put_lag(STANDBY_REGION, estate.replica.lag_seconds)
        document = cfn.load()
        parameters = {
            **cfn.parameter_defaults(document),
            "PrimaryRegion": PRIMARY_REGION,
            "StandbyRegion": STANDBY_REGION,
            "PrimaryDbIdentifier": PRIMARY_DB,
            "StandbyDbIdentifier": STANDBY_DB,
            "HostedZoneId": zone_id,
            "RecordNames": [APP_RECORD, DB_RECORD],
            "StandbyTargets": [app_standby, standby_endpoint],
            "PrimaryHealthCheckId": checks["primary"],
            "StandbyHealthCheckId": checks["standby"],
            "AlarmName": ALARM_NAME,
            **self.scenario.plan,
        }
        deployment = self._deploy_stack(document, parameters, role, engine)
        self._create_alarm(parameters)
        deployment.targets = {
            app_primary: PRIMARY_REGION,
            primary_endpoint: PRIMARY_REGION,
            app_standby: STANDBY_REGION,
            standby_endpoint: STANDBY_REGION,
        }
        self.deployment = deployment
        self._seed_control()
        engine.interceptors.extend(
            [self._faults, self._model_health, self._model_promotion, self._model_dns, self._model_lag]
        )
        engine.after_hooks.append(self._after_call)
        return deployment

    @staticmethod
    def _create_db(client: Any, identifier: str) -> dict[str, Any]:
        instance: dict[str, Any] = client.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="emulated-only",
            AllocatedStorage=100,
        )["DBInstance"]
        return instance

    def _deploy_stack(
        self, document: dict[str, Any], parameters: dict[str, Any], role: str, engine: Engine
    ) -> Deployment:
        region = STANDBY_REGION
        ctx = cfn.Context(parameters=parameters, region=region, account=ACCOUNT)
        sns = _session_client("sns", region)
        sqs = _session_client("sqs", region)
        topic_arn = sns.create_topic(Name="regionshift-notifications")["TopicArn"]
        ctx.refs["NotificationTopic"] = topic_arn
        notification_queue = sqs.create_queue(QueueName="regionshift-notifications-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=notification_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

        table_props = document["Resources"]["RunTable"]["Properties"]
        dynamodb = _session_client("dynamodb", region)
        table = dynamodb.create_table(
            TableName="regionshift-runs",
            AttributeDefinitions=table_props["AttributeDefinitions"],
            KeySchema=table_props["KeySchema"],
            BillingMode=table_props["BillingMode"],
        )["TableDescription"]
        ctx.refs["RunTable"] = table["TableName"]
        ctx.attrs[("RunTable", "Arn")] = table["TableArn"]
        key = _session_client("kms", region).create_key(Description="emulated notification key")["KeyMetadata"]
        ctx.refs["NotificationKey"] = key["KeyId"]
        ctx.attrs[("NotificationKey", "Arn")] = key["Arn"]

        lam = _session_client("lambda", region)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("README.txt", "handlers run in-process from functions/")
        functions: dict[str, str] = {}
        for spec in cfn.functions(document, ctx):
            name = f"regionshift-{spec.logical_id}"
            arn = lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": code.getvalue()},
                Timeout=spec.timeout,
                MemorySize=spec.memory,
                Environment={"Variables": spec.environment},
            )["FunctionArn"]
            ctx.refs[spec.logical_id] = name
            ctx.attrs[(spec.logical_id, "Arn")] = arn
            functions[name] = spec.logical_id
        engine.handlers = functions
        # First: AWS authorizes a call against the function's role before anything else happens to it.
        engine.interceptors.insert(0, iam.Guard.from_template(document, ctx, functions))

        logical_id, props, pattern = cfn.state_machine(document)
        sfn = _session_client("stepfunctions", region)
        machine_arn = sfn.create_state_machine(
            name=cfn.resolve(props.get("Name", "regionshift"), ctx),
            definition=cfn.definition(props, ctx),
            roleArn=role,
        )["stateMachineArn"]
        ctx.refs[logical_id] = machine_arn

        # moto's EventBridge has no Step Functions target: the rule (the template's own pattern)
        # delivers to a queue, and the drill starts one execution per delivered event.
        events = _session_client("events", region)
        event_queue = sqs.create_queue(QueueName="regionshift-rule-deliveries")["QueueUrl"]
        event_queue_arn = sqs.get_queue_attributes(QueueUrl=event_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="regionshift-primary-unhealthy", EventPattern=json.dumps(cfn.resolve(pattern, ctx)))
        events.put_targets(
            Rule="regionshift-primary-unhealthy",
            Targets=[
                {"Id": "StateMachine", "Arn": machine_arn, "RoleArn": role},  # as deployed (not delivered by moto)
                {"Id": "Deliveries", "Arn": event_queue_arn},
            ],
        )
        return Deployment(
            parameters=parameters,
            state_machine_arn=machine_arn,
            topic_arn=topic_arn,
            table_arn=table["TableArn"],
            notification_queue=notification_queue,
            event_queue=event_queue,
            functions=functions,
        )

    def store(self) -> Any:
        from failover.store import StateStore

        assert self.deployment is not None
        return StateStore(_session_client("dynamodb", STANDBY_REGION), self.deployment.table_arn.rsplit("/", 1)[-1])

    def _seed_control(self) -> None:
        control = self.scenario.estate.control
        store = self.store()
        now = self.recorder.clock.now()
        if control.paused is not None:
            store.pause(control.paused.get("operator", "ops"), control.paused.get("reason", "maintenance"), now)
        if control.cooldown_seconds is not None:
            store.start_cooldown("earlier-run", "FAILED_OVER", now + timedelta(seconds=control.cooldown_seconds))
        if control.lock is not None:
            # What a crashed run leaves behind (a negative lease has already expired).
            store.acquire_lock(control.lock.owner, now, control.lock.lease_seconds)

    # --- behaviour moto does not model -------------------------------------------------------------

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
        """A Lambda-level fault (``service: lambda``, ``operation``: the function's logical id)."""
        assert self.deployment is not None
        return self._matching("lambda", self.deployment.functions.get(function_name, function_name))

    def _health_at(self, points: list[HealthPoint]) -> int:
        elapsed = self.recorder.clock.offset - self.trigger_offset
        failing = points[0].failing
        for point in sorted(points, key=lambda p: p.at):
            if point.at <= elapsed:
                failing = point.failing
        return failing

    def _model_health(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "route53" or operation != "GetHealthCheckStatus":
            return None
        assert self.deployment is not None
        health = self.scenario.estate.health
        check = params["HealthCheckId"]
        points = health.primary if check == self.deployment.parameters["PrimaryHealthCheckId"] else health.standby
        failing = min(self._health_at(points), health.checkers)
        now = self.recorder.clock.now()
        observations = []
        for i, checker in enumerate(CHECKER_REGIONS[: health.checkers]):
            status = "Failure: Connection timed out." if i < failing else "Success: HTTP Status Code 200, OK"
            observations.append(
                {
                    "Region": checker,
                    "IPAddress": f"198.51.100.{i + 1}",
                    "StatusReport": {"Status": status, "CheckedTime": now},
                }
            )
        return {"HealthCheckObservations": observations}

    def _model_lag(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """RDS publishes ReplicaLag every minute: keep a fresh datapoint in moto before it is read."""
        if service != "cloudwatch" or operation != "GetMetricStatistics" or params.get("MetricName") != "ReplicaLag":
            return None
        replica = self.scenario.estate.replica
        if replica.exists and replica.lag_seconds is not None:
            with untracked():
                self._put_lag(region, replica.lag_seconds)
        return None

    def _put_lag(self, region: str, seconds: float) -> None:
        _session_client("cloudwatch", region).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": STANDBY_DB}],
                    "Timestamp": self.recorder.clock.now() - timedelta(seconds=30),
                    "Value": seconds,
                    "Unit": "Seconds",
                }
            ],
        )

    def _create_alarm(self, parameters: dict[str, Any]) -> None:
        """The health-check alarm as detector.yaml declares it, in the alarm's region."""
        detector = cfn.load(cfn.stack_root() / "detector.yaml")
        ctx = cfn.Context(parameters=parameters, region=parameters["AlarmRegion"], account=ACCOUNT)
        props = cfn.resolve(detector["Resources"]["PrimaryUnhealthyAlarm"]["Properties"], ctx)
        _session_client("cloudwatch", parameters["AlarmRegion"]).put_metric_alarm(**props)

    def _db_model(self, region: str, identifier: str) -> Any:
        from moto.rds.models import rds_backends

        return rds_backends[ACCOUNT][region].databases[identifier]

    def _model_promotion(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service != "rds":
            return None
        identifier = params.get("DBInstanceIdentifier", "")
        if operation == "PromoteReadReplica":
            try:
                db = self._db_model(region, identifier)
            except KeyError:
                return None
            if not db.is_replica or identifier in self._promoting:
                # What RDS answers for an instance that is not (or no longer) a read replica.
                raise client_error(
                    "InvalidDBInstanceState", f"DB instance {identifier} is not a read replica.", operation
                )
        if operation == "DescribeDBInstances" and identifier in self._promoting:
            polls = self._promotion_polls[identifier] = self._promotion_polls.get(identifier, 0) + 1
            done_at = self._completes.get(identifier)
            if done_at is not None:
                if self.recorder.clock.offset >= done_at:
                    self.slack["promotion"].append(self.recorder.clock.offset - done_at)
                    self._finish_promotion(region, identifier)
            elif polls >= self.scenario.estate.replica.promotion_polls:
                self._finish_promotion(region, identifier)
        return None

    def _finish_promotion(self, region: str, identifier: str) -> None:
        db = self._db_model(region, identifier)
        # moto keeps the source after promotion; a promoted instance in RDS has none.
        db.source_db_instance_identifier = None
        db.status = "available"
        self._promoting.discard(identifier)

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

    def _after_call(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        if service in ESTATE_SERVICES and not operation.startswith(READ_PREFIXES):
            self.effects.append({"service": service, "operation": operation, "region": region, "function": function})
        if service == "route53" and operation == "ChangeResourceRecordSets":
            self._submitted[str(response["ChangeInfo"]["Id"])] = self.recorder.clock.offset
        if service == "rds" and operation == "PromoteReadReplica":
            identifier = params["DBInstanceIdentifier"]
            self._db_model(region, identifier).status = "modifying"
            self._promoting.add(identifier)
            if self.scenario.estate.replica.promotion_seconds is not None:
                self._completes[identifier] = (
                    self.recorder.clock.offset + self.scenario.estate.replica.promotion_seconds
                )
            elif self.scenario.estate.replica.promotion_polls == 0:
                self._finish_promotion(region, identifier)
        lost = [item for item in self._lost if item[1] == operation]
        if lost:
            self._lost.remove(lost[0])
            raise client_error(lost[0][0].error or "InternalFailure", lost[0][0].message, operation)

    # --- read back ---------------------------------------------------------------------------------

    def databases(self) -> list[dict[str, Any]]:
        found = []
        for region in (PRIMARY_REGION, STANDBY_REGION):
            for instance in _session_client("rds", region).describe_db_instances()["DBInstances"]:
                source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
                found.append(
                    {
                        "id": instance["DBInstanceIdentifier"],
                        "region": region,
                        "role": "replica" if source else "primary",
                        "status": instance.get("DBInstanceStatus"),
                        "source": source,
                    }
                )
        return found

    def dns(self) -> list[dict[str, Any]]:
        assert self.deployment is not None
        zone = self.deployment.parameters["HostedZoneId"]
        names = {n.lower().rstrip(".") for n in self.deployment.parameters["RecordNames"]}
        records = []
        for rrset in _session_client("route53", "us-east-1").list_resource_record_sets(HostedZoneId=zone)[
            "ResourceRecordSets"
        ]:
            name = rrset["Name"].lower().rstrip(".")
            if name in names and rrset.get("ResourceRecords"):
                target = rrset["ResourceRecords"][0]["Value"].lower().rstrip(".")
                records.append(
                    {
                        "name": name,
                        "type": rrset["Type"],
                        "target": target,
                        "region": self.deployment.targets.get(target),
                    }
                )
        return sorted(records, key=lambda r: r["name"])

    def notifications(self) -> list[dict[str, Any]]:
        assert self.deployment is not None
        sqs = _session_client("sqs", STANDBY_REGION)
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.deployment.notification_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                envelope = json.loads(message["Body"])
                attributes = envelope.get("MessageAttributes", {})
                text = envelope.get("Message", "")
                execution = next((line[11:] for line in text.splitlines() if line.startswith("Execution: ")), None)
                found.append(
                    {
                        "subject": envelope.get("Subject"),
                        "outcome": attributes.get("outcome", {}).get("Value"),
                        "execution": execution,
                        "message": text,
                    }
                )
                sqs.delete_message(QueueUrl=self.deployment.notification_queue, ReceiptHandle=message["ReceiptHandle"])
        return found


def _upsert(name: str, target: str) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": target}]},
    }


def alarm_event(alarm_arn: str, alarm_name: str, state: str, at: datetime, event_id: str) -> dict[str, Any]:
    """An EventBridge ``CloudWatch Alarm State Change`` event as CloudWatch emits it."""
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
