"""Failback: after a run moved the writers, bring the estate back to two-region safety (docs/failback.md).

A failover leaves each RDS database with a writer in the new primary region and nothing that follows
it: the old primary is a standalone instance (stopped by Fence, or not), and a third region's replica
still follows that old primary. RDS cannot turn either back into a replica of the new writer, so
failback creates a new cross-region read replica of the writer in the region named
(``CreateDBInstanceReadReplica``), records it in the estate's direction (from then on every run reads
the plan with it), and waits until it is available and caught up. Moving the writers home is then a
planned switchover (``regionshift switchover``), which every rail guards like any run.

Aurora global databases and global datastores need no rebuild: Aurora makes the old primary cluster a
secondary when its region recovers, and a datastore's failover makes the old primary a secondary
member. Their state is shown, not changed.

Creating an instance needs credentials that may create RDS instances in the region (the stack's
OperatorPolicy does not grant it): ``rds:CreateDBInstanceReadReplica`` and ``rds:AddTagsToResource``
(the new replica carries the plan's tag, or the stack's functions could not read or promote it), and
for an encrypted source a KMS key in the destination region.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from failover import members
from failover.models import Direction
from failover.plan import PLAN_TAG, Database, Plan
from failover.rules import lag_problem, lag_text, replicates_from, standby_replica_problem
from regionshift.target import Readers

# "Constraints: Must contain from 1 to 63 letters, numbers, or hyphens" (DBInstanceIdentifier,
# CreateDBInstanceReadReplica, Amazon RDS API Reference).
MAX_IDENTIFIER = 63
# Names tried for a new replica before giving up (each taken one is a replica left from earlier).
NAME_TRIES = 20

State = Literal["ready", "lagging", "building", "missing"]


class FailbackError(Exception):
    """Failback cannot start or go on; the message says why and what to do."""


@dataclass(frozen=True)
class Member:
    """One RDS database's member in the region failback works on, as it stands."""

    database: str
    region: str
    identifier: str  # what the estate's direction names there now
    writer: str
    writer_region: str
    state: State
    detail: str


def standing(readers: Readers, region: str, now: datetime) -> list[Member]:
    """Each RDS database's member in ``region`` (a standby of the plan as the estate stands): a replica
    of the writer that is available and within the lag bound is ready."""
    plan, found = readers.plan, []
    limit = plan.rails.max_replica_lag_seconds
    for resource, identifier in plan.replicas(region):
        if not isinstance(resource, Database):
            continue
        writer = plan.primary_member(resource)
        replica = members.read(readers, resource, region)
        problem = standby_replica_problem(replica, region, plan.primary_region, writer)
        state: State = "ready"
        detail = f"{identifier} replicates from {writer}"
        if (
            problem
            and replica.exists
            and replica.source
            and replicates_from(replica.source, plan.primary_region, writer)
        ):
            state, detail = "building", problem  # a replica of the writer, not yet available
        elif problem:
            state, detail = "missing", problem
        else:
            lag = members.lag_seconds(readers, replica, now)
            too_far = lag_problem(lag, limit)
            if too_far:
                state, detail = "lagging", f"{identifier}: {too_far}"
            else:
                detail += f", lag {lag_text(lag)}"
        found.append(Member(resource.name, region, identifier, writer, plan.primary_region, state, detail))
    return found


def check_region(plan: Plan, region: str) -> None:
    """``region`` can take replicas of the writers: a standby of the estate as it stands."""
    if region == plan.primary_region:
        raise FailbackError(f"{region} holds the writers: name the region to rebuild replicas in")
    if region not in plan.standby_regions:
        raise FailbackError(f"{region} is not a region of the plan ({', '.join(plan.region_names)})")


def new_name(base: str, n: int) -> str:
    suffix = f"-{n}"
    return base[: MAX_IDENTIFIER - len(suffix)].rstrip("-") + suffix


@dataclass(frozen=True)
class Rebuilt:
    database: str
    region: str
    identifier: str
    source: str
    created: bool  # False: an instance of that name already replicated from the writer (a rerun)


def rebuild(
    readers: Readers,
    store: Any,
    direction: Direction | None,
    region: str,
    operator: str,
    reason: str,
    now: datetime,
) -> tuple[list[Rebuilt], Direction | None]:
    """Create a read replica of the writer in ``region`` for each RDS database whose member there is
    missing or follows something else, recording each in the direction as soon as it exists (a crash
    after a creation leaves it named, and a rerun adopts it)."""
    plan = readers.plan
    check_region(plan, region)
    holder = store.lock_holder()
    if holder is not None and holder.lease_until > now:
        raise FailbackError(
            f"a run holds the lock ({holder.owner} until {holder.lease_until.isoformat()}): it may move the "
            "writers; run failback when it has ended"
        )
    rebuilt: list[Rebuilt] = []
    # One suffix for the whole rebuild: the direction's next version (names stay unique across rebuilds).
    first = (direction.version if direction else 0) + 1
    for member in standing(readers, region, now):
        if member.state != "missing":
            continue
        resource = plan.mover(member.database)
        base = plan.origin.mover(member.database).member(region, plan.origin.primary_region)
        identifier, created = _create(readers, resource, member, base, region, first)
        rebuilt.append(Rebuilt(member.database, region, identifier, member.writer, created))
        note = f"{reason} ({member.database}: {identifier} in {region} replicates {member.writer})"
        direction = _record(store, direction, plan, member.database, region, identifier, operator, note, now)
    return rebuilt, direction


def _create(readers: Readers, resource: Any, member: Member, base: str, region: str, first: int) -> tuple[str, bool]:
    client = readers.client("rds", region)
    writer = readers.client("rds", member.writer_region).describe_db_instances(DBInstanceIdentifier=member.writer)
    found_writer = writer["DBInstances"][0]
    if found_writer.get("ReadReplicaSourceDBInstanceIdentifier") or found_writer.get("DBInstanceStatus") != "available":
        raise FailbackError(
            f"{resource.name}: the writer {member.writer} in {member.writer_region} is "
            f"{found_writer.get('DBInstanceStatus')}"
            + (", still a read replica" if found_writer.get("ReadReplicaSourceDBInstanceIdentifier") else "")
            + ": a replica is rebuilt from an available writer"
        )
    writer_arn = found_writer["DBInstanceArn"]
    for n in range(first, first + NAME_TRIES):
        identifier = new_name(base, n)
        found = readers.rds(region).describe(identifier, member.database, region)
        if found.exists:
            if found.source and replicates_from(found.source, member.writer_region, member.writer):
                return identifier, False  # created by an earlier, interrupted failback
            continue
        client.create_db_instance_read_replica(
            DBInstanceIdentifier=identifier,
            SourceDBInstanceIdentifier=writer_arn,
            # boto3 signs the source region's pre-signed URL from it ("CreateDBInstanceReadReplica",
            # Amazon RDS API Reference: SourceRegion / PreSignedUrl).
            SourceRegion=member.writer_region,
            Tags=[{"Key": PLAN_TAG, "Value": readers.plan.name}],
        )
        return identifier, True
    raise FailbackError(f"{resource.name}: {base}-{first} to -{first + NAME_TRIES - 1} are all taken in {region}")


def _record(
    store: Any,
    direction: Direction | None,
    plan: Plan,
    database: str,
    region: str,
    identifier: str,
    operator: str,
    note: str,
    now: datetime,
) -> Direction:
    instances = {k: dict(v) for k, v in (direction.instances if direction else {}).items()}
    instances.setdefault(database, {})[region] = identifier
    wanted = Direction(
        primary_region=plan.primary_region,
        instances=instances,
        at=now,
        by=f"failback by {operator}",
    )
    recorded: Direction | None = store.set_direction(wanted, direction)
    if recorded is None:
        raise FailbackError(
            f"the estate's direction changed while failback ran (a run moved the writers?): {identifier} exists in "
            f"{region} but is not recorded; run failback again to adopt it"
        )
    store.record_operation("failback", operator, note, now)
    return recorded


def wait(
    readers: Readers,
    region: str,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    timeout_seconds: float,
    poll_seconds: float = 30,
    on_poll: Callable[[list[Member]], None] | None = None,
) -> list[Member]:
    """Poll until every RDS database's member in ``region`` is ready (available, replicating from the
    writer, within the plan's lag bound) or the timeout passes; the members as last seen."""
    started = clock()
    while True:
        found = standing(readers, region, clock())
        if on_poll is not None:
            on_poll(found)
        if all(m.state == "ready" for m in found):
            return found
        if any(m.state == "missing" for m in found):
            return found  # nothing will come of waiting
        if (clock() - started).total_seconds() + poll_seconds > timeout_seconds:
            return found
        sleep(poll_seconds)
