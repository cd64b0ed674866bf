"""Property-based tests: malformed and hostile triggers are refused with a reason, never crash a step,
and never reach a mutating call."""

import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from regionshift import drill
from regionshift.emulator import scenario as scenarios
from tests.conftest import PLAN, PLAN_ENV, create_run_table

MANUAL_FIELDS = {
    "operator",
    "reason",
    "dryRun",
    "acceptDataLoss",
    "bypassCooldown",
    "sourceRegion",
    "targetRegion",
    "replica",
    "records",
}
MANUAL_FIELDS |= {"dry_run", "accept_data_loss", "bypass_cooldown", "source_region", "target_region"}

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
unknown_key = st.text(min_size=1, max_size=20).filter(lambda k: k not in MANUAL_FIELDS)
bad_record = st.sampled_from(
    [
        "*.example.com",
        "app..example.com",
        "-app.example.com",
        "example",
        "",
        "app.example.com/",
        "a" * 70 + ".example.com",
    ]
)
# Malformed regions, and well-formed ones the plan does not have (ap-south-1) or not as a standby
# (us-east-1 is the primary: never a target).
bad_region = st.sampled_from(["", "us-east", "US-EAST-1", "ap-south-1", "mars-1", "us-east-1; rm -rf /", "us-west-2 "])
bad_target = bad_region | st.just("us-east-1")
PLAN_REPLICAS = {identifier for region in PLAN.standby_regions for _, identifier in PLAN.replicas(region)}
non_boolean = st.sampled_from(["yes", "true", 1, 0, "false", None, [], {}])


def _valid_manual() -> dict[str, Any]:
    return {"operator": "alice", "reason": "drill"}


def _drop(key: str) -> Any:
    return st.just(key).map(lambda k: {f: v for f, v in _valid_manual().items() if f != k})


bad_manual = st.one_of(
    _drop("operator"),
    _drop("reason"),
    st.builds(lambda k, v: {**_valid_manual(), k: v}, unknown_key, values),
    st.builds(lambda v: {**_valid_manual(), "dryRun": v}, non_boolean),
    st.builds(lambda v: {**_valid_manual(), "acceptDataLoss": v}, non_boolean),
    st.builds(
        lambda v: {**_valid_manual(), "operator": v},
        st.sampled_from(["", "   ", "x" * 129]) | st.integers() | st.none(),
    ),
    st.builds(lambda r: {**_valid_manual(), "sourceRegion": r}, bad_region.filter(lambda r: r != "us-east-1")),
    st.builds(lambda r: {**_valid_manual(), "targetRegion": r}, bad_target),
    # A replica of the plan, but not in the region asked for
    st.builds(
        lambda r: {**_valid_manual(), "targetRegion": "eu-west-1", "replica": r},
        st.sampled_from(sorted(identifier for _, identifier in PLAN.replicas("us-west-2"))),
    ),
    st.builds(
        lambda r: {**_valid_manual(), "sourceRegion": "us-west-2", "targetRegion": "us-west-2", "reason": r},
        st.text(min_size=1, max_size=20),
    ),
    st.builds(lambda rs: {**_valid_manual(), "records": rs}, st.lists(bad_record, min_size=1, max_size=3)),
    st.builds(lambda v: {**_valid_manual(), "records": v}, st.just([]) | st.text(max_size=10) | st.integers()),
    st.builds(
        lambda v: {**_valid_manual(), "replica": v}, st.text(max_size=20).filter(lambda v: v not in PLAN_REPLICAS)
    ),
)


def _alarm(now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "fuzz",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": now.isoformat(),
        "region": "us-east-1",
        "resources": [PLAN_ENV["ALARM_ARN"]],
        "detail": {"alarmName": "regionshift-primary-unhealthy", "state": {"value": "ALARM"}},
    }


@st.composite
def bad_alarm(draw: Any) -> dict[str, Any]:
    event = _alarm(datetime.now(UTC))
    defect = draw(st.sampled_from(["state", "resources", "time", "drop", "detail", "source"]))
    if defect == "state":
        event["detail"]["state"]["value"] = draw(st.sampled_from(["OK", "INSUFFICIENT_DATA", "alarm", "", None, 1]))
    elif defect == "resources":
        event["resources"] = draw(st.lists(st.text(max_size=30), max_size=3) | st.just("not-a-list"))
    elif defect == "time":
        event["time"] = draw(
            st.sampled_from(["yesterday", "", None, "2026-11-30T03:00:00", "2026-11-30 03:00"])
            | st.integers(min_value=-(2**40), max_value=1_700_000_000)
            | st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=3000)).map(
                lambda d: (datetime.now(UTC) + d * draw(st.sampled_from([-1, 1]))).isoformat()
            )
        )
    elif defect == "drop":
        del event[draw(st.sampled_from(["id", "account", "time", "detail", "resources", "region"]))]
    elif defect == "detail":
        event["detail"] = draw(
            values.filter(lambda v: not isinstance(v, dict)) | st.just({"state": {"value": "ALARM"}})
        )
    else:
        event["source"] = "aws.cloudwatch"
        event["detail-type"] = draw(st.text(max_size=30).filter(lambda t: t != "CloudWatch Alarm State Change"))
    return event


# Manual input arrives wrapped by the ManualRun state machine; unwrapped, it is refused at the envelope.
hostile = st.one_of(
    scalars, st.lists(values, max_size=4), bad_manual.map(lambda m: {"manual": m}), bad_manual, bad_alarm()
)


@pytest.fixture(scope="module")
def intake_handler() -> Iterator[Any]:
    saved = dict(os.environ)
    os.environ.update(PLAN_ENV)
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    # Intake reads where the writers are (the run table) once the input parses as a run: a table of its
    # own, apart from the one the module's emulated estate creates.
    os.environ["TABLE_ARN"] = os.environ["TABLE_ARN"].replace("table/regionshift-runs", "table/regionshift-fuzz")
    from handlers.intake import handler

    with mock_aws():
        create_run_table(boto3.client("dynamodb", region_name="us-west-2"), "regionshift-fuzz")
        yield handler
    os.environ.clear()
    os.environ.update(saved)


class Context:
    function_name = "regionshift-IntakeFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:regionshift-IntakeFunction"
    aws_request_id = "fuzz"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trigger=hostile)
def test_intake_refuses_every_malformed_trigger(intake_handler: Any, trigger: Any) -> None:
    event = {
        "trigger": copy.deepcopy(trigger),
        "execution": {
            "id": "arn:aws:states:us-west-2:123456789012:execution:x:fuzz",
            "startedAt": datetime.now(UTC).isoformat(),
        },
    }
    result = intake_handler(event, Context())["intake"]
    assert result["decision"] == "REFUSED", (trigger, result["reason"])
    assert result["reason"].strip()


@pytest.fixture(scope="module")
def estate() -> Iterator[drill.Session]:
    chosen = scenarios.Scenario.model_validate(
        {"name": "fuzz", "description": "fuzz", "expect": {"outcome": "REFUSED"}, "trigger": {"raw": None}}
    )
    with drill.Session(chosen) as session:
        yield session


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(batch=st.lists(hostile, min_size=15, max_size=15))
def test_state_machine_refuses_hostile_triggers_without_a_mutating_call(
    estate: drill.Session, batch: list[Any]
) -> None:
    runs = estate.start(batch)
    for run, trigger in zip(runs, batch, strict=True):
        assert run.status == "SUCCEEDED", (trigger, run.error, run.cause)
        assert run.outcome == "REFUSED" and run.reason, trigger
        assert [s.name for s in run.states][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    mine = {r.arn for r in runs}
    assert not [c for c in estate.recorder.calls if c.execution in mine and c.service in ("rds", "route53")]
