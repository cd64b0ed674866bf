"""UpdateDns: capture the plan's records as they are, then point them all at the standby in one batch."""

from datetime import datetime

from failover.errors import DnsUpdateError
from failover.models import DnsState, RecordChange, RunDocument
from failover.rules import record_problems
from failover.runtime import Runtime
from failover.state import RunFact


def update_dns(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    settings, run = rt.settings, doc.execution.id
    current = rt.route53.records(settings.hosted_zone_id, settings.record_names)
    problems = record_problems(settings.hosted_zone_id, settings.records, current)
    if problems:
        raise DnsUpdateError("; ".join(problems))
    captured = rt.store.run_fact(run, RunFact.DNS_BEFORE)
    if captured is None:
        # First attempt: capture the records as they are, before any change, and keep it safe.
        changes = [
            RecordChange(
                name=name, type=current[name].type, before=current[name].value, after=target, ttl=current[name].ttl
            )
            for name, target in settings.records.items()
            if current[name].value != target
        ]
        rt.store.save_run_fact(run, RunFact.DNS_BEFORE, [c.wire() for c in changes])
    else:
        changes = [RecordChange.model_validate(c) for c in captured]
    if not changes:
        return DnsState(at=now, change_id=None, changes=changes, status="INSYNC")
    # Every captured change is sent again on a retry, even if the records already show the new
    # values: an earlier attempt's change may still be PENDING, and Route 53 applies a zone's
    # changes in order, so this change reaching INSYNC means that one did too.
    change_id = rt.route53.upsert(settings.hosted_zone_id, changes, f"Regionshift failover {run}")
    return DnsState(at=now, change_id=change_id, changes=changes, status="PENDING")
