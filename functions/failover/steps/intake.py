"""Intake: validate and normalise the trigger, or refuse it with the reason.

A run starts in one of three ways, and IAM decides who can use which: the alarm's EventBridge rule
(the raw alarm event), the ManualRun state machine (which wraps whatever an operator sent as
``{"manual": ...}``), or this state machine re-evaluating an alarm run (``{"reevaluation": ...}``).
Operators may start ManualRun only, so whatever they send is a manual run: they cannot pose as the
alarm. Anything else (an execution started directly, by someone with wider rights) is refused.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from failover.errors import DirectionUnreadableError
from failover.models import (
    EXCERPT_LIMIT,
    ApprovalNeed,
    Direction,
    Flags,
    IntakeInput,
    IntakeOutput,
    IntakeResult,
    PlanSummary,
    Reevaluation,
    TriggerInfo,
    Waits,
)
from failover.plan import Plan, PlanProblemsError
from failover.runtime import Runtime
from failover.settings import Settings
from failover.triggers import AlarmEvent, ManualTrigger

# An alarm event stamped this far in the future is not trusted (clock skew beyond this is a fault).
MAX_FUTURE_SKEW = timedelta(minutes=5)

type Result = Callable[..., IntakeResult]


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def intake(inp: IntakeInput, rt: Runtime, now: datetime) -> IntakeOutput:
    """The run document from here on: the execution and the parsed trigger, never the raw one."""
    return IntakeOutput(execution=inp.execution, intake=evaluate(inp.trigger, rt.settings, now, rt.store.direction))


def _excerpt(raw: Any) -> str:
    return json.dumps(raw, default=str)[:EXCERPT_LIMIT]


def evaluate(
    raw: Any, settings: Settings, now: datetime, read_direction: Callable[[], Direction | None] = lambda: None
) -> IntakeResult:
    """Never raises on bad input: it refuses with the reason. The estate's direction is read once the
    input is known to be a run (``read_direction``): every later step reads the plan through it."""
    rails = settings.plan.rails
    seen: dict[str, Direction | None] = {}

    unreadable: list[str] = []

    def direction() -> Direction | None:
        if "direction" not in seen:
            try:
                seen["direction"] = read_direction()
            except DirectionUnreadableError as exc:
                # Where the writers are is unknown: nothing may move until a person says.
                seen["direction"] = None
                unreadable.append(str(exc))
        return seen["direction"]

    def result(
        decision: str, reason: str, trigger: TriggerInfo | None = None, flags: Flags | None = None
    ) -> IntakeResult:
        plan = settings.plan
        if unreadable:
            decision, reason = "REFUSED", unreadable[0]
        elif seen.get("direction") is not None:
            try:
                plan = plan.along(seen["direction"])
            except PlanProblemsError as exc:
                decision, reason = (
                    "REFUSED",
                    (
                        f"the estate's recorded direction does not fit the plan ({'; '.join(exc.problems)}): "
                        "correct it with regionshift direction set"
                    ),
                )
        return IntakeResult(
            at=now,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,
            trigger=trigger,
            raw_excerpt=None if trigger else _excerpt(raw),
            flags=flags or Flags(),
            waits=Waits(
                confirm_interval_seconds=rails.confirm_interval_seconds,
                promotion_poll_seconds=rails.promotion_poll_seconds,
                dns_poll_seconds=rails.dns_poll_seconds,
            ),
            direction=seen.get("direction"),
            plan=PlanSummary(
                name=plan.name,
                primary_region=plan.primary_region,
                standby_regions=plan.standby_regions,
                databases=len(plan.databases),
                records=len(plan.records),
                zones=len(plan.zones),
            ),
            approval=_approval(settings, trigger),
        )

    if not isinstance(raw, dict):
        return result("REFUSED", f"bad input: the trigger must be a JSON object, not {type(raw).__name__}")
    if "detail-type" in raw or raw.get("source") == "aws.cloudwatch":
        direction()
        return _alarm_intake(raw, settings, now, result)
    if set(raw) == {"reevaluation"}:
        direction()
        return _reevaluation_intake(raw["reevaluation"], settings, result)
    if set(raw) == {"oversize"}:
        return result("REFUSED", "bad input: the manual input is too large to wrap within the 262,144-byte limit")
    if set(raw) != {"manual"}:
        return result(
            "REFUSED",
            "bad input: neither an alarm event nor a run started through the ManualRun state machine "
            "(regionshift drill, or the stack's ManualRunStateMachineArn output)",
        )
    try:
        manual = ManualTrigger.model_validate(raw["manual"])
    except ValidationError as exc:
        return result("REFUSED", f"bad input: {describe_validation(exc)}")
    try:
        plan = settings.plan.along(direction())
    except PlanProblemsError:
        return result("REFUSED", "")  # result() says why
    mismatch = _plan_mismatch(manual, plan)
    if mismatch:
        return result("REFUSED", f"bad input: {mismatch}")
    trigger = TriggerInfo(
        kind="manual",
        event_time=now,
        operator=manual.operator,
        reason=manual.reason,
        target_region=manual.target_region,
    )
    flags = Flags(
        dry_run=manual.dry_run,
        accept_data_loss=manual.accept_data_loss,
        bypass_cooldown=manual.bypass_cooldown,
        switchover=manual.switchover,
    )
    what = "switchover" if manual.switchover else "manual failover"
    if manual.dry_run:
        what = f"dry run of a {what}" if manual.switchover else "dry run"
    return result("PROCEED", f"{what} requested by {manual.operator}: {manual.reason}", trigger, flags)


def _alarm_intake(raw: dict[str, Any], settings: Settings, now: datetime, result: Result) -> IntakeResult:
    try:
        event = AlarmEvent.model_validate(raw)
    except ValidationError as exc:
        return result("REFUSED", f"bad input: not a CloudWatch alarm event: {describe_validation(exc)}")
    trigger = TriggerInfo(kind="alarm", event_id=event.id, event_time=event.time, alarm_name=event.detail.alarm_name)
    # The Route 53 health-check alarm, or the stack region's probe alarm (when the primary is probed):
    # either may start a run; the Gate makes one outage one failover when both fire.
    alarms = {settings.alarm_arn, settings.probe_alarm_arn} - {""}
    if not alarms & set(event.resources):
        return result("REFUSED", f"bad input: alarm {event.resources} is not this plan's alarm", trigger)
    if event.detail.state.value != "ALARM":
        return result("REFUSED", f"alarm state is {event.detail.state.value}, not ALARM", trigger)
    age = now - event.time
    rails = settings.plan.rails
    if age > timedelta(seconds=rails.max_event_age_seconds):
        return result(
            "REFUSED",
            f"stale event: raised {int(age.total_seconds())} s ago, limit {rails.max_event_age_seconds} s",
            trigger,
        )
    if -age > MAX_FUTURE_SKEW:
        return result("REFUSED", f"bad input: event time {event.time.isoformat()} is in the future", trigger)
    return result("PROCEED", f"alarm {event.detail.alarm_name} entered ALARM", trigger)


def _approval(settings: Settings, trigger: TriggerInfo | None) -> ApprovalNeed | None:
    """What the plan says this kind of run waits for (a re-evaluation follows the alarm's policy)."""
    approval = settings.plan.approval
    if trigger is None or not approval.required(trigger.kind):
        return None
    return ApprovalNeed(timeout_seconds=approval.timeout_seconds, on_timeout=approval.on_timeout)


def _reevaluation_intake(raw: Any, settings: Settings, result: Result) -> IntakeResult:
    try:
        again = Reevaluation.model_validate(raw)
    except ValidationError as exc:
        return result("REFUSED", f"bad input: not a re-evaluation: {describe_validation(exc)}")
    if not 1 <= again.attempt <= settings.plan.rails.reevaluate_max_attempts:
        return result("REFUSED", f"bad input: re-evaluation {again.attempt} is beyond the plan's bound")
    # The original event's id, per attempt: a duplicate start of one attempt is one run.
    trigger = again.trigger.model_copy(
        update={
            "kind": "reevaluation",
            "attempt": again.attempt,
            "of": again.of,
            "event_id": f"{again.trigger.event_id}#r{again.attempt}",
        }
    )
    return result(
        "PROCEED",
        f"re-evaluation {again.attempt} of {settings.plan.rails.reevaluate_max_attempts} after {again.of}: "
        "the alarm is still in ALARM",
        trigger,
    )


def _plan_mismatch(manual: ManualTrigger, plan: Plan) -> str | None:
    """The operator's assertions against the plan as the estate stands (its direction)."""
    if manual.source_region and manual.target_region and manual.source_region == manual.target_region:
        return f"source and target region are both {manual.source_region}"
    if manual.source_region and manual.source_region != plan.primary_region:
        return f"sourceRegion {manual.source_region} is not the plan's primary region {plan.primary_region}"
    if manual.target_region and manual.target_region not in plan.standby_regions:
        return (
            f"targetRegion {manual.target_region} is not a standby region of the plan "
            f"({', '.join(plan.standby_regions)})"
        )
    regions = [manual.target_region] if manual.target_region else plan.standby_regions
    replicas = {identifier for region in regions for _, identifier in plan.replicas(region)}
    if manual.replica and manual.replica not in replicas:
        where = manual.target_region or "any standby region"
        return f"replica {manual.replica} is not one of the plan's replicas in {where}"
    names = {record.name for _, record in plan.records}
    if manual.records is not None and set(manual.records) != names:
        # An assertion, not a selection: a run always moves every record of the plan together.
        return f"records {sorted(manual.records)} are not the plan's records ({len(names)} names)"
    return None
