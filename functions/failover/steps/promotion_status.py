"""PromotionStatus: poll the promoted database until it is a standalone, available instance."""

from datetime import datetime

from failover.errors import PromotionTimeoutError
from failover.models import PromotionState, RunDocument
from failover.runtime import Runtime


def promotion_status(doc: RunDocument, rt: Runtime, now: datetime) -> PromotionState:
    assert doc.promotion is not None
    state = rt.rds.describe(doc.promotion.identifier)
    polls = doc.promotion.polls + 1
    available = state.exists and state.source is None and state.status == "available"
    if not available and polls >= rt.settings.promotion_max_polls:
        raise PromotionTimeoutError(
            f"{doc.promotion.identifier} still {state.status} (replica of {state.source}) after {polls} polls"
        )
    return doc.promotion.model_copy(update={"at": now, "available": available, "status": state.status, "polls": polls})
