"""The emulator's models of AWS's global resources: Aurora global databases, ElastiCache global
datastores and DynamoDB global tables, in virtual time, with AWS's errors, lost responses and IAM."""

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from regionshift.emulator import engine as engine_module
from regionshift.emulator import iam
from regionshift.emulator.aurora import AuroraGlobal
from regionshift.emulator.dynamodb import GlobalTables
from regionshift.emulator.elasticache import Datastore, id_prefix
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.emulator.timed import service_error

ACCOUNT = "123456789012"
EAST, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
WEST_ARN = f"arn:aws:rds:{WEST}:{ACCOUNT}:cluster:orders-west"
EAST_ARN = f"arn:aws:rds:{EAST}:{ACCOUNT}:cluster:orders-east"


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    with mock_aws():
        yield VirtualClock()


def aurora(clock: VirtualClock, **options: Any) -> AuroraGlobal:
    model = AuroraGlobal(clock)
    model.add("orders", {EAST: "orders-east", WEST: "orders-west"}, EAST, **options)
    return model


def global_cluster(model: AuroraGlobal, region: str = WEST) -> dict[str, Any]:
    found: dict[str, Any] = model.call("DescribeGlobalClusters", region, GlobalClusterIdentifier="orders")
    return dict(found["GlobalClusters"][0])


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return str(response["Error"]["Code"]), int(response["ResponseMetadata"]["HTTPStatusCode"])


def latest(region: str, namespace: str, name: str, dimensions: dict[str, str], clock: VirtualClock) -> list[Any]:
    return list(
        boto3.client("cloudwatch", region_name=region).get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=clock.now() - timedelta(minutes=10),
            EndTime=clock.now() + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
    )


# --- Aurora Global Database ---------------------------------------------------------------------------


def test_a_failover_is_pending_then_failing_over_then_done_with_the_target_the_one_writer(clock: VirtualClock) -> None:
    # Given a global database written in us-east-1, whose failover takes 60 s after 5 s of verification
    model = aurora(clock, failover_seconds=60, pending_seconds=5)
    # When the us-west-2 cluster is failed over to, allowing data loss
    answer = model.call(
        "FailoverGlobalCluster",
        WEST,
        GlobalClusterIdentifier="orders",
        TargetDbClusterIdentifier=WEST_ARN,
        AllowDataLoss=True,
    )["GlobalCluster"]
    # Then the answer shows the request pending, from the writer to the target, a failover
    assert answer["Status"] == "failing-over"
    assert answer["FailoverState"] == {
        "Status": "pending",
        "FromDbClusterArn": EAST_ARN,
        "ToDbClusterArn": WEST_ARN,
        "IsDataLossAllowed": True,
    }
    # And 10 s later it is failing over, the writer unchanged
    clock.advance(10)
    assert global_cluster(model)["FailoverState"]["Status"] == "failing-over"
    assert model.writers("orders") == [EAST]
    # And once 60 s have passed, the target is the one writer and FailoverState is gone
    clock.advance(55)
    done = global_cluster(model)
    assert done["Status"] == "available" and "FailoverState" not in done
    members = {m["DBClusterArn"]: m for m in done["GlobalClusterMembers"]}
    assert members[WEST_ARN]["IsWriter"] and not members[EAST_ARN]["IsWriter"]
    assert model.writers("orders") == [WEST]
    # And the old primary is a secondary awaiting resynchronisation until its Region is back
    assert members[EAST_ARN]["SynchronizationStatus"] == "pending-resync"
    model.recover("orders")
    east = next(m for m in global_cluster(model)["GlobalClusterMembers"] if m["DBClusterArn"] == EAST_ARN)
    assert east["SynchronizationStatus"] == "connected"
    # And the ground truth says when it completed and how late the poll noticed
    (operation,) = model.operations("orders")
    assert (operation.kind, operation.completed, operation.noticed) == ("failover", 60.0, 65.0)
    assert model.ledger.slack == [5.0]


def test_a_switchover_keeps_the_old_primary_a_connected_secondary(clock: VirtualClock) -> None:
    # Given a global database whose switchover takes 90 s
    model = aurora(clock, switchover_seconds=90)
    # When us-west-2 is switched over to (by its identifier)
    answer = model.call(
        "SwitchoverGlobalCluster", WEST, GlobalClusterIdentifier="orders", TargetDbClusterIdentifier="orders-west"
    )
    # Then it is switching over, no data loss
    state = answer["GlobalCluster"]["FailoverState"]
    assert (answer["GlobalCluster"]["Status"], state["Status"], state["IsDataLossAllowed"]) == (
        "switching-over",
        "switching-over",
        False,
    )
    # And at 90 s the roles are exchanged, the old primary connected
    clock.advance(89)
    assert model.writers("orders") == [EAST]
    clock.advance(1)
    members = {m["DBClusterArn"]: m for m in global_cluster(model)["GlobalClusterMembers"]}
    assert model.writers("orders") == [WEST]
    assert members[EAST_ARN]["SynchronizationStatus"] == "connected"


def test_failover_without_allow_data_loss_is_a_switchover(clock: VirtualClock) -> None:
    # "If you don't specify AllowDataLoss, the global database cluster operation defaults to a switchover."
    model = aurora(clock)
    answer = model.call(
        "FailoverGlobalCluster", WEST, GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=WEST_ARN
    )
    assert answer["GlobalCluster"]["FailoverState"]["IsDataLossAllowed"] is False
    assert model.operations()[0].kind == "switchover"


def test_a_stuck_failover_never_completes_and_refuses_another(clock: VirtualClock) -> None:
    # Given a failover that is stuck
    model = aurora(clock, stuck=True)
    model.call(
        "FailoverGlobalCluster",
        WEST,
        GlobalClusterIdentifier="orders",
        TargetDbClusterIdentifier=WEST_ARN,
        AllowDataLoss=True,
    )
    # When a day passes
    clock.advance(86_400)
    # Then it is still failing over, the writer unchanged, and a second request is refused
    assert global_cluster(model)["FailoverState"]["Status"] == "failing-over"
    assert model.writers("orders") == [EAST]
    assert model.operations()[0].completed is None
    assert error_of(
        lambda: model.call(
            "SwitchoverGlobalCluster", WEST, GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=WEST_ARN
        )
    ) == ("InvalidGlobalClusterStateFault", 400)


def test_a_failover_already_under_way_at_the_start_refuses_a_new_one_then_completes(clock: VirtualClock) -> None:
    model = aurora(clock, failover_seconds=30, in_progress=True)
    assert global_cluster(model)["FailoverState"]["ToDbClusterArn"] == WEST_ARN
    assert error_of(
        lambda: model.call(
            "FailoverGlobalCluster",
            WEST,
            GlobalClusterIdentifier="orders",
            TargetDbClusterIdentifier=WEST_ARN,
            AllowDataLoss=True,
        )
    ) == ("InvalidGlobalClusterStateFault", 400)
    clock.advance(30)
    assert model.writer("orders") == WEST


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"GlobalClusterIdentifier": "nope", "TargetDbClusterIdentifier": WEST_ARN},
            ("GlobalClusterNotFoundFault", 404),
        ),
        (
            {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": "billing-west"},
            ("DBClusterNotFoundFault", 404),
        ),
        # A bare identifier names a cluster in the called Region (us-west-2): us-east-1's is not found there
        (
            {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": "orders-east"},
            ("DBClusterNotFoundFault", 404),
        ),
        (
            {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": EAST_ARN},
            ("InvalidDBClusterStateFault", 400),
        ),
        (
            {
                "GlobalClusterIdentifier": "orders",
                "TargetDbClusterIdentifier": WEST_ARN,
                "AllowDataLoss": True,
                "Switchover": True,
            },
            ("InvalidParameterCombination", 400),
        ),
    ],
)
def test_a_failover_request_is_refused_as_aurora_refuses_it(
    clock: VirtualClock, params: dict[str, Any], expected: tuple[str, int]
) -> None:
    model = aurora(clock)
    assert error_of(lambda: model.call("FailoverGlobalCluster", WEST, **params)) == expected
    assert model.operations() == [] and model.writers("orders") == [EAST]


def test_describe_global_clusters_finds_one_or_refuses_an_unknown_one(clock: VirtualClock) -> None:
    model = aurora(clock)
    assert [g["GlobalClusterIdentifier"] for g in model.call("DescribeGlobalClusters", WEST)["GlobalClusters"]] == [
        "orders"
    ]
    assert error_of(lambda: model.call("DescribeGlobalClusters", WEST, GlobalClusterIdentifier="nope")) == (
        "GlobalClusterNotFoundFault",
        404,
    )


def test_rpo_lag_is_published_for_the_secondary_in_its_region_and_follows_the_writer(clock: VirtualClock) -> None:
    # Given an RPO lag of 800 ms
    model = aurora(clock, failover_seconds=0, rpo_lag_ms=800)
    # Then the secondary's AuroraGlobalDBRPOLag is in us-west-2, in milliseconds; none for the writer
    points = latest(WEST, "AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": "orders-west"}, clock)
    assert [(p["Maximum"], p["Unit"]) for p in points] == [(800.0, "Milliseconds")]
    assert latest(EAST, "AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": "orders-east"}, clock) == []
    # When us-west-2 becomes the writer and the lag is read again
    model.call(
        "FailoverGlobalCluster",
        WEST,
        GlobalClusterIdentifier="orders",
        TargetDbClusterIdentifier=WEST_ARN,
        AllowDataLoss=True,
    )
    clock.advance(120)
    model.call(
        "GetMetricStatistics",
        EAST,
        Namespace="AWS/RDS",
        MetricName="AuroraGlobalDBRPOLag",
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": "orders-east"}],
        StartTime=clock.now() - timedelta(minutes=5),
        EndTime=clock.now(),
        Period=60,
        Statistics=["Maximum"],
    )
    # Then the old primary, now the secondary, has it in us-east-1
    assert latest(EAST, "AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": "orders-east"}, clock)


# --- ElastiCache Global Datastore ---------------------------------------------------------------------


def datastore(clock: VirtualClock, **options: Any) -> Datastore:
    model = Datastore(clock)
    model.add("ldgnf-sessions", {EAST: "sessions-east", WEST: "sessions-west"}, EAST, **options)
    return model


def failover(model: Datastore, region: str = WEST, group: str = "sessions-west", gid: str = "ldgnf-sessions") -> Any:
    return model.call(
        "FailoverGlobalReplicationGroup",
        region,
        GlobalReplicationGroupId=gid,
        PrimaryRegion=region,
        PrimaryReplicationGroupId=group,
    )


def test_a_datastore_failover_is_modifying_then_the_secondary_is_primary(clock: VirtualClock) -> None:
    model = datastore(clock, failover_seconds=45)
    answer = failover(model)["GlobalReplicationGroup"]
    assert answer["Status"] == "modifying"
    assert {m["ReplicationGroupRegion"]: m["Role"] for m in answer["Members"]} == {EAST: "PRIMARY", WEST: "SECONDARY"}
    clock.advance(44)
    assert model.primary("ldgnf-sessions") == EAST
    clock.advance(1)
    found = model.call(
        "DescribeGlobalReplicationGroups", WEST, GlobalReplicationGroupId="ldgnf-sessions", ShowMemberInfo=True
    )
    (group,) = found["GlobalReplicationGroups"]
    assert group["Status"] == "available"
    assert {m["ReplicationGroupRegion"]: m["Role"] for m in group["Members"]} == {EAST: "SECONDARY", WEST: "PRIMARY"}
    assert {m["Status"] for m in group["Members"]} == {"associated"}
    assert model.primary("ldgnf-sessions") == WEST
    assert model.operations()[0].completed == 45.0


def test_members_are_listed_only_with_show_member_info(clock: VirtualClock) -> None:
    model = datastore(clock)
    (group,) = model.call("DescribeGlobalReplicationGroups", WEST, GlobalReplicationGroupId="ldgnf-sessions")[
        "GlobalReplicationGroups"
    ]
    assert "Members" not in group
    assert group["ARN"] == f"arn:aws:elasticache::{ACCOUNT}:globalreplicationgroup:ldgnf-sessions"


def test_a_stuck_datastore_failover_stays_modifying_and_refuses_another(clock: VirtualClock) -> None:
    model = datastore(clock, stuck=True)
    failover(model)
    clock.advance(86_400)
    assert model.primary("ldgnf-sessions") == EAST
    assert error_of(lambda: failover(model)) == ("InvalidGlobalReplicationGroupState", 400)


@pytest.mark.parametrize(
    ("region", "group", "gid", "expected"),
    [
        (WEST, "sessions-west", "nope", ("GlobalReplicationGroupNotFoundFault", 404)),
        (EAST, "sessions-east", "ldgnf-sessions", ("InvalidParameterValue", 400)),  # already the primary
        (EU, "sessions-eu", "ldgnf-sessions", ("InvalidParameterValue", 400)),  # not a member Region
        (WEST, "sessions-east", "ldgnf-sessions", ("InvalidParameterCombination", 400)),  # not that Region's member
    ],
)
def test_a_datastore_failover_is_refused_as_elasticache_refuses_it(
    clock: VirtualClock, region: str, group: str, gid: str, expected: tuple[str, int]
) -> None:
    model = datastore(clock)
    assert error_of(lambda: failover(model, region, group, gid)) == expected
    assert model.operations() == []


def test_a_created_datastore_is_primary_only_and_cannot_fail_over(clock: VirtualClock) -> None:
    boto3.client("elasticache", region_name=EAST).create_replication_group(
        ReplicationGroupId="carts-east", ReplicationGroupDescription="carts", Engine="redis", NumCacheClusters=2
    )
    model = Datastore(clock)
    created = model.call(
        "CreateGlobalReplicationGroup",
        EAST,
        GlobalReplicationGroupIdSuffix="carts",
        PrimaryReplicationGroupId="carts-east",
    )
    gid = created["GlobalReplicationGroup"]["GlobalReplicationGroupId"]
    assert gid == f"{id_prefix(EAST)}-carts" and created["GlobalReplicationGroup"]["Status"] == "primary-only"
    assert id_prefix("us-west-1") == "dsdfu"  # the one prefix the API reference names
    assert error_of(lambda: failover(model, EAST, "carts-east", gid)) == ("InvalidGlobalReplicationGroupState", 400)
    again = {"GlobalReplicationGroupIdSuffix": "carts", "PrimaryReplicationGroupId": "carts-east"}
    assert error_of(lambda: model.call("CreateGlobalReplicationGroup", EAST, **again)) == (
        "InvalidReplicationGroupState",
        400,
    )
    missing = {"GlobalReplicationGroupIdSuffix": "x", "PrimaryReplicationGroupId": "nope"}
    assert error_of(lambda: model.call("CreateGlobalReplicationGroup", EAST, **missing)) == (
        "ReplicationGroupNotFoundFault",
        404,
    )


def test_datastore_replication_lag_is_published_in_the_secondary_region_in_seconds(clock: VirtualClock) -> None:
    model = datastore(clock, failover_seconds=0, lag_seconds=2.5)

    def lag(region: str, group: str) -> list[Any]:
        node = boto3.client("elasticache", region_name=region).describe_replication_groups(ReplicationGroupId=group)[
            "ReplicationGroups"
        ][0]["MemberClusters"][0]
        return latest(region, "AWS/ElastiCache", "GlobalDatastoreReplicationLag", {"CacheClusterId": node}, clock)

    # The secondary publishes it, in seconds; the primary does not
    assert [(p["Maximum"], p["Unit"]) for p in lag(WEST, "sessions-west")] == [(2.5, "Seconds")]
    assert lag(EAST, "sessions-east") == []
    # After a failover, the old primary is the secondary that publishes it
    failover(model)
    model.publish_lag()
    assert lag(EAST, "sessions-east")


# --- DynamoDB global tables ----------------------------------------------------------------------------


def table(region: str, name: str) -> None:
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_replica_is_creating_with_the_table_updating_then_active(clock: VirtualClock) -> None:
    # Given a table in us-east-1
    table(EAST, "orders")
    model = GlobalTables(clock, replica_seconds=300)
    # When a us-west-2 replica is requested
    answer = model.call("UpdateTable", EAST, TableName="orders", ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    # Then the table is UPDATING with the replica CREATING
    described = answer["TableDescription"]
    assert described["TableStatus"] == "UPDATING" and described["GlobalTableVersion"] == "2019.11.21"
    assert described["Replicas"] == [{"RegionName": WEST, "ReplicaStatus": "CREATING"}]
    # And in us-west-2 the new replica is CREATING, listing us-east-1's replica
    there = model.call("DescribeTable", WEST, TableName="orders")["Table"]
    assert there["TableStatus"] == "CREATING" and there["TableArn"].startswith(f"arn:aws:dynamodb:{WEST}:")
    assert there["Replicas"] == [{"RegionName": EAST, "ReplicaStatus": "ACTIVE"}]
    # And another update is refused while it runs
    more = {"TableName": "orders", "ReplicaUpdates": [{"Create": {"RegionName": EU}}]}
    assert error_of(lambda: model.call("UpdateTable", EAST, **more)) == ("ResourceInUseException", 400)
    # And after 300 s both are ACTIVE
    clock.advance(300)
    assert model.call("DescribeTable", EAST, TableName="orders")["Table"]["TableStatus"] == "ACTIVE"
    assert model.replicas("orders") == {EAST: "ACTIVE", WEST: "ACTIVE"}
    assert model.operations("orders")[0].noticed == 300.0


def test_replica_updates_are_validated_and_a_delete_removes_the_replica(clock: VirtualClock) -> None:
    table(EAST, "orders")
    model = GlobalTables(clock, replica_seconds=60)
    model.add("orders", {EAST: "ACTIVE", WEST: "ACTIVE"})
    again = {"TableName": "orders", "ReplicaUpdates": [{"Create": {"RegionName": WEST}}]}
    assert error_of(lambda: model.call("UpdateTable", EAST, **again)) == ("ValidationException", 400)
    absent = {"TableName": "orders", "ReplicaUpdates": [{"Delete": {"RegionName": EU}}]}
    assert error_of(lambda: model.call("UpdateTable", EAST, **absent)) == ("ValidationException", 400)
    unknown = {"TableName": "nope", "ReplicaUpdates": [{"Create": {"RegionName": WEST}}]}
    assert error_of(lambda: model.call("UpdateTable", EAST, **unknown)) == ("ResourceNotFoundException", 400)
    model.call("UpdateTable", EAST, TableName="orders", ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    assert model.replicas("orders")[WEST] == "DELETING"
    clock.advance(60)
    assert model.replicas("orders") == {EAST: "ACTIVE"}
    # A Region without a replica has no such table
    assert error_of(lambda: model.call("DescribeTable", EU, TableName="orders")) == ("ResourceNotFoundException", 400)


def test_a_stuck_replica_keeps_the_table_updating(clock: VirtualClock) -> None:
    table(EAST, "orders")
    model = GlobalTables(clock)
    model.add("orders", {EAST: "ACTIVE", WEST: "CREATING"}, stuck=True)
    clock.advance(86_400)
    assert model.replicas("orders")[WEST] == "CREATING"
    assert model.call("DescribeTable", EAST, TableName="orders")["Table"]["TableStatus"] == "UPDATING"


def test_the_state_tables_item_calls_and_descriptions_pass_to_moto(clock: VirtualClock) -> None:
    # Given the product's state table beside a global table
    table(EAST, "orders")
    table(EAST, "regionshift-state")
    model = GlobalTables(clock)
    model.add("orders", {EAST: "ACTIVE", WEST: "ACTIVE"})
    # Then none of the state table's calls are answered by the model, and moto serves them
    for operation, params in (
        ("PutItem", {"TableName": "regionshift-state", "Item": {"pk": {"S": "lock"}}}),
        ("GetItem", {"TableName": "regionshift-state", "Key": {"pk": {"S": "lock"}}}),
        ("UpdateItem", {"TableName": "regionshift-state", "Key": {"pk": {"S": "lock"}}}),
        (
            "Query",
            {
                "TableName": "regionshift-state",
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "lock"}},
            },
        ),
        ("DescribeTable", {"TableName": "regionshift-state"}),
        ("UpdateTable", {"TableName": "regionshift-state", "BillingMode": "PAY_PER_REQUEST"}),
    ):
        assert model.interceptor("f", "dynamodb", operation, EAST, params) is None
    model.call("PutItem", EAST, TableName="regionshift-state", Item={"pk": {"S": "lock"}, "owner": {"S": "run-1"}})
    item = model.call("GetItem", EAST, TableName="regionshift-state", Key={"pk": {"S": "lock"}})["Item"]
    assert item["owner"] == {"S": "run-1"}
    assert "Replicas" not in model.call("DescribeTable", EAST, TableName="regionshift-state")["Table"]


def test_legacy_global_tables_are_created_and_described(clock: VirtualClock) -> None:
    table(EAST, "carts")
    table(WEST, "carts")
    model = GlobalTables(clock)
    group = [{"RegionName": EAST}, {"RegionName": WEST}]
    created = model.call("CreateGlobalTable", EAST, GlobalTableName="carts", ReplicationGroup=group)[
        "GlobalTableDescription"
    ]
    assert created["GlobalTableStatus"] == "CREATING"
    assert created["GlobalTableArn"] == f"arn:aws:dynamodb::{ACCOUNT}:global-table/carts"
    assert (
        model.call("DescribeGlobalTable", EAST, GlobalTableName="carts")["GlobalTableDescription"]["ReplicationGroup"]
        == group
    )
    assert error_of(lambda: model.call("CreateGlobalTable", EAST, GlobalTableName="carts", ReplicationGroup=group)) == (
        "GlobalTableAlreadyExistsException",
        400,
    )
    assert error_of(lambda: model.call("CreateGlobalTable", EAST, GlobalTableName="x", ReplicationGroup=group)) == (
        "TableNotFoundException",
        400,
    )
    assert error_of(lambda: model.call("DescribeGlobalTable", EAST, GlobalTableName="x")) == (
        "GlobalTableNotFoundException",
        400,
    )


def test_replication_latency_is_published_by_each_source_region_per_receiving_region(clock: VirtualClock) -> None:
    table(EAST, "orders")
    model = GlobalTables(clock)
    model.add("orders", {EAST: "ACTIVE", WEST: "ACTIVE", EU: "ACTIVE"}, {WEST: 120.0})
    for source in (EAST, EU):
        points = latest(
            source, "AWS/DynamoDB", "ReplicationLatency", {"TableName": "orders", "ReceivingRegion": WEST}, clock
        )
        assert [(p["Maximum"], p["Unit"]) for p in points] == [(120.0, "Milliseconds")]
    assert (
        latest(WEST, "AWS/DynamoDB", "ReplicationLatency", {"TableName": "orders", "ReceivingRegion": WEST}, clock)
        == []
    )


# --- through the engine: faults and lost responses ------------------------------------------------------


def test_a_lost_response_is_raised_after_the_modelled_failover_took_effect(clock: VirtualClock) -> None:
    # Given an engine whose fault interceptor loses the next FailoverGlobalCluster response (as estate.py's
    # does: it lets the call through and raises from its after-hook), in front of the Aurora model
    model = aurora(clock, failover_seconds=30)
    engine = Engine(Recorder(clock), base_env={})
    lost: list[str] = []

    def faults(function: str, service: str, operation: str, region: str, params: dict[str, Any]) -> None:
        lost.append(operation)

    def lose(
        function: str, service: str, operation: str, region: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        if operation in lost:
            raise service_error("InternalFailure", "lost", operation, 500)

    engine.interceptors += [faults, model.interceptor]
    engine.after_hooks.append(lose)
    client = boto3.client("rds", region_name=WEST)
    token = engine_module._CURRENT.set(engine_module._Invocation("promote", io.StringIO()))
    try:
        # When the handler asks for the failover
        with pytest.raises(ClientError) as raised:
            engine.api_call(
                client,
                "FailoverGlobalCluster",
                {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": WEST_ARN, "AllowDataLoss": True},
                lambda *_: pytest.fail("moto must not be called"),
            )
    finally:
        engine_module._CURRENT.reset(token)
    # Then the caller saw the error, the call is recorded with it, and the failover is under way all the same
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert engine.recorder.calls[-1].error == "InternalFailure"
    assert global_cluster(model)["FailoverState"]["Status"] == "failing-over"
    clock.advance(30)
    assert model.writers("orders") == [WEST]


# --- IAM ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "rds",
            "FailoverGlobalCluster",
            {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": WEST_ARN, "AllowDataLoss": True},
            [
                ("rds:FailoverGlobalCluster", WEST_ARN),
                ("rds:FailoverGlobalCluster", f"arn:aws:rds::{ACCOUNT}:global-cluster:orders"),
            ],
        ),
        (
            "rds",
            "SwitchoverGlobalCluster",
            {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": "orders-west"},
            [
                ("rds:SwitchoverGlobalCluster", WEST_ARN),
                ("rds:SwitchoverGlobalCluster", f"arn:aws:rds::{ACCOUNT}:global-cluster:orders"),
            ],
        ),
        (
            "rds",
            "DescribeGlobalClusters",
            {"GlobalClusterIdentifier": "orders"},
            [("rds:DescribeGlobalClusters", f"arn:aws:rds::{ACCOUNT}:global-cluster:orders")],
        ),
        ("rds", "DescribeDBClusters", {"DBClusterIdentifier": "orders-west"}, [("rds:DescribeDBClusters", WEST_ARN)]),
        (
            "elasticache",
            "FailoverGlobalReplicationGroup",
            {
                "GlobalReplicationGroupId": "ldgnf-sessions",
                "PrimaryRegion": WEST,
                "PrimaryReplicationGroupId": "sessions-west",
            },
            [
                (
                    "elasticache:FailoverGlobalReplicationGroup",
                    f"arn:aws:elasticache::{ACCOUNT}:globalreplicationgroup:ldgnf-sessions",
                )
            ],
        ),
        (
            "elasticache",
            "DescribeGlobalReplicationGroups",
            {"GlobalReplicationGroupId": "ldgnf-sessions", "ShowMemberInfo": True},
            [
                (
                    "elasticache:DescribeGlobalReplicationGroups",
                    f"arn:aws:elasticache::{ACCOUNT}:globalreplicationgroup:ldgnf-sessions",
                )
            ],
        ),
        (
            "dynamodb",
            "DescribeTable",
            {"TableName": "orders"},
            [("dynamodb:DescribeTable", f"arn:aws:dynamodb:{WEST}:{ACCOUNT}:table/orders")],
        ),
    ],
)
def test_each_global_operation_maps_to_the_iam_requests_aws_authorizes(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    found = iam.requests(service, operation, params, WEST, ACCOUNT)
    assert [(r.action, r.resource) for r in found] == expected


def test_a_cluster_tag_scopes_a_failover_and_a_missing_grant_is_elasticaches_access_denied(clock: VirtualClock) -> None:
    # Given the us-west-2 cluster tagged for the plan
    model = aurora(clock)
    boto3.client("rds", region_name=WEST).add_tags_to_resource(
        ResourceName=WEST_ARN, Tags=[{"Key": "regionshift:plan", "Value": "orders"}]
    )
    statement = iam.parse_statement(
        {
            "Effect": "Allow",
            "Action": "rds:FailoverGlobalCluster",
            "Resource": [f"arn:aws:rds:*:{ACCOUNT}:cluster:*", f"arn:aws:rds::{ACCOUNT}:global-cluster:orders"],
            "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/regionshift:plan": "orders"}},
        }
    )
    guard = iam.Guard({"Promote": iam.Role("Promote", "r", (statement,))}, {"fn": "Promote"}, ACCOUNT, {})
    params = {"GlobalClusterIdentifier": "orders", "TargetDbClusterIdentifier": WEST_ARN, "AllowDataLoss": True}
    # Then the failover is allowed on both resources, the cluster's tag in its context
    guard("fn", "rds", "FailoverGlobalCluster", WEST, params)
    assert [a.allowed for a in guard.log] == [True, True]
    assert iam.requests("rds", "FailoverGlobalCluster", params, WEST, ACCOUNT, cluster_tags=iam.moto_cluster_tags)[
        0
    ].context == {"aws:ResourceTag/regionshift:plan": ("orders",)}
    # And a datastore failover the role does not grant is refused with ElastiCache's AccessDenied (403)
    with pytest.raises(ClientError) as denied:
        guard("fn", "elasticache", "FailoverGlobalReplicationGroup", WEST, {"GlobalReplicationGroupId": "g"})
    assert (denied.value.response["Error"]["Code"], denied.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied",
        403,
    )
    assert model.writers("orders") == [EAST]
