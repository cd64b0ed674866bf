"""Finalize: write the audit record, start the cooldown where due, release the lock, count the outcome."""

from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from failover import reevaluation
from failover.models import FinalizeResult, RunDocument
from failover.observability import NAMESPACE, logger, metrics
from failover.runtime import Runtime
from failover.state import AuditRecord, Changes, Decisions


def audit_record(
    doc: RunDocument, finished_at: datetime, plan: str, released: bool, cooldown_until: datetime | None
) -> AuditRecord:
    assert doc.result is not None
    trigger = doc.intake.trigger if doc.intake else None
    raw = doc.intake.raw_excerpt if doc.intake else None
    return AuditRecord(
        execution=doc.execution.id,
        started_at=doc.execution.started_at,
        finished_at=finished_at,
        plan=plan,
        outcome=doc.result.outcome,
        reason=doc.result.reason,
        trigger=trigger,
        raw_trigger=raw,
        flags=doc.intake.flags if doc.intake else None,
        decisions=Decisions(intake=doc.intake.reason if doc.intake else None, gate=doc.gate, assess=doc.assess),
        changes=Changes(promotion=doc.promotion, dns=doc.dns),
        error=doc.error,
        rollback_error=doc.result.rollback_error,
        moved=doc.result.moved,
        not_moved=doc.result.not_moved,
        notification=doc.notification,
        notification_error=doc.notification_error,
        lock_released=released,
        cooldown_until=cooldown_until,
    )


def finalize(doc: RunDocument, rt: Runtime, now: datetime) -> FinalizeResult:
    assert doc.result is not None
    settings, run, outcome = rt.settings, doc.execution.id, doc.result.outcome
    cooldown_until = None
    if outcome.changed_writer and settings.cooldown_seconds > 0:
        cooldown_until = now + timedelta(seconds=settings.cooldown_seconds)
        rt.store.start_cooldown(run, outcome, cooldown_until)
    # Conditional on ownership: releases this run's lock even when Gate failed after taking it,
    # and never another run's.
    released = rt.store.release_lock(run)
    rt.store.put_audit(audit_record(doc, now, settings.plan_name, released, cooldown_until))
    # A metric of its own carries the outcome dimension, so other metrics keep theirs.
    with single_metric(name="Runs", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as runs:
        runs.add_dimension(name="outcome", value=outcome)
    if doc.notification_error:
        logger.error("notification failed", extra={"error": doc.notification_error.wire()})
        metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
    return FinalizeResult(
        outcome=outcome,
        reason=doc.result.reason,
        lock_released=released,
        cooldown_until=cooldown_until,
        reevaluate=reevaluation.next_attempt(doc, settings),
    )
