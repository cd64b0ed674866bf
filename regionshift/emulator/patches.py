"""Every moto (and botocore) internal the emulator replaces or writes, with the reason for each.

Verified on moto 5.2.5, which ``pyproject.toml`` pins exactly because of this module: a moto upgrade
starts here (``tests/test_emulator_patches.py`` checks that every target still exists).

``PATCHES`` is the complete list of attributes replaced while an emulated stack runs (and restored
after); ``rds_instance`` is the only place the emulator writes moto's backend state directly. Public
moto APIs (``mock_aws``, ``ThreadedMotoServer``, ``/moto-api/*``) are used as documented and are not
listed.
"""

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from regionshift.emulator.engine import Engine, StdoutRouter

MOTO_VERSION = "5.2.5"
ACCOUNT = "123456789012"  # moto's default account: the emulated estate lives in it


@dataclass(frozen=True)
class Patch:
    """One attribute replaced while the emulator runs."""

    target: str  # "module" or "module:Class"
    attribute: str
    why: str
    replacement: Callable[[Engine, Any], Any]  # (engine, original value) -> the value put in its place

    def owner(self) -> Any:
        module, _, name = self.target.partition(":")
        found = importlib.import_module(module)
        return getattr(found, name) if name else found


def _invoke_in_process(engine: Engine, _original: Any) -> Any:
    def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
        return engine.invoke(function, event)

    return invoke


class _RetryTime:
    """The ``time`` module as the Retry code sees it: ``sleep`` advances the virtual clock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sleep(self, seconds: float) -> None:
        self._engine.recorder.retries.append(float(seconds))
        self._engine.recorder.clock.advance(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _virtual_retry_time(engine: Engine, _original: Any) -> Any:
    return _RetryTime(engine)


def _virtual_wait(engine: Engine, _original: Any) -> Any:
    def wait_interval(_self: Any, env: Any, wait_seconds: int) -> None:
        engine.recorder.waits.append(float(wait_seconds))
        engine.recorder.clock.advance(wait_seconds)

    return wait_interval


def _intercepted_call(engine: Engine, original: Any) -> Any:
    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return engine.api_call(client, operation, params, original)

    return make_api_call


def _iso_start_time(_engine: Engine, original: Any) -> Any:
    def evaluation_environment(worker: Any) -> Any:
        env = original(worker)
        execution = env.states.context_object.context_object_data["Execution"]
        started = execution.get("StartTime")
        if isinstance(started, datetime):
            execution["StartTime"] = started.isoformat()
        return env

    return evaluation_environment


def _routed_stdout(_engine: Engine, original: Any) -> Any:
    return StdoutRouter(original)


def _skip_state_machine_targets(_engine: Engine, original: Any) -> Any:
    def send_to_targets(rule: Any, *args: Any, **kwargs: Any) -> Any:
        kept = rule.targets
        rule.targets = [t for t in kept if ":states:" not in t["Arn"]]
        try:
            return original(rule, *args, **kwargs)
        finally:
            rule.targets = kept

    return send_to_targets


def _sfn_request_names(_engine: Engine, original: Any) -> Any:
    def normalise_parameters(task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(task, parameters, *args, **kwargs)
        import botocore.session

        action = task.resource.api_action[:1].upper() + task.resource.api_action[1:]
        shape = botocore.session.get_session().get_service_model("stepfunctions").operation_model(action).input_shape
        members = {name.lower(): name for name in shape.members}
        for key in list(parameters):
            wanted = members.get(key.lower(), key)
            if wanted != key:
                parameters[wanted] = parameters.pop(key)

    return normalise_parameters


def _sfn_response_names(_engine: Engine, _original: Any) -> Any:
    def normalise_response(_task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            for key in list(response):
                value = response.pop(key)
                response[key[:1].upper() + key[1:]] = value.isoformat() if isinstance(value, datetime) else value

    return normalise_response


def _virtual_timestamps(engine: Engine, _original: Any) -> Any:
    return staticmethod(engine.recorder.clock.now)


PATCHES: tuple[Patch, ...] = (
    Patch(
        "moto.awslambda.models:LambdaFunction",
        "_invoke_lambda",
        "moto's only Docker call: run the real handler from functions/ in-process instead "
        "(returns (payload_json, errored, logs), as moto expects)",
        _invoke_in_process,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl",
        "time",
        "a Retry interval is a time.sleep in this module: record it and advance the virtual clock",
        _virtual_retry_time,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function:WaitFunction",
        "_wait_interval",
        "a Wait state sleeps here: record it and advance the virtual clock",
        _virtual_wait,
    ),
    Patch(
        "botocore.client:BaseClient",
        "_make_api_call",
        "every AWS call a handler makes: recorded, faulted by the scenario, or answered by the estate "
        "model where moto does not model AWS (health, promotion, DNS sync); other calls pass through",
        _intercepted_call,
    ),
    Patch(
        "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker",
        "_get_evaluation_environment",
        "moto puts a datetime in $$.Execution.StartTime; Step Functions gives an ISO 8601 string",
        _iso_start_time,
    ),
    Patch(
        "sys",
        "stdout",
        "not moto: a handler's prints (Powertools logs and metrics) go to its invocation's log buffer",
        _routed_stdout,
    ),
    Patch(
        "moto.events.models:Rule",
        "send_to_targets",
        "moto's EventBridge raises for a state machine target; the drill starts the execution from the "
        "rule's other target (a queue), so the state machine target is skipped",
        _skip_state_machine_targets,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn:StateTaskServiceSfn",
        "_normalise_parameters",
        "the states:startExecution integration passes the ASL's StateMachineArn/Name/Input to boto3 as they are, "
        "and botocore expects stateMachineArn/name/input: the names are mapped to the API's own",
        _sfn_request_names,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn:StateTaskServiceSfn",
        "_normalise_response",
        "Step Functions answers the startExecution integration as {ExecutionArn, StartDate}, "
        "https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html; moto gives boto3's "
        "executionArn/startDate (and a datetime)",
        _sfn_response_names,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager",
        "_get_current_timestamp",
        "execution history in virtual time: a skipped 30 s wait shows as 30 s in timelines",
        _virtual_timestamps,
    ),
)


@contextmanager
def applied(engine: Engine) -> Iterator[None]:
    """Replace every attribute in ``PATCHES`` for the block, then put the originals back."""
    owners = [(patch, patch.owner()) for patch in PATCHES]
    saved = [(owner, patch.attribute, getattr(owner, patch.attribute)) for patch, owner in owners]
    for (patch, owner), (_, _, original) in zip(owners, saved, strict=True):
        setattr(owner, patch.attribute, patch.replacement(engine, original))
    try:
        yield
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


def rds_instance(region: str, identifier: str) -> Any:
    """moto's model of a DB instance, written directly where moto's API cannot set the state RDS has:

    * ``status``: a replica in the scenario's status, and ``modifying`` while a promotion is in
      progress (moto promotes at once and always answers ``available``);
    * ``source_db_instance_identifier``: cleared when a promotion completes (moto keeps it; a
      promoted instance in RDS has no source).

    Raises ``KeyError`` for an unknown instance.
    """
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT][region].databases[identifier]
