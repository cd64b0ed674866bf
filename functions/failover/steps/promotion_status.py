"""PromotionStatus: poll the promoted database until it is a standalone, available writer, then look at
the standby region once more before any traffic moves to it."""

from datetime import datetime

from failover.errors import PromotionTimeoutError, StandbyUnhealthyError
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
    application often fails a few checks while its database changes role). If it stays unhealthy the
    run fails into Rollback, which reports DEGRADED and leaves DNS as it stands.
    """
    settings = rt.settings
    votes = rt.route53.checker_votes(settings.standby_health_check_id, settings.healthy_checker_percent)
    probes = promotion.standby_probes + 1
    text = f"{votes.healthy}/{votes.healthy + votes.failing} checkers healthy"
    healthy = votes.verdict == "HEALTHY"
    if not healthy and probes > settings.confirm_probes:
        raise StandbyUnhealthyError(
            f"standby {settings.standby_region} is unhealthy after the promotion ({text}) on {probes} probe(s): "
            "DNS was not moved to it"
        )
    return promotion.model_copy(
        update={"at": now, "standby_healthy": healthy, "standby_probes": probes, "standby_votes": text}
    )
