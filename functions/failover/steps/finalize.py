"""Finalize: write the audit record, start the cooldown where due, release the lock, count the outcome,
and write the run's report to the stack's bucket."""

from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from failover import clock, history, reevaluation, report
from failover.clients import DEADLINE_MARGIN_SECONDS
from failover.errors import DirectionUnreadableError, ReportError, StateStoreError
from failover.models import Direction, FinalizeResult, RunDocument
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
        decisions=Decisions(
            intake=doc.intake.reason if doc.intake else None, gate=doc.gate, assess=doc.assess, approval=doc.approval
        ),
        changes=Changes(promotions=doc.promotions, target=doc.target, dns=doc.dns, fence=doc.fence, watch=doc.watch),
        error=doc.error,
        rollback_error=doc.result.rollback_error,
        promoted=doc.result.promoted,
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
    moved_to = record_direction(doc, rt, now)
    cooldown_until = None
    if outcome.changed_writer and settings.plan.rails.cooldown_seconds > 0:
        cooldown_until = now + timedelta(seconds=settings.plan.rails.cooldown_seconds)
        rt.store.start_cooldown(run, outcome, cooldown_until)
    # Conditional on ownership: releases this run's lock even when Gate failed after taking it,
    # and never another run's.
    released = rt.store.release_lock(run)
    audit = audit_record(doc, now, settings.plan.name, released, cooldown_until)
    rt.store.put_audit(audit)
    # A metric of its own carries the outcome dimension, so other metrics keep theirs.
    with single_metric(name="Runs", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as runs:
        runs.add_dimension(name="outcome", value=outcome)
    if doc.notification_error:
        logger.error("notification failed", extra={"error": doc.notification_error.wire()})
        metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
    report_error = write_report(audit, rt)
    return FinalizeResult(
        outcome=outcome,
        reason=doc.result.reason,
        lock_released=released,
        cooldown_until=cooldown_until,
        reevaluate=reevaluation.next_attempt(doc, settings),
        report_error=report_error,
        direction=moved_to,
    )


def record_direction(doc: RunDocument, rt: Runtime, now: datetime) -> Direction | None:
    """A run that made writers in its target moved the estate: the next run, and failback, read the plan
    from there (docs/failback.md). Written before the lock is released, so that the next run sees it."""
    assert doc.result is not None
    target = doc.assess.target if doc.assess else None
    if not (doc.result.outcome.changed_writer and target and doc.promoted):
        return None
    over = doc.intake.direction if doc.intake else None
    for _ in range(2):
        moved = Direction(primary_region=target, instances=over.instances if over else {}, at=now, by=doc.execution.id)
        recorded = rt.store.set_direction(moved, over)
        if recorded is not None:
            return recorded
        # Changed by hand while the run held the lock: what this run did is still where the writers are.
        logger.warning("direction changed during the run", extra={"read": over.wire() if over else None})
        try:
            over = rt.store.direction()
        except DirectionUnreadableError as exc:
            # Unreadable: what this run did is where the writers are, written over it.
            over = Direction(primary_region=target, version=exc.version)
    raise StateStoreError("the estate's direction kept changing while the run recorded it")


# A run's history is bounded by its polls (Plan.longest_run_seconds), but a plan with one-second
# polls could make it long: a report shows at most this many events, read in five pages
# ("GetExecutionHistory", AWS Step Functions API Reference: at most 1000 events a page).
MAX_HISTORY_EVENTS = 5000
# The error kept in the result: enough to act on, and the run document stays small.
REPORT_ERROR_CHARS = 500


def write_report(audit: AuditRecord, rt: Runtime) -> str | None:
    """Write report.md, .html and .json under ``report.folder``; the error, if that failed.

    The execution is still running (this is its last step): the report shows its history so far,
    with the outcome from the audit record. The report is for people, so no failure to write it
    fails the run: it is logged, counted and handed back in the result.
    """
    try:
        _time_left()
        events = rt.stepfunctions.history(audit.execution, MAX_HISTORY_EVENTS)
        execution = history.parse(audit.execution, events, truncated=len(events) >= MAX_HISTORY_EVENTS)
        folder = report.folder(audit.execution)
        for name, (content_type, text) in report.render(report.build(execution, audit)).items():
            _time_left()
            rt.s3.put(rt.settings.report_bucket, folder + name, content_type, text)
    except Exception as exc:  # noqa: BLE001 - any failure here, even a bug in rendering, must not fail the run
        error = f"{type(exc).__name__}: {exc}"[:REPORT_ERROR_CHARS]
        logger.error("run report not written", extra={"error": error})
        metrics.add_metric(name="ReportFailures", unit=MetricUnit.Count, value=1)
        return error
    return None


def _time_left() -> None:
    """Refuse to start a report call that could run the invocation past its timeout: a Lambda
    timeout would fail Finalize, and the report must never do that."""
    remaining = clock.remaining_seconds()
    if remaining is not None and remaining < DEADLINE_MARGIN_SECONDS:
        raise ReportError(f"{remaining:.1f} s left in the invocation: report skipped")
