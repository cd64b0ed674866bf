"""Promote: ask RDS to promote the standby replica (the point of no return)."""

from datetime import datetime

from failover.models import PromotionState, RunDocument
from failover.runtime import Runtime
from failover.state import RunFact


def promote(doc: RunDocument, rt: Runtime, now: datetime) -> PromotionState:
    identifier = rt.settings.standby_db_identifier
    # The intent is written before the call: if the response is lost, rollback still knows.
    rt.store.save_run_fact(
        doc.execution.id, RunFact.PROMOTION_REQUESTED, {"identifier": identifier, "at": now.isoformat()}
    )
    already = rt.rds.promote(identifier)
    return PromotionState(at=now, identifier=identifier, already_promoted=already)
