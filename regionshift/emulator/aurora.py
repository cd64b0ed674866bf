"""Aurora Global Database failover and switchover, which moto 5.2.5 does not implement.

moto keeps global clusters (always in its us-east-1 backend, as its ``RDSResponse.global_backend``
does), their member DB clusters and each member's ``is_writer``; this model stays in front of it and
writes the outcome of each operation back into it, so moto remains the source of truth for who is
the writer. What moto lacks and this models:

* ``FailoverGlobalCluster`` / ``SwitchoverGlobalCluster`` (moto raises ``NotImplementedError``):
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html
* ``FailoverState`` while an operation is under way, ``pending`` then ``failing-over`` or
  ``switching-over``, empty once it completed ("This data type is empty unless a switchover or
  failover operation is scheduled or is in progress"):
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html
* at completion the target member is the writer; after a switchover the old primary is a secondary
  ("demotes the current primary cluster to a secondary (read-only) cluster", SwitchoverGlobalCluster);
  after a failover allowing data loss the old primary is a secondary that must be resynchronised
  when its Region is back (``SynchronizationStatus`` ``pending-resync`` until ``recover``):
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html#aurora-global-database-failover
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_GlobalClusterMember.html
* ``DescribeGlobalClusters`` filtered by ``GlobalClusterIdentifier`` (moto lists every global
  cluster and never answers ``GlobalClusterNotFoundFault``), with ``FailoverState``.
* ``AuroraGlobalDBRPOLag`` (and ``AuroraGlobalDBReplicationLag``), milliseconds, namespace
  ``AWS/RDS``, dimension ``DBClusterIdentifier``, published for each secondary cluster in its Region:
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html#Aurora.AuroraMySQL.Monitoring.Metrics.clusters
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.engine import VirtualClock, untracked
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.timed import Model, Operation, metric_names, put_metric, seconds_or_stuck, service_error

# moto stores every global cluster in this Region's backend (moto.rds.responses.RDSResponse.global_backend).
MOTO_GLOBAL_REGION = "us-east-1"
LAG_METRICS = ("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag")

# FailoverState.Status while the operation runs, after its ``pending`` verification (API_FailoverState).
_RUNNING = {"failover": "failing-over", "switchover": "switching-over"}


@dataclass
class _Global:
    identifier: str
    clusters: dict[str, str]  # region -> DB cluster id
    failover_seconds: float
    switchover_seconds: float
    pending_seconds: float
    stuck: bool
    lag_ms: dict[str, float | None] = field(default_factory=dict)  # metric name -> value
    resync: set[str] = field(default_factory=set)  # regions of old primaries awaiting resynchronisation


def _backend(region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT][region]


def _global_cluster(identifier: str) -> Any:
    """moto's global cluster, or None."""
    return _backend(MOTO_GLOBAL_REGION).global_clusters.get(identifier)


class AuroraGlobal(Model):
    """Aurora global databases: failover and switchover over virtual time, written into moto."""

    service = "rds"

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self._globals: dict[str, _Global] = {}

    # --- seeding ------------------------------------------------------------------------------------

    def add(
        self,
        global_id: str,
        members: dict[str, str],
        writer_region: str,
        engine: str = "aurora-postgresql",
        failover_seconds: float = 60.0,
        stuck: bool = False,
        rpo_lag_ms: float | None = None,
        in_progress: bool | str = False,
        *,
        switchover_seconds: float | None = None,
        pending_seconds: float = 0.0,
        replication_lag_ms: float | None = None,
    ) -> None:
        """A global database with a DB cluster per Region, ``writer_region``'s the writer.

        Clusters missing from moto are created (the writer first: moto makes the first member the
        writer). ``in_progress``: a failover (AllowDataLoss) already under way when the run starts,
        towards the given Region, or the first secondary for ``True``. ``pending_seconds``: how long
        FailoverState stays ``pending`` (AWS documents the phase, not its length).
        """
        if writer_region not in members:
            raise ValueError(f"{global_id}: the writer Region {writer_region} has no member")
        with untracked():
            self._seed_moto(global_id, members, writer_region, engine)
        self._globals[global_id.lower()] = _Global(
            global_id.lower(),
            dict(members),
            float(failover_seconds),
            float(failover_seconds if switchover_seconds is None else switchover_seconds),
            float(pending_seconds),
            stuck,
            {"AuroraGlobalDBRPOLag": rpo_lag_ms, "AuroraGlobalDBReplicationLag": replication_lag_ms},
        )
        if in_progress:
            target = in_progress if isinstance(in_progress, str) else next(r for r in members if r != writer_region)
            self._start(self._globals[global_id.lower()], "failover", target, data_loss=True)
        self.publish_lag()

    def _seed_moto(self, global_id: str, members: dict[str, str], writer_region: str, engine: str) -> None:

        if _global_cluster(global_id) is None:
            emulated_client("rds", writer_region).create_global_cluster(
                GlobalClusterIdentifier=global_id, Engine=engine
            )
        gc = _global_cluster(global_id)
        ordered = [writer_region, *(r for r in members if r != writer_region)]
        for region in ordered:
            cluster = _backend(region).clusters.get(members[region])
            if cluster is None:
                extra = {"MasterUsername": "regionshift", "MasterUserPassword": "emulated-only"}
                emulated_client("rds", region).create_db_cluster(
                    DBClusterIdentifier=members[region],
                    Engine=engine,
                    GlobalClusterIdentifier=global_id,
                    **(extra if region == writer_region else {}),
                )
                cluster = _backend(region).clusters[members[region]]
            if cluster not in gc.members:
                gc.members.append(cluster)
                cluster.global_cluster_identifier = global_id
            cluster.is_writer = region == writer_region

    # --- ground truth -------------------------------------------------------------------------------

    def writers(self, global_id: str) -> list[str]:
        """The Regions whose member is the writer now (in moto): exactly one unless something is wrong."""
        self._settle(global_id.lower())
        g = self._globals[global_id.lower()]
        return [r for r, c in g.clusters.items() if _backend(r).clusters[c].is_writer]

    def writer(self, global_id: str) -> str | None:
        found = self.writers(global_id)
        return found[0] if len(found) == 1 else None

    def operations(self, global_id: str | None = None) -> list[Operation]:
        """Every failover / switchover started (by a call or ``in_progress``), with when it completed
        (``completed``) and when a read first saw it complete (``noticed``), in virtual seconds."""
        return [o for o in self.ledger.operations if global_id is None or o.resource == global_id.lower()]

    def recover(self, global_id: str) -> None:
        """The old primary's Region is back: Aurora resynchronises it as a secondary."""
        self._globals[global_id.lower()].resync.clear()

    # --- lag ----------------------------------------------------------------------------------------

    def set_lag(self, global_id: str, rpo_lag_ms: float | None, replication_lag_ms: float | None = None) -> None:
        g = self._globals[global_id.lower()]
        g.lag_ms.update({"AuroraGlobalDBRPOLag": rpo_lag_ms, "AuroraGlobalDBReplicationLag": replication_lag_ms})

    def publish_lag(self, at: Any = None) -> None:
        """The minute's lag datapoints for each secondary cluster, in its own Region."""
        when = at or self.clock.now() - timedelta(seconds=30)
        for g in self._globals.values():
            writer = self.writers(g.identifier)
            for region, cluster in g.clusters.items():
                if region in writer:
                    continue
                for name, value in g.lag_ms.items():
                    if value is not None:
                        put_metric(
                            region,
                            "AWS/RDS",
                            name,
                            {"DBClusterIdentifier": cluster},
                            value,
                            "Milliseconds",
                            when,
                        )

    # --- the engine's interceptor -------------------------------------------------------------------

    def interceptor(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service == "cloudwatch" and metric_names(operation, params) & set(LAG_METRICS):
            self.publish_lag()  # a fresh datapoint before it is read, as the minute's publication
            return None
        if service != "rds":
            return None
        if operation in ("FailoverGlobalCluster", "SwitchoverGlobalCluster"):
            return self._operate(operation, region, params)
        if operation == "DescribeGlobalClusters":
            return self._describe_global_clusters(params)
        if operation == "DescribeDBClusters":
            for identifier in self._globals:
                self._settle(identifier, noticed=True)
        return None

    def _settle(self, identifier: str, noticed: bool = False) -> None:
        operation = self.ledger.pending(identifier)
        if operation is not None:
            self.ledger.settle(operation, self._complete)
        if noticed:
            for done in self.operations(identifier):
                self.ledger.noticed(done)

    def _describe_global_clusters(self, params: dict[str, Any]) -> dict[str, Any] | None:
        wanted = params.get("GlobalClusterIdentifier")
        if wanted is None:
            for identifier in self._globals:
                self._settle(identifier, noticed=True)
            gcs = list(_backend(MOTO_GLOBAL_REGION).global_clusters.values())
            return {"GlobalClusters": [self.describe(gc.global_cluster_identifier) for gc in gcs]}
        gc = _global_cluster(str(wanted))
        if gc is None:
            raise service_error(
                "GlobalClusterNotFoundFault", f"Global cluster {wanted} not found.", "DescribeGlobalClusters", 404
            )
        self._settle(gc.global_cluster_identifier, noticed=True)
        return {"GlobalClusters": [self.describe(gc.global_cluster_identifier)]}

    def describe(self, global_id: str) -> dict[str, Any]:
        """The GlobalCluster as DescribeGlobalClusters answers it (API_GlobalCluster.html)."""
        gc = _global_cluster(global_id)
        if gc is None:
            raise KeyError(global_id)
        g = self._globals.get(gc.global_cluster_identifier)
        resync = {g.clusters[r] for r in g.resync} if g else set()
        readers = [c.db_cluster_arn for c in gc.members if not c.is_writer]
        members = []
        for c in gc.members:
            member: dict[str, Any] = {
                "DBClusterArn": c.db_cluster_arn,
                "Readers": readers if c.is_writer else [],
                "IsWriter": bool(c.is_writer),
                "SynchronizationStatus": "pending-resync" if c.db_cluster_identifier in resync else "connected",
            }
            if not c.is_writer:
                member["GlobalWriteForwardingStatus"] = "disabled"
            members.append(member)
        found: dict[str, Any] = {
            "GlobalClusterIdentifier": gc.global_cluster_identifier,
            "GlobalClusterResourceId": gc.global_cluster_resource_id,
            "GlobalClusterArn": gc.global_cluster_arn,
            "Status": gc.status,
            "Engine": gc.engine,
            "EngineVersion": gc.engine_version,
            "StorageEncrypted": bool(gc.storage_encrypted),
            "DeletionProtection": bool(gc.deletion_protection),
            "GlobalClusterMembers": members,
            "Endpoint": gc.endpoint,
            "TagList": [],
        }
        operation = self.ledger.pending(gc.global_cluster_identifier)
        if operation is not None:
            found["FailoverState"] = self._failover_state(operation)
        return found

    def _failover_state(self, operation: Operation) -> dict[str, Any]:
        g = self._globals[operation.resource]
        verifying = self.clock.offset < operation.started + g.pending_seconds
        return {
            "Status": "pending" if verifying else _RUNNING[operation.kind],
            "FromDbClusterArn": operation.detail["from"],
            "ToDbClusterArn": operation.detail["to"],
            "IsDataLossAllowed": operation.detail["data_loss"],
        }

    # --- failover and switchover --------------------------------------------------------------------

    def _operate(self, operation: str, region: str, params: dict[str, Any]) -> dict[str, Any] | None:
        failover = operation == "FailoverGlobalCluster"
        data_loss = bool(params.get("AllowDataLoss")) if failover else False
        if failover and params.get("AllowDataLoss") is not None and params.get("Switchover") is not None:
            # "Can't be specified together with the Switchover parameter" (API_FailoverGlobalCluster);
            # RDS's common error for it: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html
            raise service_error(
                "InvalidParameterCombination", "AllowDataLoss and Switchover can't be specified together.", operation
            )
        identifier = str(params["GlobalClusterIdentifier"]).lower()
        gc = _global_cluster(identifier)
        if gc is None:
            raise service_error("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.", operation, 404)
        g = self._globals.get(identifier)
        if g is None:
            return None  # a global cluster the scenario did not model: moto answers (not implemented)
        self._settle(identifier)
        if self.ledger.pending(identifier) is not None:
            # One operation at a time: "The global cluster is in an invalid state and can't perform
            # the requested operation" (InvalidGlobalClusterStateFault, API_FailoverGlobalCluster).
            raise service_error(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {identifier} is {gc.status}: another failover or switchover is in progress.",
                operation,
            )
        target = self._target(g, str(params["TargetDbClusterIdentifier"]), region, operation)
        if _backend(target).clusters[g.clusters[target]].is_writer:
            # The target must be a secondary ("the secondary Aurora DB cluster that you want to promote").
            raise service_error(
                "InvalidDBClusterStateFault",
                f"DB cluster {g.clusters[target]} is already the primary cluster of {identifier}.",
                operation,
            )
        kind = "failover" if data_loss else "switchover"
        self._start(g, kind, target, data_loss)
        return {"GlobalCluster": self.describe(identifier)}

    def _target(self, g: _Global, given: str, called: str, operation: str) -> str:
        """The Region of the target member, given its ARN or its identifier in the called Region ("Use the
        Amazon Resource Name (ARN) for the identifier so that Aurora can locate the cluster in its Region")."""
        for region, cluster in g.clusters.items():
            if given == f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{cluster}" or (region == called and given == cluster):
                return region
        # Not a member of this global database: for the global cluster it does not exist
        # (DBClusterNotFoundFault: "DBClusterIdentifier doesn't refer to an existing DB cluster").
        raise service_error(
            "DBClusterNotFoundFault", f"DBCluster {given} not found in global cluster {g.identifier}.", operation, 404
        )

    def _start(self, g: _Global, kind: str, target: str, data_loss: bool) -> None:
        source = next(r for r, c in g.clusters.items() if _backend(r).clusters[c].is_writer)
        seconds = g.failover_seconds if kind == "failover" else g.switchover_seconds
        self.ledger.start(
            kind,
            g.identifier,
            seconds_or_stuck(seconds, g.stuck),
            **{
                "from": _backend(source).clusters[g.clusters[source]].db_cluster_arn,
                "to": _backend(target).clusters[g.clusters[target]].db_cluster_arn,
                "data_loss": data_loss,
                "from_region": source,
                "to_region": target,
            },
        )
        gc = _global_cluster(g.identifier)
        gc.status = _RUNNING[kind]
        self.ledger.settle(self.ledger.operations[-1], self._complete)  # a zero-second operation

    def _complete(self, operation: Operation) -> None:
        g = self._globals[operation.resource]
        source, target = operation.detail["from_region"], operation.detail["to_region"]
        _backend(source).clusters[g.clusters[source]].is_writer = False
        _backend(target).clusters[g.clusters[target]].is_writer = True
        _global_cluster(g.identifier).status = "available"
        if operation.detail["data_loss"]:
            g.resync.add(source)
