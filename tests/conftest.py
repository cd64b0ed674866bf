"""Shared fixtures. No test sleeps or reaches the network: AWS is moto, time is virtual."""

import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from failover.plan import Plan
from regionshift import drill
from regionshift import template as cfn
from regionshift.emulator import scenario as scenarios

logging.getLogger("moto").setLevel(logging.CRITICAL)

ACCOUNT = "123456789012"
# Route 53 health check ids are UUIDs.
HC_PRIMARY = "00000000-0000-4000-8000-000000000001"
HC_USW2 = "00000000-0000-4000-8000-000000000002"
HC_EUW1 = "00000000-0000-4000-8000-000000000003"
# The plan the unit and integration tests run: three regions, two databases, one zone with an apex
# alias, an alias and a CNAME to the orders database (the emulated estate's shape, with fixed ids).
PLAN_DOCUMENT: dict[str, Any] = {
    "name": "orders",
    "regions": {
        "primary": {"region": "us-east-1", "healthCheckId": HC_PRIMARY},
        "standbys": [
            {"region": "us-west-2", "healthCheckId": HC_USW2},
            {"region": "eu-west-1", "healthCheckId": HC_EUW1},
        ],
    },
    "databases": [
        {
            "name": "orders",
            "primary": "orders-primary",
            "replicas": {"us-west-2": "orders-usw2", "eu-west-1": "orders-euw1"},
        },
        {
            "name": "accounts",
            "primary": "accounts-primary",
            "replicas": {"us-west-2": "accounts-usw2", "eu-west-1": "accounts-euw1"},
        },
    ],
    "zones": [
        {
            "id": "Z0EXAMPLE",
            "name": "example.com",
            "records": [
                {
                    "name": "example.com",
                    "type": "A",
                    "evaluateTargetHealth": True,
                    "targets": {
                        "us-east-1": {
                            "dnsName": "dualstack.app-use1.us-east-1.elb.amazonaws.com",
                            "hostedZoneId": "Z35SXDOTRQ7X7K",
                        },
                        "us-west-2": {
                            "dnsName": "dualstack.app-usw2.us-west-2.elb.amazonaws.com",
                            "hostedZoneId": "Z1H1FL5HABSF5",
                        },
                        "eu-west-1": {
                            "dnsName": "dualstack.app-euw1.eu-west-1.elb.amazonaws.com",
                            "hostedZoneId": "Z32O12XQLNTSW2",
                        },
                    },
                },
                {
                    "name": "db.example.com",
                    "type": "CNAME",
                    "ttl": 60,
                    "targets": {
                        "us-east-1": "orders-primary.abc.us-east-1.rds.amazonaws.com",
                        "us-west-2": "orders-usw2.abc.us-west-2.rds.amazonaws.com",
                        "eu-west-1": "orders-euw1.abc.eu-west-1.rds.amazonaws.com",
                    },
                },
            ],
        }
    ],
    "rails": {
        "healthyCheckerPercent": 18,
        "confirmProbes": 2,
        "confirmIntervalSeconds": 30,
        "maxReplicaLagSeconds": 60,
        "maxEventAgeSeconds": 900,
        "lockLeaseSeconds": 3600,
        "cooldownSeconds": 3600,
        "promotionPollSeconds": 5,
        "promotionMaxPolls": 180,
        "dnsPollSeconds": 5,
        "dnsMaxPolls": 60,
        "reevaluateIntervalSeconds": 300,
        "reevaluateMaxAttempts": 6,
    },
}
PLAN = Plan.model_validate(PLAN_DOCUMENT)
# The packaged plan file the functions read (PLAN_FILE), written once for the session.
PLAN_FILE = Path(tempfile.mkdtemp(prefix="regionshift-test-plan-")) / "plan.json"
PLAN_FILE.write_bytes(PLAN.canonical())
PLAN_ENV = {
    "PLAN_FILE": str(PLAN_FILE),
    "PLAN_DIGEST": PLAN.digest(),
    "ALARM_ARN": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:regionshift-primary-unhealthy",
    "TOPIC_ARN": f"arn:aws:sns:us-west-2:{ACCOUNT}:regionshift",
    "TABLE_ARN": f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/regionshift-runs",
    "REPORT_BUCKET": "regionshift-reports-example",
    "REPORT_BASE_URL": "",
}
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def create_run_table(client: Any, name: str = "regionshift-runs") -> None:
    """The run table with the key schema template.yaml declares."""
    props = cfn.load()["Resources"]["RunTable"]["Properties"]
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )


def run_scenario(data: dict[str, Any]) -> drill.DrillResult:
    """Run a scenario given as a dict (the same shape as a scenario file)."""
    return drill.run(scenarios.Scenario.model_validate(data))


@pytest.fixture(scope="session")
def library_results() -> dict[str, drill.DrillResult]:
    """Every shipped scenario, run once per session (the drills are deterministic but not free)."""
    return {path.stem: drill.run(scenarios.load(str(path))) for path in scenarios.library()}


@pytest.hookimpl(wrapper=True)  # around xdist's hook, which reads the groups from the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """With xdist (``make pytest`` runs two workers), the tests that read the whole scenario library
    share one worker, so the library runs once, not once per worker."""
    for item in items:
        if "library_results" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("library"))
    yield
    # xdist (3.8) passes an item's group to the scheduler as a suffix of its node id, set on the
    # attribute pytest 9.2 no longer reads, so with pytest 9.2 no group holds (pytest-xdist#1386): set
    # the suffix where xdist could not. A no-op once xdist sets it, and without --dist loadgroup.
    if config.getoption("loadgroup", False):
        for item in items:
            groups = sorted(
                {
                    str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")
                }
            )
            suffix = f"@{'_'.join(groups)}"
            if groups and not item.nodeid.endswith(suffix):
                from _pytest.nodeid import NodeId  # pytest 9.2's structured node id

                item._id = NodeId.parse(item.nodeid + suffix)
