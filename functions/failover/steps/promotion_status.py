"""PromotionStatus: poll one promoted database until it is a standalone, available writer."""

from datetime import datetime

from failover.errors import PromotionTimeoutError
from failover.models import PromotionItem, PromotionState
from failover.runtime import Runtime


def promotion_status(item: PromotionItem, rt: Runtime, now: datetime) -> PromotionState:
    assert item.promotion is not None
    promotion = item.promotion
    state = rt.rds(promotion.region).describe(promotion.identifier)
    polls = promotion.polls + 1
    available = state.exists and state.source is None and state.status == "available"
    if not available and polls >= rt.rails.promotion_max_polls:
        raise PromotionTimeoutError(
            f"{promotion.identifier} in {promotion.region} still {state.status} "
            f"(replica of {state.source}) after {polls} polls"
        )
    return promotion.model_copy(update={"at": now, "available": available, "status": state.status, "polls": polls})
