"""Rollback: decide the honest outcome of a failed run, and never undo a promotion's consequences.

Before any promotion is requested nothing has changed (DNS moves only after them), so the run is
ROLLED_BACK. Once one is requested there is no going back: pointing a record at the old primary would
give two writers traffic, and a promoted database cannot become a replica again. DNS is left as it
stands and the run is DEGRADED, with a page that says exactly which databases were promoted, which
records moved, which did not, and what to do.
"""

from datetime import datetime

from failover import members, traffic
from failover.models import Outcome, ReplicaState, RunDocument, RunResult
from failover.notification import error_text
from failover.plan import Movable
from failover.rules import moved_by_request
from failover.runtime import Runtime
from failover.state import RunFact


def rollback(doc: RunDocument, rt: Runtime, now: datetime) -> RunResult:
    plan, run = rt.plan, doc.execution.id
    failure = error_text(doc.error)
    target = doc.assess.target if doc.assess else None
    # Only this run's own requests count: a replica promoted before it is not this run's doing. A
    # request RDS never acted on leaves an available replica: nothing changed, so nothing to undo.
    changed: list[ReplicaState] = []
    if target is not None:
        for resource, identifier in plan.replicas(target):
            if rt.store.run_fact(run, RunFact.PROMOTION_REQUESTED, key=identifier) is None:
                continue
            state = members.read(rt, resource, target)
            if moved_by_request(state):
                changed.append(state)
    if not changed:
        return RunResult(
            at=now,
            outcome=Outcome.ROLLED_BACK,
            reason=(
                f"{failure}. No database was promoted and no DNS record was changed; "
                f"traffic stays on {plan.primary_region}."
            ),
            database_promoted=False,
            transient=True,
        )
    assert target is not None
    moved, not_moved = traffic.placement(rt, target)
    promoted = [s.identifier for s in changed]
    states = ", ".join(_state_text(s) for s in changed)
    requested = {s.identifier for s in changed}
    untouched = [(r, identifier) for r, identifier in plan.replicas(target) if identifier not in requested]
    # What a person must do comes first and every name in it is kept: the reason is clipped at
    # REASON_LIMIT, so the long parts (the state of each database, the error) come after it.
    actions = []
    if untouched:
        actions.append(f"{_moves(untouched)} in {target} (the application there has no writer for them)")
    if not_moved and plan.traffic.mode == "data-plane":
        actions.append(
            f"once {target} serves, publish Regionshift Serving 1 for {target}, then 0 for the other region, in "
            f"the stack region (docs/traffic.md); never edit one record of a failover pair"
        )
    elif not_moved:
        actions.append(f"once {target} serves, point {_names(sorted(not_moved))} at it (targets in the plan)")
    else:
        actions.append(f"check the application in {target}")
    # A global database or datastore has one writer by construction; RDS instances must be fenced.
    instances = [plan.primary_member(r) for r in plan.movers if r.kind == "rds-instance"]
    if instances:
        actions.append(
            f"fence the old primaries ({_names(instances)}) in {plan.primary_region} so that they never take "
            "writes again"
        )
    noun = "database(s) and cache(s)" if plan.caches else "database(s)"
    return RunResult(
        at=now,
        outcome=Outcome.DEGRADED,
        reason=(
            f"A human must act: {'; '.join(actions)}. "
            f"In {target}, {len(changed)} of {len(plan.movers)} {noun} promoted ({states}); a promoted database "
            f"cannot become a replica again, so DNS was left as it stands (moved: {len(moved)}, not moved: "
            f"{len(not_moved)}). Cause: {failure}."
        ),
        database_promoted=True,
        promoted=promoted,
        moved=sorted(moved),
        not_moved=sorted(not_moved),
    )


# Names an action lists; beyond them the rest are counted (every one is in the plan, and the
# notification lists the records not moved).
NAMES_SHOWN = 20


def _state_text(member: ReplicaState) -> str:
    if member.source is None and member.status == "available":
        return f"{member.identifier} is " + ("a standalone writer" if member.kind == "rds-instance" else "the writer")
    if member.kind == "elasticache-global":
        return (
            f"{member.identifier}'s datastore is {member.status} (check that {member.identifier} becomes its primary)"
        )
    return f"{member.identifier} is {member.status}"


def _moves(left: list[tuple[Movable, str]]) -> str:
    """What moving each resource still takes, by kind."""
    parts = []
    promote = [identifier for r, identifier in left if r.kind == "rds-instance"]
    if promote:
        parts.append(f"promote {_names(promote)}")
    for kind, what in (
        ("aurora-global", "fail over global cluster"),
        ("elasticache-global", "fail over global datastore"),
    ):
        moves = [f"{r.global_id} to {identifier}" for r, identifier in left if r.kind == kind]
        if moves:
            parts.append(f"{what} {_names(moves)}")
    return "; ".join(parts)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more of the plan's" if more > 0 else shown
