"""A region's health as a run reads it: Route 53's checker votes while its API answers, the stack
region's own probes when it does not.

``GetHealthCheckStatus`` is a call to Route 53's API, served from us-east-1: in an outage of that
region it fails, and a run that needs it cannot decide. The probes (``steps/probe.py``) run in the
stack region and publish there, so a plan with ``probeUrl`` on its regions is still decided, by the
same rule (more than ``healthyCheckerPercent`` of the results healthy). Only an endpoint that does not
answer (no connection, a timeout, a 5xx) counts: a throttle is Route 53 answering. Once it has not
answered, the run does not ask it again (``AssessResult.route53_unreachable``): each attempt costs the
call's retries.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from failover.clients import is_unreachable
from failover.errors import DnsUpdateError, TransientAwsError
from failover.models import CheckerVotes
from failover.runtime import Runtime


@contextmanager
def asking_route53(rt: Runtime) -> Iterator[None]:
    """Around calls to Route 53's API: a failure that is no answer (``clients.is_unreachable``) is noted
    on the runtime and the block left; any other failure (a throttle is an answer) is raised."""
    try:
        yield
    except (TransientAwsError, DnsUpdateError) as exc:
        if not is_unreachable(exc):
            raise
        rt.route53_unreachable = str(exc)


def votes(rt: Runtime, region: str, now: datetime) -> CheckerVotes:
    percent = rt.rails.healthy_checker_percent
    if rt.route53_unreachable is None:
        with asking_route53(rt):
            return rt.route53.checker_votes(rt.plan.health_check(region), percent)
    if region not in rt.plan.probed_regions:
        raise TransientAwsError(
            f"Route 53's API does not answer ({rt.route53_unreachable}) and {region} has no probeUrl in the plan"
        )
    return rt.probes.votes(region, now, percent)


def votes_text(v: CheckerVotes) -> str:
    what = "probes" if v.health_check_id.startswith("probe:") else "checkers"
    return f"{v.healthy}/{v.healthy + v.failing} {what} healthy"
