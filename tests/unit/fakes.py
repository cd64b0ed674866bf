"""Fake AWS for the step tests: health checks, replicas, lags and hosted zones of a plan, and the run
document's first sections. No network, no sleeps; each fake records the calls made to it."""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError

from failover import clock
from failover.clients import Clients
from failover.models import Direction, IntakeInput, IntakeResult, RunDocument
from failover.plan import PLAN_TAG, Plan
from failover.runtime import Runtime
from failover.settings import Settings
from failover.steps.intake import intake as intake_step
from tests.conftest import ACCOUNT, NOW, PLAN, PLAN_DOCUMENT, PLAN_ENV

SETTINGS = Settings.from_env(PLAN_ENV)
EXECUTION = {
    "id": f"arn:aws:states:us-west-2:{ACCOUNT}:execution:regionshift-orders:run-1",
    "startedAt": NOW.isoformat(),
}
WAITS = {"confirmIntervalSeconds": 30, "promotionPollSeconds": 5, "dnsPollSeconds": 5}


def settings_for(plan: Plan) -> Settings:
    return SETTINGS.model_copy(update={"plan": plan})


def plan_with(**changes: Any) -> Plan:
    """The test plan with some top-level sections replaced (``zones=[...]``, ``rails={...}``)."""
    return Plan.model_validate({**copy.deepcopy(PLAN_DOCUMENT), **changes})


# A second zone: an apex alias A, an alias AAAA and a CNAME that names no database.
OTHER_ZONE: dict[str, Any] = {
    "id": "Z0OTHER",
    "name": "example.org",
    "records": [
        {
            "name": "example.org",
            "type": "A",
            "evaluateTargetHealth": False,
            "targets": {
                region: {"dnsName": f"d{region}.cloudfront.net", "hostedZoneId": "Z2FDTNDATAQYW2"}
                for region in ("us-east-1", "us-west-2", "eu-west-1")
            },
        },
        {
            "name": "api.example.org",
            "type": "AAAA",
            "evaluateTargetHealth": True,
            "targets": {
                region: {"dnsName": f"dualstack.api-{region}.{region}.elb.amazonaws.com", "hostedZoneId": "ZELB"}
                for region in ("us-east-1", "us-west-2", "eu-west-1")
            },
        },
        {
            "name": "www.example.org",
            "type": "CNAME",
            "ttl": 300,
            "targets": {region: f"www.{region}.example.net" for region in ("us-east-1", "us-west-2", "eu-west-1")},
        },
    ],
}
TWO_ZONES = plan_with(zones=[*PLAN_DOCUMENT["zones"], OTHER_ZONE])


def endpoint(identifier: str, region: str) -> str:
    """A replica's endpoint, as the plan's CNAME targets name them."""
    return f"{identifier}.abc.{region}.rds.amazonaws.com"


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class Estate:
    """The AWS a run sees. By default the primary is down (every checker fails), both standbys are
    healthy, every replica is available, replicates from its primary and lags 2 s, and every record
    points at its primary target."""

    def __init__(self, plan: Plan = PLAN, checkers: int = 8) -> None:
        self.plan, self.checkers = plan, checkers
        self.failing: dict[str, int] = {plan.regions.primary.health_check_id: checkers}
        self.replicas: dict[str, dict[str, Any]] = {
            identifier: {
                "region": region,
                "exists": True,
                "status": "available",
                "source": f"arn:aws:rds:{plan.primary_region}:{ACCOUNT}:db:{db.primary}",
                "endpoint": endpoint(identifier, region),
            }
            for db in plan.databases
            for region, identifier in db.replicas.items()
        }
        self.lag: dict[str, float | None] = dict.fromkeys(self.replicas, 2.0)
        self.zones: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            zone.id: {(spec.name, spec.type): spec.record_set(plan.primary_region) for spec in zone.records}
            for zone in plan.zones
        }
        self.change_status: dict[str, str] = {}
        self.promote_error: str | None = None
        # (operation, region, what): every call a step made, in order.
        self.calls: list[tuple[str, str, str]] = []

    def point(self, zone_id: str, name: str, record_type: str, region: str) -> None:
        """Point one record at its target in ``region``."""
        (spec,) = [
            s for z in self.plan.zones if z.id == zone_id for s in z.records if (s.name, s.type) == (name, record_type)
        ]
        self.zones[zone_id][(name, record_type)] = spec.record_set(region)

    def called(self, operation: str) -> list[tuple[str, str]]:
        return [(region, what) for op, region, what in self.calls if op == operation]

    def runtime(self, store: Any = None, settings: Settings | None = None) -> Runtime:
        def factory(service: str, region_name: str, **_: Any) -> Any:
            fakes = {"route53": FakeRoute53, "rds": FakeRds, "cloudwatch": FakeCloudWatch}
            return fakes[service](self, region_name)

        return Runtime(settings or settings_for(self.plan), Clients(factory), store=store)


class FakeRoute53:
    def __init__(self, estate: Estate, region: str) -> None:
        self.estate, self.region = estate, region

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:
        self.estate.calls.append(("GetHealthCheckStatus", self.region, HealthCheckId))
        failing = self.estate.failing.get(HealthCheckId, 0)
        return {
            "HealthCheckObservations": [
                {"StatusReport": {"Status": "Failure: timeout" if i < failing else "Success: HTTP 200"}}
                for i in range(self.estate.checkers)
            ]
        }

    def list_resource_record_sets(self, HostedZoneId: str, **_: Any) -> dict[str, Any]:
        self.estate.calls.append(("ListResourceRecordSets", self.region, HostedZoneId))
        sets = [{**rrset, "Name": rrset["Name"] + "."} for rrset in self.estate.zones[HostedZoneId].values()]
        return {"ResourceRecordSets": sets, "IsTruncated": False}

    def change_resource_record_sets(self, HostedZoneId: str, ChangeBatch: dict[str, Any]) -> dict[str, Any]:
        self.estate.calls.append(("ChangeResourceRecordSets", self.region, HostedZoneId))
        for change in ChangeBatch["Changes"]:
            rrset = change["ResourceRecordSet"]
            self.estate.zones[HostedZoneId][(rrset["Name"], rrset["Type"])] = rrset
        change_id = f"/change/C{len(self.estate.change_status) + 1}"
        self.estate.change_status[change_id] = "PENDING"
        return {"ChangeInfo": {"Id": change_id, "Status": "PENDING"}}

    def get_change(self, Id: str) -> dict[str, Any]:
        self.estate.calls.append(("GetChange", self.region, Id))
        return {"ChangeInfo": {"Id": Id, "Status": self.estate.change_status[Id]}}


class FakeRds:
    """RDS in one region: an instance of another region is not found here."""

    def __init__(self, estate: Estate, region: str) -> None:
        self.estate, self.region = estate, region

    def describe_db_instances(self, DBInstanceIdentifier: str) -> dict[str, Any]:
        self.estate.calls.append(("DescribeDBInstances", self.region, DBInstanceIdentifier))
        replica = self.estate.replicas.get(DBInstanceIdentifier)
        if replica is None or not replica["exists"] or replica["region"] != self.region:
            raise client_error("DBInstanceNotFound", "DescribeDBInstances", 404)
        instance = {
            "DBInstanceIdentifier": DBInstanceIdentifier,
            "DBInstanceStatus": replica["status"],
            "Endpoint": {"Address": replica["endpoint"]},
        }
        if replica["source"]:
            instance["ReadReplicaSourceDBInstanceIdentifier"] = replica["source"]
        return {"DBInstances": [instance]}

    def promote_read_replica(self, DBInstanceIdentifier: str, **_: Any) -> dict[str, Any]:
        self.estate.calls.append(("PromoteReadReplica", self.region, DBInstanceIdentifier))
        if self.estate.promote_error:
            raise client_error(self.estate.promote_error, "PromoteReadReplica")
        replica = self.estate.replicas[DBInstanceIdentifier]
        if replica["source"] is None:
            raise client_error("InvalidDBInstanceState", "PromoteReadReplica")
        replica["source"] = None
        return {}


class FakeCloudWatch:
    """RDS publishes a replica's ReplicaLag in the replica's own region."""

    def __init__(self, estate: Estate, region: str) -> None:
        self.estate, self.region = estate, region

    def get_metric_statistics(self, Dimensions: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        (dimension,) = Dimensions
        identifier = dimension["Value"]
        self.estate.calls.append(("GetMetricStatistics", self.region, identifier))
        lag = self.estate.lag.get(identifier)
        if lag is None or self.estate.replicas[identifier]["region"] != self.region:
            return {"Datapoints": []}
        return {"Datapoints": [{"Timestamp": NOW - timedelta(minutes=1), "Maximum": lag}]}


class MemoryStore:
    """The run facts of the state store, in memory."""

    def __init__(self) -> None:
        self.facts: dict[tuple[str, str, str], Any] = {}

    def save_run_fact(self, run: str, fact: str, value: Any, key: str = "") -> None:
        self.facts[(run, str(fact), key)] = value

    def run_fact(self, run: str, fact: str, key: str = "") -> Any:
        return self.facts.get((run, str(fact), key))


@contextmanager
def virtual_sleeps() -> Iterator[list[float]]:
    """The in-Lambda retries sleep in virtual time (into the yielded list)."""
    sleeps: list[float] = []
    clock.use(lambda: NOW, sleeps.append)
    try:
        yield sleeps
    finally:
        clock.use(None)


# --- the run document --------------------------------------------------------------------------


def alarm(**overrides: Any) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": "evt-1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": (NOW - timedelta(seconds=10)).isoformat(),
        "region": "us-east-1",
        "resources": [PLAN_ENV["ALARM_ARN"]],
        "detail": {"alarmName": "regionshift-primary-unhealthy", "state": {"value": "ALARM"}},
    }
    event.update(overrides)
    return event


def tagged_instance(region: str, identifier: str, plan: str = PLAN.name) -> None:
    """A standalone RDS instance in moto, tagged for ``plan`` (as the stack's IAM requires)."""
    import boto3

    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret",
        AllocatedStorage=20,
        Tags=[{"Key": PLAN_TAG, "Value": plan}],
    )


def manual(**fields: Any) -> dict[str, Any]:
    """What the ManualRun state machine starts a run with, for an operator's ``fields``."""
    return {"manual": {"operator": "a", "reason": "x", **fields}}


def intake(trigger: Any, settings: Settings = SETTINGS, direction: Direction | None = None) -> IntakeResult:
    """Intake's result, the estate's direction read as ``direction`` (None: as the plan was written)."""
    store = SimpleNamespace(direction=lambda: direction)
    rt = Runtime(settings, Clients(), store=store)  # type: ignore[arg-type]
    output = intake_step(IntakeInput.model_validate({"trigger": trigger, "execution": EXECUTION}), rt, NOW)
    assert output.execution.id == EXECUTION["id"]
    return output.intake


def document(trigger: Any = None, settings: Settings = SETTINGS, **sections: Any) -> RunDocument:
    base = {"execution": EXECUTION, "intake": intake(trigger or alarm(), settings).wire()}
    return RunDocument.model_validate({**base, **sections})


def assessed(target: str, plan: Plan = PLAN, trigger: Any = None, **sections: Any) -> RunDocument:
    """A document past Assess, moving to ``target`` with its replicas."""
    replicas = [
        {"identifier": identifier, "database": db.name, "region": target, "exists": True, "status": "available"}
        for db, identifier in plan.replicas(target)
    ]
    assess = {"at": NOW.isoformat(), "decision": "PROCEED", "reason": "", "probe": 3, "target": target}
    return document(trigger, settings_for(plan), assess={**assess, "replicas": replicas}, **sections)
