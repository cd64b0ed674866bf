"""The recovery-time model: where the minutes of a failover go, from a plan's settings.

Detection and alarm are taken at their worst phase (the outage begins just after a check, and the
health check turns unhealthy just after a publication); the emulated chain (emulator/detection.py)
measures the same parts, and ``make bench`` puts the two side by side.
"""

from failover.plan import Rails

FAILURE_THRESHOLD = 3
PUBLISH_SECONDS = 60
PROMOTION_SECONDS = 300
INSYNC_SECONDS = 60
TTL_SECONDS = 60
NOTIFY_SECONDS = 2
ASSUMPTIONS = (
    "Route 53 marks an endpoint unhealthy after 3 failed checks (the first up to one interval after the "
    "outage); it publishes HealthCheckStatus once a minute and the alarm needs AlarmEvaluationPeriods "
    "breaching minutes (the first published up to a minute after the endpoint turned unhealthy); a "
    "cross-region RDS replica promotion takes about 5 minutes; Route 53 changes reach INSYNC in about 60 s; "
    "clients follow a changed record after its 60 s TTL; the parts are added up as if sequential (a "
    "pessimistic total)"
)


def estimate(
    rails: Rails,
    alarm_evaluation_periods: int,
    check_interval_seconds: int = 30,
    failure_threshold: int = FAILURE_THRESHOLD,
) -> dict[str, float]:
    """Seconds per part and their (sequential, so pessimistic) total for one plan. Its databases are
    promoted in parallel, so their number does not add up."""
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
        "promotion": PROMOTION_SECONDS + rails.promotion_poll_seconds / 2,
        "dns": INSYNC_SECONDS + rails.dns_poll_seconds / 2 + TTL_SECONDS,
        "notification": NOTIFY_SECONDS,
    }
    parts["total"] = sum(parts.values())
    return parts
