"""The words of a run: the notification's subject and body, from the run document."""

import json

from failover import reevaluation, report
from failover.models import Outcome, RunDocument, StepError
from failover.settings import Settings


def error_text(error: StepError | None) -> str:
    if error is None:
        return "unknown error"
    cause = error.cause or ""
    try:
        parsed = json.loads(cause)
        cause = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        pass
    return f"{error.error}: {cause}" if cause else error.error


def timeline(doc: RunDocument) -> list[tuple[str, float]]:
    """Seconds from the start of the run to each step's result."""
    start = doc.execution.started_at
    stamps = [
        ("intake", doc.intake.at if doc.intake else None),
        ("gate", doc.gate.at if doc.gate else None),
        ("assess", doc.assess.at if doc.assess else None),
        ("promoted", doc.promotion.at if doc.promotion else None),
        ("dns", doc.dns.at if doc.dns else None),
        ("result", doc.result.at if doc.result else None),
    ]
    return [(name, (at - start).total_seconds()) for name, at in stamps if at is not None]


def report_url(execution_arn: str, settings: Settings) -> str:
    """Where the run's HTML report is: Finalize writes it under ``report.folder``, after Notify."""
    name = report.folder(execution_arn).removeprefix(report.PREFIX)
    if settings.report_base_url:
        return f"{settings.report_base_url.rstrip('/')}/{name}report.html"
    return f"s3://{settings.report_bucket}/{report.PREFIX}{name}report.html"


def subject(doc: RunDocument, settings: Settings) -> str:
    assert doc.result is not None
    regions = f"{settings.primary_region} -> {settings.standby_region}"
    return f"[Regionshift {settings.plan_name}] {doc.result.outcome}: {regions}"


def summary_lines(doc: RunDocument, settings: Settings) -> list[str]:
    result = doc.result
    assert result is not None
    lines = [
        f"Outcome: {result.outcome}",
        f"Reason: {result.reason}",
        f"Plan: {settings.plan_name} ({settings.primary_region} -> {settings.standby_region})",
        f"Execution: {doc.execution.id}",
    ]
    trigger = doc.intake.trigger if doc.intake else None
    if trigger:
        who = {
            "alarm": f"alarm {trigger.alarm_name}",
            "manual": f"operator {trigger.operator}",
            "reevaluation": f"re-evaluation {trigger.attempt} of alarm {trigger.alarm_name} (first run {trigger.of})",
        }[trigger.kind]
        lines.append(f"Trigger: {who} at {trigger.event_time.isoformat()}")
    if doc.intake and doc.intake.flags.dry_run:
        lines.append("Dry run: no change was made.")
    if doc.assess:
        a = doc.assess
        lines.append(f"Assessment (probe {a.probe}): {a.reason}")
        if a.data_loss_accepted:
            lines.append("DATA LOSS ACCEPTED by operator override (recorded in the audit trail).")
        lines.extend(f"Verified before promoting: {check}" for check in a.verified)
    if doc.promotion:
        p = doc.promotion
        lines.append(f"Database: promoted {p.identifier}{' (already standalone)' if p.already_promoted else ''}")
        if p.standby_votes:
            lines.append(f"Standby after the promotion: {p.standby_votes}")
    if doc.dns:
        for c in doc.dns.changes:
            lines.append(f"DNS: {c.name} {c.type} {c.before} -> {c.after}")
    if result.database_promoted and (result.moved or result.not_moved):
        lines.append(f"DNS moved to {settings.standby_region}: {', '.join(result.moved) or 'none'}")
        lines.append(f"DNS NOT moved (left as it stands): {', '.join(result.not_moved) or 'none'}")
    if result.rollback_error:
        lines.append(f"ROLLBACK FAILED: {error_text(result.rollback_error)}")
    if result.outcome == Outcome.DRY_RUN:
        lines.append(f"Would promote {settings.standby_db_identifier} in {settings.standby_region}")
        for name, target in settings.records.items():
            lines.append(f"Would point {name} at {target}")
    if result.outcome.changed_writer and settings.cooldown_seconds:
        lines.append(
            f"Automatic runs are blocked for {settings.cooldown_seconds} s or until acknowledged (regionshift ack)."
        )
    if result.outcome.changed_writer:
        lines.append(
            f"The old primary {settings.primary_db_identifier} in {settings.primary_region} must not take writes "
            "again: fence it before it comes back."
        )
    lines.append(f"Report: {report_url(doc.execution.id, settings)}")
    again = reevaluation.next_attempt(doc, settings)
    if again:
        lines.append(reevaluation.describe(again, settings))
    steps = timeline(doc)
    if steps:
        lines.append("Timeline: " + ", ".join(f"{step} +{secs:.0f}s" for step, secs in steps))
    return lines


def body(doc: RunDocument, settings: Settings) -> str:
    assert doc.result is not None
    details = {
        "outcome": doc.result.outcome,
        "reason": doc.result.reason,
        "execution": doc.execution.id,
        "primaryRegion": settings.primary_region,
        "standbyRegion": settings.standby_region,
        "changes": [c.wire() for c in doc.dns.changes] if doc.dns else [],
        "moved": doc.result.moved,
        "notMoved": doc.result.not_moved,
        "timeline": dict(timeline(doc)),
    }
    return "\n".join(summary_lines(doc, settings)) + "\n\nDetails:\n" + json.dumps(details, indent=2, default=str)
