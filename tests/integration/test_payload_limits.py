"""Step Functions' 262,144-byte payload limit, as the emulator models it on moto (patches.py).

Tiny inline state machines run on moto with the emulator's patches applied; a Lambda task runs
``grow`` below in-process.
"""

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from failover.models import REASON_LIMIT
from failover.plan import MAX_RECORDS
from failover.traffic import CHANGES_SHOWN
from regionshift import drill, invariants
from regionshift.emulator import patches
from regionshift.emulator import scenario as scenarios
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.emulator.scenario import PADDING_FIELD, Scenario, Step, Trigger, encode
from regionshift.emulator.stack import in_process
from regionshift.execution import follow

LIMIT = patches.PAYLOAD_LIMIT_BYTES
REGION = "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/payload-limits"
DATA_LIMIT = "States.DataLimitExceeded"


def grow(event: dict[str, Any], _context: Any) -> dict[str, str]:
    """The Lambda task's handler: a result of ``event["size"]`` characters."""
    return {"blob": "x" * int(event["size"])}


def sized(total: int, char: str = "x") -> str:
    """A compact JSON execution input of exactly ``total`` UTF-8 bytes: {"pad":"xxx..."}."""
    overhead = len('{"pad":""}')
    width = len(char.encode("utf-8"))
    assert (total - overhead) % width == 0
    return json.dumps({"pad": char * ((total - overhead) // width)}, separators=(",", ":"), ensure_ascii=False)


class World:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("README.txt", "runs in-process")
        boto3.client("iam", region_name=REGION).create_role(RoleName="payload-limits", AssumeRolePolicyDocument="{}")
        self.function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="grow",
            Runtime="python3.13",
            Role=ROLE,
            Handler=f"{__name__}.grow",
            Code={"ZipFile": code.getvalue()},
            Timeout=10,
        )["FunctionArn"]
        self._count = 0

    def machine(self, states: dict[str, Any], start: str) -> str:
        self._count += 1
        definition = json.dumps({"StartAt": start, "States": states}).replace("GROW_ARN", self.function_arn)
        return str(
            self.sfn.create_state_machine(name=f"m{self._count}", definition=definition, roleArn=ROLE)[
                "stateMachineArn"
            ]
        )

    def run(self, machine: str, execution_input: str) -> dict[str, Any]:
        self._count += 1
        arn = self.sfn.start_execution(stateMachineArn=machine, name=f"e{self._count}", input=execution_input)[
            "executionArn"
        ]
        follow(self.sfn, [arn], poll_seconds=0.01, deadline_seconds=60)
        described: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
        return described

    def entered(self, execution: dict[str, Any]) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


@pytest.fixture
def world() -> Iterator[World]:
    engine = Engine(Recorder(VirtualClock()), base_env={})
    with in_process(), patches.applied(engine):
        yield World(engine)


PASS_THROUGH = {"Only": {"Type": "Pass", "End": True}}
CAUGHT = {"Caught": {"Type": "Pass", "Result": {"caught": True}, "End": True}}


def _task(parameters: dict[str, Any], catch: str | None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": "GROW_ARN", "Parameters": parameters, "End": True, **fields}
    if catch is not None:
        state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": None, "Next": "Caught"}]
    return {"Grow": state, **CAUGHT}


# --- StartExecution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "accepted"), [(LIMIT - 1, True), (LIMIT, True), (LIMIT + 1, False)])
def test_start_execution_accepts_up_to_262144_bytes_inclusive(world: World, size: int, accepted: bool) -> None:
    # Given a state machine that passes its input through
    machine = world.machine(PASS_THROUGH, "Only")
    execution_input = sized(size)
    assert len(execution_input.encode("utf-8")) == size
    if accepted:
        # When an input at or under the limit is started, Then it runs, and its output (the same size) passes
        assert world.run(machine, execution_input)["status"] == "SUCCEEDED"
        return
    # When one byte over, Then StartExecution refuses it and no execution exists
    with pytest.raises(ClientError) as refused:
        world.run(machine, execution_input)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "262144" in refused.value.response["Error"]["Message"]
    assert world.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_start_execution_counts_utf8_bytes_not_characters(world: World) -> None:
    # Given an input of fewer than 262,144 characters but more than 262,144 bytes ("é" is two bytes)
    machine = world.machine(PASS_THROUGH, "Only")
    execution_input = sized(LIMIT + 2, "\u00e9")
    assert len(execution_input) < LIMIT < len(execution_input.encode("utf-8"))
    # When it is started, Then it is refused
    with pytest.raises(ClientError, match="ValidationException"):
        world.run(machine, execution_input)


# --- a state's input after Parameters, a state's output ----------------------------------------------


def test_pass_parameters_over_the_limit_fail_the_state(world: World) -> None:
    # Given a Pass state whose Parameters double a 150,000-byte input
    states = {"Double": {"Type": "Pass", "Parameters": {"a.$": "$.pad", "b.$": "$.pad"}, "End": True}}
    machine = world.machine(states, "Double")
    # When it runs, Then the execution fails with States.DataLimitExceeded
    execution = world.run(machine, sized(150_000))
    assert execution["status"] == "FAILED"
    assert execution["error"] == DATA_LIMIT


def test_pass_output_over_the_limit_fails_the_state(world: World) -> None:
    # Given a Pass state whose ResultPath adds a copy of the input to itself
    states = {"Copy": {"Type": "Pass", "Parameters": {"a.$": "$.pad"}, "ResultPath": "$.copy", "End": True}}
    machine = world.machine(states, "Copy")
    # When it runs on 150,000 bytes, Then its 300,000-byte output fails it
    execution = world.run(machine, sized(150_000))
    assert (execution["status"], execution["error"]) == ("FAILED", DATA_LIMIT)


def test_task_parameters_over_the_limit_are_not_caught_by_states_all_and_never_invoke(world: World) -> None:
    # Given a Lambda task whose Parameters double the input, caught only by States.ALL
    states = _task({"size": 1, "a.$": "$.pad", "b.$": "$.pad"}, "States.ALL")
    states["Grow"]["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]
    machine = world.machine(states, "Grow")
    # When it runs
    execution = world.run(machine, sized(150_000))
    # Then States.ALL neither retried nor caught it, and the function never ran
    assert (execution["status"], execution["error"]) == ("FAILED", DATA_LIMIT)
    assert world.engine.recorder.retries == []
    assert world.engine.recorder.invocations == []
    assert world.entered(execution) == ["Grow"]


def test_task_parameters_over_the_limit_are_caught_by_name(world: World) -> None:
    # Given the same task with a Catch naming States.DataLimitExceeded
    machine = world.machine(_task({"size": 1, "a.$": "$.pad", "b.$": "$.pad"}, DATA_LIMIT), "Grow")
    # When it runs, Then the Catch takes it
    execution = world.run(machine, sized(150_000))
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"caught": True}


@pytest.mark.parametrize(("catch", "status"), [("States.ALL", "FAILED"), (DATA_LIMIT, "SUCCEEDED")])
def test_task_result_placed_over_the_limit_fails_the_state(world: World, catch: str, status: str) -> None:
    # Given a task returning 150,000 characters that ResultPath adds to a 150,000-byte input
    machine = world.machine(_task({"size": 150_000}, catch, ResultPath="$.result"), "Grow")
    # When it runs
    execution = world.run(machine, sized(150_000))
    # Then the function ran, its placed result exceeded the limit: caught by name only
    assert len(world.engine.recorder.invocations) == 1
    assert execution["status"] == status
    if status == "FAILED":
        assert execution["error"] == DATA_LIMIT


def test_task_result_within_the_limit_passes(world: World) -> None:
    # Given the same task replacing its input with a 200,000-character result
    machine = world.machine(_task({"size": 200_000}, DATA_LIMIT), "Grow")
    # When it runs, Then the execution succeeds with the result as its output
    execution = world.run(machine, sized(150_000))
    assert execution["status"] == "SUCCEEDED"
    assert len(json.loads(execution["output"])["blob"]) == 200_000


def test_parallel_and_map_outputs_over_the_limit_are_caught_by_name(world: World) -> None:
    # Given a Parallel state of two branches and a Map of two items, each passing 150,000 bytes on
    branch = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    catch = [{"ErrorEquals": [DATA_LIMIT], "ResultPath": "$.error", "Next": "Caught"}]
    parallel = {"Type": "Parallel", "Branches": [branch, branch], "Catch": catch, "Next": "Map"}
    mapped = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "Parameters": {"pad.$": "$.pad"},
        "Iterator": branch,
        "Catch": catch,
        "End": True,
    }
    caught = {"Type": "Pass", "Parameters": {"error.$": "$.error.Error"}, "ResultPath": "$.seen", "End": True}
    both = world.machine({"Parallel": parallel, "Map": mapped, "Caught": caught}, "Parallel")
    only_map = world.machine({"Map": mapped, "Caught": caught}, "Map")
    value = {"pad": "x" * 150_000, "items": [1, 2]}
    # When each runs
    first = world.run(both, json.dumps(value))
    second = world.run(only_map, json.dumps(value))
    # Then each state's result was caught by name
    for execution in (first, second):
        assert execution["status"] == "SUCCEEDED"
        assert json.loads(execution["output"])["seen"] == {"error": DATA_LIMIT}
    assert "Caught" in world.entered(first) and "Map" not in world.entered(first)


# --- States.ALL and the terminal errors ----------------------------------------------------------------


@pytest.mark.parametrize(("catch", "status"), [("States.ALL", "FAILED"), ("States.Runtime", "SUCCEEDED")])
def test_states_all_does_not_catch_states_runtime(world: World, catch: str, status: str) -> None:
    # Given a Map state whose ResultSelector names a path its result does not have (States.Runtime)
    branch = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    mapped = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "Iterator": branch,
        "ResultSelector": {"x.$": "$.missing"},
        "Catch": [{"ErrorEquals": [catch], "ResultPath": None, "Next": "Caught"}],
        "End": True,
    }
    machine = world.machine({"Map": mapped, **CAUGHT}, "Map")
    # When it runs, Then States.ALL lets the error end the execution; the explicit name catches it
    execution = world.run(machine, '{"items": [1]}')
    assert execution["status"] == status
    if status == "FAILED":
        assert execution["error"] == "States.Runtime"


def test_states_all_still_catches_a_task_error(world: World) -> None:
    # Given a task whose handler fails (a missing key), caught by States.ALL
    machine = world.machine(_task({"other": 1}, "States.ALL"), "Grow")
    # When it runs, Then the Catch takes it
    execution = world.run(machine, "{}")
    assert (execution["status"], json.loads(execution["output"])) == ("SUCCEEDED", {"caught": True})


# --- drills: scenarios with large inputs --------------------------------------------------------------


def _manual(**fields: Any) -> Trigger:
    return Trigger.model_validate({"manual": {"operator": "alice", "reason": "drill"}, **fields})


def test_pad_bytes_makes_the_started_input_exactly_that_size() -> None:
    # Given a manual trigger padded to 262,144 bytes
    document = _manual(padBytes=LIMIT).manual_input()
    # Then the input the drill starts is exactly that many UTF-8 bytes, with the padding as a field
    assert len(encode(document).encode("utf-8")) == LIMIT
    assert document is not None and set(document) == {"operator", "reason", PADDING_FIELD}


def test_generate_writes_out_a_list_field() -> None:
    document = _manual(generate={"field": "records", "item": "app-{i}.example.com", "count": 3}).manual_input()
    assert document is not None and document["records"] == [
        "app-0.example.com",
        "app-1.example.com",
        "app-2.example.com",
    ]


@pytest.mark.parametrize(
    "fields",
    [{"padBytes": 10}, {"alarm": {"state": "ALARM"}, "manual": None, "padBytes": 1000}],
    ids=["smaller-than-the-input", "not-manual"],
)
def test_generators_that_cannot_apply_are_refused_when_the_scenario_loads(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _manual(**fields)


def test_a_drill_input_one_byte_over_the_limit_is_refused_at_start_execution() -> None:
    # Given a scenario whose manual input is 262,145 bytes
    scenario = Scenario.model_validate(
        {
            "name": "one-byte-over",
            "description": "StartExecution refuses it",
            "expect": {"outcome": None, "runs": 0},
            "trigger": {"manual": {"operator": "alice", "reason": "drill"}, "padBytes": LIMIT + 1},
        }
    )
    with drill.Session(scenario) as session:
        # When the drill starts it, Then StartExecution refuses it and no execution exists
        with pytest.raises(ClientError) as refused:
            session.step(Step(trigger=scenario.trigger))
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        machine = session.deployment.state_machine_arn
        assert session.sfn.list_executions(stateMachineArn=machine)["executions"] == []
        assert session.recorder.invocations == []


def test_the_largest_accepted_manual_input_is_refused_notified_audited_and_holds_no_lock() -> None:
    # Given the oversize-input scenario (262,144 bytes, the most StartExecution accepts), sent through
    # ManualRun, whose wrapping of it is over the limit: its Catch names States.DataLimitExceeded
    result = drill.run(scenarios.load("oversize-input"))
    [run] = result.runs
    # Then the failover state machine still runs, and refuses it: notified, audited, no lock left
    assert [s.name for s in run.states][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    assert run.outcome == "REFUSED" and "too large" in (run.reason or "")
    assert len(result.notifications) == 1
    assert [a.outcome for a in result.audit] == ["REFUSED"]
    assert not [c for c in result.recorder.calls if c.mutating]
    assert result.lock is None
    assert all(c.held for c in invariants.check(result)), invariants.check(result)


def test_the_largest_accepted_direct_input_is_refused_from_the_execution_identity_alone() -> None:
    # Given an execution started directly (not through ManualRun) with 262,144 bytes of input
    scenario = scenarios.load("oversize-input")
    document = scenario.trigger.manual_input()
    assert len(encode(document).encode("utf-8")) == LIMIT
    with drill.Session(scenario) as session:
        [run] = session.start([document])
        result = session.result()
    # Then Intake failed with States.DataLimitExceeded before its function ran, and the run was refused
    assert [s.name for s in run.states][:3] == ["Intake", "InputTooLarge", "Notify"]
    invoked = [i.function for i in result.recorder.invocations]
    assert "regionshift-IntakeFunction" not in invoked and "regionshift-NotifyFunction" in invoked
    assert run.outcome == "REFUSED" and "payload limit" in (run.reason or "")
    assert len(result.notifications) == 1 and [a.outcome for a in result.audit] == ["REFUSED"]
    assert not [c for c in result.recorder.calls if c.mutating] and result.lock is None


def test_a_huge_record_list_is_read_and_refused_with_a_bounded_reason() -> None:
    # Given the oversize-records scenario (4,000 asserted record names, about 100 KB)
    result = drill.run(scenarios.load("oversize-records"))
    [run] = result.runs
    # Then Intake read it and refused it; the reason carried on is clipped
    assert [s.name for s in run.states][:3] == ["Intake", "IntakeDecision", "RefusedAtIntake"]
    assert run.outcome == "REFUSED"
    assert run.reason is not None and len(run.reason) <= REASON_LIMIT
    assert all(c.held for c in invariants.check(result)), invariants.check(result)


def _largest_state_payload(session: drill.Session, arn: str) -> tuple[int, str]:
    """The largest state input or output of an execution, in UTF-8 bytes, and the state's name."""
    largest, where = 0, ""
    kwargs: dict[str, str] = {}
    while True:
        page = session.sfn.get_execution_history(executionArn=arn, maxResults=1000, **kwargs)
        for event in page["events"]:
            for key, field in (("stateEnteredEventDetails", "input"), ("stateExitedEventDetails", "output")):
                details = event.get(key)
                if details and len((details.get(field) or "").encode("utf-8")) > largest:
                    largest, where = len(details[field].encode("utf-8")), details["name"]
        if "nextToken" not in page:
            return largest, where
        kwargs = {"nextToken": page["nextToken"]}


def test_a_plan_with_the_most_records_fails_over_far_inside_the_payload_limit() -> None:
    # Given a plan with MAX_RECORDS records in two zones: alias A records and CNAMEs to a database
    half = MAX_RECORDS // 2
    zones = [
        {"name": "example.com", "records": [{"name": f"app-{i}.example.com", "type": "A"} for i in range(half)]},
        {
            "name": "example.org",
            "records": [
                {"name": f"db-{i}.example.org", "type": "CNAME", "target": "orders"} for i in range(MAX_RECORDS - half)
            ],
        },
    ]
    scenario = Scenario.model_validate(
        {
            "name": "most-records",
            "description": "the largest plan a run moves",
            "expect": {"outcome": "FAILED_OVER", "runs": 1},
            "estate": {"zones": zones},
            "trigger": {"alarm": {"state": "ALARM", "ageSeconds": 5}},
        }
    )
    # When the alarm fires
    with drill.Session(scenario) as session:
        session.step(Step(trigger=scenario.trigger))
        result = session.result()
        [run] = result.runs
        largest, where = _largest_state_payload(session, run.arn)
    # Then every record moved, one change batch per zone
    assert run.outcome == "FAILED_OVER" and result.passed, result.problems
    assert len(result.world["dns"]) == MAX_RECORDS and {r["region"] for r in result.world["dns"]} == {"us-west-2"}
    assert run.audit is not None and run.audit.changes.dns is not None
    assert sorted(z.records for z in run.audit.changes.dns.zones) == [half, MAX_RECORDS - half]
    # And the run document lists a bounded sample of the changes, so no state comes near the limit
    assert len(run.audit.changes.dns.changes) == CHANGES_SHOWN
    assert largest < LIMIT // 8, (where, largest)
