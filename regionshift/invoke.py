"""Run one Lambda of the template on an event, in this process, against the emulated estate: what
``sam local invoke`` does in Docker, with the template's environment, the function's IAM role (the
emulator authorizes each call against it) and the emulator's virtual clock.

The function runs through moto's Lambda Invoke, as Step Functions calls it in a drill.
"""

import json
from dataclasses import dataclass
from typing import Any

from regionshift.emulator import stack as emulator
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.deploy import STACK_REGION
from regionshift.emulator.scenario import Scenario


class InvokeError(Exception):
    """The function or the environment file cannot be used; the message is one line."""


@dataclass
class Invoked:
    function: str  # the template's logical id
    payload: Any  # what the handler returned, or Lambda's error object
    errored: bool
    logs: str


def env_overrides(document: Any, logical_id: str, declared: dict[str, str]) -> dict[str, str]:
    """The variables an ``--env-vars`` file sets for one function, as ``sam local invoke`` reads it:
    ``Parameters`` for every function, then the function's logical id; only variables the template
    declares are overridden ("sam local invoke", AWS SAM Developer Guide,
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-local-invoke.html)."""
    if not isinstance(document, dict):
        raise InvokeError("the --env-vars file must hold a JSON object")
    values: dict[str, str] = {}
    for section in ("Parameters", logical_id):
        part = document.get(section, {})
        if not isinstance(part, dict):
            raise InvokeError(f"--env-vars: {section} must be an object of variable names to values")
        values.update({str(k): str(v) for k, v in part.items() if k in declared})
    return values


def invoke(logical_id: str, event: Any, scenario: Scenario, env_vars: Any = None) -> Invoked:
    """Deploy the scenario's estate and run one function on ``event``."""
    with emulator.start(scenario) as emulated:
        return invoke_on(emulated, logical_id, event, env_vars)


def invoke_on(emulated: emulator.EmulatedStack, logical_id: str, event: Any, env_vars: Any = None) -> Invoked:
    """Run one function of a started estate on ``event`` (Lambda Invoke, RequestResponse)."""
    names = {logical: name for name, logical in emulated.deployment.functions.items()}
    if logical_id not in names:
        raise InvokeError(f"no function {logical_id!r} in the template; functions: {', '.join(sorted(names))}")
    lam = emulated_client("lambda", STACK_REGION)
    name = names[logical_id]
    if env_vars is not None:
        declared = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        overrides = env_overrides(env_vars, logical_id, declared)
        if overrides:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**declared, **overrides}})
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    raw = answer["Payload"].read().decode() or "null"
    invocations = [i for i in emulated.recorder.invocations if i.function == name]
    return Invoked(
        function=logical_id,
        payload=json.loads(raw),
        errored="FunctionError" in answer,
        logs=invocations[-1].logs if invocations else "",
    )
