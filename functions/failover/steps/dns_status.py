"""DnsStatus: poll the record change until Route 53 reports it INSYNC."""

from datetime import datetime

from failover.errors import DnsSyncTimeoutError
from failover.models import DnsState, RunDocument
from failover.runtime import Runtime


def dns_status(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    assert doc.dns is not None
    if doc.dns.change_id is None:
        return doc.dns.model_copy(update={"at": now, "status": "INSYNC"})
    status = rt.route53.change_status(doc.dns.change_id)
    polls = doc.dns.polls + 1
    if status != "INSYNC" and polls >= rt.settings.dns_max_polls:
        raise DnsSyncTimeoutError(f"change {doc.dns.change_id} still {status} after {polls} polls")
    return doc.dns.model_copy(update={"at": now, "status": status, "polls": polls})
