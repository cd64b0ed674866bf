"""Thin adapters over the AWS APIs the steps call. Each translates ``ClientError`` into a domain
error so that the state machine can name it."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from failover import history
from failover.clients import CallKind, call, error_code
from failover.errors import (
    DnsUpdateError,
    FencingError,
    NotificationError,
    PromotionError,
    ReportError,
    TransientAwsError,
)
from failover.models import CheckerVotes, ReplicaState


@dataclass(frozen=True)
class Record:
    """A record as Route 53 holds it: a CNAME's value, or an alias's target DNS name (``alias``)."""

    name: str
    type: str
    value: str
    ttl: int | None = None
    alias: bool = False
    # A failover record's role (PRIMARY / SECONDARY) and its health check; None for a simple record.
    failover: str | None = None
    health_check_id: str | None = None

    @property
    def shown(self) -> str:
        return f"ALIAS {self.value}" if self.alias else self.value


def _bare(name: str) -> str:
    return name.lower().removesuffix(".")


def record_of(rrset: dict[str, Any]) -> Record | None:
    """A ``ResourceRecordSet`` as ListResourceRecordSets gives it, as the run compares records (None: no
    value, e.g. a record of another type of routing with no record to compare)."""
    role, check = rrset.get("Failover"), rrset.get("HealthCheckId")
    name, alias = _bare(rrset["Name"]), rrset.get("AliasTarget")
    if alias:
        return Record(name, rrset["Type"], _bare(alias["DNSName"]), None, True, role, check)
    if rrset.get("ResourceRecords"):
        value = _bare(rrset["ResourceRecords"][0]["Value"])
        return Record(name, rrset["Type"], value, int(rrset["TTL"]), False, role, check)
    return None


class Route53:
    def __init__(self, client: Any) -> None:
        self._client = client

    def checker_votes(self, health_check_id: str, healthy_percent_needed: int) -> CheckerVotes:
        """Count the per-checker observations (each Route 53 checker region votes on its own).

        Route 53 considers an endpoint healthy when more than 18% of its checkers report it healthy
        ("How Amazon Route 53 determines whether a health check is healthy",
        https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html);
        the plan's ``healthy_percent_needed`` plays that role, compared the same way: strictly more than.
        """
        answer = call(
            CallKind.READ,
            TransientAwsError,
            f"GetHealthCheckStatus {health_check_id}",
            lambda: self._client.get_health_check_status(HealthCheckId=health_check_id),
        )
        reports = [o.get("StatusReport", {}).get("Status", "") for o in answer.get("HealthCheckObservations", [])]
        healthy = sum(1 for status in reports if status.startswith("Success"))
        return CheckerVotes.tally(health_check_id, healthy, len(reports) - healthy, healthy_percent_needed)

    def records(self, zone_id: str, names: set[str]) -> dict[tuple[str, str], Record]:
        """The zone's simple records named in ``names``, keyed by (name, type). Weighted, latency and
        other routing-policy records (with a SetIdentifier) are not plan records in upsert mode."""
        return {(r.name, r.type): r for r in self._read(zone_id, names) if r.failover is None}

    def pairs(self, zone_id: str, names: set[str]) -> dict[tuple[str, str], dict[str, Record]]:
        """The zone's failover records named in ``names``: (name, type) -> {PRIMARY: ..., SECONDARY: ...}."""
        found: dict[tuple[str, str], dict[str, Record]] = {}
        for record in self._read(zone_id, names):
            if record.failover is not None:
                found.setdefault((record.name, record.type), {})[record.failover] = record
        return found

    def _read(self, zone_id: str, names: set[str]) -> Iterator[Record]:
        """Every record of the zone named in ``names``: the whole zone is read, page by page (up to 300
        records a page, "ListResourceRecordSets", Amazon Route 53 API Reference), so the calls grow with
        the zone's size, not with the plan's records. Other routing policies than failover are skipped."""
        start: dict[str, str] = {}
        while True:
            page = call(
                CallKind.READ,
                DnsUpdateError,
                f"ListResourceRecordSets {zone_id}",
                partial(self._client.list_resource_record_sets, HostedZoneId=zone_id, MaxItems="300", **start),
            )
            for rrset in page.get("ResourceRecordSets", []):
                if "SetIdentifier" in rrset and "Failover" not in rrset:
                    continue
                record = record_of(rrset)
                if record is not None and record.name in names:
                    yield record
            if not page.get("IsTruncated"):
                return
            start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
            if "NextRecordIdentifier" in page:
                start["StartRecordIdentifier"] = page["NextRecordIdentifier"]

    def upsert(self, zone_id: str, record_sets: list[dict[str, Any]], comment: str) -> str:
        """Apply every record set in one atomic change batch of UPSERTs; returns the change id."""
        batch = {
            "Comment": comment[:256],
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset} for rrset in record_sets],
        }
        answer = call(
            CallKind.WRITE,
            DnsUpdateError,
            f"ChangeResourceRecordSets {zone_id}",
            lambda: self._client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch),
        )
        return str(answer["ChangeInfo"]["Id"])

    def change_status(self, change_id: str) -> str:
        answer = call(
            CallKind.READ, DnsUpdateError, f"GetChange {change_id}", lambda: self._client.get_change(Id=change_id)
        )
        return str(answer["ChangeInfo"]["Status"])


# What RDS answers for an instance that does not exist, and IAM for one the role may not touch.
NOT_FOUND = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class Rds:
    def __init__(self, client: Any) -> None:
        self._client = client

    def describe(self, identifier: str, database: str = "", region: str = "") -> ReplicaState:
        try:
            answer = call(
                CallKind.READ,
                PromotionError,
                f"DescribeDBInstances {identifier}",
                lambda: self._client.describe_db_instances(DBInstanceIdentifier=identifier),
                passthrough=NOT_FOUND | ACCESS_DENIED,
            )
        except ClientError as exc:
            if error_code(exc) in ACCESS_DENIED:
                # The stack's role may act only on the plan's tagged replicas: this one is out of its reach.
                return ReplicaState(identifier=identifier, database=database, region=region, exists=True, denied=True)
            return ReplicaState(identifier=identifier, database=database, region=region, exists=False)
        instance = answer["DBInstances"][0]
        return ReplicaState(
            identifier=identifier,
            database=database,
            region=region,
            exists=True,
            status=instance.get("DBInstanceStatus"),
            source=instance.get("ReadReplicaSourceDBInstanceIdentifier"),
            endpoint=(instance.get("Endpoint") or {}).get("Address"),
        )

    def promote(self, identifier: str) -> bool:
        """Promote the replica; ``True`` when it was already standalone (a retried call)."""
        try:
            call(
                CallKind.WRITE,
                PromotionError,
                f"PromoteReadReplica {identifier}",
                lambda: self._client.promote_read_replica(DBInstanceIdentifier=identifier, BackupRetentionPeriod=7),
                passthrough=frozenset({"InvalidDBInstanceState"}),
            )
        except ClientError as exc:
            # RDS answers InvalidDBInstanceState when the instance is not a replica any more,
            # which is what a retry after a lost response sees: that counts as promoted.
            state = self.describe(identifier)
            if state.denied:
                raise PromotionError(f"PromoteReadReplica {identifier}: {error_code(exc)}: {exc}") from exc
            if state.exists and state.source is None:
                return True
            if state.exists and state.status != "available":
                # Assess saw it available before the first attempt: an earlier attempt of this step
                # was accepted and the promotion is under way. PromotionStatus polls it to the end
                # (and fails the run, honestly, if it never becomes a standalone instance).
                return True
            raise PromotionError(f"PromoteReadReplica {identifier}: {error_code(exc)}: {exc}") from exc
        return False

    def stop(self, identifier: str) -> str:
        """Stop an old primary so that it takes no more writes; returns ``stopping``, or ``stopped``
        (already), ``gone`` (no such instance) or ``denied`` (not tagged for the plan).

        RDS refuses with InvalidDBInstanceState an instance that is not ``available`` and one it cannot
        stop ("StopDBInstance", Amazon RDS API Reference; the limitations in "Stopping an Amazon RDS DB
        instance temporarily": an instance with read replicas, Multi-AZ SQL Server): a retried step finds
        it stopping or stopped, which counts as done; any other refusal is a ``FencingError``.
        """
        what = f"StopDBInstance {identifier}"
        try:
            call(
                CallKind.WRITE,
                FencingError,
                what,
                lambda: self._client.stop_db_instance(DBInstanceIdentifier=identifier),
                passthrough=NOT_FOUND | ACCESS_DENIED | REFUSED_STATE,
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in NOT_FOUND:
                return "gone"
            if code in ACCESS_DENIED:
                return "denied"
            state = self.describe(identifier)
            if state.exists and not state.denied and state.status in ("stopping", "stopped"):
                return "stopped"
            message = exc.response.get("Error", {}).get("Message", "")
            raise FencingError(f"{what}: {code}: {message}") from exc
        return "stopping"


# What RDS answers for an instance (or, moto, a cluster) it cannot act on in its present state.
REFUSED_STATE = frozenset({"InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault"})


@dataclass(frozen=True)
class LagMetric:
    """A CloudWatch metric that says how far a replica is behind its writer."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    per_second: float = 1.0  # the metric's units in one second (1000 for milliseconds)

    @property
    def what(self) -> str:
        return f"{self.name} {' '.join(v for _, v in self.dimensions)}"


def replica_lag(identifier: str) -> LagMetric:
    """An RDS read replica's ``ReplicaLag`` (seconds), published in the replica's region ("Amazon
    CloudWatch metrics for Amazon RDS", Amazon RDS User Guide)."""
    return LagMetric("AWS/RDS", "ReplicaLag", (("DBInstanceIdentifier", identifier),))


def aurora_rpo_lag(cluster: str) -> LagMetric:
    """An Aurora global database secondary's ``AuroraGlobalDBRPOLag`` (milliseconds: the writes a
    failover to it could lose), published in the secondary's region ("Monitoring Amazon Aurora Global
    Database", Amazon Aurora User Guide)."""
    return LagMetric("AWS/RDS", "AuroraGlobalDBRPOLag", (("DBClusterIdentifier", cluster),), per_second=1000.0)


def table_replication_latency(table: str, receiving_region: str) -> LagMetric:
    """A global table's ``ReplicationLatency`` to ``receiving_region`` (milliseconds), published in the
    sending replica's region ("DynamoDB metrics and dimensions", Amazon DynamoDB Developer Guide)."""
    return LagMetric(
        "AWS/DynamoDB",
        "ReplicationLatency",
        (("TableName", table), ("ReceivingRegion", receiving_region)),
        per_second=1000.0,
    )


# What DescribeAlarms shows of a metric alarm (on a single metric) that PutMetricAlarm takes back.
ALARM_SETTINGS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
)


class CloudWatch:
    def __init__(self, client: Any) -> None:
        self._client = client

    def lag(self, metric: LagMetric, now: datetime, window_seconds: int = 300) -> float | None:
        """The most recent datapoint of ``metric`` within the window, in seconds, or ``None``."""
        answer = call(
            CallKind.READ,
            TransientAwsError,
            f"GetMetricStatistics {metric.what}",
            lambda: self._client.get_metric_statistics(
                Namespace=metric.namespace,
                MetricName=metric.name,
                Dimensions=[{"Name": n, "Value": v} for n, v in metric.dimensions],
                StartTime=now - timedelta(seconds=window_seconds),
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            ),
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return float(points[-1]["Maximum"]) / metric.per_second if points else None

    def replica_lag(self, identifier: str, now: datetime, window_seconds: int = 300) -> float | None:
        return self.lag(replica_lag(identifier), now, window_seconds)

    def publish(self, namespace: str, metrics: list[tuple[str, list[tuple[str, str]], float]], now: datetime) -> None:
        """One PutMetricData of ``(name, dimensions, value)`` datapoints stamped ``now`` (a regional
        data-plane call; up to 1,000 metrics a request, "PutMetricData", Amazon CloudWatch API Reference)."""
        data = [
            {
                "MetricName": name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                "Timestamp": now,
                "Value": value,
            }
            for name, dims, value in metrics
        ]
        call(
            CallKind.WRITE,
            TransientAwsError,
            f"PutMetricData {namespace}",
            lambda: self._client.put_metric_data(Namespace=namespace, MetricData=data),
        )

    def watch(self, name: str, dimension: str, value: str) -> str | None:
        """Make the metric alarm ``name`` watch ``value`` in its ``dimension``, every other setting kept:
        the value it watched before (``value`` itself when nothing changed), or None when there is no
        such alarm. PutMetricAlarm overwrites the whole configuration and leaves the state unchanged
        ("PutMetricAlarm", Amazon CloudWatch API Reference), so it is read first and written back whole."""
        found = call(
            CallKind.READ,
            TransientAwsError,
            f"DescribeAlarms {name}",
            lambda: self._client.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"]),
        ).get("MetricAlarms", [])
        if not found:
            return None
        alarm = found[0]
        dimensions = [dict(d) for d in alarm.get("Dimensions", [])]
        before = next((d["Value"] for d in dimensions if d["Name"] == dimension), None)
        if before == value:
            return value
        for d in dimensions:
            if d["Name"] == dimension:
                d["Value"] = value
        kept = {k: alarm[k] for k in ALARM_SETTINGS if alarm.get(k) not in (None, [])}
        call(
            CallKind.WRITE,
            TransientAwsError,
            f"PutMetricAlarm {name}",
            lambda: self._client.put_metric_alarm(**kept, Dimensions=dimensions),
        )
        return before

    def alarm_states(self, names: list[str]) -> dict[str, str]:
        """The state of each named metric alarm that exists (a missing one is left out)."""
        answer = call(
            CallKind.READ,
            TransientAwsError,
            f"DescribeAlarms {', '.join(names)}",
            lambda: self._client.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"]),
        )
        return {str(a["AlarmName"]): str(a["StateValue"]) for a in answer.get("MetricAlarms", [])}


class Sns:
    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, topic_arn: str, subject: str, message: str, outcome: str) -> str:
        # A publish repeated after a lost response may deliver twice; a duplicate page beats none.
        answer = call(
            CallKind.WRITE,
            NotificationError,
            f"Publish {topic_arn}",
            lambda: self._client.publish(
                TopicArn=topic_arn,
                Subject=subject[:100],
                Message=message,
                MessageAttributes={"outcome": {"DataType": "String", "StringValue": outcome}},
            ),
        )
        return str(answer["MessageId"])


class StepFunctions:
    def __init__(self, client: Any) -> None:
        self._client = client

    def history(self, execution_arn: str, max_events: int) -> list[dict[str, Any]]:
        """The execution's first ``max_events`` events (GetExecutionHistory pages of up to 1000,
        "GetExecutionHistory", AWS Step Functions API Reference)."""
        return call(
            CallKind.READ,
            ReportError,
            f"GetExecutionHistory {execution_arn}",
            lambda: history.history(self._client, execution_arn, max_events),
        )


class S3:
    def __init__(self, client: Any) -> None:
        self._client = client

    def put(self, bucket: str, key: str, content_type: str, text: str) -> None:
        # A PutObject repeated after a lost response writes the same object again: idempotent. The
        # bucket's default encryption applies to it ("Setting default server-side encryption
        # behavior for Amazon S3 buckets", Amazon S3 User Guide).
        call(
            CallKind.WRITE,
            ReportError,
            f"PutObject s3://{bucket}/{key}",
            lambda: self._client.put_object(
                Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type
            ),
        )
