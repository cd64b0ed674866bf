"""The readiness rules a run and ``regionshift check`` both apply, so that the two never disagree.

Each rule answers ``None`` when the resource is ready, or the reason it is not.
"""

from collections.abc import Mapping

from failover.adapters import Record
from failover.models import ReplicaState, TableState
from failover.plan import PLAN_TAG, Zone

# The resource types of a writer's ARN: an RDS instance, an Aurora cluster, an ElastiCache replication group.
WRITER_TYPES = frozenset({"db", "cluster", "replicationgroup"})
MEMBER_NOUN = {
    "rds-instance": "standby database",
    "aurora-global": "secondary cluster",
    "elasticache-global": "cache member",
}


def replicates_from(source: str | None, region: str, identifier: str) -> bool:
    """Whether a member's writer (``ReadReplicaSourceDBInstanceIdentifier``, or a global resource's
    writer ARN) names ``identifier`` in ``region``."""
    if source is None:
        return False
    if source == identifier:
        return True
    parts = source.split(":")
    # arn:aws:<service>:<region>:<account>:<type>:<identifier>
    return len(parts) == 7 and parts[3] == region and parts[5] in WRITER_TYPES and parts[6] == identifier


def is_standalone_writer(replica: ReplicaState) -> bool:
    """A replica that is no longer one: promoted (by an earlier run, or a person) and taking writes."""
    return replica.exists and not replica.denied and replica.source is None


def earlier_writers(states: list[ReplicaState]) -> str | None:
    """Why no run may fail over while a standby already holds a writer (None: none does).

    An RDS replica promoted earlier (a DEGRADED run, or a person) would get a second writer beside it;
    a global resource whose writer is already in a standby would be moved again, away from where an
    earlier run (or a person) put it. Either way a person settles the estate first."""
    rds = [f"{s.identifier} in {s.region}" for s in states if is_standalone_writer(s) and s.kind == "rds-instance"]
    moved = [
        f"{s.global_id}'s writer is already {s.identifier} in {s.region}"
        for s in states
        if is_standalone_writer(s) and s.kind != "rds-instance"
    ]
    parts = []
    if rds:
        parts.append(
            f"{', '.join(rds)} already a standalone writer (an earlier promotion): failing over now could make "
            "a second writer"
        )
    if moved:
        parts.append(f"{'; '.join(moved)} (an earlier failover): failing over now would move it again")
    if not parts:
        return None
    return "; ".join(parts) + "; finish or settle that failover by hand (the earlier run's page says how)"


def moved_by_request(member: ReplicaState) -> bool:
    """Whether a member whose move this run requested changed (or is changing) for good: a promoted or
    promoting RDS instance, an Aurora secondary that is the writer or the failover's target, a datastore
    member that is the primary, or whose datastore is modifying (ElastiCache does not say towards which
    member: counted as changed, and the page says to check it)."""
    if member.denied or not member.exists:
        return False  # out of the role's reach: the request was refused by IAM as well
    if member.source is None:
        return True
    if member.kind == "aurora-global":
        return member.incoming
    if member.kind == "elasticache-global":
        return member.status == "modifying"
    return member.status != "available"


def standby_replica_problem(replica: ReplicaState, region: str, primary_region: str, primary_db: str) -> str | None:
    """The replica must exist in its region, still replicate from the plan's primary, be available and
    have a known endpoint (traffic could not reach it otherwise)."""
    noun = MEMBER_NOUN[replica.kind]
    name = f"{noun} {replica.identifier}"
    of = f" of {replica.global_id}" if replica.global_id else ""
    if replica.denied:
        return (
            f"{name}{of} in {region} is out of this stack's reach (AccessDenied): it does not "
            f"exist, or is not tagged {PLAN_TAG} with the plan's name (the stack's IAM acts only on those)"
        )
    if not replica.exists:
        return f"{name} does not exist in {region}" + (f" as a member of {replica.global_id}" if of else "")
    if replica.source is None:
        return f"{name} is not a read replica (already standalone)" if not of else f"{name} is already the writer{of}"
    if not replicates_from(replica.source, primary_region, primary_db):
        return f"{name} replicates from {replica.source}, not {primary_db}"
    if replica.status != "available":
        return f"{name}{of} is {replica.status}, not available"
    # The application reaches a cache by its own regional endpoint, which no record of the plan names.
    if not replica.endpoint and replica.kind != "elasticache-global":
        return f"the endpoint of {name} is not known: traffic could not reach it"
    return None


def lag_text(lag: float | None, metric: str = "ReplicaLag") -> str:
    return f"unknown (no {metric} datapoints)" if lag is None else f"{lag:g} s"


def lag_problem(lag: float | None, limit: int, what: str = "replica lag", metric: str = "ReplicaLag") -> str | None:
    """Lag at most the limit is acceptable; above it, or unknown, a failover could lose data."""
    if lag is None or lag > limit:
        return f"{what} {lag_text(lag, metric)}, limit {limit} s: failing over could lose data"
    return None


def table_problem(table: TableState) -> str | None:
    """A global table needs an ACTIVE replica in the target region: every replica takes writes, but the
    application there would have no table (or a stale one) otherwise."""
    where = f"global table {table.table}"
    if table.denied:
        return f"{where} in {table.region} is out of this stack's reach (AccessDenied)"
    if not table.exists:
        return f"{where} has no replica in {table.region}"
    if not table.global_with_primary:
        return f"{where} in {table.region} is not a replica of the primary region's table (not the same global table)"
    if table.status != "ACTIVE":
        return f"{where}'s replica in {table.region} is {table.status}, not ACTIVE"
    return None


def record_problems(zone: Zone, current: Mapping[tuple[str, str], Record]) -> list[str]:
    """Every plan record must exist in its zone, with its type and kind (alias or not)."""
    problems = []
    for spec in zone.records:
        found = current.get((spec.name, spec.type))
        kind = f"alias {spec.type}" if spec.alias else spec.type
        if found is None:
            others = sorted(t for (name, t) in current if name == spec.name)
            also = f" (it has {', '.join(others)})" if others else ""
            problems.append(f"{kind} {spec.name} not found in hosted zone {zone.id}{also}")
        elif found.alias != spec.alias:
            problems.append(
                f"{spec.name} {spec.type} in hosted zone {zone.id} is {'an alias' if found.alias else 'not an alias'}, "
                f"the plan says {kind}"
            )
    return problems


def _labels(hostname: str) -> list[str]:
    return hostname.lower().removesuffix(".").split(".")


def record_target_problems(
    zone: Zone,
    current: Mapping[tuple[str, str], Record],
    primary_region: str,
    target_region: str,
    replicas: list[ReplicaState],
) -> list[str]:
    """Before the point of no return: every record must point at its primary target (or already at its
    target in ``target_region``), and a CNAME that names one of the target's databases must name that
    database's endpoint."""
    problems = []
    endpoints = {r.identifier.lower(): r.endpoint for r in replicas}
    for spec in zone.records:
        found = current.get((spec.name, spec.type))
        target = spec.target(target_region)
        if found is None or found.value == target:
            continue
        if found.value != spec.target(primary_region):
            elsewhere = next((r for r in spec.targets if r != target_region and spec.target(r) == found.value), None)
            problems.append(
                f"{spec.name} points at its {elsewhere} target {found.value} (an earlier failover, or a person): "
                f"moving it to {target_region} could split traffic between two writers' regions"
                if elsewhere
                else f"{spec.name} points to {found.value}, neither at its {primary_region} target nor at its "
                f"{target_region} target {target}: someone changed it; moving it could take traffic from a "
                "region this plan does not know"
            )
        if not spec.alias:
            endpoint = endpoints.get(_labels(target)[0])
            if endpoint and target != endpoint.lower().removesuffix("."):
                problems.append(
                    f"{spec.name} would point to {target}, but {_labels(target)[0]}'s endpoint is {endpoint}"
                )
    return problems
