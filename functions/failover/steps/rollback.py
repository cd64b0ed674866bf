"""Rollback: decide the honest outcome of a failed run, and never undo a promotion's consequences.

Before the promotion is requested nothing has changed (DNS moves only after it), so the run is
ROLLED_BACK. Once it is requested there is no going back: pointing a record at the old primary would
give two writers traffic. DNS is left as it stands and the run is DEGRADED, with a page that says
exactly which records moved, which did not, and what to do.
"""

from datetime import datetime

from failover.models import Outcome, RunDocument, RunResult
from failover.notification import error_text
from failover.runtime import Runtime
from failover.state import RunFact


def rollback(doc: RunDocument, rt: Runtime, now: datetime) -> RunResult:
    settings, run = rt.settings, doc.execution.id
    failure = error_text(doc.error)
    # Only this run's own request counts: a standby promoted before it is not this run's doing. A
    # request RDS never acted on leaves an available replica: nothing changed, so nothing to undo.
    db = None
    if rt.store.run_fact(run, RunFact.PROMOTION_REQUESTED) is not None:
        db = rt.rds.describe(settings.standby_db_identifier)
    if db is None or not (db.exists and (db.source is None or db.status != "available")):
        return RunResult(
            at=now,
            outcome=Outcome.ROLLED_BACK,
            reason=(
                f"{failure}. The standby database was not promoted and no DNS record was changed; "
                f"traffic stays on {settings.primary_region}."
            ),
            database_promoted=False,
            transient=True,
        )
    current = rt.route53.records(settings.hosted_zone_id, settings.record_names)
    targets = settings.records
    moved = sorted(name for name, target in targets.items() if name in current and current[name].value == target)
    not_moved = sorted(name for name in settings.record_names if name not in moved)
    state = "is now a standalone writer" if db.source is None and db.status == "available" else f"is {db.status}"
    todo = (
        f"once {settings.standby_region} serves, point {', '.join(not_moved)} at it by hand (targets in the plan)"
        if not_moved
        else f"check the application in {settings.standby_region}"
    )
    return RunResult(
        at=now,
        outcome=Outcome.DEGRADED,
        reason=(
            f"{failure}. The standby database {settings.standby_db_identifier} in {settings.standby_region} was "
            f"promoted and {state}; it cannot become a replica again, so DNS was left as it stands "
            f"(moved: {', '.join(moved) or 'none'}; not moved: {', '.join(not_moved) or 'none'}). "
            f"A human must act: {todo}, and fence the old primary {settings.primary_db_identifier} in "
            f"{settings.primary_region} so that it never takes writes again."
        ),
        database_promoted=True,
        moved=moved,
        not_moved=not_moved,
    )
