"""TargetHealth: look at the target region once more before traffic moves to it.

The target may have failed while its databases were promoted: traffic must not move to it blind. It
is re-probed up to ``confirm_probes`` more times, ``confirm_interval_seconds`` apart (an application
often fails a few checks while its databases change role). If it stays unhealthy, DNS still moves
forward: the promoted databases are now the only writers, and a record left on the old primary would
give two writers traffic. The run then ends DEGRADED, never FAILED_OVER, and the page says the target
must be repaired.
"""

from datetime import datetime

from failover.errors import TransientAwsError
from failover.health import votes, votes_text
from failover.models import RunDocument, TargetLook
from failover.runtime import Runtime


def target_health(doc: RunDocument, rt: Runtime, now: datetime) -> TargetLook:
    assert doc.assess is not None and doc.assess.target is not None
    region, rails = doc.assess.target, rt.rails
    rt.route53_unreachable = doc.assess.route53_unreachable
    probes = (doc.target.probes if doc.target else 0) + 1
    try:
        seen = votes(rt, region, now)
    except TransientAwsError as exc:
        # Nothing can judge the target (Route 53's API down, no probe of it): the writers are there
        # already, so traffic still moves, and the run ends DEGRADED saying the target was not seen.
        return TargetLook(
            at=now, region=region, healthy=False, probes=probes, votes=f"not judged: {exc}"[:500], gave_up=True
        )
    healthy = seen.verdict == "HEALTHY"
    return TargetLook(
        at=now,
        region=region,
        healthy=healthy,
        probes=probes,
        votes=f"{votes_text(seen)} on probe {probes}",
        gave_up=not healthy and probes > rails.confirm_probes,
    )
