"""DnsStatus: poll each zone's change until Route 53 reports every one INSYNC."""

from datetime import datetime

from failover.errors import DnsSyncTimeoutError
from failover.models import DnsState, RunDocument
from failover.runtime import Runtime


def dns_status(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    assert doc.dns is not None
    polls = doc.dns.polls + 1
    zones = [
        zone.model_copy(update={"status": rt.route53.change_status(zone.change_id)})
        if zone.change_id is not None and zone.status != "INSYNC"
        else zone
        for zone in doc.dns.zones
    ]
    waiting = [z for z in zones if z.status != "INSYNC"]
    if waiting and polls >= rt.rails.dns_max_polls:
        raise DnsSyncTimeoutError(
            "; ".join(f"change {z.change_id} of zone {z.zone_id} still {z.status}" for z in waiting)
            + f" after {polls} polls"
        )
    status = "PENDING" if waiting else "INSYNC"
    return doc.dns.model_copy(update={"at": now, "zones": zones, "status": status, "polls": polls})
