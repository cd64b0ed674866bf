"""The alarm path in virtual time: Route 53's health-check rules, CloudWatch's alarm evaluation, and the
drills that start from failing checkers instead of a synthetic event."""

from datetime import UTC, datetime
from typing import Any

import pytest

from failover.plan import Rails
from regionshift import plans, rto
from regionshift import template as cfn
from regionshift.drill import DrillResult
from regionshift.emulator.detection import CheckConfig, HealthChecks, alarm_state, failing_at
from regionshift.emulator.scenario import HealthPoint
from regionshift.readiness import alarm_never_fires
from tests.conftest import PLAN

HEALTH_ALARM = {
    "Namespace": "AWS/Route53",
    "MetricName": "HealthCheckStatus",
    "Statistic": "Minimum",
    "Period": 60,
    "EvaluationPeriods": 3,
    "Threshold": 1.0,
    "ComparisonOperator": "LessThanThreshold",
    "TreatMissingData": "breaching",
}


def _alarm(**changes: Any) -> dict[str, Any]:
    return {**HEALTH_ALARM, **changes}


def _checks(points: list[tuple[float, int]], interval: int = 30, threshold: int = 3, checkers: int = 8) -> Any:
    config = CheckConfig("hc", interval, threshold, [HealthPoint(at=a, failing=f) for a, f in points])
    return HealthChecks(checkers, [config]), config


# --- CloudWatch's alarm evaluation -------------------------------------------------------------------


def test_alarm_needs_every_evaluation_period_to_breach_by_default() -> None:
    assert alarm_state(_alarm(), [0.0, 0.0, 0.0]) == "ALARM"
    assert alarm_state(_alarm(), [1.0, 0.0, 0.0]) == "OK"


def test_datapoints_to_alarm_lets_m_of_n_fire() -> None:
    assert alarm_state(_alarm(DatapointsToAlarm=2), [0.0, 1.0, 0.0]) == "ALARM"
    assert alarm_state(_alarm(DatapointsToAlarm=2), [1.0, 1.0, 0.0]) == "OK"


@pytest.mark.parametrize(
    ("treat", "values", "state"),
    [
        ("breaching", [None, None, None], "ALARM"),
        ("breaching", [1.0, None, None], "OK"),
        ("breaching", [0.0, None, None], "ALARM"),
        ("notBreaching", [None, None, None], "OK"),
        ("notBreaching", [0.0, 0.0, None], "OK"),
        ("missing", [None, None, None], "INSUFFICIENT_DATA"),
        ("ignore", [None, None, None], None),
        ("missing", [0.0, None, 0.0], "OK"),
    ],
)
def test_missing_data_is_treated_as_the_alarm_says(treat: str, values: list[float | None], state: str | None) -> None:
    assert alarm_state(_alarm(TreatMissingData=treat), values) == state


# --- Route 53's health-check rules --------------------------------------------------------------------


def test_an_endpoint_turns_unhealthy_after_failure_threshold_consecutive_failed_checks() -> None:
    # Given every checker failing from 30.5 s (checks every 30 s: the first failed check is at 60 s)
    health, config = _checks([(0, 0), (30.5, 8)])
    # Then the third failed check (120 s) is the first moment the endpoint is unhealthy
    assert health.status(config, 119.9).healthy
    assert not health.status(config, 120.0).healthy
    assert health.unhealthy_since(config, 300.0) == 120.0


def test_fewer_good_checks_than_the_threshold_do_not_make_it_healthy_again() -> None:
    # Given an endpoint unhealthy from 120 s that answers for two checks (150, 180) only
    health, config = _checks([(0, 0), (30.5, 8), (140.0, 0), (200.0, 8)])
    assert not health.status(config, 185.0).healthy
    # And one that answers for three checks becomes healthy on the third
    health, config = _checks([(0, 0), (30.5, 8), (140.0, 0)])
    assert health.status(config, 210.0).healthy


@pytest.mark.parametrize(("failing", "healthy"), [(6, True), (7, False), (8, False), (0, True)])
def test_an_endpoint_is_healthy_while_more_than_18_percent_of_checkers_say_so(failing: int, healthy: bool) -> None:
    # Given 8 checkers: 2 healthy is 25% (> 18%), 1 healthy is 12.5%
    health, config = _checks([(0, failing)], threshold=1)
    status = health.status(config, 60.0)
    assert status.healthy is healthy
    assert status.percent_healthy == 100.0 * (8 - failing) / 8


def test_published_status_agrees_with_the_checker_votes_once_the_threshold_has_passed() -> None:
    # The votes a run reads (GetHealthCheckStatus) come from the same timeline as the metric
    points = [(0, 0), (30.5, 7), (400.5, 1)]
    health, config = _checks(points)
    for at in (10.0, 200.0, 600.0):
        failing = failing_at(config.points, at)
        votes_healthy = 100.0 * (8 - failing) / 8 > 18.0
        assert health.status(config, at).healthy is votes_healthy


# --- check: an alarm that can never fire ----------------------------------------------------------------


def test_the_detector_alarm_as_shipped_can_fire() -> None:
    detector = cfn.load(cfn.stack_root() / "detector.yaml")
    props = dict(detector["Resources"]["PrimaryUnhealthyAlarm"]["Properties"])
    assert alarm_never_fires({**props, "Threshold": float(props["Threshold"])}, "us-east-1") is None


@pytest.mark.parametrize(
    ("changes", "region", "why"),
    [
        ({"Threshold": 0}, "us-east-1", "unhealthy endpoint's status (0)"),
        ({"ComparisonOperator": "GreaterThanThreshold"}, "us-east-1", "unhealthy endpoint's status (0)"),
        ({"Threshold": 2}, "us-east-1", "healthy endpoint's status (1) already breaches"),
        ({"Statistic": "SampleCount"}, "us-east-1", "does not follow the status"),
        ({"MetricName": "HealthCheckPercentageHealthy"}, "us-east-1", "not AWS/Route53/HealthCheckStatus"),
        ({}, "us-west-2", "only in us-east-1"),
    ],
)
def test_check_explains_why_an_alarm_can_never_fire(changes: dict[str, Any], region: str, why: str) -> None:
    reason = alarm_never_fires(_alarm(**changes), region)
    assert reason is not None and why in reason


# --- drills that start from the estate -------------------------------------------------------------------


def test_default_drill_starts_from_failing_checkers_and_its_split_matches_the_model(
    library_results: dict[str, DrillResult],
) -> None:
    # Given primary-outage (no synthetic event), When it runs, Then the chain started exactly one run
    result = library_results["primary-outage"]
    assert result.scenario.trigger.detection is not None and result.passed
    recovery = result.reports[result.runs[0].arn]["recovery"]
    # And its detection and alarm parts are the model's (default rails, 30 s checks, the template's
    # default alarm minutes)
    periods = int(cfn.load()["Parameters"]["AlarmEvaluationPeriods"]["Default"])
    model = rto.estimate(Rails(), periods)
    assert recovery["detection"] == pytest.approx(model["detection"], abs=2)
    assert recovery["alarm"] == pytest.approx(model["alarm"], abs=2)
    assert recovery["delivery"] is not None and 0 <= recovery["delivery"] < 2
    # And so is the whole run, but for the TTL clients spend after it, and the steps' own seconds: the
    # virtual clock is wall time plus the skipped waits, and the promotion Map's iterations (one per
    # database, about 60 polls each) run one after another in wall time, so a loaded machine adds
    # a few seconds per database
    assert recovery["total"] == pytest.approx(model["total"] - rto.TTL_SECONDS, abs=15)
    # And the databases were promoted in parallel: the promotion part is one promotion's, not two
    assert recovery["promotion"] == pytest.approx(model["promotion"], abs=10)
    # And the run it started was triggered by the forwarded alarm event from us-east-1
    trigger = result.runs[0].audit.trigger if result.runs[0].audit else None
    assert trigger is not None and trigger.kind == "alarm"
    # And the plan's alarm made exactly one transition, to ALARM, 300 s in (after 30.5 + 89.5 + 180 s)
    plan_alarm = [t for t in result.wire()["alarmTransitions"] if t["alarm"] == "regionshift-primary-unhealthy"]
    assert [(t["state"], t["at"]) for t in plan_alarm] == [("ALARM", 300.0)]


@pytest.mark.parametrize("name", ["blip-shorter-than-alarm", "alarm-never-fires"])
def test_an_outage_the_alarm_does_not_see_through_starts_nothing(
    name: str, library_results: dict[str, DrillResult]
) -> None:
    result = library_results[name]
    assert result.runs == [] and result.passed
    assert result.world == result.before
    assert result.transitions == []  # the alarm never left OK
    # And virtual time ran to the horizon, minute by minute, without sleeping
    assert result.recorder.elapsed() >= 900


def test_missing_data_fires_the_alarm_and_the_votes_stop_the_run(library_results: dict[str, DrillResult]) -> None:
    result = library_results["metric-stops"]
    assert [r.outcome for r in result.runs] == ["NO_ACTION"] and result.wire()["mutations"] == []


class _Metrics:
    """CloudWatch answering GetMetricStatistics from a list of values, one per period (None: no datapoint)."""

    def __init__(self, values: list[float | None]) -> None:
        self.values = list(values)

    def get_metric_statistics(self, **request: Any) -> dict[str, Any]:
        value = self.values.pop(0)
        return {"Datapoints": [] if value is None else [{request["Statistics"][0]: value}]}


def _replica_lag_alarm() -> dict[str, Any]:
    """The template's replica-lag alarm with the parameters the test plan derives (60 s lag bound)."""
    props = cfn.load()["Resources"]["ReplicaLagAlarm"]["Properties"]
    ctx = cfn.Context(
        parameters={**cfn.parameter_defaults(cfn.load()), **plans.stack_parameters(PLAN)},
        region="us-west-2",
    )
    ctx.refs["NotificationTopic"] = "arn:aws:sns:us-west-2:123456789012:regionshift"
    return {**cfn.resolve(props, ctx), "StateValue": "OK"}


def test_the_replica_lag_alarm_watches_the_first_standbys_first_replica() -> None:
    # Given the plan's first database and first standby region
    alarm = _replica_lag_alarm()
    (lag,) = [m for m in alarm["Metrics"] if m["Id"] == "lag"]
    # Then the alarm reads that replica's ReplicaLag (CloudWatch alarms watch one regional metric)
    assert lag["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": "orders-usw2"}]
    assert "orders-usw2 in us-west-2" in alarm["AlarmDescription"]


@pytest.mark.parametrize(
    ("lags", "state"),
    [
        ([49.0, 50.0, 48.5], "ALARM"),  # above 80% of the 60 s bound (48 s) in 3 of 3 minutes
        ([40.0, 48.0, 50.0], "OK"),  # 48 s is the warning level itself: not above it
        ([None, None, None], "ALARM"),  # no lag reported: treated as breaching, a run would refuse
        ([10.0, 10.0, None], "OK"),
    ],
)
def test_the_replica_lag_alarm_is_evaluated_from_its_metric_math(lags: list[float | None], state: str) -> None:
    from regionshift.emulator.detection import _math, alarm_state

    alarm = _replica_lag_alarm()
    values = _math(_Metrics(lags), alarm, datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
    assert alarm_state(alarm, values) == state


def test_metric_math_beyond_arithmetic_is_refused_loudly() -> None:
    from regionshift.emulator.detection import _math

    alarm = _replica_lag_alarm()
    alarm["Metrics"][-1]["Expression"] = "FILL(lag, 0)"
    with pytest.raises(ValueError, match="not modelled"):
        _math(_Metrics([1.0, 1.0, 1.0]), alarm, datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
