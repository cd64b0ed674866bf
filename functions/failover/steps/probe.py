"""Probe: GET each probed region's health URL from the stack region and record what it answered.

Run by a schedule once a minute, outside any failover run: it is the standby-side signal that keeps
detecting when us-east-1 (where Route 53's health-check metrics live) is the region that failed. Each
region's URL is judged as Route 53's HTTPS checkers judge an endpoint (``failover.probes``), all of
them at once, so that one dead region costs the round its timeouts once, not once per region. The
round's results go to CloudWatch in the stack region as ``Regionshift/EndpointHealthy``; the
ProbeAlarm watches the primary's, and a run reads them as votes (``ProbeVotes.votes``).
"""

import http.client
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from failover.models import ProbeAnswer, ProbeInput, ProbeOutput, clip_text
from failover.observability import logger
from failover.probes import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, ProbeResult, Transport, healthy_status
from failover.runtime import Runtime


def probe(inp: ProbeInput, rt: Runtime, now: datetime) -> ProbeOutput:
    targets = rt.plan.probed_regions
    at = inp.scheduled_time or now
    answers: list[ProbeAnswer] = []
    if targets:
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            answers = list(pool.map(lambda item: answer(item[0], item[1], rt.http), targets.items()))
        rt.probes.record(rt.stack_region, [ProbeResult(a.region, a.healthy) for a in answers], at)
    for a in answers:
        logger.info("probed", extra={"region": a.region, "healthy": a.healthy, "status": a.status, "error": a.error})
    return ProbeOutput(at=at, vantage=rt.stack_region, answers=answers)


def answer(region: str, url: str, transport: Transport) -> ProbeAnswer:
    """One region's answer: no answer within the timeouts, or an answer that is not HTTP, is unhealthy."""
    try:
        status = transport(url, CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException) as exc:
        return ProbeAnswer(region=region, healthy=False, error=clip_text(f"{type(exc).__name__}: {exc}", 200))
    return ProbeAnswer(region=region, healthy=healthy_status(status), status=status)
