"""UpdateDns: point the plan's traffic at the target region, in the plan's traffic mode
(``failover.traffic``: UPSERTs through Route 53's API, or the serving metric in the stack region)."""

from datetime import datetime

from failover import traffic
from failover.models import DnsState, RunDocument
from failover.runtime import Runtime


def update_dns(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    return traffic.move(doc, rt, now)
