"""UpdateDns: capture the plan's records as they are, then point them at the target region with one
change batch per hosted zone (Route 53 applies a batch atomically; DNS costs O(zones) calls)."""

from datetime import datetime

from failover.errors import DnsUpdateError
from failover.models import DnsState, RecordChange, RunDocument, ZoneChange
from failover.rules import record_problems
from failover.runtime import Runtime
from failover.state import RunFact

# The run document lists this many changes (the rest are counted per zone, and kept with the run's
# facts): a plan's largest batch must not crowd the 256 KiB document.
CHANGES_SHOWN = 25


def update_dns(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    assert doc.assess is not None and doc.assess.target is not None
    target, run = doc.assess.target, doc.execution.id
    changes: list[RecordChange] = []
    zones: list[ZoneChange] = []
    for zone in rt.plan.zones:
        current = rt.route53.records(zone.id, {r.name for r in zone.records})
        problems = record_problems(zone, current)
        if problems:
            raise DnsUpdateError("; ".join(problems))
        captured = rt.store.run_fact(run, RunFact.DNS_BEFORE, key=zone.id)
        if captured is None:
            # First attempt: capture the records as they are, before any change, and keep it safe.
            pending = [
                RecordChange(
                    zone_id=zone.id,
                    name=spec.name,
                    type=spec.type,
                    before=current[(spec.name, spec.type)].shown,
                    after=spec.shown(target),
                )
                for spec in zone.records
                if current[(spec.name, spec.type)].value != spec.target(target)
            ]
            rt.store.save_run_fact(run, RunFact.DNS_BEFORE, [c.wire() for c in pending], key=zone.id)
        else:
            pending = [RecordChange.model_validate(c) for c in captured]
        changes.extend(pending)
        if not pending:
            zones.append(ZoneChange(zone_id=zone.id, change_id=None, status="INSYNC", records=0))
            continue
        # Every captured change is sent again on a retry, even if the records already show the new
        # values: an earlier attempt's change may still be PENDING, and Route 53 applies a zone's
        # changes in order, so this change reaching INSYNC means that one did too.
        names = {(c.name, c.type) for c in pending}
        record_sets = [spec.record_set(target) for spec in zone.records if (spec.name, spec.type) in names]
        change_id = rt.route53.upsert(zone.id, record_sets, f"Regionshift failover to {target}: {run}")
        zones.append(ZoneChange(zone_id=zone.id, change_id=change_id, status="PENDING", records=len(pending)))
    status = "PENDING" if any(z.status == "PENDING" for z in zones) else "INSYNC"
    return DnsState(at=now, changes=changes[:CHANGES_SHOWN], zones=zones, status=status)
