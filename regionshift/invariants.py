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
    ]


def _standby_targets(result: DrillResult) -> dict[str, str]:
    before = {r["name"]: r["target"] for r in result.before["dns"]}
    standby = {r["name"]: r["target"] for r in result.world["dns"] if r["region"] != _region_of(result.before)}
    return {name: standby.get(name, before[name]) for name in before}


def _region_of(world: dict[str, Any]) -> str | None:
    regions = {r["region"] for r in world["dns"]}
    return regions.pop() if len(regions) == 1 else None


def _one_writer_serving(result: DrillResult, degraded: bool) -> Invariant:
    region = _region_of(result.world)
    if region is None:
        return Invariant("one-writer-serving", degraded, "records point into more than one region")
    writers = [d for d in result.world["databases"] if d["region"] == region and d["role"] == "primary"]
    if not writers:
        return Invariant("one-writer-serving", degraded, f"traffic goes to {region}, where no database is a writer")
    return Invariant("one-writer-serving", True, f"traffic and the writer are in {region}")


def _dns_all_or_nothing(result: DrillResult, degraded: bool) -> Invariant:
    before = {r["name"]: r["target"] for r in result.before["dns"]}
    after = {r["name"]: r["target"] for r in result.world["dns"]}
    moved = [name for name in before if after.get(name) != before[name]]
    if moved and len(moved) != len(before):
        return Invariant("dns-all-or-nothing", degraded, f"only {moved} moved")
    return Invariant("dns-all-or-nothing", True, "all moved" if moved else "none moved")


def _outcome_matches_world(result: DrillResult) -> Invariant:
    moved = result.world["dns"] != result.before["dns"]
    roles = {d["id"]: d["role"] for d in result.world["databases"]}
    before_roles = {d["id"]: d["role"] for d in result.before["databases"]}
    promoted = [i for i, role in roles.items() if role == "primary" and before_roles.get(i) == "replica"]
    # A promotion that took effect but has not finished yet still counts: it cannot be undone.
    promotion_effects = [e for e in result.effects if e["operation"] == "PromoteReadReplica"]
    outcomes = {r.outcome for r in result.runs}
    if Outcome.FAILED_OVER in outcomes:
        held = moved and bool(promoted)
    elif Outcome.DEGRADED in outcomes:
        held = bool(promotion_effects)
    else:
        held = not moved and not promotion_effects
    detail = f"dns moved={moved}, promoted={promoted}, promotions={len(promotion_effects)}"
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


def _attempt_bounds() -> tuple[dict[str, int], float]:
    states = _asl()["States"]
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
    """After a promotion, no record points at a database that is not the run's writer, except records
    the run itself reports as not moved (a DEGRADED run names them, for a human to move), or all of
    them when its rollback failed (its page says to check DNS by hand)."""
    promoted = {e.get("identifier") for e in result.effects if e["operation"] == "PromoteReadReplica"}
    if not promoted:
        return Invariant("records-follow-the-writer", True, "no promotion")
    regions = {d["region"] for d in result.world["databases"] if d["id"] in promoted and d["role"] == "primary"}
    excused = {name for run in result.runs if run.audit for name in run.audit.not_moved}
    if any(run.audit and run.audit.rollback_error for run in result.runs):
        excused |= {r["name"] for r in result.world["dns"]}
    wrong = [
        r["name"]
        for r in result.world["dns"]
        if ".rds." in r["target"] and r["region"] not in regions and r["name"] not in excused
    ]
    detail = f"pointing at a database that is not the writer: {wrong}" if wrong else ""
    return Invariant("records-follow-the-writer", not wrong, detail)
