"""The words of a run: the notification's subject and body, from the run document."""

import json

from failover import approval, fencing, reevaluation, report
from failover.models import Outcome, RunDocument, StepError
from failover.plan import Plan
from failover.settings import Settings

# A dry run's page lists this many of the records it would move (all of them are in the plan).
DRY_RUN_RECORDS_SHOWN = 25


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


def moved_text(
    kind: str, name: str, global_id: str | None, identifier: str, region: str, switchover: bool = False
) -> str:
    """What moving one resource's writer to ``region`` is, in the words of its kind."""
    if kind == "aurora-global":
        how = "switched over" if switchover else "failed over"
        return f"Aurora global database {name}: {how} {global_id} to {identifier} in {region}"
    if kind == "elasticache-global":
        return f"Cache {name}: failed over global datastore {global_id} to {identifier} in {region}"
    return f"Database {name}: promoted {identifier} in {region}"


def would_move_text(
    kind: str, name: str, global_id: str | None, identifier: str, region: str, switchover: bool = False
) -> str:
    if kind == "aurora-global":
        how = "switch over" if switchover else "fail over"
        return f"Would {how} global cluster {global_id} to {identifier} ({name}) in {region}"
    if kind == "elasticache-global":
        return f"Would fail over global datastore {global_id} to {identifier} ({name}) in {region}"
    return f"Would promote {identifier} ({name}) in {region}"


def timeline(doc: RunDocument) -> list[tuple[str, float]]:
    """Seconds from the start of the run to each step's result."""
    start = doc.execution.started_at
    stamps = [
        ("intake", doc.intake.at if doc.intake else None),
        ("gate", doc.gate.at if doc.gate else None),
        ("assess", doc.assess.at if doc.assess else None),
        ("promoted", max((p.at for p in doc.promotions), default=None) if doc.promotions else None),
        ("target", doc.target.at if doc.target else None),
        ("dns", doc.dns.at if doc.dns else None),
        ("fence", doc.fence.at if doc.fence else None),
        ("result", doc.result.at if doc.result else None),
    ]
    return [(name, (at - start).total_seconds()) for name, at in stamps if at is not None]


def report_url(execution_arn: str, settings: Settings) -> str:
    """Where the run's HTML report is: Finalize writes it under ``report.folder``, after Notify."""
    name = report.folder(execution_arn).removeprefix(report.PREFIX)
    if settings.report_base_url:
        return f"{settings.report_base_url.rstrip('/')}/{name}report.html"
    return f"s3://{settings.report_bucket}/{report.PREFIX}{name}report.html"


def plan_of(doc: RunDocument, settings: Settings) -> Plan:
    """The plan as the estate stood when the run started (Intake's reading of its direction)."""
    return settings.plan.along(doc.intake.direction if doc.intake else None)


def direction(doc: RunDocument, settings: Settings) -> str:
    """Where the run moves (or would move): the chosen target, else every standby in plan order."""
    plan = plan_of(doc, settings)
    target = doc.assess.target if doc.assess else None
    return f"{plan.primary_region} -> {target or ' | '.join(plan.standby_regions)}"


def subject(doc: RunDocument, settings: Settings) -> str:
    assert doc.result is not None
    return f"[Regionshift {settings.plan.name}] {doc.result.outcome}: {direction(doc, settings)}"


def summary_lines(doc: RunDocument, settings: Settings) -> list[str]:
    result = doc.result
    assert result is not None
    lines = [
        f"Outcome: {result.outcome}",
        f"Reason: {result.reason}",
        f"Plan: {settings.plan.name} ({direction(doc, settings)})",
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
    switchover = doc.intake is not None and doc.intake.flags.switchover
    if switchover:
        lines.append(
            "Switchover: a planned move with no data loss; the writer moves only once every replica has caught up "
            "(no data-loss override)."
        )
    if doc.assess:
        a = doc.assess
        lines.append(f"Assessment (probe {a.probe}): {a.reason}")
        if a.data_loss_accepted:
            lines.append("DATA LOSS ACCEPTED by operator override (recorded in the audit trail).")
        if a.drained_since is not None:
            lines.append(f"Switchover drain: {report.drain_text(a.drained_since, a.at)}")
        # Why the target was chosen, and why every other standby looked at was passed over.
        for verdict in a.standbys:
            if verdict.chosen:
                lines.append(f"Target: {verdict.region} ({a.why_chosen})")
            elif verdict.passed_over:
                lines.append(f"Passed over: {verdict.region}: {verdict.passed_over}")
        lines.extend(f"Verified before promoting: {check}" for check in a.verified)
    need = doc.intake.approval if doc.intake else None
    if doc.approval is not None:
        lines.append(approval.describe(doc.approval, need))
    elif need is not None and result.outcome == Outcome.DRY_RUN:
        lines.append(approval.would_wait(need))
    for p in doc.promotions or []:
        lines.append(
            f"{moved_text(p.kind, p.database, p.global_id, p.identifier, p.region, switchover)}"
            + (" (already the writer)" if p.already_promoted else "")
        )
    if doc.target:
        lines.append(f"Target after the promotions: {doc.target.votes}")
    if doc.dns:
        for c in doc.dns.changes:
            lines.append(f"DNS: {c.name} {c.type} {c.before} -> {c.after}")
        shown, changed = len(doc.dns.changes), sum(z.records for z in doc.dns.zones)
        if changed > shown:
            lines.append(f"DNS: and {changed - shown} more record(s) (the run's report lists them all)")
        for zone in doc.dns.zones if doc.dns.mode == "upsert" else []:
            lines.append(f"DNS zone {zone.zone_id}: {zone.records} record(s) in change {zone.change_id}, {zone.status}")
        for switched in doc.dns.switch:
            lines.append(
                f"Serving alarm {switched.alarm}: {switched.state or 'not read'} (wanted {switched.wanted}; "
                "the failover pairs follow it)"
            )
    if result.database_promoted and (result.moved or result.not_moved):
        target = doc.assess.target if doc.assess else "the target"
        if result.promoted:
            lines.append(f"Databases promoted: {', '.join(result.promoted)}")
        lines.append(f"DNS moved to {target}: {len(result.moved)} record(s)")
        lines.append(f"DNS NOT moved (left as it stands): {', '.join(result.not_moved) or 'none'}")
    if result.rollback_error:
        lines.append(f"ROLLBACK FAILED: {error_text(result.rollback_error)}")
    plan = plan_of(doc, settings)
    target = doc.assess.target if doc.assess else None
    if result.outcome == Outcome.DRY_RUN and target:
        for replica in doc.assess.replicas if doc.assess else []:
            lines.append(
                would_move_text(
                    replica.kind, replica.database, replica.global_id, replica.identifier, target, switchover
                )
            )
        for _, record in plan.records[:DRY_RUN_RECORDS_SHOWN]:
            lines.append(f"Would point {record.name} {record.type} at {record.shown(target)}")
        if len(plan.records) > DRY_RUN_RECORDS_SHOWN:
            lines.append(f"... and {len(plan.records) - DRY_RUN_RECORDS_SHOWN} more record(s) of the plan")
    cooldown = plan.rails.cooldown_seconds
    if result.outcome.changed_writer and cooldown:
        lines.append(f"Automatic runs are blocked for {cooldown} s or until acknowledged (regionshift ack).")
    if result.outcome.changed_writer:
        # What the Fence step did about each old primary, and what a person must still fence.
        lines.extend(fencing.lines(plan, doc.fence))
        left = (
            fencing.by_hand(plan, doc.fence)
            if doc.fence
            else [plan.primary_member(r) for r in plan.movers if r.kind == "rds-instance"]
        )
        if left:
            lines.append(
                f"The old primaries ({', '.join(left)}) in {plan.primary_region} must not take writes again: "
                "fence them by hand before they come back."
            )
    lines.extend(watch_lines(doc))
    lines.append(f"Report: {report_url(doc.execution.id, settings)}")
    again = reevaluation.next_attempt(doc, settings)
    if again:
        lines.append(reevaluation.describe(again, settings))
    steps = timeline(doc)
    if steps:
        lines.append("Timeline: " + ", ".join(f"{step} +{secs:.0f}s" for step, secs in steps))
    return lines


def watch_lines(doc: RunDocument) -> list[str]:
    """What the Watch step did about detection after the writers moved, and what a person must still do."""
    watch = doc.watch
    if watch is None:
        return []
    if watch.error:
        return [
            f"Detection NOT re-pointed ({watch.error}): point the alarms at the new primary by hand (docs/failback.md)."
        ]
    lines = []
    for alarm in watch.alarms:
        if alarm.note:
            lines.append(f"Detection: alarm {alarm.alarm} ({alarm.region}) NOT re-pointed: {alarm.note}")
        elif alarm.after:
            lines.append(
                f"Detection: alarm {alarm.alarm} ({alarm.region}) now watches {alarm.after} (was {alarm.before})"
            )
        else:
            lines.append(f"Detection: alarm {alarm.alarm} ({alarm.region}) already watches {alarm.before}")
    return lines


def body(doc: RunDocument, settings: Settings) -> str:
    assert doc.result is not None
    details = {
        "outcome": doc.result.outcome,
        "reason": doc.result.reason,
        "execution": doc.execution.id,
        "primaryRegion": plan_of(doc, settings).primary_region,
        "targetRegion": doc.assess.target if doc.assess else None,
        "changes": [c.wire() for c in doc.dns.changes] if doc.dns else [],
        "zones": [z.wire() for z in doc.dns.zones] if doc.dns else [],
        # A run that moved forward names its promotions; a DEGRADED one, what its rollback found.
        "promoted": doc.result.promoted or [p.identifier for p in doc.promotions or []],
        "moved": doc.result.moved,
        "notMoved": doc.result.not_moved,
        "fence": doc.fence.wire() if doc.fence else None,
        "watch": doc.watch.wire() if doc.watch else None,
        "timeline": dict(timeline(doc)),
    }
    return "\n".join(summary_lines(doc, settings)) + "\n\nDetails:\n" + json.dumps(details, indent=2, default=str)
