"""The way out and back on the emulator: the direction a run records, detection following the writers,
failback's rebuilt replicas, and a switchover home that ends with the original topology."""

from regionshift import invariants
from regionshift.drill import DrillResult

ROUTE53_ALARM = "regionshift-primary-unhealthy"


def _live_writers(result: DrillResult) -> dict[str, set[str]]:
    """Database -> the regions of its writers that take writes (standalone and not stopped)."""
    found: dict[str, set[str]] = {}
    for d in result.world["databases"]:
        if d.get("database") and d["role"] == "primary" and d["status"] not in ("stopped", "stopping"):
            found.setdefault(d["database"], set()).add(d["region"])
    return found


def test_failover_failback_and_switchover_home_end_with_the_original_topology(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["failover-failback-home"]
    # Every invariant held after each of the five steps (the failover, the recovery, the rebuild, the
    # switchover home, the second rebuild), each against the world the step before left
    checks = invariants.check(result)
    assert len(result.steps) == 5 and [c for c in checks if not c.held] == []
    assert {c.name.split(": ")[0] for c in checks} == {
        f"step {i} ({k})" for i, k in enumerate(["trigger", "advance", "failback", "trigger", "failback"])
    }
    # Then the writers and traffic are back in us-east-1, each with a replica in us-west-2 that follows it
    assert _live_writers(result) == {"orders": {"us-east-1"}, "accounts": {"us-east-1"}}
    assert {r["region"] for r in result.world["dns"]} == {"us-east-1"}
    replicas = {
        d["database"]: d["source"].rsplit(":", 1)[-1]
        for d in result.world["databases"]
        if d["region"] == "us-west-2" and d["role"] == "replica"
    }
    assert replicas == {"orders": "orders-primary-2", "accounts": "accounts-primary-2"}
    # And the names are new, the topology the original: the first rebuild's replicas became the writers
    assert [[r["identifier"] for r in f["rebuilt"]] for f in result.failbacks] == [
        ["orders-primary-2", "accounts-primary-2"],
        ["orders-us-west-2-5", "accounts-us-west-2-5"],
    ]
    assert all(m["state"] == "ready" for f in result.failbacks for m in f["members"])


def test_each_move_points_detection_at_the_writers_and_is_recorded(library_results: dict[str, DrillResult]) -> None:
    result = library_results["failover-failback-home"]
    plan = result.plan
    failover, home = result.runs
    watched = []
    for run in (failover, home):
        assert run.audit is not None and run.audit.changes is not None and run.audit.changes.watch is not None
        (alarm,) = [a for a in run.audit.changes.watch.alarms if a.alarm == ROUTE53_ALARM]
        watched.append((alarm.before, alarm.after))
    # The failover pointed the alarm at us-west-2's health check, the switchover back at us-east-1's
    assert watched == [
        (plan.health_check("us-east-1"), plan.health_check("us-west-2")),
        (plan.health_check("us-west-2"), plan.health_check("us-east-1")),
    ]
    # The switchover was judged on the plan as the estate stood: us-west-2 the primary, us-east-1's rebuilt
    # replicas the members moved
    assert home.audit is not None and home.audit.decisions.assess is not None
    assert home.audit.decisions.assess.target == "us-east-1"
    assert sorted(r.identifier for r in home.audit.decisions.assess.replicas) == [
        "accounts-primary-2",
        "orders-primary-2",
    ]
    # Failback's creations were the operator's calls, in the region rebuilt
    created = [
        (c["region"], c["function"]) for c in result.mutations if c["operation"] == "CreateDBInstanceReadReplica"
    ]
    assert created == [("us-east-1", "Operator")] * 2 + [("us-west-2", "Operator")] * 2


def test_failback_waits_until_each_rebuilt_replica_is_available(library_results: dict[str, DrillResult]) -> None:
    result = library_results["failback-rebuilds-replicas"]
    assert [c for c in invariants.check(result) if not c.held] == []
    (rebuilt,) = result.failbacks
    assert [(m["identifier"], m["state"]) for m in rebuilt["members"]] == [
        ("orders-primary-2", "ready"),
        ("accounts-primary-2", "ready"),
    ]
    # The replicas were "creating" for ten virtual minutes: failback polled them until available
    described = [c for c in result.recorder.calls if c.function == "Operator" and c.operation == "DescribeDBInstances"]
    assert described[-1].at - described[0].at >= 600
