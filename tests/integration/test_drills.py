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
    assert len(SCENARIOS) >= 25


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
    ],
)
def test_non_acting_outcomes_make_no_mutating_call(name: str, library_results: dict[str, DrillResult]) -> None:
    result = library_results[name]
    assert result.outcome in ("REFUSED", "NO_ACTION", "DRY_RUN")
    assert result.wire()["mutations"] == []
    assert result.world == result.before


def test_primary_outage_moves_database_and_every_record(library_results: dict[str, DrillResult]) -> None:
    data = library_results["primary-outage"].wire()
    roles = {d["id"]: d["role"] for d in data["world"]["databases"]}
    assert roles == {"orders-primary": "primary", "orders-standby": "primary"}
    assert {r["region"] for r in data["world"]["dns"]} == {"us-west-2"}
    promotions = [m for m in data["mutations"] if m["operation"] == "PromoteReadReplica"]
    assert len(promotions) == 1 and promotions[0]["region"] == "us-west-2"
    assert [n["outcome"] for n in data["notifications"]] == ["FAILED_OVER"]
    assert data["execution"]["status"] == "SUCCEEDED"
    assert data["execution"]["states"][:2] == ["Intake", "IntakeDecision"]
    # the outage was confirmed by two re-probes before anything changed
    assert data["execution"]["states"].count("Assess") == 3


def test_bad_input_is_refused_in_the_first_state_with_its_reasons(library_results: dict[str, DrillResult]) -> None:
    data = library_results["bad-input"].wire()
    assert data["execution"]["states"][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    assert "malformed or wildcard record name" in data["reason"]
    assert "force" in data["reason"]
    assert not any(c["service"] in ("rds", "route53") for c in data["calls"])


def test_dry_run_reads_everything_and_changes_nothing(library_results: dict[str, DrillResult]) -> None:
    data = library_results["dry-run"].wire()
    operations = {c["operation"] for c in data["calls"]}
    assert {"GetHealthCheckStatus", "DescribeDBInstances", "GetMetricStatistics"} <= operations
    assert data["notifications"][0]["outcome"] == "DRY_RUN"
    assert "Would promote orders-standby" in library_results["dry-run"].notifications[0]["message"]


def test_promotion_failure_rolls_back_without_touching_dns(library_results: dict[str, DrillResult]) -> None:
    result = library_results["promote-fails"]
    data = result.wire()
    assert data["world"]["dns"] == data["before"]["dns"]
    assert {d["id"]: d["role"] for d in data["world"]["databases"]}["orders-standby"] == "replica"
    assert not any(c["service"] == "route53" and c["operation"] == "ChangeResourceRecordSets" for c in data["calls"])
    # each call backed off in the Lambda, then the step was retried on the deterministic schedule
    assert data["backoffs"] and all(0 < b <= 4 for b in data["backoffs"])
    assert data["retries"] == [5, 10, 20, 20, 20] * len(result.runs)  # the run and each re-evaluation
    assert {r.outcome for r in result.runs} == {"ROLLED_BACK"}
    assert data["execution"]["status"] == "FAILED"
    assert data["execution"]["error"] == "Regionshift.RolledBack"


def test_dns_failure_after_the_promotion_leaves_dns_moved_and_pages_a_human(
    library_results: dict[str, DrillResult],
) -> None:
    # Given a promotion and a DNS change that never reaches INSYNC
    result = library_results["dns-fails"]
    data = result.wire()
    # Then no record is pointed back at the old primary: two writers would take traffic
    assert data["world"]["dns"] != data["before"]["dns"]
    assert {d["id"]: d["role"] for d in data["world"]["databases"]}["orders-standby"] == "primary"
    changes = [m for m in data["mutations"] if m["operation"] == "ChangeResourceRecordSets"]
    assert len(changes) == 1  # the move, never a move back
    assert data["notifications"][0]["outcome"] == "DEGRADED"
    message = result.notifications[0]["message"]
    assert "A human must act" in message and "fence the old primary" in message
    assert "DNS moved to us-west-2: app.example.com, db.example.com" in message
    assert data["execution"]["error"] == "Regionshift.Degraded"


def test_rule_pattern_starts_runs_for_this_alarm_in_alarm_state_only(library_results: dict[str, DrillResult]) -> None:
    assert library_results["primary-outage"].runs
    assert library_results["alarm-ok-ignored"].runs == []
    assert library_results["other-alarm-ignored"].runs == []


@pytest.mark.parametrize(
    "name", ["duplicate-delivery", "lost-promote-response", "throttled-promote-recovers", "handler-timeout"]
)
def test_exactly_one_promotion_takes_effect(name: str, library_results: dict[str, DrillResult]) -> None:
    effects = [e["operation"] for e in library_results[name].effects]
    assert effects.count("PromoteReadReplica") == 1


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


def test_every_run_writes_one_audit_record_and_releases_its_lock(library_results: dict[str, DrillResult]) -> None:
    for name, result in library_results.items():
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
    assert record.decisions.assess.data_loss_accepted is True
    assert record.decisions.assess.replica.lag_seconds == 300
    assert record.trigger.operator == "alice"
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
    # And exactly one promotion took effect
    assert [e["operation"] for e in data["effects"]].count("PromoteReadReplica") == 1


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
