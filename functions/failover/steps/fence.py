"""Fence: after the writers moved, make each old primary unable to take writes, as its kind allows.

It runs once a run has promoted (FAILED_OVER, or DEGRADED with promotions), after DNS moved or
Rollback decided. It never undoes the failover and never changes the outcome: what it did, or could
not do, is recorded (``$.fence``) and the page says what a person must still fence. Only resources
this run moved are fenced: an old primary whose replica was not promoted is still its data's only
writer. The kinds and their AWS behaviour are in ``failover.fencing``.
"""

from datetime import datetime

from failover.clients import is_unreachable
from failover.errors import FencingError, TransientAwsError
from failover.models import FENCE_NOTE_LIMIT, FenceCode, FenceResult, RunDocument, clip_text
from failover.observability import logger
from failover.plan import Database
from failover.runtime import Runtime

# What ``Rds.stop`` found, as the run records it.
STOPPED = {
    "stopping": FenceCode.STOPPED,
    "stopped": FenceCode.STOPPED,
    "gone": FenceCode.GONE,
    "denied": FenceCode.DENIED,
}


def fence(doc: RunDocument, rt: Runtime, now: datetime) -> FenceResult:
    plan = rt.plan
    target = doc.assess.target if doc.assess else None
    promoted = set(doc.promoted)
    region = plan.primary_region
    codes: list[FenceCode] = []
    note: str | None = None
    unreachable = False
    for resource in plan.movers:
        if target is None or resource.member(target, region) not in promoted:
            codes.append(FenceCode.NOT_PROMOTED)
        elif resource.kind == "aurora-global":
            codes.append(FenceCode.AURORA)
        elif resource.kind == "elasticache-global":
            codes.append(FenceCode.CACHE)
        elif isinstance(resource, Database) and resource.fence == "none":
            codes.append(FenceCode.PLAN_NONE)
        elif unreachable:
            # Each attempt at a lost region costs its connect timeouts and retries: asked once per run.
            codes.append(FenceCode.UNREACHABLE)
        else:
            identifier = plan.primary_member(resource)
            try:
                codes.append(STOPPED[rt.rds(region).stop(identifier)])
            except FencingError as exc:
                logger.warning("fencing refused", extra={"identifier": identifier, "error": str(exc)})
                codes.append(FenceCode.REFUSED)
                note = note or clip_text(str(exc), FENCE_NOTE_LIMIT)
            except TransientAwsError as exc:
                if not is_unreachable(exc):
                    raise  # a throttle: the state machine retries the step (stopping again is idempotent)
                unreachable = True
                codes.append(FenceCode.UNREACHABLE)
    return FenceResult(at=now, codes="".join(codes), note=note)
