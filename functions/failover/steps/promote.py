"""Promote: make one member of the target region its resource's writer (one iteration of a promotion
Map: a read replica promoted, an Aurora global database or a global datastore failed over to it; the
first request of a run is its point of no return)."""

from datetime import datetime

from failover import members
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
    already = members.move(rt, replica, item.switchover)
    return PromotionState(
        at=now,
        identifier=replica.identifier,
        database=replica.database,
        region=replica.region,
        kind=replica.kind,
        global_id=replica.global_id,
        already_promoted=already,
    )
