"""Assess: confirm the outage, choose the standby region to move to, and check everything the run needs
after the point of no return: every replica's state and lag, and every record of the plan."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from failover import members, traffic
from failover.adapters import Record
from failover.health import asking_route53, votes, votes_text
from failover.models import AssessResult, CheckerVotes, ReplicaState, RunDocument, StandbyVerdict, TableState
from failover.rules import (
    earlier_writers,
    lag_problem,
    lag_text,
    record_problems,
    record_target_problems,
    standby_replica_problem,
    table_problem,
)
from failover.runtime import Runtime


@dataclass(frozen=True)
class Drained:
    """A switchover's drain: since when every RDS replica read 0 s of lag, and what was verified."""

    since: datetime
    note: str


@dataclass
class Candidate:
    """A standby region as the final probe finds it: ready (``problems`` empty) or passed over."""

    region: str
    votes: CheckerVotes
    replicas: list[ReplicaState] = field(default_factory=list)
    tables: list[TableState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Whether every problem may pass (health, lag, a busy replica): the run is then re-evaluated.
    transient: bool = True
    # Replicas beyond the lag bound (an operator may accept that data loss), and what their lag is.
    lagging: list[str] = field(default_factory=list)
    lag_notes: list[str] = field(default_factory=list)
    accepted: bool = False
    # A switchover: the RDS replicas whose ReplicaLag did not read exactly 0 (unknown is not 0), and their lag.
    undrained: list[str] = field(default_factory=list)

    @property
    def worst_lag(self) -> float:
        """The largest replica lag of the region; unknown lag counts as the worst."""
        lags = [r.lag_seconds for r in self.replicas if members.lag_metric(r)] + [t.lag_seconds for t in self.tables]
        return (
            math.inf if any(lag is None for lag in lags) else max((lag for lag in lags if lag is not None), default=0.0)
        )


def assess(doc: RunDocument, rt: Runtime, now: datetime) -> AssessResult:
    assert doc.intake is not None
    plan, rails, trigger = rt.plan, rt.rails, doc.intake.trigger
    switchover = doc.intake.flags.switchover
    probe = (doc.assess.probe if doc.assess else 0) + 1
    if doc.assess is not None and doc.assess.route53_unreachable is not None:
        rt.route53_unreachable = doc.assess.route53_unreachable
    primary = votes(rt, plan.primary_region, now)
    # A manual run may name the target; otherwise every standby, in plan order.
    named = trigger.target_region if trigger is not None else None
    regions = [named] if named else plan.standby_regions
    standbys = {r: votes(rt, r, now) for r in regions}

    def decide(decision: str, reason: str, **fields: object) -> AssessResult:
        fields = {"route53_unreachable": rt.route53_unreachable, **fields}
        return AssessResult(at=now, decision=decision, reason=reason, probe=probe, primary=primary, **fields)  # type: ignore[arg-type]

    def verdicts(chosen: str | None = None, passed: dict[str, str] | None = None) -> list[StandbyVerdict]:
        passed = passed or {}
        return [
            StandbyVerdict(region=r, votes=v, chosen=r == chosen, passed_over=passed.get(r))
            for r, v in standbys.items()
        ]

    if switchover and primary.verdict != "HEALTHY":
        return decide(
            "REFUSED",
            f"a switchover moves the writer away from a healthy primary, and {plan.primary_region} is not healthy "
            f"({votes_text(primary)}): nothing is moved; if it is down, start a failover instead",
            standbys=verdicts(),
        )
    if primary.verdict == "HEALTHY" and not switchover:
        return decide(
            "NO_ACTION",
            f"primary {plan.primary_region} is healthy ({votes_text(primary)}, "
            f"needs more than {rails.healthy_checker_percent}%)" + (f" on re-probe {probe - 1}" if probe > 1 else ""),
            standbys=verdicts(),
        )
    if primary.verdict == "UNKNOWN":
        return decide(
            "REFUSED",
            f"no checker observations for the primary's health check {primary.health_check_id}",
            transient=True,
            standbys=verdicts(),
        )
    healthy = [r for r, v in standbys.items() if v.verdict == "HEALTHY"]
    if not healthy:
        unhealthy = {r: f"not healthy ({votes_text(v)})" for r, v in standbys.items()}
        return decide(
            "REFUSED",
            "no standby region is healthy ("
            + "; ".join(f"{r}: {votes_text(v)}" for r, v in standbys.items())
            + "): moving traffic helps nobody",
            transient=True,
            standbys=verdicts(passed=unhealthy),
        )
    if probe <= rails.confirm_probes and not switchover:
        return decide(
            "RECHECK",
            f"primary unhealthy ({votes_text(primary)}) on probe {probe}; "
            f"re-probing in {rails.confirm_interval_seconds} s",
            standbys=verdicts(),
        )
    # The point of no return comes after this step: the records are read now, once per zone.
    look = _traffic(rt)
    if look.problems:
        return decide("REFUSED", "not safe to promote: " + "; ".join(look.problems), standbys=verdicts())
    if not look.verified and plan.traffic.mode == "upsert":
        return decide(
            "REFUSED",
            f"Route 53's API does not answer ({rt.route53_unreachable}): upsert mode needs it to move the records, so "
            "nothing is promoted; a data-plane plan (traffic.mode: data-plane) moves traffic without it",
            transient=True,
            standbys=verdicts(),
        )
    # Every replica of every standby, whichever region is chosen: one already a standalone writer means
    # an earlier failover promoted it (a DEGRADED run, or a person). Promoting another region now would
    # make a second writer of that database, so the run refuses until a person settles the estate.
    states = {
        (region, identifier): members.read(rt, resource, region)
        for region in plan.standby_regions
        for resource, identifier in plan.replicas(region)
    }
    writers = earlier_writers(list(states.values()))
    if writers:
        return decide("REFUSED", writers, standbys=verdicts())
    override = trigger is not None and trigger.kind == "manual" and doc.intake.flags.accept_data_loss
    passed: dict[str, str] = {}
    looked: list[Candidate] = []
    unreachable: set[str] = set()  # regions whose CloudWatch did not answer (asked once per run step)
    for region in regions:
        seen = standbys[region]
        if seen.verdict != "HEALTHY":
            passed[region] = f"not healthy ({votes_text(seen)})"
            continue
        candidate = _examine(Candidate(region, seen), rt, now, look.current, states, unreachable, switchover)
        looked.append(candidate)
        if candidate.problems or candidate.lagging:
            passed[region] = "; ".join(candidate.problems + candidate.lagging)
            continue
        if switchover:
            return _drain(doc, candidate, primary, probe, rt, look, decide, verdicts(region), now)
        why = "named by the operator" if named else "the first ready standby in plan order"
        return _proceed(candidate, primary, probe, rt, look, decide, verdicts(region, passed), why)
    # An operator's data-loss override applies only when no region is within the bound, and then to
    # the region that loses the least: the smallest worst lag (unknown counts as the worst), ties in
    # plan order.
    lagging = [c for c in looked if override and c.lagging and not c.problems]
    if lagging:
        chosen = replace(min(lagging, key=lambda c: c.worst_lag), accepted=True)
        others = {r: why for r, why in passed.items() if r != chosen.region}
        why = (
            "named by the operator, its lag accepted"
            if named
            else "no standby is within the lag bound: the one with the least replica lag, its lag accepted"
        )
        return _proceed(chosen, primary, probe, rt, look, decide, verdicts(chosen.region, others), why)
    return decide(
        "REFUSED",
        "no standby region is ready: " + "; ".join(f"{r}: {why}" for r, why in passed.items()),
        transient=all(c.transient for c in looked),
        standbys=verdicts(passed=passed),
    )


Current = dict[str, dict[tuple[str, str], Record]] | None


@dataclass
class TrafficLook:
    """The plan's records as they stand (None when the mode does not rewrite them, or Route 53's API
    does not answer), what the run verified of the traffic path, and what makes the move unsafe."""

    current: Current
    note: str
    verified: bool
    problems: list[str]


def _traffic(rt: Runtime) -> TrafficLook:
    plan = rt.plan
    shape = f"{len(plan.records)} record(s) in {len(plan.zones)} zone(s)"
    problems: list[str] = []
    if plan.traffic.mode == "data-plane":
        # In the stack region: what the move itself will use.
        names = [traffic.serving_alarm(plan.name, r) for r in plan.region_names]
        problems += traffic.serving_problems(rt.cloudwatch(rt.stack_region).alarm_states(names), plan)
    checks = traffic.serving_checks(plan, *rt.settings.serving_pair)
    with asking_route53(rt):
        if rt.route53_unreachable is None and plan.traffic.mode == "data-plane":
            for zone in plan.zones:
                pairs = rt.route53.pairs(zone.id, {r.name for r in zone.records})
                problems += traffic.pair_problems(zone, pairs, plan, checks)
            (_, first), (_, second) = traffic.pair_regions(plan)
            pairs_note = f"{shape} are failover pairs of their {first} and {second} targets"
            return TrafficLook(None, pairs_note, True, problems)
        if rt.route53_unreachable is None:
            current = {zone.id: rt.route53.records(zone.id, {r.name for r in zone.records}) for zone in plan.zones}
            problems += [p for zone in plan.zones for p in record_problems(zone, current[zone.id])]
            return TrafficLook(
                current, f"{shape} exist and point at their {plan.primary_region} targets", True, problems
            )
    # Data-plane mode changes no record: an outage of Route 53's API leaves the pairs as provisioned,
    # which `regionshift plan pairs --apply` recorded in the stack region (no record: nothing is known).
    if plan.traffic.mode == "data-plane" and rt.store.pairs_digest() != plan.digest():
        problems.append(
            "Route 53's API does not answer and this plan's failover pairs were never recorded as provisioned "
            "(regionshift plan pairs --apply): traffic might not follow"
        )
    unread = f"{shape} not verified: Route 53's API does not answer; data-plane mode changes no record"
    return TrafficLook(None, unread, False, problems)


def _examine(
    candidate: Candidate,
    rt: Runtime,
    now: datetime,
    current: Current,
    states: dict[tuple[str, str], ReplicaState],
    unreachable: set[str],
    switchover: bool = False,
) -> Candidate:
    """Every replica of the plan in the candidate region, then every record's target there.

    In a switchover an RDS replica's lag must read exactly 0 (``_drain``); an Aurora secondary's lag is
    read and reported only: SwitchoverGlobalCluster "synchronizes secondary DB clusters with the primary
    before making any other changes"
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html)."""
    plan, limit, region = rt.plan, rt.rails.max_replica_lag_seconds, candidate.region
    for resource, identifier in plan.replicas(region):
        replica = states[(region, identifier)]
        problem = standby_replica_problem(replica, region, plan.primary_region, plan.primary_member(resource))
        if problem:
            # A member that is busy (modifying, backing-up, a failover under way) may be ready later; a
            # missing or foreign one will not.
            busy = replica.exists and replica.source is not None and problem.endswith("not available")
            candidate.transient = candidate.transient and busy
            candidate.problems.append(problem)
            candidate.replicas.append(replica)
            continue
        if members.lag_metric(replica) is None:
            candidate.replicas.append(replica)
            continue
        metric = members.lag_metric(replica).name
        lag = members.lag_seconds(rt, replica, now)
        replica = replica.model_copy(update={"lag_seconds": lag})
        candidate.replicas.append(replica)
        if switchover:
            if replica.kind == "rds-instance" and lag != 0:
                candidate.undrained.append(f"{identifier} {lag_text(lag, metric)}")
            continue
        too_far = lag_problem(lag, limit, metric=metric)
        if too_far:
            candidate.lagging.append(f"{identifier}: {too_far}")
            candidate.lag_notes.append(f"{identifier} lag {lag_text(lag, metric)} exceeds {limit} s")
    for spec in plan.tables:
        table = members.table_state(rt, spec, region, now, unreachable)
        candidate.tables.append(table)
        problem = table_problem(table)
        if problem:
            # A replica being created or updated may become ACTIVE; a missing one will not appear by itself.
            candidate.transient = candidate.transient and table.exists and table.status in ("CREATING", "UPDATING")
            candidate.problems.append(problem)
            continue
        too_far = lag_problem(table.lag_seconds, limit, "replication latency", "ReplicationLatency")
        if too_far:
            candidate.lagging.append(f"table {spec.table}: {too_far}")
            candidate.lag_notes.append(
                f"table {spec.table} latency {lag_text(table.lag_seconds, 'ReplicationLatency')} exceeds {limit} s"
            )
    if candidate.problems or current is None:
        return candidate
    for zone in plan.zones:
        problems = record_target_problems(zone, current[zone.id], plan.primary_region, region, candidate.replicas)
        if problems:
            candidate.transient = False
            candidate.problems.extend(problems)
    return candidate


def _drain(
    doc: RunDocument,
    chosen: Candidate,
    primary: CheckerVotes,
    probe: int,
    rt: Runtime,
    look: TrafficLook,
    decide: Callable[..., AssessResult],
    standbys: list[StandbyVerdict],
    now: datetime,
) -> AssessResult:
    """A switchover moves the writer once every RDS replica's ReplicaLag has read exactly 0 on every read
    for the drain window: only then has each replica applied all the primary has written, and the
    operator's stopped writes keep it so ("When the ReplicaLag metric reaches 0, the replica has caught
    up to the source DB instance"; -1: replication is not active, not 0:
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MySQL.Replication.ReadReplicas.Monitor.html).
    ReplicaLag counts whole seconds, so one 0 may be a quiet moment between writes: hence the window of
    reads. Not drained within the plan's maximum wait: refused (a person must stop the writes), never
    moved with a loss."""
    assert doc.intake is not None
    rails = rt.rails
    drains = any(r.kind == "rds-instance" for r in chosen.replicas)
    previous = doc.assess.drained_since if doc.assess is not None else None
    since = None if chosen.undrained else (previous or now)
    held = 0.0 if since is None else (now - since).total_seconds()
    if not drains or (since is not None and held >= rails.switchover_drain_seconds):
        drained = Drained(since or now, _drained_note(chosen, rt, held))
        return _proceed(chosen, primary, probe, rt, look, decide, standbys, "named for a switchover", drained)
    waited = (now - doc.intake.at).total_seconds()
    standbys = [v.model_copy(update={"chosen": False}) for v in standbys]  # not chosen yet
    lag = (
        f"replica lag not yet 0: {', '.join(chosen.undrained)}"
        if chosen.undrained
        else f"replica lag 0 for {held:.0f} s of the {rails.switchover_drain_seconds} s drain window"
    )
    if waited >= rails.switchover_max_wait_seconds:
        return decide(
            "REFUSED",
            f"switchover to {chosen.region} not drained after {waited:.0f} s (switchoverMaxWaitSeconds "
            f"{rails.switchover_max_wait_seconds}): {lag}; nothing was moved: stop the writes to "
            f"{rt.plan.primary_region} and start the switchover again",
            standbys=standbys,
            drained_since=since,
        )
    return decide(
        "RECHECK",
        f"switchover to {chosen.region}: {lag}; reading again in {rails.confirm_interval_seconds} s "
        f"(waited {waited:.0f} s of {rails.switchover_max_wait_seconds} s)",
        standbys=standbys,
        drained_since=since,
    )


def _proceed(
    chosen: Candidate,
    primary: CheckerVotes,
    probe: int,
    rt: Runtime,
    look: TrafficLook,
    decide: Callable[..., AssessResult],
    standbys: list[StandbyVerdict],
    why_chosen: str,
    drained: Drained | None = None,
) -> AssessResult:
    """PROCEED to ``chosen`` (``drained``: a switchover, and what it verified of the data)."""
    plan, limit = rt.plan, rt.rails.max_replica_lag_seconds
    by_name = {r.database: r for r in chosen.replicas}
    lags = [r.lag_seconds for r in chosen.replicas if r.lag_seconds is not None]
    lags += [t.lag_seconds for t in chosen.tables if t.lag_seconds is not None]
    worst = f"{max(lags):g} s" if lags else "unknown"
    watched = sum(1 for r in chosen.replicas if members.lag_metric(r) is not None) + len(chosen.tables)
    if chosen.accepted:
        lag_note = f"{'; '.join(chosen.lag_notes)}: data loss accepted by the operator"
    elif drained is not None:
        lag_note = drained.note
    else:
        lag_note = f"{watched} replica(s) within {limit} s of lag (worst {worst})"
    records = len(plan.records)
    already = sum(
        1
        for zone in plan.zones
        for spec in zone.records
        if look.current is not None
        and (found := look.current[zone.id].get((spec.name, spec.type)))
        and found.value == spec.target(chosen.region)
    )
    passed = [v for v in standbys if v.passed_over]
    why = "; ".join(f"{v.region} passed over: {v.passed_over}" for v in passed)
    verified = [
        f"target {chosen.region} healthy ({votes_text(chosen.votes)})" + (f"; {why}" if why else ""),
        f"{len(chosen.replicas)} replica(s) in {chosen.region} replicate from the primary and are available",
        *([f"{len(chosen.tables)} global table(s) have an ACTIVE replica in {chosen.region}"] if chosen.tables else []),
        lag_note,
        # One line for all records, not one each: the document stays small for the largest plan.
        look.note + (f" or already at their {chosen.region} targets ({already})" if already else ""),
    ]
    if drained is not None:
        headline = (
            f"switchover: primary {plan.primary_region} healthy ({votes_text(primary)}); moving to {chosen.region}"
        )
    else:
        headline = f"primary down ({votes_text(primary)}) after {probe} probe(s); moving to {chosen.region}"
    return decide(
        "PROCEED",
        headline
        + (f" ({why})" if why else "")
        + f"; {lag_note}; {records} record(s) {'verified' if look.verified else 'not verified'}",
        standbys=standbys,
        target=chosen.region,
        why_chosen=why_chosen,
        stages=[[by_name[m.name] for m in stage] for stage in plan.stages],
        tables=chosen.tables,
        data_loss_accepted=chosen.accepted,
        drained_since=drained.since if drained else None,
        verified=verified,
    )


def _drained_note(chosen: Candidate, rt: Runtime, held: float) -> str:
    """What a switchover verified of the data: the RDS replicas' drain, Aurora's own synchronisation."""
    rds = [r for r in chosen.replicas if r.kind == "rds-instance"]
    aurora = [r for r in chosen.replicas if r.kind == "aurora-global"]
    parts = []
    if rds:
        parts.append(
            f"no data loss: {len(rds)} replica(s) read 0 s of lag on every read for {held:.0f} s "
            f"(drain window {rt.rails.switchover_drain_seconds} s)"
        )
    if aurora:
        parts.append(
            f"{len(aurora)} Aurora secondary(ies) synchronised by SwitchoverGlobalCluster before it moves the writer"
        )
    if chosen.tables:
        parts.append(f"{len(chosen.tables)} global table(s) within {rt.rails.max_replica_lag_seconds} s of latency")
    return "; ".join(parts) or "no data loss: nothing replicates by lag"
