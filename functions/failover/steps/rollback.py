"""Rollback: restore the records this run changed and say honestly what could not be undone."""

from datetime import datetime

from failover.models import Outcome, RecordChange, RunDocument, RunResult
from failover.notification import error_text
from failover.runtime import Runtime
from failover.state import RunFact


def rollback(doc: RunDocument, rt: Runtime, now: datetime) -> RunResult:
    settings, run = rt.settings, doc.execution.id
    failure = error_text(doc.error)
    captured = [RecordChange.model_validate(c) for c in rt.store.run_fact(run, RunFact.DNS_BEFORE) or []]
    already = rt.store.run_fact(run, RunFact.DNS_RESTORED)
    restored: list[RecordChange] = [RecordChange.model_validate(c) for c in already or []]
    if captured and already is None:
        current = rt.route53.records(settings.hosted_zone_id, tuple(c.name for c in captured))
        back = [
            RecordChange(name=c.name, type=c.type, before=current[c.name].value, after=c.before, ttl=c.ttl)
            for c in captured
            if c.before is not None and c.name in current and current[c.name].value != c.before
        ]
        if back:
            rt.route53.upsert(settings.hosted_zone_id, back, f"Regionshift rollback {run}")
        # Kept, so that a retried rollback still reports what it restored.
        rt.store.save_run_fact(run, RunFact.DNS_RESTORED, [c.wire() for c in back])
        restored = back
    # Only this run's own promotion counts: a standby promoted before it is not this run's doing.
    requested = rt.store.run_fact(run, RunFact.PROMOTION_REQUESTED) is not None
    promoted = False
    if requested:
        db = rt.rds.describe(settings.standby_db_identifier)
        promoted = db.exists and (db.source is None or db.status != "available")
    dns_note = (
        f"restored {len(restored)} record(s) to their previous targets"
        if restored
        else "no DNS record had been changed"
    )
    if promoted:
        return RunResult(
            at=now,
            outcome=Outcome.DEGRADED,
            reason=(
                f"{failure}. The standby database {settings.standby_db_identifier} in {settings.standby_region} "
                f"was promoted and cannot become a replica again; {dns_note}. A human must act: either point "
                f"traffic at {settings.standby_region} by hand, or keep the old primary and rebuild the replica."
            ),
            restored=restored,
            database_promoted=True,
        )
    return RunResult(
        at=now,
        outcome=Outcome.ROLLED_BACK,
        reason=(
            f"{failure}. The standby database was not promoted; {dns_note}. Traffic stays on {settings.primary_region}."
        ),
        restored=restored,
        database_promoted=False,
    )
