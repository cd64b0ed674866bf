"""The readiness rules a run and ``regionshift check`` both apply, so that the two never disagree.

Each rule answers ``None`` when the resource is ready, or the reason it is not.
"""

from collections.abc import Mapping

from failover.adapters import Record
from failover.models import ReplicaState


def replicates_from(source: str | None, region: str, identifier: str) -> bool:
    """Whether a replica's ``ReadReplicaSourceDBInstanceIdentifier`` names ``identifier`` in ``region``."""
    if source is None:
        return False
    if source == identifier:
        return True
    parts = source.split(":")
    # arn:aws:rds:<region>:<account>:db:<identifier> for a cross-region replica
    return len(parts) == 7 and parts[3] == region and parts[5:] == ["db", identifier]


def standby_replica_problem(replica: ReplicaState, region: str, primary_region: str, primary_db: str) -> str | None:
    """The standby must exist in its region, still replicate from the plan's primary, and be available."""
    name = replica.identifier
    if not replica.exists:
        return f"standby database {name} does not exist in {region}"
    if replica.source is None:
        return f"standby database {name} is not a read replica (already standalone)"
    if not replicates_from(replica.source, primary_region, primary_db):
        return f"standby database {name} replicates from {replica.source}, not {primary_db}"
    if replica.status != "available":
        return f"standby database {name} is {replica.status}, not available"
    return None


def lag_text(lag: float | None) -> str:
    return "unknown (no ReplicaLag datapoints)" if lag is None else f"{lag:g} s"


def lag_problem(lag: float | None, limit: int) -> str | None:
    """Lag at most the limit is acceptable; above it, or unknown, a failover could lose data."""
    if lag is None or lag > limit:
        return f"replica lag {lag_text(lag)}, limit {limit} s: failing over could lose data"
    return None


EXPECTED_RECORD_TYPE = "CNAME"


def record_problems(zone_id: str, records: Mapping[str, str], current: Mapping[str, Record]) -> list[str]:
    """Every plan record must exist in its zone with the type the run will write."""
    problems = []
    for name in records:
        found = current.get(name)
        if found is None:
            problems.append(f"{EXPECTED_RECORD_TYPE} {name} not found in hosted zone {zone_id}")
        elif found.type != EXPECTED_RECORD_TYPE:
            problems.append(f"{name} in hosted zone {zone_id} is a {found.type} record, not {EXPECTED_RECORD_TYPE}")
    return problems


def _labels(hostname: str) -> list[str]:
    return hostname.lower().removesuffix(".").split(".")


def record_target_problems(
    records: Mapping[str, str], current: Mapping[str, Record], primary_region: str, standby: ReplicaState
) -> list[str]:
    """Before the point of no return: every record must point into the primary region (or already at its
    standby target), and a target that names the standby database must be that database's endpoint."""
    problems = []
    for name, target in records.items():
        found = current.get(name)
        if found is None or found.value == target:
            continue
        if primary_region not in _labels(found.value):
            problems.append(
                f"{name} points to {found.value}, neither into {primary_region} nor at its standby target {target}:"
                " someone changed it; moving it could take traffic from a region this plan does not know"
            )
        if _labels(target)[0] == standby.identifier and standby.endpoint and target != standby.endpoint:
            problems.append(
                f"{name} would point to {target}, but {standby.identifier}'s endpoint is {standby.endpoint}"
            )
    if standby.endpoint is None:
        problems.append(f"the endpoint of {standby.identifier} is not known: traffic could not reach it")
    return problems
