"""PromotionStatus: poll one moved member until it is its resource's available writer."""

from datetime import datetime

from failover import members
from failover.errors import PromotionTimeoutError
from failover.models import PromotionItem, PromotionState
from failover.rules import is_standalone_writer
from failover.runtime import Runtime


def promotion_status(item: PromotionItem, rt: Runtime, now: datetime) -> PromotionState:
    assert item.promotion is not None
    promotion = item.promotion
    state = members.read_member(
        rt, promotion.kind, promotion.global_id, promotion.identifier, promotion.database, promotion.region
    )
    polls = promotion.polls + 1
    available = is_standalone_writer(state) and state.status == "available"
    if not available and polls >= rt.rails.promotion_max_polls:
        raise PromotionTimeoutError(
            f"{promotion.identifier} in {promotion.region} still {state.status} "
            f"(its writer: {state.source}) after {polls} polls"
        )
    return promotion.model_copy(update={"at": now, "available": available, "status": state.status, "polls": polls})
