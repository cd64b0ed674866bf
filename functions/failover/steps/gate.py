"""Gate: take the run lock, then refuse duplicates, a paused plan, a run inside the cooldown and one whose
view of the writers is stale."""

from datetime import datetime, timedelta

from failover.models import GateResult, RunDocument
from failover.observability import logger
from failover.runtime import Runtime


def gate(doc: RunDocument, rt: Runtime, now: datetime) -> GateResult:
    assert doc.intake is not None and doc.intake.trigger is not None
    rails, store, run = rt.rails, rt.store, doc.execution.id
    trigger, flags = doc.intake.trigger, doc.intake.flags
    # A duplicate delivery is refused before the lock is tried: its twin handles the event, and this
    # refusal is final (not re-evaluated), where "the lock is held" is passing.
    if trigger.event_id:
        keep = 2 * max(rails.max_event_age_seconds, 86400)
        other = store.claim_event(trigger.event_id, run, now, keep)
        if other:
            return GateResult(
                at=now,
                decision="REFUSED",
                acquired=False,
                reason=f"duplicate delivery of event {trigger.event_id}, already handled by {other}",
            )
    acquired, holder = store.acquire_lock(run, now, rails.lock_lease_seconds)
    if not acquired:
        held = f"{holder.owner} until {holder.lease_until.isoformat()}" if holder else "a run that just finished"
        return GateResult(
            at=now, decision="REFUSED", acquired=False, transient=True, reason=f"another run holds the lock: {held}"
        )
    lease_until = now + timedelta(seconds=rails.lock_lease_seconds)

    def refuse(reason: str) -> GateResult:
        return GateResult(at=now, decision="REFUSED", acquired=True, lease_until=lease_until, reason=reason)

    paused = store.paused()
    if paused:
        return refuse(f"paused by {paused.operator} at {paused.at.isoformat()}: {paused.reason}")
    cooldown = store.cooldown(now)
    if cooldown:
        if trigger.kind == "manual" and flags.bypass_cooldown:
            logger.warning("cooldown bypassed by operator", extra={"cooldown": cooldown.wire()})
        else:
            return refuse(
                f"cooldown after {cooldown.outcome} run {cooldown.execution} until {cooldown.until.isoformat()};"
                " acknowledge it (regionshift ack) to allow another run"
            )
    # Under the lock no other run moves the writers: the direction Intake read must still hold, or this
    # run would judge an estate that no longer stands (it is looked at again, as it now stands).
    now_direction, read = store.direction(), doc.intake.direction
    if (now_direction.version if now_direction else 0) != (read.version if read else 0):
        where = now_direction.primary_region if now_direction else rt.settings.plan.primary_region
        by = f" by {now_direction.by}" if now_direction and now_direction.by else ""
        return GateResult(
            at=now,
            decision="REFUSED",
            acquired=True,
            lease_until=lease_until,
            transient=True,
            reason=f"the writers moved while this run started (primary now {where}{by}): judged again as they stand",
        )
    return GateResult(at=now, decision="PROCEED", acquired=True, lease_until=lease_until, reason="lock acquired")
