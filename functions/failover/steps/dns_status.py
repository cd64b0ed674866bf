"""DnsStatus: poll until the move took effect: every zone's change INSYNC (upsert mode), or every
serving alarm in the state the switch wants (data-plane mode)."""

from datetime import datetime

from failover import traffic
from failover.models import DnsState, RunDocument
from failover.runtime import Runtime


def dns_status(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    return traffic.follow(doc, rt, now)
