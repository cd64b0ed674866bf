"""Failback: replicas of the writers rebuilt in a region after a failover, recorded, then waited for."""

from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover.models import Direction
from failover.plan import PLAN_TAG
from failover.store import StateStore
from regionshift import failback
from tests.conftest import NOW, PLAN, create_run_table
from tests.unit.fakes import tagged_instance

MOVED = Direction(primary_region="us-west-2", version=1, by="run-1")
RDS_DATABASES = [d for d in PLAN.databases if d.kind == "rds-instance"]


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def estate() -> Any:
    """After a failover to us-west-2: each writer there, each old primary standalone in us-east-1."""
    with mock_aws():
        create_run_table(_client("dynamodb", "us-west-2"))
        store = StateStore(_client("dynamodb", "us-west-2"), "regionshift-runs")
        store.set_direction(MOVED.model_copy(update={"version": 0}), None)
        for db in RDS_DATABASES:
            tagged_instance("us-west-2", db.member("us-west-2", PLAN.primary_region))
            tagged_instance("us-east-1", db.primary)
        yield store


def _readers(store: StateStore) -> failback.Readers:
    return failback.Readers(_client, PLAN.along(store.direction()))


def _lag(region: str, identifier: str, seconds: float) -> None:
    _client("cloudwatch", region).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
                "Timestamp": NOW - timedelta(seconds=30),
                "Value": seconds,
            }
        ],
    )


def test_failback_creates_a_tagged_replica_of_each_writer_and_records_it(estate: StateStore) -> None:
    # When failback runs for us-east-1, where each old primary is standalone
    rebuilt, direction = failback.rebuild(
        _readers(estate), estate, estate.direction(), "us-east-1", "alice", "home", NOW
    )
    # Then each database has a new replica there, named after its old primary, following the writer
    assert [(r.database, r.identifier, r.created) for r in rebuilt] == [
        (db.name, f"{db.primary}-2", True) for db in RDS_DATABASES
    ]
    rds = _client("rds", "us-east-1")
    for db in RDS_DATABASES:
        found = rds.describe_db_instances(DBInstanceIdentifier=f"{db.primary}-2")["DBInstances"][0]
        assert found["ReadReplicaSourceDBInstanceIdentifier"].endswith(f":db:{db.member('us-west-2', 'us-east-1')}")
        tags = rds.list_tags_for_resource(ResourceName=found["DBInstanceArn"])["TagList"]
        assert {"Key": PLAN_TAG, "Value": PLAN.name} in tags
    # And the direction names them, so that runs read the plan with them
    assert direction == estate.direction()
    assert direction is not None and direction.primary_region == "us-west-2"
    assert direction.instances == {db.name: {"us-east-1": f"{db.primary}-2"} for db in RDS_DATABASES}
    assert [a.kind for a in estate.operations()] == ["failback"] * len(RDS_DATABASES)


def test_failback_run_again_creates_nothing_twice(estate: StateStore) -> None:
    failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "alice", "home", NOW)
    again, _ = failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "alice", "home", NOW)
    assert again == []
    assert len(_client("rds", "us-east-1").describe_db_instances()["DBInstances"]) == 2 * len(RDS_DATABASES)


def test_a_replica_left_by_an_interrupted_failback_is_adopted(estate: StateStore) -> None:
    # Given a replica created by a failback that stopped before recording it
    db = RDS_DATABASES[0]
    writer = _client("rds", "us-west-2").describe_db_instances(DBInstanceIdentifier=db.member("us-west-2", "us-east-1"))
    _client("rds", "us-east-1").create_db_instance_read_replica(
        DBInstanceIdentifier=f"{db.primary}-2",
        SourceDBInstanceIdentifier=writer["DBInstances"][0]["DBInstanceArn"],
        SourceRegion="us-west-2",
    )
    rebuilt, direction = failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "a", "b", NOW)
    # Then it is recorded, not created again
    assert (rebuilt[0].identifier, rebuilt[0].created) == (f"{db.primary}-2", False)
    assert direction is not None and direction.instances[db.name] == {"us-east-1": f"{db.primary}-2"}


@pytest.mark.parametrize(
    ("region", "why"),
    [("us-west-2", "us-west-2 holds the writers"), ("ap-south-1", "ap-south-1 is not a region of the plan")],
)
def test_failback_refuses_a_region_that_cannot_take_a_replica(estate: StateStore, region: str, why: str) -> None:
    with pytest.raises(failback.FailbackError, match=why):
        failback.rebuild(_readers(estate), estate, estate.direction(), region, "a", "b", NOW)


def test_failback_refuses_while_a_run_holds_the_lock(estate: StateStore) -> None:
    estate.acquire_lock("arn:aws:states:us-west-2:1:execution:m:run-2", NOW, 600)
    with pytest.raises(failback.FailbackError, match="a run holds the lock"):
        failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "a", "b", NOW)
    assert len(_client("rds", "us-east-1").describe_db_instances()["DBInstances"]) == len(RDS_DATABASES)


def test_waiting_ends_when_every_replica_is_caught_up(estate: StateStore) -> None:
    _, direction = failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "a", "b", NOW)
    readers = failback.Readers(_client, PLAN.along(direction))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        # Each replica reports its lag once it has caught up (after the first poll)
        sleeps.append(seconds)
        for db in RDS_DATABASES:
            _lag("us-east-1", f"{db.primary}-2", 0.0)

    found = failback.wait(readers, "us-east-1", clock=lambda: NOW, sleep=sleep, timeout_seconds=600)
    # The first look finds no ReplicaLag yet (unknown: not caught up); the second finds each at 0 s
    assert sleeps == [30]
    assert [m.state for m in found] == ["ready"] * len(RDS_DATABASES)


def test_waiting_gives_up_at_the_timeout(estate: StateStore) -> None:
    _, direction = failback.rebuild(_readers(estate), estate, estate.direction(), "us-east-1", "a", "b", NOW)
    readers = failback.Readers(_client, PLAN.along(direction))
    now = [NOW]

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    found = failback.wait(readers, "us-east-1", clock=lambda: now[0], sleep=sleep, timeout_seconds=95)
    assert [m.state for m in found] == ["lagging"] * len(RDS_DATABASES)
    # Looks at 0, 30, 60 and 90 s: the next would come after the 95 s timeout
    assert now[0] - NOW == timedelta(seconds=90)


def test_names_stay_within_rdss_limit() -> None:
    assert failback.new_name("a" * 63, 12) == "a" * 60 + "-12"
    assert len(failback.new_name("b" * 70, 3)) == failback.MAX_IDENTIFIER
