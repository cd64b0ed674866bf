"""The members of a plan's moved resources, whatever their kind: read one in a region, move the writer
to it. Every step that reads or moves a member goes through ``read`` and ``move`` here, so the kinds
differ in one place only.

* ``rds-instance``: an RDS read replica, promoted with ``PromoteReadReplica`` (``adapters.Rds``).
* ``aurora-global``: an Aurora global database's secondary cluster, made the writer with
  ``FailoverGlobalCluster`` and ``AllowDataLoss`` (the managed failover for an outage of the
  primary's region: "Using failover in an Amazon Aurora global database", Amazon Aurora User Guide);
  in a planned switchover with ``SwitchoverGlobalCluster``, which loses nothing ("Performing
  switchovers for Amazon Aurora global databases", Amazon Aurora User Guide:
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
* ``elasticache-global``: a global datastore's member, made its primary with
  ``FailoverGlobalReplicationGroup`` ("Promoting the secondary cluster to primary", Amazon
  ElastiCache User Guide).

A member's ``source`` is the ARN of the writer it follows; ``None`` means it is the writer.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from failover.adapters import ACCESS_DENIED, CloudWatch, Rds, aurora_rpo_lag, replica_lag, table_replication_latency
from failover.clients import CallKind, call, error_code
from failover.errors import PromotionError, TransientAwsError
from failover.models import ReplicaState, TableState
from failover.plan import GlobalTable, Movable, Plan


class Readers(Protocol):
    """Where members are read and moved: the steps' ``Runtime``, or ``regionshift check``'s readers."""

    @property
    def plan(self) -> Plan: ...
    def rds(self, region: str) -> Rds: ...
    def aurora(self, region: str) -> "AuroraGlobal": ...
    def datastore(self, region: str) -> "GlobalDatastore": ...
    def tables(self, region: str) -> "GlobalTables": ...
    def cloudwatch(self, region: str) -> CloudWatch: ...


# What each service answers for a resource that does not exist.
AURORA_NOT_FOUND = frozenset({"GlobalClusterNotFoundFault", "DBClusterNotFoundFault"})
DATASTORE_NOT_FOUND = frozenset({"GlobalReplicationGroupNotFoundFault"})
TABLE_NOT_FOUND = frozenset({"ResourceNotFoundException"})


def _arn_member(arn: str) -> tuple[str, str]:
    """(region, identifier) of ``arn:aws:rds:<region>:<account>:cluster:<identifier>``."""
    parts = arn.split(":")
    return (parts[3], parts[6]) if len(parts) == 7 else ("", arn)


@dataclass(frozen=True)
class GlobalView:
    """A global resource as its Describe answers: its status, its writer, a failover under way."""

    status: str
    writer: str | None  # the writer member's ARN
    moving_to: str | None  # the member a failover or switchover under way moves the writer to


class AuroraGlobal:
    """An Aurora global database, read and failed over from one region's RDS endpoint."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _global(self, global_id: str, passthrough: frozenset[str] = AURORA_NOT_FOUND | ACCESS_DENIED) -> dict[str, Any]:
        """The global cluster; codes not in ``passthrough`` become domain errors (``clients.translate``)."""
        answer = call(
            CallKind.READ,
            PromotionError,
            f"DescribeGlobalClusters {global_id}",
            lambda: self._client.describe_global_clusters(GlobalClusterIdentifier=global_id),
            passthrough=passthrough,
        )
        return dict(answer["GlobalClusters"][0])

    def describe(self, global_id: str, identifier: str, name: str, region: str) -> ReplicaState:
        base = {"identifier": identifier, "database": name, "region": region, "kind": "aurora-global"}
        try:
            found = self._global(global_id)
            cluster = call(
                CallKind.READ,
                PromotionError,
                f"DescribeDBClusters {identifier}",
                lambda: self._client.describe_db_clusters(DBClusterIdentifier=identifier),
                passthrough=AURORA_NOT_FOUND | ACCESS_DENIED,
            )["DBClusters"][0]
        except ClientError as exc:
            denied = error_code(exc) in ACCESS_DENIED
            return ReplicaState(**base, global_id=global_id, exists=denied, denied=denied)  # type: ignore[arg-type]
        members = found.get("GlobalClusterMembers", [])
        arn = str(cluster.get("DBClusterArn", ""))
        mine = next((m for m in members if m.get("DBClusterArn") == arn), None)
        if mine is None:
            # A cluster outside the global database (detached, or another one) is no failover target.
            return ReplicaState(**base, global_id=global_id, exists=False)  # type: ignore[arg-type]
        view = self._view(found)
        if view.moving_to is not None:
            status = str(found.get("Status") or "failing-over")
        elif view.status != "available":
            status = view.status
        elif mine.get("SynchronizationStatus") == "pending-resync":
            # Not caught up with the writer (an old primary rejoining after a failover with data loss):
            # no failover target until Aurora has resynchronised it ("GlobalClusterMember", RDS API Reference).
            status = "pending-resync"
        else:
            status = str(cluster.get("Status"))
        writer = view.writer == arn and view.moving_to is None
        return ReplicaState(
            **base,  # type: ignore[arg-type]
            global_id=global_id,
            exists=True,
            status=status,
            source=None if writer else (view.writer or "no writer"),
            incoming=view.moving_to == arn,
            endpoint=cluster.get("Endpoint"),
        )

    @staticmethod
    def _view(found: dict[str, Any]) -> GlobalView:
        writer = next((m["DBClusterArn"] for m in found.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)
        failover = found.get("FailoverState") or {}
        # "cancelling" moves the writer nowhere: the global cluster is busy (its Status says so).
        under_way = ("pending", "failing-over", "switching-over")
        moving = failover.get("ToDbClusterArn") if failover.get("Status") in under_way else None
        return GlobalView(str(found.get("Status", "")), writer, moving)

    def fail_over(self, global_id: str, identifier: str, region: str, switchover: bool = False) -> bool:
        """Make ``identifier`` the writer, accepting the loss of what it has not received (the run's
        data-loss rail was checked before); in a ``switchover``, losing nothing (Aurora synchronises the
        secondary first). ``True`` when it already is, or a move to it is under way (a retried call whose
        first response was lost)."""
        found = self._global(global_id, frozenset())
        arn = self._arn(found, identifier, region)
        view = self._view(found)
        if view.moving_to == arn or (view.writer == arn and view.moving_to is None):
            return True
        operation = "SwitchoverGlobalCluster" if switchover else "FailoverGlobalCluster"
        try:
            call(
                CallKind.WRITE,
                PromotionError,
                f"{operation} {global_id} to {identifier}",
                lambda: (
                    self._client.switchover_global_cluster(
                        GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=arn
                    )
                    if switchover
                    else self._client.failover_global_cluster(
                        GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=arn, AllowDataLoss=True
                    )
                ),
                passthrough=frozenset({"InvalidGlobalClusterStateFault"}),
            )
        except ClientError as exc:
            # Refused because a failover is under way or done: ours (a lost response) counts as done.
            view = self._view(self._global(global_id, frozenset()))
            if view.moving_to == arn or view.writer == arn:
                return True
            moving = f", a failover to {view.moving_to} is under way" if view.moving_to else ""
            raise PromotionError(f"{operation} {global_id} to {identifier}: {error_code(exc)}: {exc}{moving}") from exc
        return False

    @staticmethod
    def _arn(found: dict[str, Any], identifier: str, region: str) -> str:
        """The member's ARN: matched by region and identifier (clusters may share a name across regions)."""
        for member in found.get("GlobalClusterMembers", []):
            if _arn_member(str(member.get("DBClusterArn"))) == (region, identifier):
                return str(member["DBClusterArn"])
        raise PromotionError(
            f"{identifier} in {region} is not a member of global cluster {found.get('GlobalClusterIdentifier')}"
        )


class GlobalDatastore:
    """An ElastiCache global datastore, read and failed over from one region's endpoint."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _global(self, global_id: str) -> dict[str, Any]:
        answer = call(
            CallKind.READ,
            PromotionError,
            f"DescribeGlobalReplicationGroups {global_id}",
            lambda: self._client.describe_global_replication_groups(
                GlobalReplicationGroupId=global_id, ShowMemberInfo=True
            ),
            passthrough=DATASTORE_NOT_FOUND | ACCESS_DENIED,
        )
        return dict(answer["GlobalReplicationGroups"][0])

    @staticmethod
    def member_arn(found: dict[str, Any], region: str, identifier: str) -> str:
        """A member replication group's ARN (the account is the global datastore's)."""
        account = str(found.get("ARN", "arn:aws:elasticache::000000000000:")).split(":")[4]
        return f"arn:aws:elasticache:{region}:{account}:replicationgroup:{identifier}"

    def describe(self, global_id: str, identifier: str, name: str, region: str) -> ReplicaState:
        base = {"identifier": identifier, "database": name, "region": region, "kind": "elasticache-global"}
        try:
            found = self._global(global_id)
        except ClientError as exc:
            denied = error_code(exc) in ACCESS_DENIED
            return ReplicaState(**base, global_id=global_id, exists=denied, denied=denied)  # type: ignore[arg-type]
        members = found.get("Members", [])
        mine = next(
            (
                m
                for m in members
                if m.get("ReplicationGroupId") == identifier and m.get("ReplicationGroupRegion") == region
            ),
            None,
        )
        if mine is None:
            return ReplicaState(**base, global_id=global_id, exists=False)  # type: ignore[arg-type]
        primary = next((m for m in members if m.get("Role", "").upper() == "PRIMARY"), None)
        writer = (
            self.member_arn(found, primary["ReplicationGroupRegion"], primary["ReplicationGroupId"])
            if primary
            else "none"
        )
        # The datastore is "modifying" while a failover runs; a member is "associated" once it replicates.
        status = str(found.get("Status"))
        if status == "available" and mine.get("Status") not in (None, "associated"):
            status = str(mine.get("Status"))
        return ReplicaState(
            **base,  # type: ignore[arg-type]
            global_id=global_id,
            exists=True,
            status=status,
            source=None if mine is primary else writer,
        )

    def fail_over(self, global_id: str, identifier: str, region: str) -> bool:
        """Make the member in ``region`` the datastore's primary; ``True`` when it already is."""
        state = self.describe(global_id, identifier, "", region)
        if state.exists and not state.denied and state.source is None:
            return True
        try:
            call(
                CallKind.WRITE,
                PromotionError,
                f"FailoverGlobalReplicationGroup {global_id} to {identifier} in {region}",
                lambda: self._client.failover_global_replication_group(
                    GlobalReplicationGroupId=global_id, PrimaryRegion=region, PrimaryReplicationGroupId=identifier
                ),
                # The wire code of InvalidGlobalReplicationGroupStateFault (botocore's elasticache model).
                passthrough=frozenset({"InvalidGlobalReplicationGroupState"}),
            )
        except ClientError as exc:
            # Refused: done if this member is the primary now (our earlier request, whose answer was lost).
            # A datastore that is modifying does not say towards which member (a scale-up, an upgrade or
            # another failover look the same): asked again later (TransientAwsError), never assumed ours.
            again = self.describe(global_id, identifier, "", region)
            if again.exists and again.source is None:
                return True
            if again.status == "modifying":
                raise TransientAwsError(
                    f"FailoverGlobalReplicationGroup {global_id} to {identifier}: {error_code(exc)}: the datastore "
                    "is modifying; asked again"
                ) from exc
            raise PromotionError(
                f"FailoverGlobalReplicationGroup {global_id} to {identifier}: {error_code(exc)}: {exc}"
            ) from exc
        return False


class GlobalTables:
    """DynamoDB global tables (version 2019.11.21), read in one region."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def replica(self, name: str, table: str, region: str, primary_region: str) -> TableState:
        """The table's replica in ``region``, as ``DescribeTable`` there answers: its own status is the
        table's ``TableStatus``, and ``Replicas`` lists the global table's other replicas, which must
        include the primary region's ("DescribeTable", "ReplicaDescription", Amazon DynamoDB API
        Reference; "Global tables: how it works", Amazon DynamoDB Developer Guide)."""
        try:
            answer = call(
                CallKind.READ,
                PromotionError,
                f"DescribeTable {table} in {region}",
                lambda: self._client.describe_table(TableName=table),
                passthrough=TABLE_NOT_FOUND | ACCESS_DENIED,
            )
        except ClientError as exc:
            denied = error_code(exc) in ACCESS_DENIED
            return TableState(name=name, table=table, region=region, exists=denied, denied=denied)
        found = answer["Table"]
        replicas = {r.get("RegionName"): r.get("ReplicaStatus") for r in found.get("Replicas") or []}
        status = replicas.get(region) or found.get("TableStatus")
        return TableState(
            name=name,
            table=table,
            region=region,
            exists=True,
            status=status,
            global_with_primary=primary_region in replicas,
        )


def table_state(rt: Readers, spec: GlobalTable, region: str, now: datetime, unreachable: set[str]) -> TableState:
    """A global table's replica in ``region`` and how far behind the primary's replica it is.

    DynamoDB publishes ``ReplicationLatency`` in the sending replica's region: in an outage of the
    primary region it may not answer, and the latency is then unknown (too high, unless accepted). It
    is not asked again while ``unreachable`` names that region, so a hanging endpoint cannot run a step
    out of time.
    """
    primary = rt.plan.primary_region
    state = rt.tables(region).replica(spec.name, spec.table, region, primary)
    if not state.exists or state.denied or primary in unreachable:
        return state
    try:
        lag = rt.cloudwatch(primary).lag(table_replication_latency(spec.table, region), now)
    except TransientAwsError:
        unreachable.add(primary)
        lag = None
    return state.model_copy(update={"lag_seconds": lag})


def read(rt: Readers, resource: Movable, region: str) -> ReplicaState:
    """``resource``'s member in ``region``, read in that region."""
    member = resource.member(region, rt.plan.primary_region)
    return read_member(rt, resource.kind, resource.global_id, member, resource.name, region)


def read_member(rt: Readers, kind: str, global_id: str | None, identifier: str, name: str, region: str) -> ReplicaState:
    if kind == "aurora-global":
        return rt.aurora(region).describe(str(global_id), identifier, name, region)
    if kind == "elasticache-global":
        return rt.datastore(region).describe(str(global_id), identifier, name, region)
    return rt.rds(region).describe(identifier, name, region)


def move(rt: Readers, member: ReplicaState, switchover: bool = False) -> bool:
    """Make ``member`` its resource's writer; ``True`` when it already was (or is becoming it). A
    ``switchover`` changes Aurora's call only: a read replica's lag was drained to 0 before, and a
    datastore has the one call (``FailoverGlobalReplicationGroup``; a cache's lag holds no move back)."""
    if member.kind == "aurora-global":
        return rt.aurora(member.region).fail_over(str(member.global_id), member.identifier, member.region, switchover)
    if member.kind == "elasticache-global":
        return rt.datastore(member.region).fail_over(str(member.global_id), member.identifier, member.region)
    return rt.rds(member.region).promote(member.identifier)


def lag_seconds(rt: Readers, member: ReplicaState, now: datetime) -> float | None:
    metric = lag_metric(member)
    return None if metric is None else rt.cloudwatch(member.region).lag(metric, now)


def lag_metric(replica: ReplicaState) -> Any:
    """The metric that says how much a failover to this member could lose (none for a cache: its
    contents are rebuilt by the application, so its lag does not hold a failover back)."""
    if replica.kind == "rds-instance":
        return replica_lag(replica.identifier)
    if replica.kind == "aurora-global":
        return aurora_rpo_lag(replica.identifier)
    return None
