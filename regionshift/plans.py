"""Plan files on the operator's side: read and validate one, and derive the stack's parameters from it.

The functions read the same plan from their code package (``plan.json``, see ``failover.settings``);
``stack_parameters`` is the one place that turns a plan into what the template needs (its IAM
resources, the alarm's health check, the digest that ties code and stack together).
"""

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from failover.plan import DATABASE_KINDS, Plan, PlanProblemsError

# What the template calls the plan file inside the code package (a relative PLAN_FILE).
PACKAGED_PLAN = "plan.json"
# Pydantic writes JSON Schema draft 2020-12; editors (yaml-language-server) read the $schema.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "Regionshift failover plan"


class PlanFileError(ValueError):
    """A plan file that cannot be read or is not a valid plan; ``problems`` lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def problems_of(exc: ValidationError) -> list[str]:
    """One line per problem: where it is in the document, and what is wrong."""
    found = []
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, PlanProblemsError):
            # The plan's cross-section rules report every problem at once, each already placed.
            found.extend(cause.problems)
            continue
        # A database's kind is the union's tag, not a place in the document: left out of the path.
        where = ".".join(str(part) for part in error["loc"] if part not in DATABASE_KINDS)
        message = str(error["msg"]).removeprefix("Value error, ")
        found.append(f"{where}: {message}" if where else message)
    return found


def parse(data: Any, path: str = "plan") -> Plan:
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(path, problems_of(exc)) from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last: a
    second ``zones:`` would silently drop the first's records)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path) -> Plan:
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except (OSError, yaml.YAMLError) as exc:
        raise PlanFileError(str(path), [f"cannot be read as YAML or JSON: {exc}"]) from exc
    return parse(data, str(path))


# A name no resource can have (RDS, ElastiCache and DynamoDB all refuse a double hyphen or a name this
# short), so that a plan without a kind of resource grants nothing on it: an IAM statement needs a resource.
NO_RESOURCE = "--"


def _arns(arns: list[str], empty: str) -> list[str]:
    return arns or [empty]


def stack_parameters(plan: Plan, plan_file: str = PACKAGED_PLAN) -> dict[str, Any]:
    """The template parameters a plan sets (lists as lists: CloudFormation's CommaDelimitedList).

    Global resources' ARNs leave the account a wildcard: the plan does not name the account, and a
    global cluster or datastore of another account is out of reach without a resource policy, which
    neither has.
    """
    first = plan.standby_regions[0]
    # The replica-lag alarm watches the first database (a cache's lag holds no failover back).
    lag_watch = plan.databases[0]
    return {
        "PlanName": plan.name,
        "PlanFile": plan_file,
        "PlanDigest": plan.digest(),
        "PrimaryRegion": plan.primary_region,
        "PrimaryHealthCheckId": plan.regions.primary.health_check_id,
        "TrafficMode": plan.traffic.mode,
        # A data-plane plan has exactly one standby (its failover pairs' SECONDARY).
        "TrafficStandbyRegion": first,
        "HealthCheckArns": [
            f"arn:aws:route53:::healthcheck/{plan.health_check(region)}" for region in plan.region_names
        ],
        "HostedZoneArns": [f"arn:aws:route53:::hostedzone/{zone.id}" for zone in plan.zones],
        "GlobalClusterArns": _arns(
            [f"arn:aws:rds::*:global-cluster:{m.global_id}" for m in plan.movers if m.kind == "aurora-global"],
            f"arn:aws:rds::*:global-cluster:{NO_RESOURCE}",
        ),
        "GlobalDatastoreArns": _arns(
            [
                f"arn:aws:elasticache::*:globalreplicationgroup:{m.global_id}"
                for m in plan.movers
                if m.kind == "elasticache-global"
            ],
            f"arn:aws:elasticache::*:globalreplicationgroup:{NO_RESOURCE}",
        ),
        "GlobalTableArns": _arns(
            [f"arn:aws:dynamodb:{r}:*:table/{t.table}" for t in plan.tables for r in plan.region_names],
            f"arn:aws:dynamodb:*:*:table/{NO_RESOURCE}",
        ),
        # The replica-lag alarm and the dashboard watch the first database's replica in the first
        # standby region (CloudWatch alarms are regional and watch one metric or expression).
        "LagWatchRegion": first,
        "LagWatchReplica": lag_watch.member(first, plan.primary_region),
        **(
            {
                "LagWatchMetric": "AuroraGlobalDBRPOLag",
                "LagWatchDimension": "DBClusterIdentifier",
                "LagWatchUnitsPerSecond": 1000,
            }
            if lag_watch.kind == "aurora-global"
            else {
                "LagWatchMetric": "ReplicaLag",
                "LagWatchDimension": "DBInstanceIdentifier",
                "LagWatchUnitsPerSecond": 1,
            }
        ),
        "MaxReplicaLagSeconds": plan.rails.max_replica_lag_seconds,
        "MaxEventAgeSeconds": plan.rails.max_event_age_seconds,
        "StandbyHealthCheckId": plan.health_check(first),
        # Standby-side detection: the probe runs when any region has a probeUrl, and its alarm starts
        # runs when the primary has one.
        "ProbedRegions": ",".join(plan.probed_regions) or "none",
        "PrimaryProbed": "true" if plan.primary_region in plan.probed_regions else "false",
    }


def json_schema() -> dict[str, Any]:
    """The plan's JSON Schema, as committed in docs/plan.schema.json (a test keeps the two equal)."""
    return {"$schema": SCHEMA_DIALECT, **Plan.model_json_schema(by_alias=True), "title": SCHEMA_TITLE}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
