"""Standby-side detection on the emulator: the stack's probe runs once a minute with the detection
chain, its alarm starts a run, and two alarms for one outage make one failover."""

from regionshift.drill import DrillResult
from regionshift.emulator.deploy import STACK_REGION

PROBE_ALARM = "regionshift-orders-probe-unhealthy"
ROUTE53_ALARM = "regionshift-primary-unhealthy"


def _promoted(result: DrillResult) -> list[str]:
    return sorted(e["identifier"] for e in result.effects if e["operation"] == "PromoteReadReplica")


def test_the_probe_alarm_detects_first_and_its_run_points_detection_at_the_new_primary(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["probe-detects-outage"]
    # Given the primary dark from 30.5 s: the probe's alarm in the stack region fires first (180 s,
    # three failing rounds); the Route 53 alarm in us-east-1 would have fired two minutes later
    fired = {(t.alarm, t.region): t.at for t in result.transitions if t.state == "ALARM"}
    assert fired == {(PROBE_ALARM, STACK_REGION): 180.0}
    # Then the probe alarm's run failed over, once
    (first,) = result.runs
    assert first.audit is not None and first.audit.outcome == "FAILED_OVER"
    assert _promoted(result) == ["accounts-us-west-2", "orders-us-west-2"]
    # And its Watch step pointed both alarms at us-west-2 (its health check, its probe results), so the
    # Route 53 alarm never fired for the old primary's outage: one outage, one run
    watch = first.audit.changes.watch if first.audit.changes else None
    assert watch is not None and watch.primary == "us-west-2"
    moved = {(a.alarm, a.region): (a.before, a.after) for a in watch.alarms}
    assert moved == {
        (ROUTE53_ALARM, "us-east-1"): (result.plan.health_check("us-east-1"), result.plan.health_check("us-west-2")),
        (PROBE_ALARM, STACK_REGION): ("us-east-1", "us-west-2"),
    }


def test_the_probe_runs_outside_any_run_and_only_records_in_the_stack_region(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["probe-detects-outage"]
    rounds = [i for i in result.recorder.invocations if i.function == "regionshift-ProbeFunction"]
    # One round a minute of the chain (3 before the first run, then until the 900 s horizon), none failed
    assert len(rounds) == 15 and not any(i.errored for i in rounds)
    calls = [c for c in result.recorder.calls if c.function == "regionshift-ProbeFunction"]
    assert {(c.execution, c.service, c.operation, c.region) for c in calls} == {
        (None, "cloudwatch", "PutMetricData", STACK_REGION)
    }
    assert not result.denied


def test_two_alarms_in_one_minute_make_one_failover(library_results: dict[str, DrillResult]) -> None:
    result = library_results["probe-and-route53-together"]
    # Given both alarms firing in the same minute: two runs start at once
    fired = [(t.alarm, t.at) for t in result.transitions if t.state == "ALARM"]
    assert sorted(fired) == [(PROBE_ALARM, 300.0), (ROUTE53_ALARM, 300.0)]
    # Then exactly one fails over, each database promoted once; every other run is refused, first
    # because the lock is held (re-evaluated later), at last by the cooldown. A run that read the
    # writers before the failover moved them is refused by the cooldown too (Gate checks it first),
    # however moto's threads interleave the two executions.
    outcomes = [r.outcome for r in result.runs]
    assert outcomes.count("FAILED_OVER") == 1 and set(outcomes) == {"FAILED_OVER", "REFUSED"}
    assert _promoted(result) == ["accounts-us-west-2", "orders-us-west-2"]
    reasons = [r.reason or "" for r in result.runs if r.outcome == "REFUSED"]
    assert all("another run holds the lock" in r or "cooldown after FAILED_OVER" in r for r in reasons)
    assert "cooldown after FAILED_OVER" in reasons[-1]


def test_with_us_east_1_lost_the_probe_alone_detects_and_the_run_never_calls_it(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["region-outage"]
    # Given us-east-1 lost: the Route 53 alarm there never fires; the probe's alarm does
    fired = [(t.alarm, t.region) for t in result.transitions if t.state == "ALARM"]
    assert fired == [(PROBE_ALARM, STACK_REGION)]
    # Then the one run fails over on the probes' votes (Route 53's API did not answer)
    (run,) = result.runs
    assert run.outcome == "FAILED_OVER"
    reads = {(c.function, c.region) for c in result.recorder.calls if c.operation == "GetMetricStatistics"}
    assert ("regionshift-AssessFunction", STACK_REGION) in reads
    assert ("regionshift-TargetHealthFunction", STACK_REGION) in reads
    # And nothing the run changed went to us-east-1
    assert not [m for m in result.mutations if m["region"] in ("us-east-1", "aws-global") and not m["error"]]


def test_the_region_outage_moves_traffic_without_a_record_change_and_clients_follow_the_writer(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["region-outage"]
    # Then no record change was even attempted (data-plane mode), the switch went to the stack region
    assert not [c for c in result.recorder.calls if c.operation in ("ChangeResourceRecordSets", "GetChange")]
    published = [c for c in result.recorder.calls if c.operation == "PutMetricData" and "UpdateDns" in c.function]
    assert published and {c.region for c in published} == {STACK_REGION}
    # And every plan record resolves into us-west-2, where the promoted writers are, through the
    # pairs' SECONDARY records (their PRIMARY's serving data says the primary no longer serves)
    assert {(a["region"], a["failover"]) for a in result.answers} == {(STACK_REGION, "SECONDARY")}
    promoted = {
        d["database"] for d in result.world["databases"] if d["region"] == STACK_REGION and d["role"] == "primary"
    }
    assert promoted == {m.name for m in result.plan.movers}


def test_the_same_outage_on_an_upsert_plan_is_refused_before_anything_changes_naming_the_data_plane_mode(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["region-outage-upsert"]
    # Then every run (the first and its re-evaluations) is REFUSED, and nothing was promoted or changed
    assert result.runs and {r.outcome for r in result.runs} == {"REFUSED"}
    assert result.mutations == []
    # And its page says why and which mode would have worked
    for run in result.runs:
        assert "Route 53's API does not answer" in (run.reason or "")
        assert "traffic.mode: data-plane" in (run.reason or "")


def test_without_route53_a_data_plane_run_refuses_pairs_never_recorded_as_provisioned() -> None:
    from failover.store import PAIRS
    from regionshift import drill
    from regionshift.emulator import scenario as scenarios
    from regionshift.emulator.scenario import Step

    chosen = scenarios.load("region-outage")
    with drill.Session(chosen) as session:
        # Given the region-outage drill on a stack where nobody recorded the pairs (plan pairs --apply)
        session.store._client.delete_item(TableName=session.store._table, Key=PAIRS)
        session.step(Step(trigger=chosen.trigger))
        result = session.result()
    # Then the run, unable to see the pairs through Route 53's API, refuses before any promotion
    assert result.runs and {r.outcome for r in result.runs} == {"REFUSED"}
    assert result.mutations == []
    assert "never recorded as provisioned" in (result.runs[0].reason or "")
