"""The recovery-time model: where the minutes of a failover go, from a plan's settings."""

from collections.abc import Mapping
from typing import Any

FAILURE_THRESHOLD = 3
PROMOTION_SECONDS = 300
INSYNC_SECONDS = 60
TTL_SECONDS = 60
NOTIFY_SECONDS = 2
ASSUMPTIONS = (
    "Route 53 marks an endpoint unhealthy after 3 failed checks; a cross-region RDS replica promotion "
    "takes about 5 minutes; Route 53 changes reach INSYNC in about 60 s; clients follow a changed record "
    "after its 60 s TTL; the parts are added up as if sequential (a pessimistic total)"
)


def estimate(plan: Mapping[str, Any], check_interval_seconds: int = 30) -> dict[str, float]:
    """Seconds per part and their (sequential, so pessimistic) total for one plan."""
    parts: dict[str, float] = {
        "detection": check_interval_seconds * FAILURE_THRESHOLD,
        "alarm": 60 * int(plan["AlarmEvaluationPeriods"]),
        "confirmation": int(plan["ConfirmProbes"]) * int(plan["ConfirmIntervalSeconds"]),
        # on average the change is noticed half a poll interval after it completes
        "promotion": PROMOTION_SECONDS + int(plan["PromotionPollSeconds"]) / 2,
        "dns": INSYNC_SECONDS + int(plan["DnsPollSeconds"]) / 2 + TTL_SECONDS,
        "notification": NOTIFY_SECONDS,
    }
    parts["total"] = sum(parts.values())
    return parts
