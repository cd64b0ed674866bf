"""How a run moves traffic, in the plan's traffic mode: the one place where the two modes differ.

``upsert``: UpdateDns rewrites each plan record with one change batch per hosted zone and DnsStatus
polls ``GetChange``: both are calls to Route 53's API, its control plane, served from us-east-1.

``data-plane``: the records are Route 53 failover pairs provisioned ahead of time (``pair_record_sets``):
the PRIMARY points at the primary region's target, the SECONDARY at the standby's, each guarded by a
``CLOUDWATCH_METRIC`` health check on that region's serving alarm, which lives in the stack region and
watches the ``Regionshift/Serving`` metric (1: the region serves, below 1: it does not). UpdateDns
publishes the metric (``PutMetricData`` in the stack region, a regional data-plane call) and DnsStatus
reads the alarms there until they show the switch; Route 53's health checkers and DNS answers, a
global data plane, then follow without any Route 53 API call. docs/traffic.md gives the semantics
this relies on, with sources.
"""

from datetime import datetime
from typing import Any

from failover.adapters import Record, record_of
from failover.errors import DnsSyncTimeoutError, DnsUpdateError
from failover.models import DnsState, RecordChange, RunDocument, Switch, ZoneChange
from failover.plan import Plan, RecordSpec, Zone
from failover.rules import record_problems
from failover.runtime import Runtime
from failover.state import RunFact

SERVING_METRIC = "Serving"
# The run document lists this many changes (the rest are counted per zone, and kept with the run's
# facts): a plan's largest batch must not crowd the 256 KiB document.
CHANGES_SHOWN = 25


def serving_alarm(plan_name: str, region: str) -> str:
    """The alarm whose state says whether ``region`` serves (template.yaml names it the same way)."""
    return f"regionshift-{plan_name}-serving-{region}"


def serving_namespace(plan_name: str) -> str:
    """The plan's own namespace: UpdateDns alone may publish to it (the cloudwatch:namespace condition),
    not the probe, nor another plan's stack."""
    return f"Regionshift/Serving/{plan_name}"


def serving_dimensions(region: str) -> list[tuple[str, str]]:
    return [("Region", region)]


def pair_regions(plan: Plan) -> tuple[tuple[str, str], tuple[str, str]]:
    """(role, region) of a failover pair's two records: as the plan was written and deployed, wherever
    the writers are now (the pairs never change; the serving switch moves traffic both ways)."""
    layout = plan.origin
    return (("PRIMARY", layout.primary_region), ("SECONDARY", layout.standby_regions[0]))


def serving_checks(plan: Plan, primary: str | None, standby: str | None) -> dict[str, str]:
    """Region -> the stack's serving health check (its outputs, or the functions' settings); only those known."""
    (_, first), (_, second) = pair_regions(plan)
    found = {first: primary, second: standby}
    return {region: check for region, check in found.items() if check}


def set_identifier(region: str) -> str:
    return f"regionshift-{region}"


def pair_record_sets(spec: RecordSpec, plan: Plan, checks: dict[str, str]) -> list[dict[str, Any]]:
    """The failover pair of one plan record: PRIMARY in the primary region, SECONDARY in the standby,
    each with the region's serving health check (``checks``: region -> health check id)."""
    return [
        {
            **spec.record_set(region),
            "SetIdentifier": set_identifier(region),
            "Failover": role,
            "HealthCheckId": checks[region],
        }
        for role, region in pair_regions(plan)
    ]


class PairsError(ValueError):
    """The records cannot become failover pairs as they stand."""


def pair_changes(
    zone: Zone, plan: Plan, checks: dict[str, str], existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One hosted zone's change batch that makes its plan records failover pairs (``regionshift plan
    pairs``): each simple record of a plan name and type is deleted exactly as it stands (a DELETE must
    repeat every value, "ChangeResourceRecordSets", Amazon Route 53 API Reference) and the pair is
    UPSERTed, in one batch, which Route 53 applies all or nothing. ``existing``: the zone's record sets
    as ListResourceRecordSets gives them."""
    specs: dict[tuple[str, str], RecordSpec] = {(spec.name, spec.type): spec for spec in zone.records}
    simple = [
        (rrset, record)
        for rrset in existing
        if "SetIdentifier" not in rrset
        and (record := record_of(rrset)) is not None
        and (record.name, record.type) in specs
    ]
    for _, record in simple:
        primary = specs[(record.name, record.type)].target(plan.primary_region)
        if record.value != primary:
            # A new pair answers its PRIMARY: this record's traffic would go back to the primary.
            raise PairsError(
                f"{record.type} {record.name} points at {record.value}, not the primary's target {primary}: "
                f"pairs would send its traffic back to {plan.primary_region}"
            )
    deletes = [{"Action": "DELETE", "ResourceRecordSet": rrset} for rrset, _ in simple]
    upserts = [
        {"Action": "UPSERT", "ResourceRecordSet": rrset}
        for spec in zone.records
        for rrset in pair_record_sets(spec, plan, checks)
    ]
    return deletes + upserts


def switch(plan: Plan, target: str) -> list[Switch]:
    """What moving traffic to ``target`` means for each region's serving alarm."""
    return [
        Switch(region=r, alarm=serving_alarm(plan.name, r), wanted="OK" if r == target else "ALARM")
        for r in plan.region_names
    ]


def pair_problems(
    zone: Zone, pairs: dict[tuple[str, str], dict[str, Record]], plan: Plan, checks: dict[str, str]
) -> list[str]:
    """Data-plane mode: every plan record must be a failover pair whose PRIMARY points at the primary
    region's target and SECONDARY at the standby's, each guarded by that region's serving check
    (``checks``): a pair on another check would never follow the switch."""
    problems = []
    for spec in zone.records:
        found = pairs.get((spec.name, spec.type), {})
        for role, region in pair_regions(plan):
            record = found.get(role)
            where = f"{spec.type} {spec.name} ({role}) in hosted zone {zone.id}"
            if record is None:
                problems.append(f"{where} not found: data-plane mode needs the failover pair (regionshift plan pairs)")
            elif record.value != spec.target(region):
                problems.append(f"{where} points at {record.shown}, the plan says {spec.shown(region)}")
            elif record.health_check_id is None:
                problems.append(f"{where} has no health check: traffic would never leave it")
            elif record.health_check_id != checks.get(region):
                problems.append(
                    f"{where} is guarded by health check {record.health_check_id}, not the stack's serving check "
                    f"of {region} ({checks.get(region) or 'unknown'}): it would not follow the switch"
                )
    return problems


def serving_problems(states: dict[str, str], plan: Plan) -> list[str]:
    """Data-plane mode: each region's serving alarm must exist in the stack region."""
    missing = [serving_alarm(plan.name, r) for r in plan.region_names if serving_alarm(plan.name, r) not in states]
    return [f"serving alarm {name} not found in the stack region (deploy the stack)" for name in missing]


# --- UpdateDns ---------------------------------------------------------------------------------


def move(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    """Point the plan's traffic at the target region, in the plan's mode."""
    assert doc.assess is not None and doc.assess.target is not None
    if rt.plan.traffic.mode == "data-plane":
        return _publish(doc.assess.target, rt, now)
    return _upsert(doc, doc.assess.target, rt, now)


def _publish(target: str, rt: Runtime, now: datetime) -> DnsState:
    plan = rt.plan
    wanted = switch(plan, target)
    _send(rt, wanted, now)
    changes = [
        RecordChange(
            zone_id=zone.id,
            name=spec.name,
            type=spec.type,
            before=spec.shown(plan.primary_region),
            after=spec.shown(target),
        )
        for zone, spec in plan.records
    ]
    zones = [ZoneChange(zone_id=z.id, change_id=None, status="PENDING", records=len(z.records)) for z in plan.zones]
    return DnsState(
        at=now, changes=changes[:CHANGES_SHOWN], zones=zones, status="PENDING", mode="data-plane", switch=wanted
    )


def _send(rt: Runtime, wanted: list[Switch], now: datetime) -> None:
    """Publish the switch: the target first, the others after. While every record of a failover pair is
    unhealthy, Route 53 answers the PRIMARY ("How Amazon Route 53 chooses records when health checking
    is configured"), so the old primary must never be the only one marked down."""
    cloudwatch = rt.cloudwatch(rt.stack_region)
    for serves in (True, False):
        metrics = [
            (SERVING_METRIC, serving_dimensions(s.region), 1.0 if serves else 0.0)
            for s in wanted
            if (s.wanted == "OK") == serves
        ]
        cloudwatch.publish(serving_namespace(rt.plan.name), metrics, now)


def _upsert(doc: RunDocument, target: str, rt: Runtime, now: datetime) -> DnsState:
    """Capture the plan's records as they are, then UPSERT them to the target's values, one change
    batch per hosted zone (Route 53 applies a batch atomically; DNS costs O(zones) calls)."""
    run = doc.execution.id
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


# --- DnsStatus ---------------------------------------------------------------------------------


def follow(doc: RunDocument, rt: Runtime, now: datetime) -> DnsState:
    """Poll until the move took effect: each zone's change INSYNC, or each serving alarm as wanted."""
    assert doc.dns is not None
    dns, polls = doc.dns, doc.dns.polls + 1
    if dns.mode == "data-plane":
        # Published again at every poll: Route 53 follows the alarm's data stream, not its state
        # (docs/traffic.md), so the stream carries the switch for the whole wait, not one datapoint.
        _send(rt, dns.switch, now)
        states = rt.cloudwatch(rt.stack_region).alarm_states([s.alarm for s in dns.switch])
        switched = [s.model_copy(update={"state": states.get(s.alarm)}) for s in dns.switch]
        waiting_alarms = [s for s in switched if s.state != s.wanted]
        if waiting_alarms and polls >= rt.rails.dns_max_polls:
            raise DnsSyncTimeoutError(
                "; ".join(f"serving alarm {s.alarm} is {s.state or 'missing'}, not {s.wanted}" for s in waiting_alarms)
                + f" after {polls} polls"
            )
        done = "PENDING" if waiting_alarms else "INSYNC"
        zones = [z.model_copy(update={"status": done}) for z in dns.zones]
        return dns.model_copy(update={"at": now, "zones": zones, "status": done, "polls": polls, "switch": switched})
    zones = [
        zone.model_copy(update={"status": rt.route53.change_status(zone.change_id)})
        if zone.change_id is not None and zone.status != "INSYNC"
        else zone
        for zone in dns.zones
    ]
    waiting = [z for z in zones if z.status != "INSYNC"]
    if waiting and polls >= rt.rails.dns_max_polls:
        raise DnsSyncTimeoutError(
            "; ".join(f"change {z.change_id} of zone {z.zone_id} still {z.status}" for z in waiting)
            + f" after {polls} polls"
        )
    status = "PENDING" if waiting else "INSYNC"
    return dns.model_copy(update={"at": now, "zones": zones, "status": status, "polls": polls})


# --- Rollback ----------------------------------------------------------------------------------


def placement(rt: Runtime, target: str) -> tuple[list[str], list[str]]:
    """Which plan records send traffic to ``target`` now, and which do not (by name)."""
    plan = rt.plan
    names = [spec.name for _, spec in plan.records]
    if plan.traffic.mode == "data-plane":
        wanted = switch(plan, target)
        states = rt.cloudwatch(rt.stack_region).alarm_states([s.alarm for s in wanted])
        switched = all(states.get(s.alarm) == s.wanted for s in wanted)
        return (names, []) if switched else ([], names)
    moved: list[str] = []
    not_moved: list[str] = []
    for zone in plan.zones:
        current = rt.route53.records(zone.id, {r.name for r in zone.records})
        for spec in zone.records:
            found = current.get((spec.name, spec.type))
            (moved if found is not None and found.value == spec.target(target) else not_moved).append(spec.name)
    return moved, not_moved
