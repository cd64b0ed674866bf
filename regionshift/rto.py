"""The recovery-time model: where the minutes of a failover go, from a plan's settings.

Detection and alarm are taken at their worst phase (the outage begins just after a check, and the
health check turns unhealthy just after a publication); the emulated chain (emulator/detection.py)
measures the same parts, and ``make bench`` puts the two side by side.
"""

from failover.plan import Kind, Plan, Rails

FAILURE_THRESHOLD = 3
PUBLISH_SECONDS = 60
PROMOTION_SECONDS = 300
# How long moving each kind's writer takes, as AWS documents it (docs/emulator-models.md has the sources):
# a cross-region RDS read replica's promotion, "several minutes" (taken as 5); an Aurora global database's
# managed failover, "typically" about a minute; a global datastore's failover to a secondary, about a minute.
MOVE_SECONDS: dict[Kind, float] = {
    "rds-instance": PROMOTION_SECONDS,
    "aurora-global": 60,
    "elasticache-global": 60,
}
INSYNC_SECONDS = 60
TTL_SECONDS = 60
NOTIFY_SECONDS = 2
ASSUMPTIONS = (
    "Route 53 marks an endpoint unhealthy after 3 failed checks (the first up to one interval after the "
    "outage); it publishes HealthCheckStatus once a minute and the alarm needs AlarmEvaluationPeriods "
    "breaching minutes (the first published up to a minute after the endpoint turned unhealthy); a "
    "cross-region RDS replica promotion takes about 5 minutes, an Aurora global database's failover and a "
    "global datastore's about a minute each, a plan's stages one after another; Route 53 changes reach "
    "INSYNC in about 60 s; "
    "clients follow a changed record after its 60 s TTL; the parts are added up as if sequential (a "
    "pessimistic total)"
)


def moving_seconds(plan: Plan | None) -> float:
    """How long a plan's writers take to move: its stages one after another, each as long as its slowest
    kind (a stage's resources move in parallel, so their number does not add up). Without a plan: one
    RDS promotion."""
    if plan is None:
        return PROMOTION_SECONDS
    return sum(max(MOVE_SECONDS[m.kind] for m in stage) for stage in plan.stages)


def estimate(
    rails: Rails,
    alarm_evaluation_periods: int,
    check_interval_seconds: int = 30,
    failure_threshold: int = FAILURE_THRESHOLD,
    plan: Plan | None = None,
) -> dict[str, float]:
    """Seconds per part and their (sequential, so pessimistic) total for one plan."""
    stages = len(plan.stages) if plan is not None else 1
    parts: dict[str, float] = {
        # Route 53: FailureThreshold consecutive failed checks, RequestInterval apart, the first one
        # a whole interval after the outage began at worst.
        # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
        "detection": check_interval_seconds * failure_threshold,
        # Up to a minute until the first unhealthy HealthCheckStatus datapoint is published, then one
        # more per further evaluation period (60 s each) before the alarm's state changes.
        "alarm": PUBLISH_SECONDS * alarm_evaluation_periods,
        "confirmation": rails.confirm_probes * rails.confirm_interval_seconds,
        # on average the change is noticed half a poll interval after it completes
        "promotion": moving_seconds(plan) + stages * rails.promotion_poll_seconds / 2,
        "dns": INSYNC_SECONDS + rails.dns_poll_seconds / 2 + TTL_SECONDS,
        "notification": NOTIFY_SECONDS,
    }
    parts["total"] = sum(parts.values())
    return parts
