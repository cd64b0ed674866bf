"""Promote: ask RDS to promote one replica of the target region (one iteration of the promotion Map;
the first request of a run is its point of no return)."""

from datetime import datetime

from failover.models import PromotionItem, PromotionState
from failover.runtime import Runtime
from failover.state import RunFact


def promote(item: PromotionItem, rt: Runtime, now: datetime) -> PromotionState:
    replica = item.replica
    # The intent is written before the call: if the response is lost, rollback still knows.
    rt.store.save_run_fact(
        item.execution.id,
        RunFact.PROMOTION_REQUESTED,
        {"identifier": replica.identifier, "region": replica.region, "at": now.isoformat()},
        key=replica.identifier,
    )
    already = rt.rds(replica.region).promote(replica.identifier)
    return PromotionState(
        at=now,
        identifier=replica.identifier,
        database=replica.database,
        region=replica.region,
        already_promoted=already,
    )
