"""``regionshift invoke``: one Lambda on a sample event, in-process, against the emulated estate."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from failover.models import ApprovalInput, IntakeInput, Model, ProbeInput, PromotionItem, RunDocument
from failover.plan import Plan
from regionshift import invoke as invoker
from regionshift import template as cfn
from regionshift.cli import app
from regionshift.emulator import scenario as scenarios
from regionshift.emulator import stack as emulator
from tests.conftest import PLAN_DOCUMENT

runner = CliRunner()
EVENTS = sorted((Path(__file__).resolve().parents[2] / "events").glob("*.json"))


def function_of(event: Path) -> str:
    """events/dns-status.json -> DnsStatusFunction, target-health.json -> TargetHealthFunction; both
    intake-*.json -> IntakeFunction."""
    stem = "intake" if event.stem.startswith("intake-") else event.stem
    return "".join(part.title() for part in stem.replace("_", "-").split("-")) + "Function"


# What each function's handler parses its event into (functions/handlers/*.py).
MODEL_OF: dict[str, type[Model]] = {
    "IntakeFunction": IntakeInput,
    "PromoteFunction": PromotionItem,
    "PromotionStatusFunction": PromotionItem,
    "ProbeFunction": ProbeInput,
    "ApprovalFunction": ApprovalInput,  # the AwaitApproval task's payload: its token and the decision
}


def _stale(event: Any, parsed: Any, where: str = "") -> list[str]:
    """Keys of the event its model does not know (models ignore unknown keys: a renamed or removed
    field would pass silently, and the sample would show users a document that no longer exists)."""
    if isinstance(event, dict) and isinstance(parsed, dict):
        return [
            found
            for key, value in event.items()
            for found in ([f"{where}{key}"] if key not in parsed else _stale(value, parsed[key], f"{where}{key}."))
        ]
    if isinstance(event, list) and isinstance(parsed, list):
        return [f for i, (e, p) in enumerate(zip(event, parsed, strict=True)) for f in _stale(e, p, f"{where}{i}.")]
    return []


def test_every_function_has_a_sample_event() -> None:
    functions = {name for name, r in cfn.load()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert {function_of(e) for e in EVENTS} == functions
    assert "TargetHealthFunction" in functions


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.stem)
def test_every_sample_event_has_the_run_documents_current_shape(event: Path) -> None:
    # Given a sample event and the model its handler parses
    raw = json.loads(event.read_text())
    model = MODEL_OF.get(function_of(event), RunDocument)
    # Then it parses, and every key in it is a field of the model (no stale sections)
    parsed = model.model_validate(raw)
    assert _stale(raw, parsed.wire()) == [], event.name
    if isinstance(parsed, PromotionItem):
        # One iteration of the promotion Map: a replica of the target, polled after the request
        assert parsed.replica.region == "us-west-2" and parsed.replica.database
        assert (parsed.promotion is not None) is (event.stem == "promotion-status")
    elif isinstance(parsed, RunDocument):
        assert parsed.assess is None or parsed.assess.target in (None, "us-west-2")
        assert parsed.intake is not None and parsed.intake.plan.standby_regions == ["us-west-2", "eu-west-1"]


def test_every_sample_event_runs_through_its_real_handler() -> None:
    # Given the default emulated estate, its regions probed (so that the stack has every function)
    with emulator.start(scenarios.load("probe-detects-outage")) as emulated:
        for event in EVENTS:
            # When each sample event is invoked on its function
            invoked = invoker.invoke_on(emulated, function_of(event), json.loads(event.read_text()))
            # Then its handler ran and answered without an error
            assert not invoked.errored, (event.name, invoked.payload)
            assert isinstance(invoked.payload, dict) and invoked.payload, event.name
        ran = {i.function.removeprefix("regionshift-") for i in emulated.recorder.invocations}
    assert ran == {function_of(e) for e in EVENTS}
    assert len(EVENTS) >= 12


def test_invoke_applies_env_vars_like_sam(tmp_path: Path) -> None:
    # Given an --env-vars file pointing the Gate at a plan with a longer lock lease (its file and
    # digest), and a variable the template does not declare
    plan = Plan.model_validate({**PLAN_DOCUMENT, "rails": {**PLAN_DOCUMENT["rails"], "lockLeaseSeconds": 7200}})
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(plan.canonical())
    env = tmp_path / "env.json"
    env.write_text(
        json.dumps(
            {
                "GateFunction": {"PLAN_FILE": str(plan_file), "PLAN_DIGEST": plan.digest()},
                "Parameters": {"UNDECLARED": "x"},
            }
        )
    )
    # When the Gate runs on its sample event
    result = runner.invoke(app, ["invoke", "GateFunction", "-e", "events/gate.json", "--env-vars", str(env)])
    # Then it ran with the override: the lease is 7200 s from the decision
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    lease = datetime.fromisoformat(answer["leaseUntil"]) - datetime.fromisoformat(answer["at"])
    assert answer["decision"] == "PROCEED" and lease.total_seconds() == 7200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NoSuchFunction", "-e", "events/gate.json"], "no function 'NoSuchFunction'"),
        (["GateFunction", "-e", "events/missing.json"], "--event events/missing.json"),
    ],
)
def test_invoke_mistakes_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["invoke", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_env_vars_file_must_be_an_object() -> None:
    with pytest.raises(invoker.InvokeError):
        invoker.env_overrides([], "GateFunction", {})
