"""PromotionStatus: poll the promoted database until it is a standalone, available writer, then look at
the standby region once more before traffic moves to it."""

from datetime import datetime

from failover.errors import PromotionTimeoutError
from failover.models import PromotionState, RunDocument
from failover.runtime import Runtime


def promotion_status(doc: RunDocument, rt: Runtime, now: datetime) -> PromotionState:
    assert doc.promotion is not None
    settings, promotion = rt.settings, doc.promotion
    if promotion.available:
        return _look_at_standby(promotion, rt, now)
    state = rt.rds.describe(promotion.identifier)
    polls = promotion.polls + 1
    available = state.exists and state.source is None and state.status == "available"
    if not available and polls >= settings.promotion_max_polls:
        raise PromotionTimeoutError(
            f"{promotion.identifier} still {state.status} (replica of {state.source}) after {polls} polls"
        )
    polled = promotion.model_copy(update={"at": now, "available": available, "status": state.status, "polls": polls})
    return _look_at_standby(polled, rt, now) if available else polled


def _look_at_standby(promotion: PromotionState, rt: Runtime, now: datetime) -> PromotionState:
    """The standby may have failed while the database was promoted: traffic must not move to it blind.

    It is re-probed up to ``confirm_probes`` more times, ``confirm_interval_seconds`` apart (an
    application often fails a few checks while its database changes role). If it stays unhealthy,
    DNS still moves forward: the promoted database is now the only writer, and a record left on the
    old primary would give two writers traffic. The run then ends DEGRADED, never FAILED_OVER, and
    the page says the standby must be repaired.
    """
    settings = rt.settings
    votes = rt.route53.checker_votes(settings.standby_health_check_id, settings.healthy_checker_percent)
    probes = promotion.standby_probes + 1
    healthy = votes.verdict == "HEALTHY"
    return promotion.model_copy(
        update={
            "at": now,
            "standby_healthy": healthy,
            "standby_probes": probes,
            "standby_votes": f"{votes.healthy}/{votes.healthy + votes.failing} checkers healthy on probe {probes}",
            "standby_gave_up": not healthy and probes > settings.confirm_probes,
        }
    )
