"""Every moto (and botocore) internal the emulator replaces or writes, with the reason for each.

Verified on moto 5.2.5, which ``pyproject.toml`` pins exactly because of this module: a moto upgrade
starts here (``tests/integration/test_emulator_patches.py`` checks that every target still exists).

``PATCHES`` is the complete list of attributes replaced while an emulated stack runs (and restored
after); ``rds_instance`` is the only place ``estate.py`` writes moto's backend state directly.
``MODELS`` lists the AWS features moto lacks that the emulator answers itself, from engine
interceptors rather than by replacing moto code: they write into moto's backends where moto keeps the
resource (Aurora global clusters and their members, ElastiCache replication groups) and keep the rest
themselves. Public moto APIs (``mock_aws``, ``ThreadedMotoServer``, ``/moto-api/*``) are used as
documented and are not listed.
"""

import functools
import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from regionshift.emulator import mapstate
from regionshift.emulator.clients import once
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


# How often a callback task's wait looks at the virtual clock (real seconds).
CALLBACK_POLL_SECONDS = 0.01
# The attribute that stamps a callback endpoint with its task's start on the virtual clock.
STARTED = "_regionshift_started"


def _virtual_callback_wait(engine: Engine, original: Any) -> Any:
    # A callback task whose TimeoutSeconds elapses before SendTaskSuccess / SendTaskFailure fails with
    # States.Timeout, and a later answer gets TaskTimedOut
    # (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token,
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html). moto waits
    # out TimeoutSeconds in real seconds: here the deadline is on the virtual clock, which a drill
    # advances while the run waits, and the timed-out task refuses a late answer as TaskTimedOut.
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerTimeout

    def wait(endpoint: Any, timeout: float | None = None) -> Any:
        if timeout is None:
            return original(endpoint, timeout)
        clock = engine.recorder.clock
        # TimeoutSeconds counts from the task's start (its token's creation), its Lambda's run included.
        deadline = getattr(endpoint, STARTED, clock.monotonic()) + timeout
        while not endpoint._notify_event.wait(CALLBACK_POLL_SECONDS):
            if clock.monotonic() >= deadline:
                endpoint.report(CallbackConsumerTimeout())
                return None
        return endpoint.get_outcome()

    return wait


def _stamped_callback(engine: Engine, original: Any) -> Any:
    def init(endpoint: Any, *args: Any, **kwargs: Any) -> None:
        original(endpoint, *args, **kwargs)
        setattr(endpoint, STARTED, engine.recorder.clock.monotonic())

    return init


def _task_failure_with_cause(_engine: Engine, _original: Any) -> Any:
    # SendTaskFailure's cause is part of the failure the Catch sees (its Cause), as its error is:
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
    from moto.core.responses import EmptyResult

    def send_task_failure(response: Any) -> Any:
        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
        )
        return EmptyResult()

    return send_task_failure


def _map_iterations_in_forks(engine: Engine, _original: Any) -> Any:
    def eval_body(component: Any, env: Any) -> None:
        mapstate.run_inline(component, env, engine.recorder.clock)

    return eval_body


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


def _skip_state_machine_targets(engine: Engine, original: Any) -> Any:
    def send_to_targets(rule: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        if engine.region_down(rule.region_name):
            return None  # a lost region's EventBridge routes nothing (a scenario's outage)
        kept = rule.targets
        if not rule.event_pattern.matches_event(event):
            return original(rule, event, *args, **kwargs)
        machines = [t for t in kept if ":states:" in t["Arn"]]
        buses = [t for t in kept if _is_other_bus(t["Arn"], rule.region_name)]
        rule.targets = [t for t in kept if t not in machines and t not in buses]
        try:
            original(rule, event, *args, **kwargs)
        finally:
            rule.targets = kept
        for target in buses:
            _forward(event, target["Arn"])
        if engine.state_machine_targets:
            for target in machines:
                _start_execution(event, target["Arn"])
        return None

    return send_to_targets


@functools.cache
def _sfn_request_members(action: str) -> dict[str, str]:
    """The Step Functions API's own request member names of ``action``, by lower-cased name (the
    service model is loaded once, not on every task)."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("stepfunctions").operation_model(action).input_shape
    return {name.lower(): name for name in shape.members}


def _sfn_request_names(_engine: Engine, original: Any) -> Any:
    def normalise_parameters(task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(task, parameters, *args, **kwargs)
        members = _sfn_request_members(task.resource.api_action[:1].upper() + task.resource.api_action[1:])
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


def _is_other_bus(arn: str, region: str) -> bool:
    parts = arn.split(":")
    return parts[2] == "events" and parts[5].startswith("event-bus/") and parts[3] != region


def _forward(event: dict[str, Any], bus_arn: str) -> None:
    """A cross-region event-bus target: the event arrives as it was sent, with its id, source region,
    time and resources (moto re-puts a new event without resources, which no rule matching on
    ``resources`` would see). https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html
    """
    import copy

    from moto.events.models import events_backends

    _, _, _, region, account, resource = bus_arn.split(":", 5)
    bus = events_backends[account][region].describe_event_bus(resource.removeprefix("event-bus/"))
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(event))  # type: ignore[arg-type]


def _start_execution(event: dict[str, Any], machine_arn: str) -> None:
    """A state machine target: EventBridge starts an execution whose input is the event.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html"""
    import json
    import uuid

    from moto.stepfunctions.responses import get_backend

    document = dict(event)
    when = document.get("time")
    if isinstance(when, int | float):  # moto keeps the time as epoch seconds until delivery
        document["time"] = datetime.fromtimestamp(float(when), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document.pop("ingestion-time", None)
    region = machine_arn.split(":")[3]
    get_backend(ACCOUNT, region).start_execution(machine_arn, str(uuid.uuid4()), json.dumps(document))


def _alarm_state_events(engine: Engine, original: Any) -> Any:
    def update_state(alarm: Any, reason: str, reason_data: str, state_value: str) -> None:
        previous = alarm.state_value
        original(alarm, reason, reason_data, state_value)
        alarm.state_updated_timestamp = engine.recorder.clock.now()
        if previous != state_value:
            from moto.events.models import events_backends

            from regionshift.emulator.detection import state_change_event

            entry = state_change_event(alarm, previous, alarm.state_updated_timestamp)
            events_backends[alarm.alarm_arn.split(":")[4]][alarm.region_name].put_events([entry])

    return update_state


def _validated_record_changes(_engine: Engine, _original: Any) -> Any:
    from regionshift.emulator.route53 import change_resource_record_sets

    return change_resource_record_sets


def _metric_health_checks(_engine: Engine, original: Any) -> Any:
    from regionshift.emulator.healthchecks import create_health_check

    return create_health_check(original)


def _metric_health_check_config(_engine: Engine, original: Any) -> Any:
    from regionshift.emulator.healthchecks import health_check_config

    return health_check_config(original)


def _virtual_timestamps(engine: Engine, _original: Any) -> Any:
    return staticmethod(engine.recorder.clock.now)


# --- Step Functions' payload limit ---------------------------------------------------------------
# "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded
# string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). StartExecution's
# `input` is "Length Constraints: Maximum length of 262144 ... expressed as bytes in UTF-8 encoding"
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): a maximum,
# so exactly 262,144 bytes is accepted and 262,145 is not. moto compares with `<` (262,144 fails).
PAYLOAD_LIMIT_BYTES = 262_144
# How moto's interpreter binds its size check: one name per module that imported it.
SIZE_CHECK_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)


def payload_bytes(value: Any) -> int:
    """A state's data as Step Functions counts it: its JSON text, encoded as UTF-8.

    Serialised compactly and without ASCII escaping (moto's own check uses ``json.dumps`` defaults,
    which pad with spaces and count a non-ASCII character as a six-byte escape, and it takes a string
    value for JSON text, two quotes short).
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8"))


def within_payload_limit(value: Any) -> bool:
    return payload_bytes(value) <= PAYLOAD_LIMIT_BYTES


def _inclusive_size_check(_engine: Engine, _original: Any) -> Any:
    return within_payload_limit


def _data_limit_exceeded(env: Any, cause: str) -> Exception:
    """moto's failure for a state whose data is over the limit, as its interpreter raises errors."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    typ = StatesErrorNameType.StatesStatesDataLimitExceeded
    details = TaskFailedEventDetails(error=typ.to_name(), cause=cause)
    return FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=typ),
            event_type=HistoryEventType.TaskFailed,
            # moto's TypedDict is total; its own failures set one key, as here.
            event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
        )
    )


def _measured(engine: Engine, value: Any) -> bool:
    """Whether ``value`` is within the payload limit; its size is kept as the run's largest if it is."""
    size = payload_bytes(value)
    engine.recorder.largest_payload = max(engine.recorder.largest_payload, size)
    return size <= PAYLOAD_LIMIT_BYTES


def _checked_parameters(engine: Engine, original: Any) -> Any:
    # "States.DataLimitExceeded: ... when, after Parameters processing, the input of a state is larger
    # than the payload size quota" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    # InputPath only selects from an input already within the limit; Parameters can make it grow.
    def eval_body(parargs: Any, env: Any) -> None:
        original(parargs, env)
        if env.stack and not _measured(engine, env.stack[-1]):
            raise _data_limit_exceeded(
                env,
                f"The state/task '{env.next_state_name}' has an input, after Parameters processing, "
                f"with a size exceeding the maximum number of bytes service limit.",
            )

    return eval_body


def _checked_result(engine: Engine, original: Any) -> Any:
    # "... when the output of a state is larger than the payload size quota" (same page). Checked
    # after ResultSelector / ResultPath, inside the Task, Parallel or Map state's Retry/Catch loop,
    # so that a Catch naming States.DataLimitExceeded sees it. (moto's own output check runs after
    # that loop; OutputPath only selects, so it cannot make a checked output grow.)
    def evaluate_with_timeout(state: Any, env: Any) -> None:
        original(state, env)
        if env.stack and not _measured(engine, env.stack[-1]):
            raise _data_limit_exceeded(
                env,
                f"The state/task '{state.name}' returned a result with a size exceeding the maximum "
                f"number of bytes service limit.",
            )

    return evaluate_with_timeout


def _all_but_terminal_errors(_engine: Engine, original: Any) -> Any:
    # "States.ALL ... can't catch the States.DataLimitExceeded terminal error type and runtime error
    # types" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html); an
    # ErrorEquals naming them explicitly still matches. The decl pops the error and pushes the match.
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    wildcard = StatesErrorName(typ=StatesErrorNameType.StatesALL)
    terminal = (StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime)

    def eval_body(decl: Any, env: Any) -> None:
        # States.ALL must appear alone in ErrorEquals, so a decl holding it names nothing else.
        error = env.stack[-1]
        if wildcard in decl.error_names and isinstance(error, StatesErrorName) and error.typ in terminal:
            env.stack.pop()
            env.stack.append(False)
            return
        original(decl, env)

    return eval_body


def _refuse_oversize_input(_engine: Engine, original: Any) -> Any:
    def start_execution(backend: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        given = kwargs.get("execution_input", args[1] if len(args) > 1 else None)
        if isinstance(given, str) and len(given.encode("utf-8")) > PAYLOAD_LIMIT_BYTES:
            from moto.stepfunctions.exceptions import ValidationException

            # The API's framework-level answer to a length constraint (the value itself is sensitive).
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {PAYLOAD_LIMIT_BYTES}"
            )
        return original(backend, state_machine_arn, *args, **kwargs)

    return start_execution


class _LazyPrivateKey:
    """A KMS key's private key, made on first use: Sign and Verify are the only uses, and only an
    asymmetric key may be used for them (a SYMMETRIC_DEFAULT key never is)."""

    def __init__(self, generate: Callable[[str], Any], key_spec: str) -> None:
        self._generate, self._key_spec, self._key = generate, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def _lazy_kms_private_key(_engine: Engine, original: Any) -> Any:
    def generate_private_key(key_spec: str) -> Any:
        return _LazyPrivateKey(original, key_spec)

    return generate_private_key


# Each state machine definition's syntax tree, parsed once per process: the definitions do not change
# between drills, and ANTLR's parse is most of the cost of creating a state machine or starting a run.
_PARSED: dict[str, Any] = {}


def _parse_once(_engine: Engine, original: Any) -> Any:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def parse(definition: str) -> tuple[Any, Any]:
        tree = _PARSED.get(definition)
        if tree is None:
            # A definition with a syntax error raises here, as before, and is not kept.
            _program, tree = original(definition)
            _PARSED[definition] = tree
        # Fresh evaluation components on every call, as moto makes them: only the tree is shared, read-only.
        return Preprocessor().visit(tree), tree

    return staticmethod(parse)


# The one key that signs every emulated SNS delivery, made when first needed (see its patch).
_SIGNING_KEY: list[Any] = []
_SIGNING_KEY_LOCK = threading.Lock()


def _one_signing_key(_engine: Engine, original: Any) -> Any:
    # moto's Subscription.private_key is an lru_cache over the subscription: one key per subscription.
    make = getattr(original, "__wrapped__", original)

    def private_key(subscription: Any) -> Any:
        with _SIGNING_KEY_LOCK:
            if not _SIGNING_KEY:
                _SIGNING_KEY.append(make(subscription))
            return _SIGNING_KEY[0]

    return private_key


def _shared_task_clients(_engine: Engine, original: Any) -> Any:
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own fixed credentials and Config: only the routing and where the call goes vary.
        return once(("sfn-task", service, region), lambda: original(region, service, state_credentials))

    return boto_client_for


# The task integrations the product's state machines use: Lambda, and states:startExecution.
TASK_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
)


def _stop_refusals(_engine: Engine, original: Any) -> Any:
    """StopDBInstance as RDS refuses it: "You can't stop a DB instance that has a read replica, or that
    is a read replica" ("Stopping an Amazon RDS DB instance temporarily", limitations,
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html). moto refuses the
    replica (and Multi-AZ SQL Server) but stops a source that still has replicas. A replica counts while
    it still follows the instance: a promoted one no longer does (moto keeps it in ``replicas``)."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import rds_backends

    def stop_db_instance(backend: Any, db_instance_identifier: str, db_snapshot_identifier: str | None = None) -> Any:
        database = backend.databases.get(db_instance_identifier)
        for replica in list(database.replicas) if database is not None else []:
            region = replica.split(":")[3] if replica.startswith("arn:") else backend.region_name
            follower = rds_backends[ACCOUNT][region].databases.get(replica.rsplit(":", 1)[-1])
            if follower is not None and follower.is_replica and follower.source_db_instance_identifier:
                raise RDSClientError(
                    "InvalidDBInstanceState",
                    f"DB instance {db_instance_identifier} has read replicas: it cannot be stopped.",
                )
        return original(backend, db_instance_identifier, db_snapshot_identifier)

    return stop_db_instance


def _alarm_update_keeps_state(_engine: Engine, original: Any) -> Any:
    """PutMetricAlarm on an existing alarm: "its state is left unchanged, but the update completely
    overwrites the previous configuration of the alarm" ("PutMetricAlarm", Amazon CloudWatch API Reference,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html). moto builds
    a new alarm in OK: its state (and the history of it) is carried over."""
    kept = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")

    def put_metric_alarm(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        before = backend.alarms.get(name)
        alarm = original(backend, name, *args, **kwargs)
        for attribute in kept if before is not None else ():
            if hasattr(before, attribute):
                setattr(alarm, attribute, getattr(before, attribute))
        return alarm

    return put_metric_alarm


PATCHES: tuple[Patch, ...] = (
    Patch(
        "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser",
        "parse",
        "not behaviour: moto parses a definition with ANTLR on CreateStateMachine and again on every "
        "StartExecution; the syntax tree of each definition is kept and evaluated afresh each time",
        _parse_once,
    ),
    Patch(
        "moto.sns.models:Subscription",
        "private_key",
        "not behaviour: moto makes a 2048-bit RSA key for each subscription to sign its deliveries, a tenth "
        "of a drill; one key, made when first used, signs for every subscription (nothing checks them)",
        _one_signing_key,
    ),
    *(
        Patch(
            module,
            "boto_client_for",
            "not behaviour: moto makes a new boto3 client for every Task it runs; one per service and "
            "region is made and reused (regionshift.emulator.clients)",
            _shared_task_clients,
        )
        for module in TASK_CLIENT_MODULES
    ),
    Patch(
        "moto.kms.models",
        "generate_private_key",
        "not behaviour: moto makes a 2048-bit RSA private key for every KMS key, symmetric ones too, "
        "at a tenth of a drill's time; it is made when first used (Sign, Verify) instead",
        _lazy_kms_private_key,
    ),
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
        "moto.stepfunctions.parser.asl.eval.callback.callback:CallbackEndpoint",
        "wait",
        "a callback task (.waitForTaskToken) times out in virtual time, and an answer after that is "
        "TaskTimedOut, as in Step Functions",
        _virtual_callback_wait,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.eval.callback.callback:CallbackEndpoint",
        "__init__",
        "a callback task's timeout counts from its start on the virtual clock (the endpoint is made when its token is)",
        _stamped_callback,
    ),
    Patch(
        "moto.stepfunctions.responses:StepFunctionResponse",
        "send_task_failure",
        "moto drops SendTaskFailure's cause: the Catch's Cause is what the caller sent",
        _task_failure_with_cause,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component:"
        "InlineIterationComponent",
        "_eval_body",
        "moto runs an inline Map's iterations on MaxConcurrency threads: their waits all advance the one "
        "clock (N side by side 30 s waits advance it N x 30 s) and their order varies. They run one after "
        "another in the execution's thread instead, each from its MaxConcurrency slot's start in virtual "
        "time (mapstate.py); after the Map the clock reads the latest end. When one fails, items whose slot "
        "frees at or after the earliest failure's end never start, and the Map fails with that failure; "
        "items already started run to their end (Step Functions stops them: an over-approximation of their "
        "calls and events)",
        _map_iterations_in_forks,
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
        "moto's EventBridge raises for a state machine target: a drill starts the execution from the "
        "rule's other target (a queue), serve starts it as the target would (Engine.state_machine_targets); "
        "a cross-region event-bus target forwards the event unchanged (moto drops its resources); a rule "
        "in a region the scenario has lost delivers nothing (Engine.region_down)",
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
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "start_execution",
        "moto accepts any execution input: StartExecution refuses more than 262,144 UTF-8 bytes with "
        "ValidationException, as Step Functions does",
        _refuse_oversize_input,
    ),
    *(
        Patch(
            module,
            "is_within_size_quota",
            "moto's size check is exclusive and counts moto's padded, ASCII-escaped JSON: the limit is "
            "262,144 UTF-8 bytes, inclusive",
            _inclusive_size_check,
        )
        for module in SIZE_CHECK_MODULES
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.common.parargs:Parargs",
        "_eval_body",
        "moto never checks a state's input after Parameters: over the limit it is States.DataLimitExceeded",
        _checked_parameters,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.execute_state:ExecutionState",
        "_evaluate_with_timeout",
        "moto checks a state's output outside its Retry/Catch: checked again inside, where a Catch naming "
        "States.DataLimitExceeded applies",
        _checked_result,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl:ErrorEqualsDecl",
        "_eval_body",
        "moto's States.ALL matches every error; Step Functions' does not match States.DataLimitExceeded "
        "or States.Runtime",
        _all_but_terminal_errors,
    ),
    Patch(
        "moto.cloudwatch.models:Alarm",
        "update_state",
        "moto changes an alarm's state silently: CloudWatch puts a state-change event on its region's "
        "bus on every transition (evaluated or set-alarm-state), stamped in virtual time",
        _alarm_state_events,
    ),
    Patch(
        "moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager",
        "_get_current_timestamp",
        "execution history in virtual time: a skipped 30 s wait shows as 30 s in timelines",
        _virtual_timestamps,
    ),
    Patch(
        "moto.route53.models:Route53Backend",
        "change_resource_record_sets",
        "moto accepts what Route 53 refuses (a CNAME at the apex or beside other records, an alias with a TTL, "
        "EvaluateTargetHealth on a CloudFront alias, a duplicate CREATE, over 32,000 value characters) and "
        "applies a batch change by change: the batch is validated whole (route53.py), then applied, or nothing is",
        _validated_record_changes,
    ),
    Patch(
        "moto.route53.responses:Route53",
        "create_health_check",
        "moto drops a CLOUDWATCH_METRIC check's AlarmIdentifier and InsufficientDataHealthStatus and validates "
        "neither: both are validated as Route 53 does (InvalidInput) and kept on moto's health check "
        "(healthchecks.py)",
        _metric_health_checks,
    ),
    Patch(
        "moto.rds.models:RDSBackend",
        "stop_db_instance",
        "moto stops an instance that still has read replicas; RDS refuses it (InvalidDBInstanceState), as it "
        "refuses a read replica (USER_StopInstance.html, limitations): the old primary of a three-region plan "
        "keeps its other standby's replica after a failover",
        _stop_refusals,
    ),
    Patch(
        "moto.cloudwatch.models:CloudWatchBackend",
        "put_metric_alarm",
        "moto replaces an existing alarm with a new one in OK; CloudWatch keeps the state of an alarm it "
        "updates (API_PutMetricAlarm.html): the Watch step re-points a detection alarm without a transition",
        _alarm_update_keeps_state,
    ),
    Patch(
        "moto.route53.models:HealthCheck",
        "health_check_config",
        "GetHealthCheck returns a CLOUDWATCH_METRIC check's AlarmIdentifier and InsufficientDataHealthStatus",
        _metric_health_check_config,
    ),
)


@dataclass(frozen=True)
class Model:
    """An AWS feature moto lacks, answered by an interceptor-based model instead of moto."""

    model: str  # "module:Class"
    operations: tuple[str, ...]  # botocore service:Operation the model answers (or refreshes before moto)
    missing: tuple[str, ...]  # moto's "module:Class.method" that would implement it: absent in moto 5.2.5
    why: str
    source: str  # the AWS documentation the model follows

    def owner(self) -> Any:
        module, _, name = self.model.partition(":")
        return getattr(importlib.import_module(module), name)


MODELS: tuple[Model, ...] = (
    Model(
        "regionshift.emulator.aurora:AuroraGlobal",
        (
            "rds:FailoverGlobalCluster",
            "rds:SwitchoverGlobalCluster",
            "rds:DescribeGlobalClusters",
            "rds:DescribeDBClusters",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:GetMetricData",
        ),
        (
            "moto.rds.responses:RDSResponse.failover_global_cluster",
            "moto.rds.responses:RDSResponse.switchover_global_cluster",
        ),
        "moto raises NotImplementedError for failover and switchover and never shows FailoverState; its "
        "DescribeGlobalClusters ignores GlobalClusterIdentifier. The model keeps the operation in virtual time "
        "(pending, failing-over / switching-over, done) and writes the outcome (IsWriter, Status) into moto's "
        "global cluster; AuroraGlobalDBRPOLag is published for each secondary",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html",
    ),
    Model(
        "regionshift.emulator.elasticache:Datastore",
        (
            "elasticache:CreateGlobalReplicationGroup",
            "elasticache:DescribeGlobalReplicationGroups",
            "elasticache:FailoverGlobalReplicationGroup",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:GetMetricData",
        ),
        (
            "moto.elasticache.responses:ElastiCacheResponse.create_global_replication_group",
            "moto.elasticache.responses:ElastiCacheResponse.describe_global_replication_groups",
            "moto.elasticache.responses:ElastiCacheResponse.failover_global_replication_group",
        ),
        "moto has no global datastore; the model keeps them over moto's replication groups, a failover "
        "modifying for its duration; GlobalDatastoreReplicationLag is published in each secondary Region",
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html",
    ),
    Model(
        "regionshift.emulator.dynamodb:GlobalTables",
        (
            "dynamodb:UpdateTable",
            "dynamodb:DescribeTable",
            "dynamodb:CreateGlobalTable",
            "dynamodb:DescribeGlobalTable",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:GetMetricData",
        ),
        (
            "moto.dynamodb.responses:DynamoHandler.create_global_table",
            "moto.dynamodb.responses:DynamoHandler.describe_global_table",
        ),
        "moto ignores UpdateTable's ReplicaUpdates and has no global table API; the model answers only for "
        "global tables (replicas CREATING then ACTIVE, the table UPDATING meanwhile), every other DynamoDB call "
        "(the product's state table) passes to moto; ReplicationLatency is published by each source Region",
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html",
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
