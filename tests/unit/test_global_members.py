"""Aurora global databases, global datastores and global tables: the plan's sections and how each
member is read and moved (fake clients answering as the service APIs document)."""

import copy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from failover.adapters import CloudWatch, aurora_rpo_lag, table_replication_latency
from failover.errors import PromotionError, TransientAwsError
from failover.members import AuroraGlobal, GlobalDatastore, GlobalTables
from failover.plan import Plan
from failover.rules import standby_replica_problem, table_problem
from regionshift import plans
from tests.conftest import ACCOUNT, NOW, PLAN_DOCUMENT
from tests.unit.fakes import client_error

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
LEDGER = {
    "name": "ledger",
    "kind": "aurora-global",
    "globalCluster": "ledger-global",
    "clusters": {r: f"ledger-{r}" for r in REGIONS},
}
SESSIONS = {
    "name": "sessions",
    "globalDatastore": "ldgnf-sessions",
    "members": {r: f"sessions-{r}" for r in REGIONS},
    "after": ["ledger"],
}


def estate(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(PLAN_DOCUMENT)
    document["databases"] = [*document["databases"], copy.deepcopy(LEDGER)]
    document["caches"] = [copy.deepcopy(SESSIONS)]
    document["tables"] = [{"name": "carts", "table": "carts"}]
    document.update(changes)
    return document


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(plans.PlanFileError) as caught:
        plans.parse(document)
    return caught.value.problems


# --- the plan -------------------------------------------------------------------------------------


def test_a_plan_with_every_kind_moves_the_cache_after_the_databases() -> None:
    plan = Plan.model_validate(estate())
    assert [[m.name for m in stage] for stage in plan.stages] == [["orders", "accounts", "ledger"], ["sessions"]]
    assert plan.promotion_waves == 2
    assert [identifier for _, identifier in plan.replicas("eu-west-1")][-2:] == [
        "ledger-eu-west-1",
        "sessions-eu-west-1",
    ]
    assert plan.primary_member(plan.mover("ledger")) == "ledger-us-east-1"


def test_global_resources_need_a_member_in_every_region_and_after_must_name_a_mover() -> None:
    ledger = {**LEDGER, "clusters": {"us-east-1": "ledger-use1", "us-west-2": "ledger-usw2"}}
    sessions = {**SESSIONS, "after": ["carts", "nothing", "sessions"]}
    found = problems(estate(databases=[*PLAN_DOCUMENT["databases"], ledger], caches=[sessions]))
    assert "databases.ledger: no cluster in region(s) eu-west-1" in found
    assert "caches.sessions: waits for carts, which is a table (a global table has nothing to move)" in found
    assert "caches.sessions: waits for nothing, which is not in the plan" in found
    assert "caches.sessions: cannot wait for itself" in found


def test_a_cycle_of_after_is_refused() -> None:
    ledger = {**LEDGER, "after": ["sessions"]}
    found = problems(estate(databases=[*PLAN_DOCUMENT["databases"], ledger]))
    assert "databases, caches: ledger, sessions wait for each other (a cycle of after)" in found


def test_names_and_global_ids_are_used_once_and_kinds_are_checked() -> None:
    twin = {**LEDGER, "name": "ledger2", "clusters": {r: f"ledger2-{r}" for r in REGIONS}}
    found = problems(
        estate(
            databases=[*PLAN_DOCUMENT["databases"], LEDGER, twin],
            tables=[{"name": "ledger", "table": "carts"}, {"name": "t2", "table": "carts"}],
        )
    )
    assert "databases, caches, tables: the name ledger is used twice" in found
    assert "databases: the global resource ledger-global is listed twice" in found
    assert "tables: the table carts is listed twice" in found
    unknown = problems(estate(databases=[{**LEDGER, "kind": "aurora"}]))
    assert any(p.startswith("databases.0") and "aurora-global" in p for p in unknown), unknown


def test_an_aurora_cluster_and_an_rds_instance_share_rds_identifiers() -> None:
    clash = {**LEDGER, "clusters": {**LEDGER["clusters"], "us-west-2": "orders-usw2"}}  # type: ignore[dict-item]
    found = problems(estate(databases=[*PLAN_DOCUMENT["databases"], clash]))
    assert "databases.ledger: orders-usw2 in us-west-2 is also orders's" in found


# --- Aurora global database ------------------------------------------------------------------------


def arn(region: str, cluster: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{cluster}"


class FakeAurora:
    """DescribeGlobalClusters / DescribeDBClusters / FailoverGlobalCluster over one global cluster."""

    def __init__(
        self,
        writer: str = "us-east-1",
        moving_to: str | None = None,
        refuse: str | None = None,
        same_name: bool = False,
        resyncing: str | None = None,
    ) -> None:
        self.writer, self.moving_to, self.refuse, self.resyncing = writer, moving_to, refuse, resyncing
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # Clusters may have one name in every region (an ARN tells them apart).
        self.name = (lambda region: "ledger") if same_name else (lambda region: f"ledger-{region}")

    def describe_global_clusters(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("DescribeGlobalClusters", params))
        # The writer listed last: no order is promised, and a match by name alone would take the first.
        order = sorted(REGIONS, key=lambda r: r == self.writer)
        members = [
            {
                "DBClusterArn": arn(r, self.name(r)),
                "IsWriter": r == self.writer,
                "Readers": [],
                "SynchronizationStatus": "pending-resync" if r == self.resyncing else "connected",
            }
            for r in order
        ]
        found: dict[str, Any] = {
            "GlobalClusterIdentifier": "ledger-global",
            "Status": "failing-over" if self.moving_to else "available",
            "GlobalClusterMembers": members,
        }
        if self.moving_to:
            found["FailoverState"] = {
                "Status": "failing-over",
                "FromDbClusterArn": arn(self.writer, self.name(self.writer)),
                "ToDbClusterArn": arn(self.moving_to, self.name(self.moving_to)),
                "IsDataLossAllowed": True,
            }
        return {"GlobalClusters": [found]}

    def describe_db_clusters(self, DBClusterIdentifier: str) -> dict[str, Any]:
        region = DBClusterIdentifier.removeprefix("ledger-")
        return {
            "DBClusters": [
                {
                    "DBClusterIdentifier": DBClusterIdentifier,
                    "DBClusterArn": arn(region, DBClusterIdentifier),
                    "Status": "available",
                    "Endpoint": f"{DBClusterIdentifier}.cluster-abc.{region}.rds.amazonaws.com",
                }
            ]
        }

    def failover_global_cluster(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("FailoverGlobalCluster", params))
        if self.refuse:
            raise client_error(self.refuse, "FailoverGlobalCluster")
        self.moving_to = params["TargetDbClusterIdentifier"].split(":")[3]
        return {}


def test_a_secondary_follows_the_writer_and_a_failover_under_way_makes_it_busy() -> None:
    state = AuroraGlobal(FakeAurora()).describe("ledger-global", "ledger-us-west-2", "ledger", "us-west-2")
    assert (state.kind, state.status, state.source) == (
        "aurora-global",
        "available",
        arn("us-east-1", "ledger-us-east-1"),
    )
    assert state.endpoint == "ledger-us-west-2.cluster-abc.us-west-2.rds.amazonaws.com"
    busy = AuroraGlobal(FakeAurora(moving_to="us-west-2")).describe(
        "ledger-global", "ledger-us-west-2", "ledger", "us-west-2"
    )
    assert (busy.status, busy.source) == ("failing-over", arn("us-east-1", "ledger-us-east-1"))
    writer = AuroraGlobal(FakeAurora(writer="us-west-2")).describe(
        "ledger-global", "ledger-us-west-2", "ledger", "us-west-2"
    )
    assert writer.source is None


def test_a_secondary_pending_resync_is_not_ready() -> None:
    # Given a secondary that is not caught up with the writer (rejoining after a failover with data loss)
    state = AuroraGlobal(FakeAurora(resyncing="us-west-2")).describe(
        "ledger-global", "ledger-us-west-2", "ledger", "us-west-2"
    )
    # Then it is not available: a run passes its region over (and may look again later)
    assert state.status == "pending-resync"
    problem = standby_replica_problem(state, "us-west-2", "us-east-1", "ledger-us-east-1")
    assert problem is not None and problem.endswith("is pending-resync, not available")


def test_a_failover_names_the_target_by_arn_and_allows_data_loss() -> None:
    fake = FakeAurora()
    assert AuroraGlobal(fake).fail_over("ledger-global", "ledger-us-west-2", "us-west-2") is False
    (call,) = [params for name, params in fake.calls if name == "FailoverGlobalCluster"]
    assert call == {
        "GlobalClusterIdentifier": "ledger-global",
        "TargetDbClusterIdentifier": arn("us-west-2", "ledger-us-west-2"),
        "AllowDataLoss": True,
    }


def test_clusters_named_alike_in_every_region_are_told_apart_by_region() -> None:
    # Given a global cluster whose members are all called "ledger"; When it is failed over to us-west-2's
    fake = FakeAurora(same_name=True)
    assert AuroraGlobal(fake).fail_over("ledger-global", "ledger", "us-west-2") is False
    # Then the request names us-west-2's cluster, not the first member called "ledger"
    (call,) = [params for name, params in fake.calls if name == "FailoverGlobalCluster"]
    assert call["TargetDbClusterIdentifier"] == arn("us-west-2", "ledger")
    # And a target in no member's region is refused by name
    with pytest.raises(PromotionError, match="ledger in ap-south-1 is not a member"):
        AuroraGlobal(FakeAurora(same_name=True)).fail_over("ledger-global", "ledger", "ap-south-1")


@pytest.mark.parametrize(("writer", "moving_to"), [("us-west-2", None), ("us-east-1", "us-west-2")])
def test_a_retried_failover_already_done_or_under_way_is_not_requested_again(
    writer: str, moving_to: str | None
) -> None:
    fake = FakeAurora(writer=writer, moving_to=moving_to)
    assert AuroraGlobal(fake).fail_over("ledger-global", "ledger-us-west-2", "us-west-2") is True
    assert "FailoverGlobalCluster" not in [name for name, _ in fake.calls]


def test_a_refused_failover_is_a_promotion_error_unless_it_moved_to_the_target() -> None:
    # A failover to another region under way: the refusal stands and names it
    fake = FakeAurora(moving_to="eu-west-1", refuse="InvalidGlobalClusterStateFault")
    with pytest.raises(PromotionError, match=r"InvalidGlobalClusterStateFault.*a failover to .*ledger-eu-west-1"):
        AuroraGlobal(fake).fail_over("ledger-global", "ledger-us-west-2", "us-west-2")
    with pytest.raises(PromotionError, match="DBClusterNotFoundFault"):
        AuroraGlobal(FakeAurora(refuse="DBClusterNotFoundFault")).fail_over(
            "ledger-global", "ledger-us-west-2", "us-west-2"
        )


def test_a_missing_global_cluster_is_a_missing_member() -> None:
    class Missing(FakeAurora):
        def describe_global_clusters(self, **params: Any) -> dict[str, Any]:
            raise client_error("GlobalClusterNotFoundFault", "DescribeGlobalClusters", 404)

    state = AuroraGlobal(Missing()).describe("ledger-global", "ledger-us-west-2", "ledger", "us-west-2")
    assert not state.exists and not state.denied


# --- ElastiCache global datastore ------------------------------------------------------------------


class FakeDatastore:
    def __init__(self, primary: str = "us-east-1", status: str = "available", refuse: str | None = None) -> None:
        self.primary, self.status, self.refuse = primary, status, refuse
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_global_replication_groups(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("DescribeGlobalReplicationGroups", params))
        members = [
            {
                "ReplicationGroupId": f"sessions-{r}",
                "ReplicationGroupRegion": r,
                "Role": "PRIMARY" if r == self.primary else "SECONDARY",
                "Status": "associated",
            }
            for r in REGIONS
        ]
        return {
            "GlobalReplicationGroups": [
                {
                    "GlobalReplicationGroupId": "ldgnf-sessions",
                    "Status": self.status,
                    "Members": members,
                    "ARN": f"arn:aws:elasticache::{ACCOUNT}:globalreplicationgroup:ldgnf-sessions",
                }
            ]
        }

    def failover_global_replication_group(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("FailoverGlobalReplicationGroup", params))
        if self.refuse:
            raise client_error(self.refuse, "FailoverGlobalReplicationGroup")
        self.status = "modifying"
        return {}


def test_a_datastore_member_follows_the_primary_and_fails_over_by_region() -> None:
    fake = FakeDatastore()
    store = GlobalDatastore(fake)
    state = store.describe("ldgnf-sessions", "sessions-us-west-2", "sessions", "us-west-2")
    assert state.source == f"arn:aws:elasticache:us-east-1:{ACCOUNT}:replicationgroup:sessions-us-east-1"
    assert (state.status, state.endpoint) == ("available", None)
    assert store.fail_over("ldgnf-sessions", "sessions-us-west-2", "us-west-2") is False
    assert fake.calls[-1] == (
        "FailoverGlobalReplicationGroup",
        {
            "GlobalReplicationGroupId": "ldgnf-sessions",
            "PrimaryRegion": "us-west-2",
            "PrimaryReplicationGroupId": "sessions-us-west-2",
        },
    )
    # already the primary: nothing is requested
    done = FakeDatastore(primary="us-west-2")
    assert GlobalDatastore(done).fail_over("ldgnf-sessions", "sessions-us-west-2", "us-west-2") is True
    assert "FailoverGlobalReplicationGroup" not in [name for name, _ in done.calls]


def test_a_refusal_while_the_datastore_is_modifying_is_asked_again_not_assumed_ours() -> None:
    # Given a datastore modifying for a reason it does not name (a scale-up, or a failover elsewhere)
    fake = FakeDatastore(status="modifying", refuse="InvalidGlobalReplicationGroupState")
    # When its failover to us-west-2 is refused, Then it is asked again later, not counted as requested
    with pytest.raises(TransientAwsError, match="modifying"):
        GlobalDatastore(fake).fail_over("ldgnf-sessions", "sessions-us-west-2", "us-west-2")


def test_a_datastore_refusal_is_a_promotion_error() -> None:
    fake = FakeDatastore(refuse="InvalidParameterValueException")
    with pytest.raises(PromotionError, match="InvalidParameterValueException"):
        GlobalDatastore(fake).fail_over("ldgnf-sessions", "sessions-us-west-2", "us-west-2")


# --- DynamoDB global table -------------------------------------------------------------------------


class FakeDynamoDb:
    """DescribeTable in one region: its own status, and the other replicas (ReplicaDescription)."""

    def __init__(self, status: str, others: dict[str, str] | None, missing: bool = False) -> None:
        self.status, self.others, self.missing = status, others, missing

    def describe_table(self, TableName: str) -> dict[str, Any]:
        if self.missing:
            raise client_error("ResourceNotFoundException", "DescribeTable")
        table: dict[str, Any] = {"TableName": TableName, "TableStatus": self.status}
        if self.others is not None:
            table["Replicas"] = [{"RegionName": r, "ReplicaStatus": s} for r, s in self.others.items()]
        return {"Table": table}


@pytest.mark.parametrize(
    ("fake", "exists", "status", "global_with_primary"),
    [
        (FakeDynamoDb("ACTIVE", {"us-east-1": "ACTIVE", "eu-west-1": "ACTIVE"}), True, "ACTIVE", True),
        (FakeDynamoDb("CREATING", {"us-east-1": "ACTIVE"}), True, "CREATING", True),
        (FakeDynamoDb("ACTIVE", {"us-west-2": "CREATING", "us-east-1": "ACTIVE"}), True, "CREATING", True),
        (FakeDynamoDb("ACTIVE", {"eu-west-1": "ACTIVE"}), True, "ACTIVE", False),  # another global table
        (FakeDynamoDb("ACTIVE", None), True, "ACTIVE", False),  # a regional table, not global
        (FakeDynamoDb("ACTIVE", None, missing=True), False, None, True),  # no replica in the target
    ],
)
def test_a_global_table_replica_is_read_in_the_target_region(
    fake: FakeDynamoDb, exists: bool, status: str | None, global_with_primary: bool
) -> None:
    table = GlobalTables(fake).replica("carts", "carts", "us-west-2", "us-east-1")
    assert (table.exists, table.status, table.global_with_primary) == (exists, status, global_with_primary)
    assert (table_problem(table) is None) == (exists and status == "ACTIVE" and global_with_primary)


# --- lag metrics ------------------------------------------------------------------------------------


class FakeMetrics:
    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: dict[str, Any] = {}

    def get_metric_statistics(self, **params: Any) -> dict[str, Any]:
        self.asked = params
        return {"Datapoints": [{"Timestamp": NOW - timedelta(seconds=30), "Maximum": self.value}]}


def test_millisecond_lag_metrics_are_read_in_seconds() -> None:
    fake = FakeMetrics(2500.0)
    assert CloudWatch(fake).lag(aurora_rpo_lag("ledger-us-west-2"), NOW) == 2.5
    assert (fake.asked["Namespace"], fake.asked["MetricName"]) == ("AWS/RDS", "AuroraGlobalDBRPOLag")
    assert fake.asked["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": "ledger-us-west-2"}]
    assert CloudWatch(fake).lag(table_replication_latency("carts", "us-west-2"), NOW) == 2.5
    assert fake.asked["Dimensions"] == [
        {"Name": "TableName", "Value": "carts"},
        {"Name": "ReceivingRegion", "Value": "us-west-2"},
    ]


def test_an_unknown_cache_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        Plan.model_validate(estate(caches=[{**SESSIONS, "globalCluster": "x"}]))


# --- regionshift check --------------------------------------------------------------------------------


class FakeSession:
    """The operator's session: each service's fake client, whatever the region."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str, region_name: str | None = None, **_: Any) -> Any:
        return self.clients[service]


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": ACCOUNT}


class TaggedAurora(FakeAurora):
    def __init__(self, tags: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tags = tags

    def list_tags_for_resource(self, ResourceName: str) -> dict[str, Any]:
        return {"TagList": [{"Key": k, "Value": v} for k, v in self.tags.items()]}


def readiness(aurora: FakeAurora, lag: float = 500.0, table: FakeDynamoDb | None = None) -> Any:
    from regionshift.readiness import Readiness
    from regionshift.target import Target

    plan = Plan.model_validate(estate())
    session = FakeSession(
        sts=FakeSts(),
        rds=aurora,
        elasticache=FakeDatastore(),
        dynamodb=table or FakeDynamoDb("ACTIVE", {"us-east-1": "ACTIVE"}),
        cloudwatch=FakeMetrics(lag),
    )
    target = Target(session=session, table="t", parameters={"PlanDigest": plan.digest()})
    return Readiness(target, plan), plan


def test_check_reads_an_aurora_secondary_its_tag_and_its_rpo_lag() -> None:
    check, plan = readiness(TaggedAurora({"regionshift:plan": "orders"}), lag=500.0)
    _, findings = check._replica("us-west-2", plan.mover("ledger"), "ledger-us-west-2")
    assert [(f.check, f.status) for f in findings] == [("replica", "OK"), ("replica-lag", "OK")]
    assert findings[1].detail == "us-west-2: ledger-us-west-2: 0.5 s (limit 60 s)"
    # A cluster without the plan's tag is out of the functions' reach: blocking
    untagged, plan = readiness(TaggedAurora({}))
    _, findings = untagged._replica("us-west-2", plan.mover("ledger"), "ledger-us-west-2")
    assert findings[0].status == "BLOCKING" and "is not tagged regionshift:plan=orders" in findings[0].detail
    # An RPO lag beyond the bound blocks, in AuroraGlobalDBRPOLag's words
    lagging, plan = readiness(TaggedAurora({"regionshift:plan": "orders"}), lag=120_000.0)
    _, findings = lagging._replica("us-west-2", plan.mover("ledger"), "ledger-us-west-2")
    assert findings[1].status == "BLOCKING" and "120 s, limit 60 s" in findings[1].detail


def test_check_reads_a_cache_member_without_a_lag_rail_and_each_table_replica() -> None:
    check, plan = readiness(TaggedAurora({"regionshift:plan": "orders"}))
    _, findings = check._replica("us-west-2", plan.mover("sessions"), "sessions-us-west-2")
    assert [(f.check, f.status) for f in findings] == [("replica", "OK")]
    (table,) = check._tables("us-west-2")
    assert (table.status, table.detail) == ("OK", "us-west-2: table carts ACTIVE, 0.5 s")
    creating, _ = readiness(TaggedAurora({}), table=FakeDynamoDb("CREATING", {"us-east-1": "ACTIVE"}))
    (table,) = creating._tables("us-west-2")
    assert table.status == "BLOCKING" and "is CREATING, not ACTIVE" in table.detail


def test_check_estimates_recovery_by_the_plans_kinds_and_stages() -> None:
    from regionshift import rto

    check, plan = readiness(TaggedAurora({}))
    check.p["AlarmEvaluationPeriods"] = "3"
    estimate = check.estimate()
    # RDS and Aurora in the first stage (the slower, RDS, counts), then the cache: 300 + 60 s
    assert estimate["promotion"] == rto.MOVE_SECONDS["rds-instance"] + rto.MOVE_SECONDS["elasticache-global"] + 2 * (
        plan.rails.promotion_poll_seconds / 2
    )
    aurora_only = Plan.model_validate(
        estate(databases=[copy.deepcopy(LEDGER)], caches=[], zones=PLAN_DOCUMENT["zones"])
    )
    assert rto.moving_seconds(aurora_only) == 60 < rto.moving_seconds(plan)


def test_a_run_document_from_before_stages_still_reads() -> None:
    # Given the document of an execution started before stages existed (flat replicas and promotions:
    # an execution keeps the definition it started with across a deploy)
    from failover.models import RunDocument

    replica = {"identifier": "orders-usw2", "database": "orders", "region": "us-west-2", "exists": True}
    promotion = {**replica, "at": NOW.isoformat(), "alreadyPromoted": False, "available": True}
    old = {
        "execution": {"id": "arn:aws:states:us-west-2:1:execution:x:y", "startedAt": NOW.isoformat()},
        "assess": {"at": NOW.isoformat(), "decision": "PROCEED", "reason": "r", "probe": 3, "replicas": [replica]},
        "promotions": [promotion],
    }
    # When it is read, Then it is one stage
    doc = RunDocument.model_validate(old)
    assert doc.assess is not None and [r.identifier for r in doc.assess.replicas] == ["orders-usw2"]
    assert doc.promotions is not None and [p.identifier for p in doc.promotions] == ["orders-usw2"]
