"""Sample events (for ``sam local invoke``) parse into their step's model; the plan fails loudly."""

import json
from pathlib import Path

import pytest

from failover.errors import ConfigurationError
from failover.models import IntakeInput, RunDocument
from failover.settings import Settings
from regionshift import template as cfn
from tests.conftest import PLAN_ENV

EVENTS = sorted(Path("events").glob("*.json"))
HANDLER_OF = {
    "intake-alarm": "intake",
    "intake-manual": "intake",
    "gate": "gate",
    "assess": "assess",
    "promote": "promote",
    "promotion-status": "promotion_status",
    "update-dns": "update_dns",
    "dns-status": "dns_status",
    "rollback": "rollback",
    "notify": "notify",
    "finalize": "finalize",
}


def test_every_step_has_a_sample_event() -> None:
    handlers = {
        f["Properties"]["Handler"].split(".")[1]
        for f in cfn.load()["Resources"].values()
        if f["Type"] == "AWS::Serverless::Function"
    }
    assert {p.stem for p in EVENTS} == set(HANDLER_OF)
    assert set(HANDLER_OF.values()) == handlers


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_sample_event_parses_into_its_model(path: Path) -> None:
    event = json.loads(path.read_text())
    model = IntakeInput if HANDLER_OF[path.stem] == "intake" else RunDocument
    parsed = model.model_validate(event)
    assert parsed.execution.id.startswith("arn:aws:states:")
    if model is RunDocument:
        assert parsed.intake is not None and parsed.intake.decision == "PROCEED"
    needs = {
        "promotion-status": "promotion",
        "dns-status": "dns",
        "rollback": "error",
        "notify": "result",
        "finalize": "result",
    }
    if path.stem in needs:
        assert getattr(parsed, needs[path.stem]) is not None


def test_missing_variable_fails_loudly() -> None:
    env = {k: v for k, v in PLAN_ENV.items() if k != "TABLE_ARN"}
    with pytest.raises(ConfigurationError, match="TABLE_ARN"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"STANDBY_REGION": "us-east-1"}, "regions must differ"),
        ({"RECORD_NAMES": "*.example.com"}, "wildcard"),
        ({"STANDBY_TARGETS": "only-one.example.com"}, "exactly one standby target"),
        ({"CONFIRM_PROBES": "many"}, "confirm_probes"),
        ({"HEALTHY_CHECKER_PERCENT": "0"}, "healthy_checker_percent"),
        ({"PRIMARY_REGION": "mars-1"}, "primary_region"),
        ({"PROMOTION_MAX_POLLS": "700"}, "beyond the 3600 s execution timeout"),
        ({"LOCK_LEASE_SECONDS": "600"}, "shorter than the longest run"),
    ],
)
def test_invalid_plan_is_rejected(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**PLAN_ENV, **override})


def test_the_run_budget_uses_the_state_machines_timeout() -> None:
    from failover.settings import EXECUTION_TIMEOUT_SECONDS

    asl = json.loads(Path("statemachine/failover.asl.json").read_text())
    assert asl["TimeoutSeconds"] == EXECUTION_TIMEOUT_SECONDS


def test_template_defaults_fit_the_run_budget() -> None:
    document = cfn.load()
    defaults = {k: str(v["Default"]) for k, v in document["Parameters"].items() if "Default" in v}
    env = {
        **PLAN_ENV,
        **{
            n.upper(): defaults[p]
            for n, p in (
                ("confirm_probes", "ConfirmProbes"),
                ("confirm_interval_seconds", "ConfirmIntervalSeconds"),
                ("promotion_max_polls", "PromotionMaxPolls"),
                ("promotion_poll_seconds", "PromotionPollSeconds"),
                ("dns_max_polls", "DnsMaxPolls"),
                ("dns_poll_seconds", "DnsPollSeconds"),
                ("lock_lease_seconds", "LockLeaseSeconds"),
            )
        },
    }
    assert Settings.from_env(env).longest_run_seconds <= 3600
