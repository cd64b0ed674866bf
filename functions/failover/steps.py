"""The decisions and actions of each step. Handlers parse, call one of these, and return its model.

Every step is idempotent: run again with the same document it finds its own work done and says so.
"""

import json
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import ValidationError

from failover.adapters import replicates_from
from failover.errors import DnsSyncTimeoutError, DnsUpdateError, PromotionTimeoutError
from failover.models import (
    AlarmEvent,
    AssessResult,
    DnsState,
    FinalizeResult,
    Flags,
    GateResult,
    IntakeInput,
    IntakeResult,
    ManualTrigger,
    NotifyResult,
    PlanSummary,
    PromotionState,
    RecordChange,
    ReplicaState,
    RunDocument,
    RunResult,
    StepError,
    TriggerInfo,
    Waits,
)
from failover.observability import NAMESPACE, logger, metrics
from failover.runtime import Runtime
from failover.settings import Settings

# An alarm event stamped this far in the future is not trusted (clock skew beyond this is a fault).
MAX_FUTURE_SKEW = timedelta(minutes=5)
CAPTURE_DNS = "dns-before"
RESTORED_DNS = "dns-restored"
PROMOTION_REQUESTED = "promotion-requested"


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# --- Intake ------------------------------------------------------------------------------------


def intake(inp: IntakeInput, rt: Runtime, now: datetime) -> IntakeResult:
    """Validate and normalise the trigger. Never raises on bad input: it refuses with the reason."""
    settings = rt.settings

    def result(
        decision: str, reason: str, trigger: TriggerInfo | None = None, flags: Flags | None = None
    ) -> IntakeResult:
        return IntakeResult(
            at=now,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,
            trigger=trigger,
            flags=flags or Flags(),
            waits=Waits(
                confirm_interval_seconds=settings.confirm_interval_seconds,
                promotion_poll_seconds=settings.promotion_poll_seconds,
                dns_poll_seconds=settings.dns_poll_seconds,
            ),
            plan=PlanSummary(
                name=settings.plan_name,
                primary_region=settings.primary_region,
                standby_region=settings.standby_region,
                primary_db=settings.primary_db_identifier,
                standby_db=settings.standby_db_identifier,
                records=settings.records,
            ),
        )

    raw = inp.trigger
    if not isinstance(raw, dict):
        return result("REFUSED", f"bad input: the trigger must be a JSON object, not {type(raw).__name__}")
    if "detail-type" in raw or raw.get("source") == "aws.cloudwatch":
        return _alarm_intake(raw, settings, now, result)
    try:
        manual = ManualTrigger.model_validate(raw)
    except ValidationError as exc:
        return result("REFUSED", f"bad input: {describe_validation(exc)}")
    mismatch = _plan_mismatch(manual, settings)
    if mismatch:
        return result("REFUSED", f"bad input: {mismatch}")
    trigger = TriggerInfo(kind="manual", event_time=now, operator=manual.operator, reason=manual.reason)
    flags = Flags(
        dry_run=manual.dry_run,
        accept_data_loss=manual.accept_data_loss,
        bypass_cooldown=manual.bypass_cooldown,
    )
    what = "dry run" if manual.dry_run else "manual failover"
    return result("PROCEED", f"{what} requested by {manual.operator}: {manual.reason}", trigger, flags)


def _alarm_intake(raw: dict[str, Any], settings: Settings, now: datetime, result: Any) -> IntakeResult:
    try:
        event = AlarmEvent.model_validate(raw)
    except ValidationError as exc:
        return result("REFUSED", f"bad input: not a CloudWatch alarm event: {describe_validation(exc)}")
    trigger = TriggerInfo(kind="alarm", event_id=event.id, event_time=event.time, alarm_name=event.detail.alarm_name)
    if settings.alarm_arn not in event.resources:
        return result("REFUSED", f"bad input: alarm {event.resources} is not this plan's alarm", trigger)
    if event.detail.state.value != "ALARM":
        return result("REFUSED", f"alarm state is {event.detail.state.value}, not ALARM", trigger)
    age = now - event.time
    if age > timedelta(seconds=settings.max_event_age_seconds):
        return result(
            "REFUSED",
            f"stale event: raised {int(age.total_seconds())} s ago, limit {settings.max_event_age_seconds} s",
            trigger,
        )
    if -age > MAX_FUTURE_SKEW:
        return result("REFUSED", f"bad input: event time {event.time.isoformat()} is in the future", trigger)
    return result("PROCEED", f"alarm {event.detail.alarm_name} entered ALARM", trigger)


def _plan_mismatch(manual: ManualTrigger, settings: Settings) -> str | None:
    if manual.source_region and manual.target_region and manual.source_region == manual.target_region:
        return f"source and target region are both {manual.source_region}"
    if manual.source_region and manual.source_region != settings.primary_region:
        return f"sourceRegion {manual.source_region} is not the plan's primary region {settings.primary_region}"
    if manual.target_region and manual.target_region != settings.standby_region:
        return f"targetRegion {manual.target_region} is not the plan's standby region {settings.standby_region}"
    if manual.replica and manual.replica != settings.standby_db_identifier:
        return f"replica {manual.replica} is not the plan's standby database {settings.standby_db_identifier}"
    if manual.records is not None and set(manual.records) != set(settings.record_names):
        # An assertion, not a selection: a run always moves every record of the plan together.
        return f"records {sorted(manual.records)} are not the plan's records {sorted(settings.record_names)}"
    return None


# --- Gate: lock, duplicates, pause, cooldown -----------------------------------------------------


def gate(doc: RunDocument, rt: Runtime, now: datetime) -> GateResult:
    assert doc.intake is not None and doc.intake.trigger is not None
    settings, store, run = rt.settings, rt.store, doc.execution.id
    acquired, holder = store.acquire_lock(run, now, settings.lock_lease_seconds)
    if not acquired:
        return GateResult(
            at=now,
            decision="REFUSED",
            acquired=False,
            reason=f"another run holds the lock: {holder.get('owner', '?')} until {holder.get('leaseUntil', '?')}",
        )
    lease_until = now + timedelta(seconds=settings.lock_lease_seconds)

    def refuse(reason: str) -> GateResult:
        return GateResult(at=now, decision="REFUSED", acquired=True, lease_until=lease_until, reason=reason)

    trigger, flags = doc.intake.trigger, doc.intake.flags
    if trigger.event_id:
        keep = 2 * max(settings.max_event_age_seconds, 86400)
        other = store.claim_event(trigger.event_id, run, now, keep)
        if other:
            return refuse(f"duplicate delivery of event {trigger.event_id}, already handled by {other}")
    paused = store.paused()
    if paused:
        return refuse(f"paused by {paused['operator']} at {paused['at']}: {paused['reason']}")
    cooldown = store.cooldown(now)
    if cooldown:
        if trigger.kind == "manual" and flags.bypass_cooldown:
            logger.warning("cooldown bypassed by operator", extra={"cooldown": cooldown})
        else:
            return refuse(
                f"cooldown after {cooldown['outcome']} run {cooldown['execution']} until {cooldown['until']};"
                " acknowledge it (regionshift ack) to allow another run"
            )
    return GateResult(at=now, decision="PROCEED", acquired=True, lease_until=lease_until, reason="lock acquired")


# --- Assess: confirm the outage, the standby's readiness and the data-loss bound -----------------


def assess(doc: RunDocument, rt: Runtime, now: datetime) -> AssessResult:
    assert doc.intake is not None
    settings, flags = rt.settings, doc.intake.flags
    probe = (doc.assess.probe if doc.assess else 0) + 1
    primary = rt.route53.checker_votes(settings.primary_health_check_id, settings.healthy_checker_percent)
    standby = rt.route53.checker_votes(settings.standby_health_check_id, settings.healthy_checker_percent)

    def decide(decision: str, reason: str, replica: ReplicaState | None = None, accepted: bool = False) -> AssessResult:
        return AssessResult(
            at=now,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,
            probe=probe,
            primary=primary,
            standby=standby,
            replica=replica,
            data_loss_accepted=accepted,
        )

    def votes(v: Any) -> str:
        return f"{v.healthy}/{v.healthy + v.failing} checkers healthy"

    if primary.verdict == "HEALTHY":
        return decide(
            "NO_ACTION",
            f"primary {settings.primary_region} is healthy ({votes(primary)}, "
            f"needs {settings.healthy_checker_percent}%)" + (f" on re-probe {probe - 1}" if probe > 1 else ""),
        )
    if primary.verdict == "UNKNOWN":
        return decide("REFUSED", f"no checker observations for the primary's health check {primary.health_check_id}")
    if standby.verdict != "HEALTHY":
        return decide(
            "REFUSED",
            f"standby {settings.standby_region} is not healthy either ({votes(standby)}): moving traffic helps nobody",
        )
    if probe <= settings.confirm_probes:
        return decide(
            "RECHECK",
            f"primary unhealthy ({votes(primary)}) on probe {probe}; "
            f"re-probing in {settings.confirm_interval_seconds} s",
        )
    replica = rt.rds.describe(settings.standby_db_identifier)
    name = settings.standby_db_identifier
    if not replica.exists:
        return decide("REFUSED", f"standby database {name} does not exist in {settings.standby_region}", replica)
    if replica.source is None:
        return decide("REFUSED", f"standby database {name} is not a read replica (already standalone)", replica)
    if not replicates_from(replica.source, settings.primary_region, settings.primary_db_identifier):
        return decide(
            "REFUSED",
            f"standby database {name} replicates from {replica.source}, not {settings.primary_db_identifier}",
            replica,
        )
    if replica.status != "available":
        return decide("REFUSED", f"standby database {name} is {replica.status}, not available", replica)
    lag = rt.cloudwatch.replica_lag(name, now)
    replica = replica.model_copy(update={"lag_seconds": lag})
    limit = settings.max_replica_lag_seconds
    lag_text = "unknown (no ReplicaLag datapoints)" if lag is None else f"{lag:g} s"
    if lag is None or lag > limit:
        trigger = doc.intake.trigger
        if trigger is not None and trigger.kind == "manual" and flags.accept_data_loss:
            return decide(
                "PROCEED",
                f"replica lag {lag_text} exceeds {limit} s; data loss accepted by {trigger.operator}: {trigger.reason}",
                replica,
                accepted=True,
            )
        return decide("REFUSED", f"replica lag {lag_text}, limit {limit} s: failing over could lose data", replica)
    return decide(
        "PROCEED",
        f"primary down ({votes(primary)}) after {probe} probe(s); standby healthy; "
        f"replica lag {lag_text} within {limit} s",
        replica,
    )


# --- Promote ------------------------------------------------------------------------------------


def promote(doc: RunDocument, rt: Runtime, now: datetime) -> PromotionState:
    identifier = rt.settings.standby_db_identifier
    # The intent is written before the call: if the response is lost, rollback still knows.
    rt.store.save_run_fact(doc.execution.id, PROMOTION_REQUESTED, {"identifier": identifier, "at": now.isoformat()})
    already = rt.rds.promote(identifier)
    return PromotionState(at=now, identifier=identifier, already_promoted=already)


def promotion_status(doc: RunDocument, rt: Runtime, now: datetime) -> PromotionState:
    assert doc.promotion is not None
    state = rt.rds.describe(doc.promotion.identifier)
    polls = doc.promotion.polls + 1
    available = state.exists and state.source is None and state.status == "available"
    if not available and polls >= rt.settings.promotion_max_polls:
        raise PromotionTimeoutError(
            f"{doc.promotion.identifier} still {state.status} (replica of {state.source}) after {polls} polls"
        )
    return doc.promotion.model_copy(update={"at": now, "available": available, "status": state.status, "polls": polls})


# --- DNS ----------------------------------------------------------------------------------------


def update_dns(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    settings, run = rt.settings, doc.execution.id
    current = rt.route53.records(settings.hosted_zone_id, settings.record_names)
    missing = [name for name in settings.record_names if name not in current]
    if missing:
        raise DnsUpdateError(f"records not found in hosted zone {settings.hosted_zone_id}: {missing}")
    captured = rt.store.run_fact(run, CAPTURE_DNS)
    if captured is None:
        # First attempt: capture the records as they are, before any change, and keep it safe.
        changes = [
            RecordChange(
                name=name, type=current[name].type, before=current[name].value, after=target, ttl=current[name].ttl
            )
            for name, target in settings.records.items()
            if current[name].value != target
        ]
        rt.store.save_run_fact(run, CAPTURE_DNS, [c.wire() for c in changes])
    else:
        changes = [RecordChange.model_validate(c) for c in captured]
    if not changes:
        return DnsState(at=now, change_id=None, changes=changes, status="INSYNC")
    # Every captured change is sent again on a retry, even if the records already show the new
    # values: an earlier attempt's change may still be PENDING, and Route 53 applies a zone's
    # changes in order, so this change reaching INSYNC means that one did too.
    change_id = rt.route53.upsert(settings.hosted_zone_id, changes, f"Regionshift failover {run}")
    return DnsState(at=now, change_id=change_id, changes=changes, status="PENDING")


def dns_status(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    assert doc.dns is not None
    if doc.dns.change_id is None:
        return doc.dns.model_copy(update={"at": now, "status": "INSYNC"})
    status = rt.route53.change_status(doc.dns.change_id)
    polls = doc.dns.polls + 1
    if status != "INSYNC" and polls >= rt.settings.dns_max_polls:
        raise DnsSyncTimeoutError(f"change {doc.dns.change_id} still {status} after {polls} polls")
    return doc.dns.model_copy(update={"at": now, "status": status, "polls": polls})


# --- Rollback -----------------------------------------------------------------------------------


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


def rollback(doc: RunDocument, rt: Runtime, now: datetime) -> RunResult:
    """Restore the records this run changed and say honestly what could not be undone."""
    settings, run = rt.settings, doc.execution.id
    failure = error_text(doc.error)
    captured = [RecordChange.model_validate(c) for c in rt.store.run_fact(run, CAPTURE_DNS) or []]
    already = rt.store.run_fact(run, RESTORED_DNS)
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
        rt.store.save_run_fact(run, RESTORED_DNS, [c.wire() for c in back])
        restored = back
    # Only this run's own promotion counts: a standby promoted before it is not this run's doing.
    requested = rt.store.run_fact(run, PROMOTION_REQUESTED) is not None
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
            outcome="DEGRADED",
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
        outcome="ROLLED_BACK",
        reason=(
            f"{failure}. The standby database was not promoted; {dns_note}. Traffic stays on {settings.primary_region}."
        ),
        restored=restored,
        database_promoted=False,
    )


# --- Notify and Finalize ------------------------------------------------------------------------


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
        who = f"alarm {trigger.alarm_name}" if trigger.kind == "alarm" else f"operator {trigger.operator}"
        lines.append(f"Trigger: {who} at {trigger.event_time.isoformat()}")
    if doc.intake and doc.intake.flags.dry_run:
        lines.append("Dry run: no change was made.")
    if doc.assess:
        a = doc.assess
        lines.append(f"Assessment (probe {a.probe}): {a.reason}")
        if a.data_loss_accepted:
            lines.append("DATA LOSS ACCEPTED by operator override (recorded in the audit trail).")
    if doc.promotion:
        p = doc.promotion
        lines.append(f"Database: promoted {p.identifier}{' (already standalone)' if p.already_promoted else ''}")
    if doc.dns:
        for c in doc.dns.changes:
            lines.append(f"DNS: {c.name} {c.type} {c.before} -> {c.after}")
    for c in result.restored:
        lines.append(f"DNS restored: {c.name} {c.type} {c.before} -> {c.after}")
    if result.rollback_error:
        lines.append(f"ROLLBACK FAILED: {error_text(result.rollback_error)}")
    if result.outcome == "DRY_RUN":
        lines.append(f"Would promote {settings.standby_db_identifier} in {settings.standby_region}")
        for name, target in settings.records.items():
            lines.append(f"Would point {name} at {target}")
    if result.outcome in ("FAILED_OVER", "DEGRADED") and settings.cooldown_seconds:
        lines.append(
            f"Automatic runs are blocked for {settings.cooldown_seconds} s or until acknowledged (regionshift ack)."
        )
    if result.outcome in ("FAILED_OVER", "DEGRADED"):
        lines.append(
            f"The old primary {settings.primary_db_identifier} in {settings.primary_region} must not take writes "
            "again: fence it before it comes back."
        )
    if settings.report_base_url:
        name = doc.execution.id.rsplit(":", 1)[-1]
        lines.append(f"Report: {settings.report_base_url.rstrip('/')}/{name}/report.html")
    timeline = _timeline(doc)
    if timeline:
        lines.append("Timeline: " + ", ".join(f"{step} +{secs:.0f}s" for step, secs in timeline))
    return lines


def _timeline(doc: RunDocument) -> list[tuple[str, float]]:
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


def subject_of(doc: RunDocument, settings: Settings) -> str:
    assert doc.result is not None
    regions = f"{settings.primary_region} -> {settings.standby_region}"
    return f"[Regionshift {settings.plan_name}] {doc.result.outcome}: {regions}"


def notify(doc: RunDocument, rt: Runtime, now: datetime) -> NotifyResult:
    assert doc.result is not None
    subject = subject_of(doc, rt.settings)
    details = {
        "outcome": doc.result.outcome,
        "reason": doc.result.reason,
        "execution": doc.execution.id,
        "primaryRegion": rt.settings.primary_region,
        "standbyRegion": rt.settings.standby_region,
        "changes": [c.wire() for c in doc.dns.changes] if doc.dns else [],
        "restored": [c.wire() for c in doc.result.restored],
        "timeline": dict(_timeline(doc)),
    }
    body = "\n".join(summary_lines(doc, rt.settings)) + "\n\nDetails:\n" + json.dumps(details, indent=2, default=str)
    message_id = rt.sns.publish(rt.settings.topic_arn, subject, body, doc.result.outcome)
    return NotifyResult(published=True, message_id=message_id, subject=subject)


def finalize(doc: RunDocument, rt: Runtime, now: datetime) -> FinalizeResult:
    """Write the audit record, start the cooldown where due, release the lock, count the outcome."""
    assert doc.result is not None
    settings, run, outcome = rt.settings, doc.execution.id, doc.result.outcome
    cooldown_until = None
    if outcome in ("FAILED_OVER", "DEGRADED") and settings.cooldown_seconds > 0:
        cooldown_until = now + timedelta(seconds=settings.cooldown_seconds)
        rt.store.start_cooldown(run, outcome, cooldown_until)
    # Conditional on ownership: releases this run's lock even when Gate failed after taking it,
    # and never another run's.
    released = rt.store.release_lock(run)
    record = {
        "execution": run,
        "startedAt": doc.execution.started_at.isoformat(),
        "finishedAt": now.isoformat(),
        "plan": settings.plan_name,
        "outcome": outcome,
        "reason": doc.result.reason,
        "trigger": doc.intake.trigger.wire() if doc.intake and doc.intake.trigger else {"raw": doc.trigger},
        "flags": doc.intake.flags.wire() if doc.intake else None,
        "decisions": {
            "intake": doc.intake.reason if doc.intake else None,
            "gate": doc.gate.wire() if doc.gate else None,
            "assess": doc.assess.wire() if doc.assess else None,
        },
        "changes": {
            "promotion": doc.promotion.wire() if doc.promotion else None,
            "dns": doc.dns.wire() if doc.dns else None,
            "restored": [c.wire() for c in doc.result.restored],
        },
        "error": doc.error.wire() if doc.error else None,
        "rollbackError": doc.result.rollback_error.wire() if doc.result.rollback_error else None,
        "notification": doc.notification.wire() if doc.notification else None,
        "notificationError": doc.notification_error.wire() if doc.notification_error else None,
        "lockReleased": released,
        "cooldownUntil": cooldown_until.isoformat() if cooldown_until else None,
    }
    rt.store.put_audit(doc.execution.started_at, run, record)
    # A metric of its own carries the outcome dimension, so other metrics keep theirs.
    with single_metric(name="Runs", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as runs:
        runs.add_dimension(name="outcome", value=outcome)
    if doc.notification_error:
        logger.error("notification failed", extra={"error": doc.notification_error.wire()})
        metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
    return FinalizeResult(
        outcome=outcome, reason=doc.result.reason, lock_released=released, cooldown_until=cooldown_until
    )
