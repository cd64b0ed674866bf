"""The re-evaluation loop: an alarm run that ended for a passing reason is looked at again.

The alarm fires once: while it stays in ALARM, CloudWatch sends no new event. A run refused for a
reason that may not last (replica lag, the standby's health or state, another run's lock) or rolled
back would otherwise leave the outage without a failover. So the state machine, after such a run,
waits ``reevaluate_interval_seconds`` and starts the next attempt itself, at most
``reevaluate_max_attempts`` times per alarm. Each attempt is a whole run (notified, audited, gated
by the lock, the pause switch and the cooldown), so the loop ends as soon as the primary is healthy
again (NO_ACTION), the failover happens, an operator pauses the plan, or the attempts run out.
Manual runs are never re-evaluated: the operator decides what comes next.
"""

from failover.models import Outcome, Reevaluation, RunDocument
from failover.settings import Settings

# Step Functions execution names: at most 80 characters.
NAME_LIMIT = 80


def next_attempt(doc: RunDocument, settings: Settings) -> Reevaluation | None:
    result, trigger = doc.result, doc.intake.trigger if doc.intake else None
    if result is None or trigger is None or trigger.kind == "manual":
        return None
    passing = result.outcome == Outcome.ROLLED_BACK or (result.outcome == Outcome.REFUSED and result.transient)
    attempt = trigger.attempt + 1
    if not passing or attempt > settings.plan.rails.reevaluate_max_attempts:
        return None
    first = trigger.of or doc.execution.id
    root = first.rsplit(":", 1)[-1]
    suffix = f"-r{attempt}"
    # The original alarm event's id: a re-evaluation's own id carries an ``#r<n>`` suffix.
    event_id = trigger.event_id.split("#r", 1)[0] if trigger.event_id else None
    original = trigger.model_copy(update={"kind": "alarm", "attempt": 0, "of": None, "event_id": event_id})
    return Reevaluation(
        attempt=attempt,
        of=first,
        name=root[: NAME_LIMIT - len(suffix)] + suffix,
        wait_seconds=settings.plan.rails.reevaluate_interval_seconds,
        trigger=original,
    )


def describe(again: Reevaluation, settings: Settings) -> str:
    return (
        f"Re-evaluation {again.attempt} of {settings.plan.rails.reevaluate_max_attempts} "
        f"starts in {again.wait_seconds} s "
        "(the alarm stays in ALARM and sends no new event); pause the plan to stop it."
    )
