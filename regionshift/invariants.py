"""What must hold after every drill, whatever was injected: the "nothing lost" rules.

Checked by the drill runner itself and reported per scenario (``regionshift chaos``).
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from failover.clients import BUDGETS, DEADLINE_MARGIN_SECONDS
from failover.models import Outcome
from regionshift.drill import DrillResult, Run
from regionshift.template import stack_root

# The states of an instance that takes no writes ("Stopping an Amazon RDS DB instance temporarily").
STOPPED = ("stopping", "stopped")
# Outcomes of runs that must not have changed anything.
INACTIVE = (Outcome.REFUSED, Outcome.NO_ACTION, Outcome.DRY_RUN)


@dataclass(frozen=True)
class Invariant:
    name: str
    held: bool
    detail: str = ""


@lru_cache(maxsize=1)
def _asl() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((stack_root() / "statemachine/failover.asl.json").read_text())
    return document


def check(result: DrillResult) -> list[Invariant]:
    """Every invariant of the drill; for a chain of steps (Scenario.check_each_step), of each step,
    against the world the step before it left."""
    if result.steps:
        return [
            Invariant(f"{step.label}: {held.name}", held.held, held.detail)
            for step in result.steps
            for held in check(step.result)
        ]
    degraded = any(r.outcome == Outcome.DEGRADED for r in result.runs)
    return [
        _one_writer_serving(result, degraded),
        _dns_all_or_nothing(result, degraded),
        _outcome_matches_world(result),
        _every_run_notified(result),
        _lock_released(result),
        _every_run_audited(result),
        _retries_bounded(result),
        _no_mutation_when_inactive(result),
        _records_follow_the_writer(result),
        _clients_resolve_the_writer(result),
        _one_writer_per_global_resource(result),
    ]


# The calls that move a writer: after one takes effect there is no going back.
MOVES = ("PromoteReadReplica", "FailoverGlobalCluster", "SwitchoverGlobalCluster", "FailoverGlobalReplicationGroup")


def _one_writer_per_global_resource(result: DrillResult) -> Invariant:
    """An Aurora global database and a global datastore have exactly one writer at every moment AWS
    shows them: never two (split brain), never none once a failover ended."""
    members: dict[str, list[str]] = {}
    for d in result.world["databases"]:
        if d.get("kind") in ("aurora-global", "elasticache-global"):
            members.setdefault(d["database"], [])
            if d["role"] == "primary":
                members[d["database"]].append(d["region"])
    wrong = {name: regions for name, regions in members.items() if len(regions) != 1}
    if wrong:
        shown = "; ".join(f"{name}: writers in {regions or 'no region'}" for name, regions in sorted(wrong.items()))
        return Invariant("one-writer-per-global-resource", False, shown)
    return Invariant("one-writer-per-global-resource", True, f"{len(members)} global resource(s), one writer each")


def _plan_databases(world: dict[str, Any]) -> set[str]:
    """The plan's databases (orders, accounts...) as the snapshot names them; foreign instances have none."""
    return {d["database"] for d in world["databases"] if d.get("database")}


def _record_key(record: dict[str, Any]) -> tuple[str, str]:
    return record["name"], record["type"]


def _one_writer_serving(result: DrillResult, degraded: bool) -> Invariant:
    """Every region the plan's records send traffic to holds the writer of every plan database (the
    application in a region writes to the databases there); only a DEGRADED run, which pages a human,
    may leave it otherwise."""
    regions = {r["region"] for r in result.world["dns"]}
    if len(regions) > 1:
        shown = ", ".join(sorted(str(r) for r in regions))
        return Invariant("one-writer-serving", degraded, f"records point into more than one region ({shown})")
    if not regions:
        return Invariant("one-writer-serving", True, "no plan record in the zones")
    (region,) = regions
    writers = {
        d["database"]
        for d in result.world["databases"]
        # A stopped instance (a fenced old primary) takes no writes: it is no writer.
        if d.get("database") and d["region"] == region and d["role"] == "primary" and d["status"] not in STOPPED
    }
    missing = sorted(_plan_databases(result.world) - writers)
    if missing:
        detail = f"traffic goes to {region}, where {', '.join(missing)} has no writer"
        return Invariant("one-writer-serving", degraded, detail)
    return Invariant("one-writer-serving", True, f"traffic and every database's writer are in {region}")


def _dns_all_or_nothing(result: DrillResult, degraded: bool) -> Invariant:
    """The plan's records move together, whatever zone they are in (one change per zone)."""
    if result.plan.traffic.mode == "data-plane":
        # No record changes; an alias pair's answer also follows its target's health on its own (Route 53
        # evaluates it), so answers may move before the run: one-writer-serving checks where they end.
        return Invariant("dns-all-or-nothing", True, "data-plane mode: the run changes no record")
    before = {_record_key(r): r["target"] for r in result.before["dns"]}
    after = {_record_key(r): r["target"] for r in result.world["dns"]}
    moved = [key for key in before if after.get(key) != before[key]]
    if moved and len(moved) != len(before):
        shown = ", ".join(f"{name} {kind}" for name, kind in moved)
        return Invariant("dns-all-or-nothing", degraded, f"only {shown} moved")
    return Invariant("dns-all-or-nothing", True, "all moved" if moved else "none moved")


def _outcome_matches_world(result: DrillResult) -> Invariant:
    """FAILED_OVER: every record moved and every plan database has a promoted writer; DEGRADED: something
    irreversible took effect; any other outcome: nothing changed."""
    moved = result.world["dns"] != result.before["dns"]
    before_roles = {d["id"]: d["role"] for d in result.before["databases"]}
    promoted = {
        d["id"]: d["database"]
        for d in result.world["databases"]
        if d["role"] == "primary" and before_roles.get(d["id"]) == "replica"
    }
    unpromoted = sorted(_plan_databases(result.before) - set(promoted.values()))
    # A promotion that took effect but has not finished yet still counts: it cannot be undone.
    promotion_effects = [e for e in result.effects if e["operation"] in MOVES]
    outcomes = {r.outcome for r in result.runs}
    if Outcome.FAILED_OVER in outcomes:
        held = moved and not unpromoted
    elif Outcome.DEGRADED in outcomes:
        held = bool(promotion_effects)
    else:
        held = not moved and not promotion_effects
    detail = f"dns moved={moved}, promoted={sorted(promoted)}, promotions={len(promotion_effects)}"
    if Outcome.FAILED_OVER in outcomes and unpromoted:
        detail += f", no promoted writer for {', '.join(unpromoted)}"
    return Invariant("outcome-matches-world", held, detail)


def _every_run_notified(result: DrillResult) -> Invariant:
    notified = {n["execution"]: n["outcome"] for n in result.notifications}
    missing = []
    for run in result.runs:
        failure_recorded = bool(run.audit and run.audit.notification_error)
        if notified.get(run.arn) != run.outcome and not failure_recorded:
            missing.append(run.arn.rsplit(":", 1)[-1])
    return Invariant("every-run-notified", not missing, f"not notified: {missing}" if missing else "")


def _lock_released(result: DrillResult) -> Invariant:
    owner = result.lock.owner if result.lock else None
    ours = {r.arn for r in result.runs}
    return Invariant("lock-released", owner not in ours, f"still held by {owner}" if owner in ours else "")


def _every_run_audited(result: DrillResult) -> Invariant:
    audited = [a.execution for a in result.audit]
    bad = [r.arn.rsplit(":", 1)[-1] for r in result.runs if audited.count(r.arn) != 1]
    return Invariant("every-run-audited", not bad, f"not exactly one record: {bad}" if bad else "")


def _all_states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state of the machine by name, those inside a Map's ItemProcessor or a Parallel's branches too
    (the promotion Map's Promote and PromotionStatus retry inside each iteration)."""
    found = dict(states)
    for state in states.values():
        nested = [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]
        for machine in nested:
            if machine:
                found.update(_all_states(machine["States"]))
    return found


def _attempt_bounds() -> tuple[dict[str, int], float]:
    states = _all_states(_asl()["States"])
    bounds = {
        name: sum(r["MaxAttempts"] for r in s.get("Retry", [])) for name, s in states.items() if s["Type"] == "Task"
    }
    cap = max(
        r.get("MaxDelaySeconds", 0) or r["IntervalSeconds"] * 2 for s in states.values() for r in s.get("Retry", [])
    )
    return bounds, cap


def _retries_bounded(result: DrillResult) -> Invariant:
    bounds, cap = _attempt_bounds()
    problems = []
    for run in result.runs:
        for state, attempts in _attempts_per_visit(run):
            if attempts - 1 > bounds.get(state, 0):
                problems.append(f"{state}: {attempts} attempts")
    too_long = [r for r in result.recorder.retries if r > cap]
    if too_long:
        problems.append(f"retry intervals above {cap} s: {too_long}")
    # Inside a Lambda: each sleep within the largest budget's cap, and the sleeps of one invocation
    # leave it the margin before its timeout (retrying never times a step out).
    sleep_cap = max(budget.max_delay for budget in BUDGETS.values())
    long_sleeps = [round(s, 3) for s in result.recorder.backoffs if s > sleep_cap]
    if long_sleeps:
        problems.append(f"in-Lambda backoffs above {sleep_cap} s: {long_sleeps}")
    for invocation in result.recorder.invocations:
        if invocation.timeout and invocation.backoff > invocation.timeout - DEADLINE_MARGIN_SECONDS:
            problems.append(
                f"{invocation.function} slept {invocation.backoff:.1f} s of its {invocation.timeout:.0f} s timeout"
            )
    return Invariant("retries-bounded", not problems, "; ".join(problems))


def _attempts_per_visit(run: Run) -> list[tuple[str, int]]:
    visits = run.execution.visits if run.execution else []
    return [(v.name, v.attempts) for v in visits if v.kind == "Task"]


def _no_mutation_when_inactive(result: DrillResult) -> Invariant:
    inactive = {r.arn for r in result.runs if r.outcome in INACTIVE}
    offending = [c for c in result.recorder.calls if c.mutating and c.execution in inactive]
    detail = ", ".join(f"{c.service}:{c.operation}" for c in offending)
    return Invariant("no-mutation-when-inactive", not offending, detail)


def _records_follow_the_writer(result: DrillResult) -> Invariant:
    """After a promotion, every plan record (an alias to a region's load balancer or a CNAME to a database)
    points into the region of the run's promoted writers, except records the run itself reports as not
    moved (a DEGRADED run names them, for a human to move), or all of them when its rollback failed (its
    page says to check DNS by hand)."""
    return _follow_the_writer(result, "records-follow-the-writer", result.world["dns"], "pointing")


def _clients_resolve_the_writer(result: DrillResult) -> Invariant:
    """The same rule on what clients resolve (Route 53's answers, emulator/dns.py) rather than on what the
    records hold: with simple records the answer is the record's value; with failover pairs the records
    never change and the answer follows the health checks."""
    return _follow_the_writer(result, "clients-resolve-the-writer", result.answers, "resolving to")


def _follow_the_writer(result: DrillResult, name: str, entries: list[dict[str, Any]], verb: str) -> Invariant:
    """Every entry (``{name, type, region}``) is in the region of the run's promoted writers after a
    promotion, but those the run excuses: the records it reports as not moved, or all when its rollback
    failed."""
    promoted = {e.get("identifier") for e in result.effects if e["operation"] in MOVES}
    if not promoted:
        return Invariant(name, True, "no promotion")
    regions = {d["region"] for d in result.world["databases"] if d["id"] in promoted and d["role"] == "primary"}
    excused = {record for run in result.runs if run.audit for record in run.audit.not_moved}
    if any(run.audit and run.audit.rollback_error for run in result.runs):
        excused |= {e["name"] for e in entries}
    wrong = [
        f"{e['name']} {e['type']} ({e['region']})"
        for e in entries
        if e["region"] not in regions and e["name"] not in excused
    ]
    where = ", ".join(sorted(regions)) or "no region yet"
    detail = f"not {verb} the writers' region ({where}): {wrong}" if wrong else ""
    return Invariant(name, not wrong, detail)
