"""Assess: confirm the outage, the standby's readiness and the data-loss bound."""

from datetime import datetime

from failover.models import AssessResult, CheckerVotes, ReplicaState, RunDocument
from failover.rules import (
    EXPECTED_RECORD_TYPE,
    lag_problem,
    lag_text,
    record_problems,
    record_target_problems,
    standby_replica_problem,
)
from failover.runtime import Runtime


def _votes(v: CheckerVotes) -> str:
    return f"{v.healthy}/{v.healthy + v.failing} checkers healthy"


def assess(doc: RunDocument, rt: Runtime, now: datetime) -> AssessResult:
    assert doc.intake is not None
    settings, flags = rt.settings, doc.intake.flags
    probe = (doc.assess.probe if doc.assess else 0) + 1
    primary = rt.route53.checker_votes(settings.primary_health_check_id, settings.healthy_checker_percent)
    standby = rt.route53.checker_votes(settings.standby_health_check_id, settings.healthy_checker_percent)

    def decide(
        decision: str,
        reason: str,
        replica: ReplicaState | None = None,
        accepted: bool = False,
        verified: list[str] | None = None,
        transient: bool = False,
    ) -> AssessResult:
        return AssessResult(
            at=now,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,
            transient=transient,
            probe=probe,
            primary=primary,
            standby=standby,
            replica=replica,
            data_loss_accepted=accepted,
            verified=verified or [],
        )

    if primary.verdict == "HEALTHY":
        return decide(
            "NO_ACTION",
            f"primary {settings.primary_region} is healthy ({_votes(primary)}, "
            f"needs more than {settings.healthy_checker_percent}%)"
            + (f" on re-probe {probe - 1}" if probe > 1 else ""),
        )
    if primary.verdict == "UNKNOWN":
        return decide(
            "REFUSED",
            f"no checker observations for the primary's health check {primary.health_check_id}",
            transient=True,
        )
    if standby.verdict != "HEALTHY":
        return decide(
            "REFUSED",
            f"standby {settings.standby_region} is not healthy either ({_votes(standby)}): moving traffic helps nobody",
            transient=True,
        )
    if probe <= settings.confirm_probes:
        return decide(
            "RECHECK",
            f"primary unhealthy ({_votes(primary)}) on probe {probe}; "
            f"re-probing in {settings.confirm_interval_seconds} s",
        )
    replica = rt.rds.describe(settings.standby_db_identifier)
    problem = standby_replica_problem(
        replica, settings.standby_region, settings.primary_region, settings.primary_db_identifier
    )
    if problem:
        # A replica that is busy (modifying, backing-up) may be ready later; a missing or foreign one will not.
        busy = replica.exists and replica.source is not None and replica.status != "available"
        return decide("REFUSED", problem, replica, transient=busy and problem.endswith("not available"))
    lag = rt.cloudwatch.replica_lag(settings.standby_db_identifier, now)
    replica = replica.model_copy(update={"lag_seconds": lag})
    limit = settings.max_replica_lag_seconds
    too_far = lag_problem(lag, limit)
    accepted = False
    if too_far:
        trigger = doc.intake.trigger
        if not (trigger is not None and trigger.kind == "manual" and flags.accept_data_loss):
            return decide("REFUSED", too_far, replica, transient=True)
        accepted = True
        lag_note = (
            f"replica lag {lag_text(lag)} exceeds {limit} s; data loss accepted by {trigger.operator}: {trigger.reason}"
        )
    else:
        lag_note = f"replica lag {lag_text(lag)} within {limit} s"
    # The point of no return comes next: everything the run needs after the promotion is checked now.
    current = rt.route53.records(settings.hosted_zone_id, settings.record_names)
    problems = record_problems(settings.hosted_zone_id, settings.records, current) + record_target_problems(
        settings.records, current, settings.primary_region, replica
    )
    if problems:
        return decide("REFUSED", "not safe to promote: " + "; ".join(problems), replica, accepted)
    already = [name for name, target in settings.records.items() if current[name].value == target]
    verified = [
        f"standby {settings.standby_region} healthy ({_votes(standby)})",
        f"{replica.identifier} replicates from {settings.primary_db_identifier}, available at {replica.endpoint}",
        lag_note,
        # One line for all records, not one each: the document stays small for the largest plan
        # (the targets are in the plan; a dry run's notification lists them).
        f"{len(settings.records)} record(s) exist as {EXPECTED_RECORD_TYPE} in {settings.hosted_zone_id} and point "
        f"into {settings.primary_region}" + (f" or already at their targets ({', '.join(already)})" if already else ""),
    ]
    return decide(
        "PROCEED",
        f"primary down ({_votes(primary)}) after {probe} probe(s); standby healthy; {lag_note}; "
        f"{len(settings.records)} record(s) verified",
        replica,
        accepted,
        verified,
    )
