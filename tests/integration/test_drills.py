"""The shipped scenario library, run through the real state machine and handlers on the emulator."""

import pytest

from regionshift import invariants
from regionshift.drill import DrillResult
from regionshift.emulator import scenario as scenarios

SCENARIOS = [path.stem for path in scenarios.library()]


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_meets_its_expectation(name: str, library_results: dict[str, DrillResult]) -> None:
    # Given a shipped scenario, When it runs on the emulator, Then the outcome is the expected one
    result = library_results[name]
    assert result.passed, result.problems
    for run in result.runs:
        assert run.status in ("SUCCEEDED", "FAILED")


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_holds_every_invariant(name: str, library_results: dict[str, DrillResult]) -> None:
    broken = [f"{c.name}: {c.detail}" for c in invariants.check(library_results[name]) if not c.held]
    assert broken == []


def test_library_covers_the_catalogue() -> None:
    assert len(SCENARIOS) >= 62


@pytest.mark.parametrize(
    "name",
    [
        "bad-input",
        "dry-run",
        "false-alarm",
        "paused",
        "stale-event",
        "lag-too-high",
        "lag-unknown",
        "wrong-source",
        "missing-record",
        "forged-alarm",
        "both-regions-unhealthy",
        "checkers-split",
        "blip-recovers",
        "every-standby-lagging",
        "manual-target-not-standby",
    ],
)
def test_non_acting_outcomes_make_no_mutating_call(name: str, library_results: dict[str, DrillResult]) -> None:
    result = library_results[name]
    assert result.outcome in ("REFUSED", "NO_ACTION", "DRY_RUN")
    assert result.wire()["mutations"] == []
    assert result.world == result.before


def test_primary_outage_moves_every_database_and_every_record(library_results: dict[str, DrillResult]) -> None:
    data = library_results["primary-outage"].wire()
    roles = {d["id"]: d["role"] for d in data["world"]["databases"]}
    # Then both databases' replicas in the first standby are writers; the second standby's are untouched
    assert roles == {
        "orders-primary": "primary",
        "accounts-primary": "primary",
        "orders-us-west-2": "primary",
        "accounts-us-west-2": "primary",
        "orders-eu-west-1": "replica",
        "accounts-eu-west-1": "replica",
    }
    assert {(r["name"], r["region"]) for r in data["world"]["dns"]} == {
        ("example.com", "us-west-2"),
        ("api.example.com", "us-west-2"),
        ("db.example.com", "us-west-2"),
    }
    promotions = [e for e in data["effects"] if e["operation"] == "PromoteReadReplica"]
    assert sorted(e["identifier"] for e in promotions) == ["accounts-us-west-2", "orders-us-west-2"]
    assert {e["region"] for e in promotions} == {"us-west-2"}
    assert [n["outcome"] for n in data["notifications"]] == ["FAILED_OVER"]
    assert data["execution"]["status"] == "SUCCEEDED"
    assert data["execution"]["states"][:2] == ["Intake", "IntakeDecision"]
    # the outage was confirmed by two re-probes before anything changed
    assert data["execution"]["states"].count("Assess") == 3


def test_bad_input_is_refused_in_the_first_state_with_its_reasons(library_results: dict[str, DrillResult]) -> None:
    data = library_results["bad-input"].wire()
    assert data["execution"]["states"][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    assert "malformed or wildcard DNS name: '*.example.com'" in data["reason"]
    assert "force" in data["reason"]
    assert not any(c["service"] in ("rds", "route53") for c in data["calls"])


def test_dry_run_reads_everything_and_changes_nothing(library_results: dict[str, DrillResult]) -> None:
    data = library_results["dry-run"].wire()
    operations = {c["operation"] for c in data["calls"]}
    assert {"GetHealthCheckStatus", "DescribeDBInstances", "GetMetricStatistics"} <= operations
    assert data["notifications"][0]["outcome"] == "DRY_RUN"
    message = library_results["dry-run"].notifications[0]["message"]
    assert "Would promote orders-us-west-2 (orders) in us-west-2" in message
    assert "Would promote accounts-us-west-2 (accounts) in us-west-2" in message


def test_promotion_failure_rolls_back_without_touching_dns(library_results: dict[str, DrillResult]) -> None:
    result = library_results["promote-fails"]
    data = result.wire()
    assert data["world"]["dns"] == data["before"]["dns"]
    assert data["world"]["databases"] == data["before"]["databases"]  # every replica is still a replica
    assert not any(c["service"] == "route53" and c["operation"] == "ChangeResourceRecordSets" for c in data["calls"])
    # each call backed off in the Lambda, then the step was retried on the deterministic schedule
    assert data["backoffs"] and all(0 < b <= 4 for b in data["backoffs"])
    assert set(data["retries"]) == {5, 10, 20}
    assert data["retries"].count(20) == 3 * data["retries"].count(5)
    assert data["retries"].count(5) >= len(result.runs)  # the run and each re-evaluation, at least once
    assert {r.outcome for r in result.runs} == {"ROLLED_BACK"}
    assert data["execution"]["status"] == "FAILED"
    assert data["execution"]["error"] == "Regionshift.RolledBack"


def test_dns_failure_after_the_promotion_leaves_dns_moved_and_pages_a_human(
    library_results: dict[str, DrillResult],
) -> None:
    # Given the promotions and a DNS change that never reaches INSYNC
    result = library_results["dns-fails"]
    data = result.wire()
    # Then no record is pointed back at the old primary: two writers would take traffic
    assert data["world"]["dns"] != data["before"]["dns"]
    roles = {d["id"]: d["role"] for d in data["world"]["databases"]}
    assert roles["orders-us-west-2"] == roles["accounts-us-west-2"] == "primary"
    changes = [m for m in data["mutations"] if m["operation"] == "ChangeResourceRecordSets"]
    assert len(changes) == 1  # the move (one zone, one batch), never a move back
    assert data["notifications"][0]["outcome"] == "DEGRADED"
    message = result.notifications[0]["message"]
    assert "A human must act" in message and "fence the old primaries (orders-primary, accounts-primary)" in message
    assert "DNS moved to us-west-2: 3 record(s)" in message
    assert data["execution"]["error"] == "Regionshift.Degraded"


def test_rule_pattern_starts_runs_for_this_alarm_in_alarm_state_only(library_results: dict[str, DrillResult]) -> None:
    assert library_results["primary-outage"].runs
    assert library_results["alarm-ok-ignored"].runs == []
    assert library_results["other-alarm-ignored"].runs == []


@pytest.mark.parametrize(
    "name", ["duplicate-delivery", "lost-promote-response", "throttled-promote-recovers", "handler-timeout"]
)
def test_exactly_one_promotion_per_database_takes_effect(name: str, library_results: dict[str, DrillResult]) -> None:
    promoted = [e["identifier"] for e in library_results[name].effects if e["operation"] == "PromoteReadReplica"]
    assert sorted(promoted) == ["accounts-us-west-2", "orders-us-west-2"]


def test_a_timed_out_dns_step_waits_for_its_change_after_the_retry(library_results: dict[str, DrillResult]) -> None:
    result = library_results["handler-timeout"]
    operations = [c.operation for c in result.recorder.calls if c.service == "route53"]
    last_change = max(i for i, op in enumerate(operations) if op == "ChangeResourceRecordSets")
    # the retried step re-sent the same values and the run waited for that change to be INSYNC
    assert "GetChange" in operations[last_change:]
    assert {r["region"] for r in result.world["dns"]} == {"us-west-2"}


def test_duplicate_delivery_refuses_the_second_run(library_results: dict[str, DrillResult]) -> None:
    data = library_results["duplicate-delivery"].wire()
    refused = [r for r in data["runs"] if r["outcome"] == "REFUSED"]
    assert len(refused) == 1
    assert "lock" in refused[0]["reason"] or "duplicate delivery" in refused[0]["reason"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_run_writes_one_audit_record_and_releases_its_lock(
    name: str, library_results: dict[str, DrillResult]
) -> None:
    result = library_results[name]
    audited = [a.execution for a in result.audit]
    for run in result.runs:
        assert audited.count(run.arn) == 1, name
        record = next(a for a in result.audit if a.execution == run.arn)
        took_lock = record.decisions.gate.acquired if record.decisions.gate else False
        assert record.lock_released == took_lock, name


def test_cooldown_is_refused_until_acknowledged(library_results: dict[str, DrillResult]) -> None:
    runs = library_results["cooldown-ack"].runs
    assert [r.outcome for r in runs] == ["REFUSED", "FAILED_OVER"]
    assert "cooldown" in (runs[0].reason or "")


def test_data_loss_override_is_recorded_and_notified(library_results: dict[str, DrillResult]) -> None:
    result = library_results["lag-override"]
    record = result.audit[0]
    assert record.decisions.assess is not None
    assert record.decisions.assess.data_loss_accepted is True
    assert {r.identifier: r.lag_seconds for r in record.decisions.assess.replicas} == {
        "orders-us-west-2": 300,
        "accounts-us-west-2": 300,
    }
    assert record.trigger is not None and record.trigger.operator == "alice"
    assert "DATA LOSS ACCEPTED" in result.notifications[0]["message"]


@pytest.mark.parametrize(
    ("name", "state"),
    [("throttle-storm-assess", "Assess"), ("throttle-storm-promote", "Promote"), ("throttle-storm-dns", "UpdateDns")],
)
def test_a_minute_of_throttles_on_every_api_is_outlasted(
    name: str, state: str, library_results: dict[str, DrillResult]
) -> None:
    # Given 60 s of Throttling on every AWS call from the moment the step starts
    result = library_results[name]
    data = result.wire()
    throttled = [c for c in data["calls"] if c["error"] == "Throttling"]
    # Then the storm really hit: the step's calls kept failing, and no call got through for a minute
    assert len(throttled) >= 6 and throttled[-1]["at"] - throttled[0]["at"] >= 30
    start = data["calls"].index(throttled[0])
    through = [c for c in data["calls"][start:] if c["error"] is None]
    assert through and through[0]["at"] >= throttled[0]["at"] + 60
    # And the step was retried through it (TransientAwsError) and the run still failed over
    (run,) = result.runs
    errors = [e for v in run.execution.visits if v.name == state for e in v.errors] if run.execution else []
    assert errors and set(errors) == {"TransientAwsError"}
    assert run.outcome == "FAILED_OVER"
    # And exactly one promotion per database took effect
    promoted = [e["identifier"] for e in data["effects"] if e["operation"] == "PromoteReadReplica"]
    assert sorted(promoted) == ["accounts-us-west-2", "orders-us-west-2"]


def test_a_storm_that_outlasts_every_budget_ends_honestly(library_results: dict[str, DrillResult]) -> None:
    # Before the promotion: rolled back, nothing changed, the reason names the throttled call; the
    # re-evaluation loop keeps looking and fails over once the storm has passed
    before = library_results["throttle-storm-outlasts-assess"]
    assert before.runs[0].outcome == "ROLLED_BACK" and "Throttling" in (before.runs[0].reason or "")
    assert [r.outcome for r in before.runs][-1] == "FAILED_OVER"
    assert all(r.outcome == "ROLLED_BACK" for r in before.runs[:-1])
    # After it: degraded, DNS never pointed back, a human paged
    after = library_results["throttle-storm-outlasts-dns"]
    assert after.outcome == "DEGRADED"
    assert [n["outcome"] for n in after.notifications] == ["DEGRADED"]
    assert after.world["dns"] == after.before["dns"]


def _roles(result: DrillResult) -> dict[str, str]:
    return {d["id"]: d["role"] for d in result.world["databases"]}


def _regions(result: DrillResult) -> dict[tuple[str, str], str | None]:
    return {(r["name"], r["type"]): r["region"] for r in result.world["dns"]}


@pytest.mark.parametrize(
    ("name", "passed_over"),
    [
        ("second-standby-first-unhealthy", "Passed over: us-west-2: not healthy (0/8 checkers healthy)"),
        ("second-standby-first-lagging", "Passed over: us-west-2: accounts-us-west-2: replica lag 300 s"),
    ],
)
def test_the_second_standby_is_chosen_when_the_first_is_not_ready(
    name: str, passed_over: str, library_results: dict[str, DrillResult]
) -> None:
    # Given the first standby in plan order is unhealthy, or one of its replicas lags
    result = library_results[name]
    # Then both databases are promoted in eu-west-1 and none in us-west-2
    roles = _roles(result)
    assert roles["orders-eu-west-1"] == roles["accounts-eu-west-1"] == "primary"
    assert roles["orders-us-west-2"] == roles["accounts-us-west-2"] == "replica"
    assert set(_regions(result).values()) == {"eu-west-1"}
    # And the notification names the target and why the first standby was passed over
    message = result.notifications[0]["message"]
    assert "Target: eu-west-1" in message
    assert passed_over in message
    record = result.audit[0]
    assert record.decisions.assess is not None
    verdicts = {v.region: v for v in record.decisions.assess.standbys}
    assert verdicts["eu-west-1"].chosen and not verdicts["us-west-2"].chosen
    assert verdicts["us-west-2"].passed_over


def test_a_lagging_replica_in_every_standby_refuses_and_names_each(library_results: dict[str, DrillResult]) -> None:
    result = library_results["every-standby-lagging"]
    reason = result.runs[0].reason or ""
    assert "us-west-2: orders-us-west-2: replica lag 300 s" in reason
    assert "eu-west-1: accounts-eu-west-1: replica lag 300 s" in reason
    assert all(r.outcome == "REFUSED" for r in result.runs)


def test_a_record_in_a_second_zone_moves_in_its_own_batch(library_results: dict[str, DrillResult]) -> None:
    result = library_results["second-zone"]
    # Then the second zone's record moved with the first zone's
    assert _regions(result)[("www.example.net", "A")] == "us-west-2"
    assert set(_regions(result).values()) == {"us-west-2"}
    # And each zone had its own change batch, each waited for until INSYNC
    changes = [c for c in result.recorder.calls if c.operation == "ChangeResourceRecordSets" and c.error is None]
    assert len(changes) == 2
    record = result.audit[0]
    assert record.changes.dns is not None
    zones = record.changes.dns.zones
    assert len({z.zone_id for z in zones}) == 2
    assert sorted(z.records for z in zones) == [1, 3]
    assert {z.status for z in zones} == {"INSYNC"}


def test_the_apex_alias_records_move_to_the_target_load_balancer(library_results: dict[str, DrillResult]) -> None:
    result = library_results["apex-alias"]
    before = {(r["name"], r["type"]): r["target"] for r in result.before["dns"]}
    after = {(r["name"], r["type"]): r["target"] for r in result.world["dns"]}
    for kind in ("A", "AAAA"):
        assert before[("example.com", kind)] == "dualstack.app-us-east-1.us-east-1.elb.amazonaws.com"
        assert after[("example.com", kind)] == "dualstack.app-us-west-2.us-west-2.elb.amazonaws.com"
    # the CNAME follows the database it names (accounts here)
    assert after[("db.example.com", "CNAME")].startswith("accounts-us-west-2.")


def test_a_manual_run_moves_to_the_region_it_names(library_results: dict[str, DrillResult]) -> None:
    result = library_results["manual-target-second-standby"]
    # Then eu-west-1 is the target although us-west-2, first in plan order, is healthy too
    assert set(_regions(result).values()) == {"eu-west-1"}
    roles = _roles(result)
    assert roles["orders-eu-west-1"] == roles["accounts-eu-west-1"] == "primary"
    assert roles["orders-us-west-2"] == roles["accounts-us-west-2"] == "replica"
    record = result.audit[0]
    assert record.trigger is not None and record.trigger.target_region == "eu-west-1"
    assert record.decisions.assess is not None
    assert [v.region for v in record.decisions.assess.standbys] == ["eu-west-1"]  # only the named one
    assert "Target: eu-west-1 (named by the operator)" in result.notifications[0]["message"]


def test_a_manual_run_naming_a_region_that_is_not_a_standby_is_refused_at_intake(
    library_results: dict[str, DrillResult],
) -> None:
    data = library_results["manual-target-not-standby"].wire()
    assert data["execution"]["states"][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    assert "targetRegion us-east-2 is not a standby region of the plan (us-west-2, eu-west-1)" in data["reason"]
    assert not any(c["service"] in ("rds", "route53") for c in data["calls"])


def test_an_untagged_replica_puts_its_region_out_of_reach(library_results: dict[str, DrillResult]) -> None:
    # Given accounts-us-west-2 without the plan's tag
    result = library_results["replica-not-tagged"]
    # Then IAM denied reading it (Assess), never a promotion: nothing in us-west-2 was requested
    assert {(d.function, d.action) for d in result.denied} == {("AssessFunction", "rds:DescribeDBInstances")}
    assert {d.resource.rsplit(":", 1)[-1] for d in result.denied} == {"accounts-us-west-2"}
    promoted = {e["identifier"] for e in result.effects if e["operation"] == "PromoteReadReplica"}
    assert promoted == {"orders-eu-west-1", "accounts-eu-west-1"}
    # And the run passed us-west-2 over, saying why, and failed over to eu-west-1
    assert {r.outcome for r in result.runs} == {"FAILED_OVER"}
    assess = result.runs[0].audit.decisions.assess if result.runs[0].audit else None
    assert assess is not None and assess.target == "eu-west-1"
    passed = {v.region: v.passed_over for v in assess.standbys if v.passed_over}
    assert list(passed) == ["us-west-2"]
    assert "accounts-us-west-2" in (passed["us-west-2"] or "") and "AccessDenied" in (passed["us-west-2"] or "")


def test_a_promotion_failing_after_the_other_database_was_promoted_degrades(
    library_results: dict[str, DrillResult],
) -> None:
    result = library_results["second-promotion-fails"]
    # Then exactly one database was promoted (whichever promotion came first)
    (promoted,) = [e["identifier"] for e in result.effects if e["operation"] == "PromoteReadReplica"]
    (failed,) = {"orders-us-west-2", "accounts-us-west-2"} - {promoted}
    assert _roles(result)[promoted] == "primary" and _roles(result)[failed] == "replica"
    # And DNS was left as it stands: never moved for half a region, never moved back
    assert result.world["dns"] == result.before["dns"]
    # And the page names which database is a writer and which is still to promote
    (run,) = result.runs
    assert run.outcome == "DEGRADED"
    message = result.notifications[0]["message"]
    assert f"Databases promoted: {promoted}" in message
    assert f"promote {failed} in us-west-2 (the application there has no writer for them)" in message
    assert "A human must act" in message


def test_fencing_stops_each_old_primary_after_a_failover(library_results: dict[str, DrillResult]) -> None:
    # Given a two-region failover: no replica follows the old primaries any more
    result = library_results["fence-old-primary"]
    # Then each old primary was stopped, in the primary region, and the page says so
    stops = [e for e in result.effects if e["operation"] == "StopDBInstance"]
    assert sorted(m["identifier"] for m in stops) == ["accounts-primary", "orders-primary"]
    assert {m["region"] for m in stops} == {"us-east-1"}
    message = result.notifications[0]["message"]
    assert "Fence orders (orders-primary, us-east-1): fenced: stopped" in message
    assert "fence them by hand" not in message
    audit = result.runs[0].audit
    assert audit is not None and audit.changes.fence is not None and audit.changes.fence.codes == "SS"


def test_a_fencing_failure_never_changes_the_outcome_and_names_what_to_fence(
    library_results: dict[str, DrillResult],
) -> None:
    # Given StopDBInstance failing on every attempt
    result = library_results["fence-fails"]
    # Then the run still failed over, and the page names both old primaries for a person
    assert [r.outcome for r in result.runs] == ["FAILED_OVER"]
    message = result.notifications[0]["message"]
    assert "Fencing FAILED" in message
    assert "old primaries (orders-primary, accounts-primary) in us-east-1 must not take writes again" in message


def test_an_old_primary_with_a_replica_still_following_it_is_left_for_a_person(
    library_results: dict[str, DrillResult],
) -> None:
    # Given a three-region failover to us-west-2: eu-west-1's replicas still follow the old primaries,
    # and RDS refuses to stop an instance with read replicas
    result = library_results["primary-outage-synthetic"]
    message = result.notifications[0]["message"]
    # Then the run failed over, nothing was stopped, and the page says why and what to do
    assert [r.outcome for r in result.runs] == ["FAILED_OVER"]
    assert not [e for e in result.effects if e["operation"] == "StopDBInstance"]
    assert "RDS refused to stop it" in message and "fence them by hand" in message


def test_an_unreachable_primary_region_is_recorded_and_the_run_goes_on(
    library_results: dict[str, DrillResult],
) -> None:
    # Given the loss of us-east-1, the primary region
    result = library_results["region-outage"]
    # Then fencing could not reach it, said so, and the run's outcome is the failover's
    audit = result.runs[0].audit
    assert audit is not None and audit.changes.fence is not None
    assert set(audit.changes.fence.codes) == {"U"}
    assert "fence it when the region returns" in result.notifications[0]["message"]
