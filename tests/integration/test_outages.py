"""A whole region lost (a scenario's ``outages``): its endpoints refuse connections, its CloudWatch and
EventBridge do nothing, while Route 53's health checkers keep checking."""

from typing import Any

import boto3
import pytest
import yaml
from pydantic import ValidationError

from failover.clients import CONNECT_TIMEOUT_SECONDS
from regionshift import drill
from regionshift.drill import _deliveries
from regionshift.emulator.deploy import ALARM_NAME, STACK_REGION
from regionshift.emulator.scenario import LIBRARY, Outage, Scenario


def _library(name: str, **changes: Any) -> Scenario:
    data = yaml.safe_load((LIBRARY / f"{name}.yaml").read_text(encoding="utf-8"))
    return Scenario.model_validate({**data, **changes})


# --- the scenario field --------------------------------------------------------------------------------


def test_the_stack_region_cannot_be_lost() -> None:
    with pytest.raises(ValidationError, match="leaves nothing of Regionshift running"):
        Outage(region=STACK_REGION)


def test_an_unknown_region_cannot_be_lost() -> None:
    with pytest.raises(ValidationError, match="no region mars-east-1"):
        Outage(region="mars-east-1")


def test_an_outage_lasts_from_at_for_its_seconds_or_to_the_end() -> None:
    window = Outage(region="us-east-1", at=60, seconds=30)
    assert [window.covers(t) for t in (59.9, 60, 89.9, 90)] == [False, True, True, False]
    assert Outage(region="us-east-1", at=60).covers(1e9)


# --- the Lambdas' calls ---------------------------------------------------------------------------------


def test_route53_calls_fail_to_connect_while_us_east_1_is_lost() -> None:
    # Given us-east-1 lost from the start, and a synthetic alarm event put on the stack region's bus
    result = drill.run(_library("primary-outage-synthetic", outages=[{"region": "us-east-1"}]))
    route53 = [c for c in result.recorder.calls if c.service == "route53"]
    # Then every Route 53 API call (its control plane is in us-east-1) failed before reaching Route 53
    assert route53 and {c.error for c in route53} == {"EndpointConnectionError"}
    assert not any(e["service"] == "route53" for e in result.effects)
    assert result.world["dns"] == result.before["dns"]
    # And each attempt cost the client's connect timeout in virtual time
    assert result.recorder.elapsed() >= len(route53) * CONNECT_TIMEOUT_SECONDS
    # And calls to the stack's own region went through
    assert any(c.region == STACK_REGION and c.error is None for c in result.recorder.calls)
    # And nothing failed over
    assert all(r.outcome != "FAILED_OVER" for r in result.runs)


# --- the detection chain --------------------------------------------------------------------------------


def test_a_lost_us_east_1_raises_no_alarm_and_starts_no_run() -> None:
    # Given primary-outage (which fails over from the detector alarm in us-east-1) with us-east-1 lost
    # from t=0: Route 53's metrics are published into us-east-1 only, where the alarm also lives
    scenario = _library("primary-outage", outages=[{"region": "us-east-1"}], expect={"outcome": None, "runs": 0})
    result = drill.run(scenario)
    # Then the alarm never left its state, nothing was forwarded, no run started
    assert result.runs == [] and result.passed
    assert result.transitions == []
    assert result.world == result.before
    # And the chain was watched to its horizon
    assert result.recorder.elapsed() >= scenario.trigger.detection.horizon_seconds  # type: ignore[union-attr]


def test_a_lost_regions_eventbridge_forwards_nothing_until_it_is_back() -> None:
    # Given us-east-1 lost for the first 600 s
    scenario = _library("primary-outage", outages=[{"region": "us-east-1", "seconds": 600}])
    with drill.Session(scenario) as session:
        estate, clock = session.stack.estate, session.recorder.clock
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        assert estate.is_down("us-east-1") and not estate.is_down("eu-west-1")
        # When the detector's alarm changes state in us-east-1, Then its forwarding rule delivers nothing
        cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="test")
        assert _deliveries(session.stack) == []
        # And once the region is back, the same change is forwarded to the stack's rule
        clock.advance(600 - (clock.offset - estate.trigger_offset))
        assert not estate.is_down("us-east-1")
        cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="OK", StateReason="test")
        cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="test")
        delivered = _deliveries(session.stack)
        assert [e["detail"]["state"]["value"] for e in delivered] == ["ALARM"]
