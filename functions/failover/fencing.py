"""The words of fencing: what the Fence step did about each old primary, for the page and the report.

Per kind, what AWS offers (docs/plan.md, "Fencing"):

* RDS DB instance: ``StopDBInstance`` (the plan's ``fence: stop``). RDS refuses an instance that has
  read replicas (a three-region plan's other standby still follows the old primary) and a Multi-AZ SQL
  Server instance, and starts a stopped instance again after seven days ("Stopping an Amazon RDS DB
  instance temporarily", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html).
* Aurora global database: after ``FailoverGlobalCluster`` with ``AllowDataLoss``, Aurora itself turns
  the old primary cluster into a secondary when its Region recovers ("Recovering an Amazon Aurora global
  database from an unplanned outage", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
* ElastiCache global datastore: ``FailoverGlobalReplicationGroup`` makes "all other clusters" secondaries
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html).
* DynamoDB global table: every replica takes writes (multi-active, "Global tables", Amazon DynamoDB
  Developer Guide): there is no writer to fence.
"""

from failover.models import FenceCode, FenceResult
from failover.plan import Plan

TEXT = {
    FenceCode.STOPPED: "fenced: stopped (StopDBInstance); RDS starts it again after seven days, so delete or "
    "isolate it before then",
    FenceCode.AURORA: "fenced by Aurora: the failover demotes the old primary cluster to a secondary when its "
    "Region recovers (no call)",
    FenceCode.CACHE: "not needed: the datastore's failover made it a secondary (no call)",
    FenceCode.NOT_PROMOTED: "not fenced on purpose: this run did not move it, so it is still the writer",
    FenceCode.PLAN_NONE: "not fenced: the plan says fence: none; make it read-only or stop it by hand",
    FenceCode.UNREACHABLE: "could not fence: region unreachable; fence it when the region returns (stop it, or "
    "make it unreachable for the application)",
    FenceCode.REFUSED: "could not fence: RDS refused to stop it (an instance with read replicas, or a Multi-AZ "
    "SQL Server instance, cannot be stopped); make it read-only, or block its security group, by hand",
    FenceCode.DENIED: "could not fence: not tagged regionshift:plan for this plan (out of the stack's reach); "
    "fence it by hand",
    FenceCode.GONE: "not needed: it no longer exists",
}
TABLES_TEXT = "cannot be fenced: every replica of a global table takes writes (multi-active); nothing to do"


def lines(plan: Plan, fence: FenceResult | None) -> list[str]:
    """One line per old primary of the plan, and one for its global tables."""
    if fence is None:
        return []
    if fence.error is not None:
        names = ", ".join(plan.primary_member(r) for r in plan.movers if r.kind == "rds-instance")
        return [f"Fencing FAILED ({fence.error}): fence the old primaries ({names}) in {plan.primary_region} by hand"]
    found = [
        f"Fence {resource.name} ({plan.primary_member(resource)}, {plan.primary_region}): {TEXT[code]}"
        for resource, code in zip(plan.movers, fence.entries, strict=False)
    ]
    if fence.note:
        found.append(f"Fencing: RDS said: {fence.note}")
    if plan.tables:
        found.append(f"Fence global tables ({', '.join(t.table for t in plan.tables)}): {TABLES_TEXT}")
    return found


def by_hand(plan: Plan, fence: FenceResult | None) -> list[str]:
    """The old primaries a person must still fence (every RDS one when the step itself failed)."""
    if fence is None:
        return []
    if fence.error is not None:
        return [plan.primary_member(r) for r in plan.movers if r.kind == "rds-instance"]
    return [plan.primary_member(r) for r, code in zip(plan.movers, fence.entries, strict=False) if code.by_hand]
