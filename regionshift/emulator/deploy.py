"""The emulated estate as deployed on moto: the application's databases, records and health checks in
every region of its plan, and the orchestrator's stack from ``template.yaml`` (and the alarm from
``detector.yaml``); read back after a run through the same resources.

Topology (the design's estate by default): the primary region serves traffic; each standby region holds
a cross-region read replica of every database and a load balancer; the first standby also holds the
whole orchestrator (functions, state machine, table, topic), so that running it never needs the failed
region. Route 53 and its health checks are global (served from us-east-1).
"""

import copy
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from failover import traffic
from failover.plan import PLAN_TAG, Plan
from regionshift import plans
from regionshift import template as cfn
from regionshift.emulator import iam
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.scenario import ELB_ZONES, HealthPoint, Scenario, replica_spec

PRIMARY_REGION = "us-east-1"
# Where the orchestrator's stack runs: the design's first standby region.
STACK_REGION = "us-west-2"
PLAN_NAME = "orders"
PRIMARY_DB = "orders-primary"
FOREIGN_DB = "reporting-db"
ALARM_NAME = "regionshift-primary-unhealthy"


def primary_db(database: str) -> str:
    return f"{database}-primary"


def replica_id(database: str, region: str) -> str:
    return f"{database}-{region}"


def global_cluster_id(name: str) -> str:
    return f"{name}-global"


def global_datastore_id(name: str) -> str:
    """A global datastore's id: ElastiCache's prefix for the primary's region, then the suffix."""
    from regionshift.emulator.elasticache import id_prefix

    return f"{id_prefix(PRIMARY_REGION)}-{name}"


def load_balancer(region: str) -> str:
    return f"dualstack.app-{region}.{region}.elb.amazonaws.com"


@dataclass
class GlobalModels:
    """The estate's global resources, as the emulator's models of them hold them (set once attached)."""

    aurora: Any
    datastores: Any
    tables: Any


@dataclass
class Deployment:
    """Where the emulated stack's pieces are, and what they hold now."""

    plan: Plan
    parameters: dict[str, Any]
    state_machine_arn: str
    manual_run_arn: str  # the ManualRun state machine, through which people start runs
    topic_arn: str
    table_arn: str
    notification_queue: str
    event_queue: str
    functions: dict[str, str]  # function name -> logical id
    targets: dict[str, str]  # DNS target -> region
    guard: iam.Guard  # each function's role from the template, as AWS evaluates it
    report_bucket: str  # where Finalize writes the runs' reports
    # Health check id -> the scenario's timeline of failing checkers for that region's endpoint.
    health: dict[str, list[HealthPoint]] = field(default_factory=dict)
    models: GlobalModels | None = None
    # Data-plane mode: region -> the health check of its failover records (on its serving alarm).
    serving_checks: dict[str, str] = field(default_factory=dict)

    def report(self, execution_arn: str) -> dict[str, str] | None:
        """The report files Finalize wrote for the execution, or None."""
        from regionshift import runreport

        return runreport.fetch(emulated_client("s3", STACK_REGION), self.report_bucket, execution_arn)

    def store(self) -> Any:
        from failover.store import StateStore

        return StateStore(emulated_client("dynamodb", STACK_REGION), self.table_arn.rsplit("/", 1)[-1])

    def databases(self) -> list[dict[str, Any]]:
        """Every RDS instance in the plan's regions, with the plan database it belongs to."""
        belongs = {}
        # The plan as written, and as the estate's direction has it now (failback's replicas have names
        # of their own).
        for plan in (self.plan, self.plan.along(self.store().direction())):
            for db in plan.databases:
                for region in db.member_regions(plan.primary_region):
                    belongs[(region, db.member(region, plan.primary_region))] = db.name
        found = []
        for region in self.plan.region_names:
            for instance in emulated_client("rds", region).describe_db_instances()["DBInstances"]:
                source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
                found.append(
                    {
                        "id": instance["DBInstanceIdentifier"],
                        "database": belongs.get((region, instance["DBInstanceIdentifier"])),
                        "region": region,
                        "role": "replica" if source else "primary",
                        "status": instance.get("DBInstanceStatus"),
                        "source": source,
                    }
                )
        return found + self._global_members()

    def _global_members(self) -> list[dict[str, Any]]:
        """Every member of the plan's Aurora global databases and global datastores, its role from the
        models' ground truth (the writer is "primary")."""
        if self.models is None:
            return []
        found = []
        for resource in self.plan.movers:
            if resource.kind == "aurora-global":
                writers = self.models.aurora.writers(str(resource.global_id))
            elif resource.kind == "elasticache-global":
                writers = [self.models.datastores.primary(str(resource.global_id))]
            else:
                continue
            for region in sorted(resource.member_regions(self.plan.primary_region)):
                found.append(
                    {
                        "id": resource.member(region, self.plan.primary_region),
                        "database": resource.name,
                        "region": region,
                        "role": "primary" if region in writers else "replica",
                        "status": "available",
                        "source": None,
                        "kind": resource.kind,
                    }
                )
        return found

    def dns(self) -> list[dict[str, Any]]:
        """The plan's records as Route 53 holds them, and the region each points into."""
        records = []
        for zone in self.plan.zones:
            wanted = {(r.name, r.type) for r in zone.records}
            rrsets = emulated_client("route53", "us-east-1").list_resource_record_sets(
                HostedZoneId=zone.id, MaxItems="300"
            )
            for rrset in rrsets["ResourceRecordSets"]:
                name = rrset["Name"].lower().rstrip(".")
                if (name, rrset["Type"]) not in wanted:
                    continue
                alias = rrset.get("AliasTarget")
                values = rrset.get("ResourceRecords") or []
                target = (alias["DNSName"] if alias else values[0]["Value"] if values else "").lower().rstrip(".")
                records.append(
                    {"name": name, "type": rrset["Type"], "target": target, "region": self.targets.get(target)}
                )
        return sorted(records, key=lambda r: (r["name"], r["type"]))

    def snapshot(self) -> dict[str, Any]:
        """The estate's databases and records, as a drill compares them before and after."""
        return {"databases": self.databases(), "dns": self.dns()}

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification published so far (drained from the topic's queue subscription)."""
        sqs = emulated_client("sqs", STACK_REGION)
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.notification_queue, MaxNumberOfMessages=10).get("Messages", [])
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
                sqs.delete_message(QueueUrl=self.notification_queue, ReceiptHandle=message["ReceiptHandle"])
        return found


def deploy(scenario: Scenario, workdir: Path | None = None) -> Deployment:
    """Create the scenario's estate and the orchestrator's stack on moto: the estate's plan document is
    written to ``workdir`` (the functions' packaged plan) and the stack's parameters derived from it."""
    estate = scenario.estate
    regions = [PRIMARY_REGION, *estate.standbys]
    unknown = sorted(set(regions) - set(ELB_ZONES))
    if unknown:
        raise ValueError(f"the emulator has no load balancer zone for {', '.join(unknown)}")
    role = emulated_client("iam", "us-east-1").create_role(
        RoleName="regionshift-emulated", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    targets: dict[str, str] = {load_balancer(region): region for region in regions}
    endpoints: dict[tuple[str, str], str] = {}  # (database, region) -> endpoint
    foreign: dict[str, str] = {}  # another source database (created once, however many replicas use it) -> ARN
    for name in estate.databases:
        # The old primary carries the plan's tag too: the Fence step may stop only the plan's instances.
        primary = _create_db(
            emulated_client("rds", PRIMARY_REGION), primary_db(name), [{"Key": PLAN_TAG, "Value": PLAN_NAME}]
        )
        endpoints[(name, PRIMARY_REGION)] = primary["Endpoint"]["Address"]
        for region in estate.standbys:
            identifier = replica_id(name, region)
            spec = replica_spec(estate, identifier)
            endpoint = f"{identifier}.emulated.{region}.rds.amazonaws.com"
            if spec.exists:
                source = primary["DBInstanceArn"]
                if spec.source != "primary":
                    other = spec.source or FOREIGN_DB
                    if other not in foreign:
                        foreign[other] = _create_db(emulated_client("rds", PRIMARY_REGION), other)["DBInstanceArn"]
                    source = foreign[other]
                tags = [{"Key": PLAN_TAG, "Value": PLAN_NAME}] if spec.tagged else []
                created = emulated_client("rds", region).create_db_instance_read_replica(
                    DBInstanceIdentifier=identifier,
                    SourceDBInstanceIdentifier=source,
                    DBInstanceClass="db.r6g.large",
                    Tags=tags,
                )["DBInstance"]
                endpoint = created.get("Endpoint", {}).get("Address") or endpoint
            endpoints[(name, region)] = endpoint
    targets.update({endpoint: region for (_, region), endpoint in endpoints.items()})

    route53 = emulated_client("route53", "us-east-1")
    checks = {}
    for region in regions:
        checks[region] = route53.create_health_check(
            CallerReference=f"regionshift-{region}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": load_balancer(region),
                "Port": 443,
                "ResourcePath": "/health",
                "RequestInterval": estate.health.request_interval,
                "FailureThreshold": estate.health.failure_threshold,
            },
        )["HealthCheck"]["Id"]
    zones = []
    for shape in estate.zones:
        zone_id = route53.create_hosted_zone(Name=shape.name, CallerReference=f"regionshift-{shape.name}")[
            "HostedZone"
        ]["Id"].split("/")[-1]
        records = []
        for record in shape.records:
            if record.target == "app":
                hosts = {region: load_balancer(region) for region in regions}
            else:
                hosts = {region: endpoints[(record.target, region)] for region in regions}
            if record.type == "CNAME":
                records.append({"name": record.name, "type": "CNAME", "ttl": 60, "targets": hosts})
            else:
                aliases = {r: {"dnsName": h, "hostedZoneId": ELB_ZONES[r]} for r, h in hosts.items()}
                records.append(
                    {
                        "name": record.name,
                        "type": record.type,
                        "evaluateTargetHealth": record.evaluate_target_health,
                        "targets": aliases,
                    }
                )
        zones.append({"id": zone_id, "name": shape.name, "records": records})
    document = {
        "name": PLAN_NAME,
        "regions": {
            "primary": {"region": PRIMARY_REGION, "healthCheckId": checks[PRIMARY_REGION]},
            "standbys": [{"region": r, "healthCheckId": checks[r]} for r in estate.standbys],
        },
        "databases": [
            {
                "name": name,
                "primary": primary_db(name),
                "replicas": {region: replica_id(name, region) for region in estate.standbys},
            }
            for name in estate.databases
        ]
        + [
            {
                "name": shape.name,
                "kind": "aurora-global",
                "globalCluster": global_cluster_id(shape.name),
                "clusters": {region: replica_id(shape.name, region) for region in regions},
                **({"after": shape.after} if shape.after else {}),
            }
            for shape in estate.aurora
        ],
        "zones": zones,
    }
    if estate.caches:
        document["caches"] = [
            {
                "name": shape.name,
                "globalDatastore": global_datastore_id(shape.name),
                "members": {region: replica_id(shape.name, region) for region in regions},
                **({"after": shape.after} if shape.after else {}),
            }
            for shape in estate.caches
        ]
    if estate.tables:
        document["tables"] = [{"name": t.name, "table": t.name} for t in estate.tables]
        for table in estate.tables:
            _create_table(table.name)
    plan = plans.parse(_merged(document, scenario.plan), f"scenario {scenario.name}")
    for zone in plan.zones if plan.traffic.mode == "upsert" else []:
        starting = [
            {"Action": "CREATE", "ResourceRecordSet": spec.record_set(estate.records.get(spec.name, PRIMARY_REGION))}
            for spec in zone.records
            if spec.name not in estate.absent_records
        ]
        if starting:
            route53.change_resource_record_sets(HostedZoneId=zone.id, ChangeBatch={"Changes": starting})

    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="regionshift-plan-"))
    plan_file = folder / plans.PACKAGED_PLAN
    plan_file.write_bytes(plan.canonical())
    template = cfn.load()
    parameters = {
        **cfn.parameter_defaults(template),
        **plans.stack_parameters(plan, str(plan_file)),
        "AlarmName": ALARM_NAME,
        **scenario.parameters,
    }
    health = estate.health
    timelines = {checks[PRIMARY_REGION]: health.primary}
    timelines.update({checks[r]: health.regions.get(r, health.standby) for r in estate.standbys})
    deployment = _deploy_stack(template, parameters, role, targets, estate.alarm, plan, timelines)
    if plan.traffic.mode == "data-plane" and deployment.serving_checks:
        _provision_pairs(plan, deployment, estate)
    if parameters["AlarmRegion"] != STACK_REGION:
        _deploy_detector(parameters, role, estate.alarm)
    return deployment


def _provision_pairs(plan: Plan, deployment: Deployment, estate: Any) -> None:
    """Data-plane mode: the plan's records as failover pairs on the serving health checks, and the
    serving metric as a deployment leaves it (each region serving where the scenario's records point)."""
    route53 = emulated_client("route53", "us-east-1")
    for zone in plan.zones:
        changes = [
            {"Action": "CREATE", "ResourceRecordSet": rrset}
            for spec in zone.records
            if spec.name not in estate.absent_records
            for rrset in traffic.pair_record_sets(spec, plan, deployment.serving_checks)
        ]
        if changes:
            route53.change_resource_record_sets(HostedZoneId=zone.id, ChangeBatch={"Changes": changes})
    # As `regionshift plan pairs --apply` records them, in the stack region.
    deployment.store().record_pairs(plan.digest(), "deployment", datetime.now(UTC))
    # A deployment publishes no Serving datapoint: the alarms have no data (CloudWatch starts a new alarm
    # in INSUFFICIENT_DATA, "PutMetricAlarm"; moto starts it in OK) and the new health checks are healthy,
    # so the PRIMARY answers. A scenario whose records start in a standby had a failover before: its
    # run published the switch.
    serving = estate.records.get(plan.records[0][1].name, PRIMARY_REGION) if plan.records else PRIMARY_REGION
    cloudwatch = emulated_client("cloudwatch", STACK_REGION)
    for region in plan.region_names:
        name = traffic.serving_alarm(plan.name, region)
        if serving == PRIMARY_REGION:
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="created")
            continue
        value = 1.0 if region == serving else 0.0
        dimensions = [{"Name": n, "Value": v} for n, v in traffic.serving_dimensions(region)]
        cloudwatch.put_metric_data(
            Namespace=traffic.serving_namespace(plan.name),
            MetricData=[{"MetricName": traffic.SERVING_METRIC, "Dimensions": dimensions, "Value": value}],
        )
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="OK" if value else "ALARM", StateReason="an earlier run's switch"
        )


def _merged(base: Any, overrides: Any) -> Any:
    """``overrides`` merged into ``base``, mappings key by key (a scenario changes one rail, not all);
    a list of mappings as long as the one it overrides item by item (a key added to each standby, such
    as its ``probeUrl``); any other value replaces what it overrides."""
    if isinstance(base, dict) and isinstance(overrides, dict):
        merged = copy.deepcopy(base)
        for key, value in overrides.items():
            merged[key] = _merged(base.get(key), value) if key in base else value
        return merged
    if (
        isinstance(base, list)
        and isinstance(overrides, list)
        and len(base) == len(overrides)
        and all(isinstance(item, dict) for item in [*base, *overrides])
    ):
        return [_merged(b, o) for b, o in zip(base, overrides, strict=True)]
    return overrides


def _create_table(name: str) -> None:
    """A global table's replica in the primary region (the emulator's global-table model adds the others)."""
    emulated_client("dynamodb", PRIMARY_REGION).create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _create_db(client: Any, identifier: str, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = client.create_db_instance(
        DBInstanceIdentifier=identifier,
        Tags=tags or [],
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="emulated-only",
        AllocatedStorage=100,
    )["DBInstance"]
    return instance


def _deploy_stack(
    document: dict[str, Any],
    parameters: dict[str, Any],
    role: str,
    targets: dict[str, str],
    alarm_overrides: dict[str, Any],
    plan: Plan,
    health: dict[str, list[HealthPoint]],
) -> Deployment:
    """template.yaml's resources, as CloudFormation would create them in the stack's region."""
    region = STACK_REGION
    ctx = cfn.Context(parameters=parameters, region=region, account=ACCOUNT)
    ctx.conditions = cfn.evaluate_conditions(document, ctx)
    sns = emulated_client("sns", region)
    sqs = emulated_client("sqs", region)
    topic_arn = sns.create_topic(Name="regionshift-notifications")["TopicArn"]
    ctx.refs["NotificationTopic"] = topic_arn
    notification_queue = sqs.create_queue(QueueName="regionshift-notifications-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=notification_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    table_props = document["Resources"]["RunTable"]["Properties"]
    table = emulated_client("dynamodb", region).create_table(
        TableName="regionshift-runs",
        AttributeDefinitions=table_props["AttributeDefinitions"],
        KeySchema=table_props["KeySchema"],
        BillingMode=table_props["BillingMode"],
    )["TableDescription"]
    ctx.refs["RunTable"] = table["TableName"]
    ctx.attrs[("RunTable", "Arn")] = table["TableArn"]
    key = emulated_client("kms", region).create_key(Description="emulated notification key")["KeyMetadata"]
    ctx.refs["NotificationKey"] = key["KeyId"]
    ctx.attrs[("NotificationKey", "Arn")] = key["Arn"]
    report_bucket = _create_report_bucket(document, ctx)

    lam = emulated_client("lambda", region)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("README.txt", "handlers run in-process from functions/")
    functions: dict[str, str] = {}
    # The serving health checks before the functions: their settings name them (SERVING_CHECK_IDS).
    checks = _create_health_checks(document, ctx, ctx.conditions)
    serving = traffic.serving_checks(plan, checks.get("PrimaryServingCheck"), checks.get("StandbyServingCheck"))
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

    logical_id, props, pattern = cfn.state_machine(document)
    machine_arn = emulated_client("stepfunctions", region).create_state_machine(
        name=cfn.resolve(props.get("Name", "regionshift"), ctx),
        definition=cfn.definition(props, ctx),
        roleArn=role,
    )["stateMachineArn"]
    ctx.refs[logical_id] = machine_arn
    others = {}
    for other_id, other_props in cfn.other_state_machines(document):
        others[other_id] = emulated_client("stepfunctions", region).create_state_machine(
            name=cfn.resolve(other_props["Name"], ctx), definition=cfn.definition(other_props, ctx), roleArn=role
        )["stateMachineArn"]
        ctx.refs[other_id] = others[other_id]

    # moto's EventBridge has no Step Functions target: the rule (the template's own pattern)
    # delivers to a queue, and the drill starts one execution per delivered event.
    events = emulated_client("events", region)
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
    _queue(ctx, "RuleDeadLetterQueue", "regionshift-rule-dead-letters")
    _create_alarms(document, ctx, ctx.conditions, alarm_overrides)
    return Deployment(
        plan=plan,
        parameters=parameters,
        state_machine_arn=machine_arn,
        manual_run_arn=others["ManualRunStateMachine"],
        topic_arn=topic_arn,
        table_arn=table["TableArn"],
        notification_queue=notification_queue,
        event_queue=event_queue,
        functions=functions,
        targets=targets,
        guard=iam.Guard.from_template(document, ctx, functions),
        report_bucket=report_bucket,
        health=health,
        serving_checks=serving,
    )


# The names CloudFormation's AWS::S3::Bucket rule properties have in S3's PutBucketLifecycleConfiguration
# ("AWS::S3::Bucket Rule", CloudFormation User Guide; "PutBucketLifecycleConfiguration", S3 API Reference).
_LIFECYCLE_RULE = {
    "Id": lambda v: {"ID": v},
    "Status": lambda v: {"Status": v},
    "Prefix": lambda v: {"Filter": {"Prefix": v}},
    "ExpirationInDays": lambda v: {"Expiration": {"Days": int(v)}},
}


def _create_report_bucket(document: dict[str, Any], ctx: cfn.Context) -> str:
    """ReportBucket and its policy as CloudFormation creates them from the template's properties: the
    name (generated when none is given, as CloudFormation does), default encryption, public access
    block and lifecycle rules. Its policy is not modelled: its only statement denies plain HTTP, which
    boto3 does not use."""
    props = cfn.resolve(document["Resources"]["ReportBucket"]["Properties"], ctx)
    modelled = {"BucketName", "BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls"}
    unknown = set(props) - modelled - {"LifecycleConfiguration"}
    if unknown:
        raise cfn.ResolveError(f"ReportBucket: properties {sorted(unknown)} are not modelled by the emulator")
    name = str(props.get("BucketName") or "regionshift-reportbucket-emulated")
    s3 = emulated_client("s3", ctx.region)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region})
    s3.put_bucket_encryption(
        Bucket=name,
        # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault
        # ("AWS::S3::Bucket ServerSideEncryptionRule", CloudFormation User Guide).
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
        },
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    rules = []
    for rule in props["LifecycleConfiguration"]["Rules"]:
        if set(rule) - set(_LIFECYCLE_RULE):
            raise cfn.ResolveError(f"ReportBucket: lifecycle rule keys {sorted(set(rule) - set(_LIFECYCLE_RULE))}")
        rules.append({k: v for key, value in rule.items() for k, v in _LIFECYCLE_RULE[key](value).items()})
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    ctx.refs["ReportBucket"] = name
    ctx.attrs[("ReportBucket", "Arn")] = f"arn:aws:s3:::{name}"
    # The bucket policy is resolved (so that a template error shows here) but not put on moto: moto's
    # bucket-policy check ignores Condition, so the TLS-only Deny would refuse every request.
    cfn.resolve(document["Resources"]["ReportBucketPolicy"]["Properties"]["PolicyDocument"], ctx)
    return name


def _deploy_detector(parameters: dict[str, Any], role: str, alarm_overrides: dict[str, Any]) -> None:
    """detector.yaml in the alarm's region: the alarm(s), and the rule forwarding the alarm's state
    changes to the orchestrator region's default bus."""
    detector = cfn.load(cfn.stack_root() / "detector.yaml")
    region = parameters["AlarmRegion"]
    ctx = cfn.Context(parameters={**parameters, "OrchestratorRegion": STACK_REGION}, region=region, account=ACCOUNT)
    ctx.attrs[("ForwardRole", "Arn")] = role
    ctx.attrs[("PrimaryUnhealthyAlarm", "Arn")] = (
        f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{parameters['AlarmName']}"
    )
    _queue(ctx, "ForwardDeadLetterQueue", "regionshift-detector-dead-letters")
    ctx.refs["AlertTopic"] = emulated_client("sns", region).create_topic(Name="regionshift-detector-alerts")["TopicArn"]
    _create_alarms(detector, ctx, {}, alarm_overrides)
    rule = cfn.resolve(detector["Resources"]["ForwardAlarmRule"]["Properties"], ctx)
    events = emulated_client("events", region)
    events.put_rule(Name="regionshift-detector-forward", EventPattern=json.dumps(rule["EventPattern"]))
    events.put_targets(Rule="regionshift-detector-forward", Targets=rule["Targets"])


def _queue(ctx: cfn.Context, logical_id: str, name: str) -> None:
    sqs = emulated_client("sqs", ctx.region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    ctx.refs[logical_id] = url
    ctx.attrs[(logical_id, "QueueName")] = name
    ctx.attrs[(logical_id, "Arn")] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _create_alarms(
    document: dict[str, Any], ctx: cfn.Context, conditions: dict[str, bool], overrides: dict[str, Any]
) -> None:
    """Every ``AWS::CloudWatch::Alarm`` the document declares (whose condition holds), in its region;
    ``overrides`` replace properties of the plan's health-check alarm (a scenario's misconfiguration)."""
    cloudwatch = emulated_client("cloudwatch", ctx.region)
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm" or not conditions.get(resource.get("Condition", ""), True):
            continue
        props = cfn.resolve(resource["Properties"], ctx)
        props.setdefault("AlarmName", f"regionshift-{logical_id}")
        if logical_id == "PrimaryUnhealthyAlarm":
            props.update(overrides)
        cloudwatch.put_metric_alarm(**props)
        ctx.refs[logical_id] = props["AlarmName"]  # Ref of an AWS::CloudWatch::Alarm is its name


def _create_health_checks(document: dict[str, Any], ctx: cfn.Context, conditions: dict[str, bool]) -> dict[str, str]:
    """Every ``AWS::Route53::HealthCheck`` the document declares (whose condition holds): logical id -> id."""
    route53 = emulated_client("route53", "us-east-1")
    created = {}
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Route53::HealthCheck" or not conditions.get(resource.get("Condition", ""), True):
            continue
        alarm = resource["Properties"]["HealthCheckConfig"].get("AlarmIdentifier", {}).get("Name")
        if isinstance(alarm, dict) and "Ref" in alarm:
            # Ref of an AWS::CloudWatch::Alarm is its name; the alarm itself is created with the others.
            ctx.refs[alarm["Ref"]] = cfn.resolve(document["Resources"][alarm["Ref"]]["Properties"]["AlarmName"], ctx)
        props = cfn.resolve(resource["Properties"], ctx)
        created[logical_id] = route53.create_health_check(
            CallerReference=f"regionshift-{logical_id}", HealthCheckConfig=props["HealthCheckConfig"]
        )["HealthCheck"]["Id"]
        ctx.refs[logical_id] = created[logical_id]
    return created
