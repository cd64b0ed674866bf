"""Shared fixtures. No test sleeps or reaches the network: AWS is moto, time is virtual."""

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from regionshift import drill
from regionshift import template as cfn
from regionshift.emulator import scenario as scenarios

logging.getLogger("moto").setLevel(logging.CRITICAL)

ACCOUNT = "123456789012"
PLAN_ENV = {
    "PLAN_NAME": "orders",
    "PRIMARY_REGION": "us-east-1",
    "STANDBY_REGION": "us-west-2",
    "PRIMARY_DB_IDENTIFIER": "orders-primary",
    "STANDBY_DB_IDENTIFIER": "orders-standby",
    "HOSTED_ZONE_ID": "Z0EXAMPLE",
    "RECORD_NAMES": "app.example.com,db.example.com",
    "STANDBY_TARGETS": "app-standby.us-west-2.elb.amazonaws.com,orders-standby.abc.us-west-2.rds.amazonaws.com",
    "PRIMARY_HEALTH_CHECK_ID": "hc-primary",
    "STANDBY_HEALTH_CHECK_ID": "hc-standby",
    "ALARM_ARN": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:regionshift-primary-unhealthy",
    "TOPIC_ARN": f"arn:aws:sns:us-west-2:{ACCOUNT}:regionshift",
    "TABLE_ARN": f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/regionshift-runs",
    "HEALTHY_CHECKER_PERCENT": "18",
    "CONFIRM_PROBES": "2",
    "CONFIRM_INTERVAL_SECONDS": "30",
    "MAX_REPLICA_LAG_SECONDS": "60",
    "MAX_EVENT_AGE_SECONDS": "900",
    "LOCK_LEASE_SECONDS": "3600",
    "COOLDOWN_SECONDS": "3600",
    "PROMOTION_POLL_SECONDS": "5",
    "PROMOTION_MAX_POLLS": "180",
    "DNS_POLL_SECONDS": "5",
    "DNS_MAX_POLLS": "60",
    "REPORT_BUCKET": "regionshift-reports-example",
    "REPORT_BASE_URL": "",
    "REEVALUATE_INTERVAL_SECONDS": "300",
    "REEVALUATE_MAX_ATTEMPTS": "6",
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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With xdist (``make pytest`` runs two workers), the tests that read the whole scenario library
    share one worker, so the library runs once, not once per worker."""
    for item in items:
        if "library_results" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("library"))
