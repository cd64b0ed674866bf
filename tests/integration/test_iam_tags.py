"""IAM tag conditions in the emulator: a promotion scoped by the replica's ``regionshift:plan`` tag."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from regionshift.emulator import iam

ACCOUNT = "123456789012"
PRIMARY, STANDBY = "us-east-1", "us-west-2"
PLAN_KEY = "aws:ResourceTag/regionshift:plan"
# The template's statement, resolved: any region, this account, only replicas tagged for this plan.
PROMOTE = {
    "Effect": "Allow",
    "Action": ["rds:PromoteReadReplica", "rds:DescribeDBInstances"],
    "Resource": f"arn:aws:rds:*:{ACCOUNT}:db:*",
    "Condition": {"StringEquals": {PLAN_KEY: "orders"}},
}
FUNCTION = "regionshift-PromoteFunction"


def guard(*statements: dict[str, Any]) -> iam.Guard:
    role = iam.Role("PromoteFunction", "regionshift-PromoteFunctionRole", tuple(map(iam.parse_statement, statements)))
    return iam.Guard({"PromoteFunction": role}, {FUNCTION: "PromoteFunction"}, ACCOUNT, {})


@pytest.fixture
def replicas() -> Iterator[None]:
    """A primary in us-east-1 and, in us-west-2, replicas tagged for orders, for billing, and untagged."""
    with mock_aws():
        primary = boto3.client("rds", region_name=PRIMARY).create_db_instance(
            DBInstanceIdentifier="orders-primary",
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
        )["DBInstance"]
        rds = boto3.client("rds", region_name=STANDBY)
        for name, tags in (
            ("orders-standby", [{"Key": "regionshift:plan", "Value": "orders"}]),
            ("billing-standby", [{"Key": "regionshift:plan", "Value": "billing"}]),
            ("untagged-standby", []),
        ):
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=name,
                SourceDBInstanceIdentifier=primary["DBInstanceArn"],
                DBInstanceClass="db.r6g.large",
                Tags=tags,
            )
        yield


def promote(g: iam.Guard, identifier: str, operation: str = "PromoteReadReplica") -> None:
    g(FUNCTION, "rds", operation, STANDBY, {"DBInstanceIdentifier": identifier})


def test_a_replica_tagged_for_the_plan_may_be_described_and_promoted(replicas: None) -> None:
    # Given the role scoped to replicas tagged regionshift:plan=orders
    g = guard(PROMOTE)
    # When it describes and promotes the orders replica (by name, and by ARN)
    promote(g, "orders-standby", "DescribeDBInstances")
    promote(g, "orders-standby")
    promote(g, f"arn:aws:rds:{STANDBY}:{ACCOUNT}:db:orders-standby")
    # Then each request was allowed with the tag in its context
    assert [a.allowed for a in g.log] == [True, True, True]


@pytest.mark.parametrize("identifier", ["billing-standby", "untagged-standby", "no-such-replica"])
def test_a_replica_without_the_plans_tag_is_refused_as_aws_refuses(replicas: None, identifier: str) -> None:
    # Given the same role
    g = guard(PROMOTE)
    # When it promotes a replica tagged for another plan, an untagged one, or one that does not exist
    with pytest.raises(ClientError) as denied:
        promote(g, identifier)
    # Then the call fails with RDS's AccessDenied, naming the action and the resource
    error = denied.value.response
    resource = f"arn:aws:rds:{STANDBY}:{ACCOUNT}:db:{identifier}"
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/regionshift-PromoteFunctionRole/{FUNCTION} is not authorized "
        f"to perform: rds:PromoteReadReplica on resource: {resource} because no identity-based policy allows "
        "the rds:PromoteReadReplica action"
    )


def test_if_exists_passes_an_untagged_replica_but_not_one_tagged_otherwise(replicas: None) -> None:
    # Given the condition written with ...IfExists (an absent key then satisfies it)
    g = guard({**PROMOTE, "Condition": {"StringEqualsIfExists": {PLAN_KEY: "orders"}}})
    promote(g, "untagged-standby")
    with pytest.raises(ClientError):
        promote(g, "billing-standby")


def test_tags_are_read_when_the_call_is_made(replicas: None) -> None:
    # Given the untagged replica, refused
    g = guard(PROMOTE)
    with pytest.raises(ClientError):
        promote(g, "untagged-standby")
    # When it is tagged for the plan
    arn = f"arn:aws:rds:{STANDBY}:{ACCOUNT}:db:untagged-standby"
    boto3.client("rds", region_name=STANDBY).add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": "regionshift:plan", "Value": "orders"}]
    )
    # Then the next promotion is allowed
    promote(g, "untagged-standby")


def test_resource_tag_keys_are_modelled_per_tag_and_nothing_else_of_the_family() -> None:
    iam.parse_statement(PROMOTE)
    for key in ("aws:ResourceTag/", "aws:RequestTag/regionshift:plan", "rds:db-tag/regionshift:plan"):
        with pytest.raises(iam.IamModelError):
            iam.parse_statement({**PROMOTE, "Condition": {"StringEquals": {key: "orders"}}})


def test_other_actions_get_no_resource_tags_in_their_context() -> None:
    # Resource tags are supplied where the Service Authorization Reference lists them (the db resource).
    (request,) = iam.requests(
        "route53", "GetChange", {"Id": "C1"}, PRIMARY, ACCOUNT, db_tags=lambda *_: {"regionshift:plan": "orders"}
    )
    assert request.context == {}
