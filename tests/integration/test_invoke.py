"""``regionshift invoke``: one Lambda on a sample event, in-process, against the emulated estate."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regionshift import invoke as invoker
from regionshift.cli import app
from regionshift.emulator import scenario as scenarios
from regionshift.emulator import stack as emulator

runner = CliRunner()
EVENTS = sorted((Path(__file__).resolve().parents[2] / "events").glob("*.json"))


def function_of(event: Path) -> str:
    """events/dns-status.json -> DnsStatusFunction; both intake-*.json -> IntakeFunction."""
    stem = "intake" if event.stem.startswith("intake-") else event.stem
    return "".join(part.title() for part in stem.split("-")) + "Function"


def test_every_sample_event_runs_through_its_real_handler() -> None:
    # Given the default emulated estate
    with emulator.start(scenarios.load("primary-outage")) as emulated:
        for event in EVENTS:
            # When each sample event is invoked on its function
            invoked = invoker.invoke_on(emulated, function_of(event), json.loads(event.read_text()))
            # Then its handler ran and answered without an error
            assert not invoked.errored, (event.name, invoked.payload)
            assert isinstance(invoked.payload, dict) and invoked.payload, event.name
        ran = {i.function.removeprefix("regionshift-") for i in emulated.recorder.invocations}
    assert ran == {function_of(e) for e in EVENTS}
    assert len(EVENTS) >= 10


def test_invoke_applies_env_vars_like_sam(tmp_path: Path) -> None:
    # Given an --env-vars file lengthening the Gate's lock lease (and a variable the template does not declare)
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"GateFunction": {"LOCK_LEASE_SECONDS": "7200"}, "Parameters": {"UNDECLARED": "x"}}))
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
