"""Shared fixtures. No test sleeps or reaches the network: AWS is moto, time is virtual."""

import ast
import inspect
import logging
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
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
    "PROBE_ALARM_ARN": "",
    "SERVING_CHECK_IDS": "",
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


# The shipped scenarios by name. Each runs at most once per session: on first read, on the worker whose
# tests read it (the hook below puts every test that reads a scenario in that scenario's xdist group).
LIBRARY = {path.stem: path for path in scenarios.library()}
READS = pytest.StashKey[frozenset[str]]()


class LibraryResults(Mapping[str, drill.DrillResult]):
    """The scenarios one test reads, each run on first read and kept for the session (per worker).

    Reading a scenario the collection hook did not see the test read is an error: the scenario's group
    may be on the other worker, so it could run twice."""

    def __init__(self, cache: dict[str, drill.DrillResult], reads: frozenset[str]) -> None:
        self._cache = cache
        self._reads = reads

    def __getitem__(self, name: str) -> drill.DrillResult:
        if name not in self._reads:
            raise RuntimeError(
                f"this test reads scenario {name!r}, which the collection hook did not see it read: read "
                "library_results[...] with a string literal or one of the test's parameters"
            )
        if name not in self._cache:
            self._cache[name] = drill.run(scenarios.load(str(LIBRARY[name])))
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._reads))

    def __len__(self) -> int:
        return len(self._reads)


@pytest.fixture(scope="session")
def library_cache() -> dict[str, drill.DrillResult]:
    """The scenarios this worker has run (the drills are deterministic but not free)."""
    return {}


@pytest.fixture
def library_results(request: pytest.FixtureRequest, library_cache: dict[str, drill.DrillResult]) -> LibraryResults:
    """The shipped scenarios this test reads, by name, each run once per session."""
    return LibraryResults(library_cache, request.node.stash[READS])


def scenarios_read(item: pytest.Function) -> frozenset[str]:
    """The scenarios a test reads: every key it subscripts library_results with, a string literal or one of
    its parameters. A test that uses library_results any other way reads, for all this can tell, them all."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    names: set[str] = set()
    uses = subscripts = 0
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(item.function)))):
        if isinstance(node, ast.Name) and node.id == "library_results":
            uses += 1
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "library_results":
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and isinstance(params.get(key.id), str):
                names.add(params[key.id])
            else:
                continue
            subscripts += 1
    return frozenset(names) if names and subscripts == uses else frozenset(LIBRARY)


@pytest.hookimpl(wrapper=True)  # around xdist's hook, which reads the groups from the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """With xdist (``make pytest`` runs two workers), the tests that read a scenario share one worker, so
    each scenario runs once, not once per worker; different scenarios spread over the workers. A test that
    reads several scenarios joins their groups into one."""
    readers = [
        (item, scenarios_read(item))
        for item in items
        if isinstance(item, pytest.Function) and "library_results" in item.fixturenames
    ]
    joined: dict[str, frozenset[str]] = {}  # scenario -> every scenario read together with it
    for _, names in readers:
        group = names.union(*(joined.get(name, frozenset()) for name in names))
        for name in group:
            joined[name] = group
    for item, names in readers:
        item.stash[READS] = names
        group = sorted(joined[min(names)])
        label = "+".join(group) if len(group) <= 4 else f"{group[0]}+{len(group) - 1}-more"
        item.add_marker(pytest.mark.xdist_group(f"scenario:{label}"))
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
