"""The embedded emulator's machinery: virtual time, in-process Lambda handlers, call interception.

moto executes the real ASL; the moto internals replaced so that it runs the real handlers in virtual
time, and why, are listed in ``patches.py``. This module is what those replacements call.
"""

import contextvars
import importlib
import io
import json
import os
import threading
import time
import tracemalloc
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from regionshift.emulator.clients import handler_client

# Services whose state is the application estate; a mutating call on one of them is a "mutation".
ESTATE_SERVICES = frozenset({"rds", "route53", "elasticache"})
READ_PREFIXES = ("Describe", "Get", "List")
# The caller of calls a drill makes as an operator would (Engine.operator).
OPERATOR = "Operator"


class VirtualClock:
    """Wall time plus every wait and retry interval the emulator skipped."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, float(seconds))

    def set_monotonic(self, reading: float) -> None:
        """Make ``monotonic()`` read ``reading`` now, earlier or later than it does: the one way to move
        the clock back. An inline Map runs its iterations one after another, each from its own start in
        virtual time (``mapstate.py``), so each starts by setting the clock to it; everything else advances."""
        with self._lock:
            self._offset = float(reading) - time.monotonic()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return time.monotonic() + self._offset


@dataclass
class Call:
    """One AWS call a Lambda made."""

    execution: str | None
    function: str
    service: str
    operation: str
    region: str
    at: float  # virtual seconds since the emulator started
    error: str | None = None

    @property
    def mutating(self) -> bool:
        return self.service in ESTATE_SERVICES and not self.operation.startswith(READ_PREFIXES)

    def wire(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "function": self.function,
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "at": round(self.at, 3),
            "error": self.error,
        }


@dataclass
class Invocation:
    function: str
    started: float
    finished: float
    errored: bool
    error_type: str | None
    logs: str
    event: Any = None
    peak_bytes: int = 0  # peak traced allocations while the handler ran (when tracemalloc is on)
    backoff: float = 0.0  # virtual seconds the handler slept between attempts of its AWS calls
    timeout: float = 0.0  # the function's timeout


@dataclass
class Recorder:
    """Everything the run did, in virtual time."""

    clock: VirtualClock
    calls: list[Call] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    retries: list[float] = field(default_factory=list)  # the state machine's Retry intervals
    waits: list[float] = field(default_factory=list)
    backoffs: list[float] = field(default_factory=list)  # handlers' sleeps between attempts of a call
    # The largest state input or output Step Functions measured against its payload limit (bytes).
    largest_payload: int = 0

    def elapsed(self) -> float:
        return self.clock.offset


@dataclass
class _Invocation:
    function: str
    logs: io.StringIO
    execution: str | None = None
    backoff: float = 0.0


_CURRENT: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar("regionshift_invocation", default=None)


class StdoutRouter(io.TextIOBase):
    """Send a handler's prints (Powertools logs and metrics) to its invocation's log buffer."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, text: str) -> int:
        current = _CURRENT.get()
        if current is not None:
            return current.logs.write(text)
        return int(self._real.write(text))

    def flush(self) -> None:
        self._real.flush()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._real, "encoding", "utf-8"))

    def isatty(self) -> bool:
        return bool(self._real.isatty())


class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    def __init__(
        self, name: str, arn: str, memory: int, timeout: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "emulated"
        # On the emulator's virtual clock, so time a handler spends in (skipped) sleeps counts.
        self._monotonic = monotonic
        self._deadline = monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._monotonic()) * 1000))


# An interceptor sees (function, service, operation, region, params) before the real call; it may
# raise (a fault) or return a response (a modelled answer). ``after`` hooks see the response.
Interceptor = Callable[[str, str, str, str, dict[str, Any]], dict[str, Any] | None]
AfterHook = Callable[[str, str, str, str, dict[str, Any], dict[str, Any]], None]


class Engine:
    """Run handlers in-process, route their AWS calls through the interceptors, record what they did."""

    # Handlers share the process environment and stdout: one runs at a time. The run lock, the
    # thing concurrency tests exercise, is a DynamoDB conditional write and does not depend on this.
    _handler_lock = threading.RLock()

    def __init__(self, recorder: Recorder, base_env: dict[str, str]) -> None:
        self.recorder = recorder
        self.base_env = base_env
        self.interceptors: list[Interceptor] = []
        self.after_hooks: list[AfterHook] = []
        self.lambda_faults: Callable[[str], Any] = lambda _name: None
        # Whether a region is lost now (a scenario's outage): its EventBridge delivers nothing.
        self.region_down: Callable[[str], bool] = lambda _region: False
        # Whether an EventBridge rule's state machine target starts an execution (serve); a drill
        # starts them itself, from the rule's queue target.
        self.state_machine_targets = False

    # --- the handlers' runtime -----------------------------------------------------------------

    @contextmanager
    def handler_runtime(self) -> Iterator["Engine"]:
        """What handlers need besides the patches (``patches.applied``): fresh clients, the virtual
        clock as their clock and its sleep (in-Lambda retry backoffs are skipped, and recorded)."""
        from failover import clock, runtime

        runtime.reset_clients(handler_client)
        # Steps that publish no metric make Powertools warn on every invocation; noise in a drill.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        clock.use(self.recorder.clock.now, self._backoff)
        try:
            yield self
        finally:
            clock.use(None)

    @contextmanager
    def operator(self) -> Iterator[None]:
        """Calls made inside are an operator's (a drill's failback step): recorded and intercepted as a
        function's are (outages, faults and the estate's models apply); IAM is not evaluated for them
        (the operator's credentials are the operator's own)."""
        token = _CURRENT.set(_Invocation(OPERATOR, io.StringIO()))
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def _backoff(self, seconds: float) -> None:
        """A handler's sleep between attempts of an AWS call: recorded and skipped in virtual time."""
        self.recorder.backoffs.append(float(seconds))
        self.recorder.clock.advance(seconds)
        current = _CURRENT.get()
        if current is not None:
            current.backoff += seconds

    # --- Lambda -------------------------------------------------------------------------------

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        """Run moto's Lambda function's real handler in-process, as moto's ``_invoke_lambda`` answers."""
        name = function.function_name
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        fault = self.lambda_faults(name)
        if fault is not None and fault.error is not None and fault.error.startswith("Lambda."):
            # The Lambda service failed the invoke (the handler never ran). The state machine sees
            # the error by this name, as it sees Lambda.ServiceException from the real service.
            now = self.recorder.elapsed()
            self.recorder.invocations.append(Invocation(name, now, now, True, fault.error, "", event))
            return json.dumps({"errorType": fault.error, "errorMessage": fault.message}), True, ""
        env = {
            **self.base_env,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        }
        context = LambdaContext(
            name, function.function_arn, int(function.memory_size), int(function.timeout), self.recorder.clock.monotonic
        )
        with self._handler_lock, _environment(env):
            # Imported inside the function's environment, as the Lambda runtime does at cold start.
            handler = _load_handler(function.handler)
            record = _Invocation(name, io.StringIO(), _execution_of(event))
            token = _CURRENT.set(record)
            started = self.recorder.elapsed()
            base = 0
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
            try:
                result = handler(event, context)
                payload, errored, error_type = json.dumps(result), False, None
            except Exception as exc:  # noqa: BLE001 - a Lambda reports any exception as its error
                error_type = type(exc).__name__
                payload = json.dumps({"errorType": error_type, "errorMessage": str(exc)})
                errored = True
            finally:
                _CURRENT.reset(token)
            logs = record.logs.getvalue()
            peak = tracemalloc.get_traced_memory()[1] - base if tracemalloc.is_tracing() else 0
            if fault is not None and fault.error is not None:
                # The handler ran (its calls took effect) but did not answer in time.
                self.recorder.clock.advance(float(function.timeout) + fault.latency)
                error_type = fault.error
                payload, errored = json.dumps({"errorType": error_type, "errorMessage": fault.message}), True
            elif fault is not None:
                self.recorder.clock.advance(fault.latency)
            self.recorder.invocations.append(
                Invocation(
                    name,
                    started,
                    self.recorder.elapsed(),
                    errored,
                    error_type,
                    logs,
                    event,
                    peak,
                    record.backoff,
                    float(function.timeout),
                )
            )
        return payload, errored, logs

    # --- AWS calls made by handlers -----------------------------------------------------------

    def api_call(self, client: BaseClient, operation: str, params: dict[str, Any], original: Callable[..., Any]) -> Any:
        """A botocore call: passed through unless a handler makes it (then recorded and intercepted)."""
        from botocore.exceptions import BotoCoreError, ClientError

        invocation = _CURRENT.get()
        if invocation is None:
            return original(client, operation, params)
        service = client.meta.service_model.service_name
        region = client.meta.region_name or ""
        function = invocation.function
        call = Call(invocation.execution, function, service, operation, region, self.recorder.elapsed())
        self.recorder.calls.append(call)
        try:
            # A modelled answer is a call that took effect, as moto's is: the after hooks see both
            # (a lost response is raised there, after the effect).
            response = next(
                (a for i in self.interceptors if (a := i(function, service, operation, region, params)) is not None),
                None,
            )
            if response is None:
                response = original(client, operation, params)
            for hook in self.after_hooks:
                hook(function, service, operation, region, params, response)
            return response
        except ClientError as exc:
            call.error = str(exc.response.get("Error", {}).get("Code"))
            raise
        except BotoCoreError as exc:
            # A failure before any answer (a connection that could not be made): no error code, its kind.
            call.error = type(exc).__name__
            raise


def _execution_of(event: Any) -> str | None:
    execution = event.get("execution") if isinstance(event, dict) else None
    return execution.get("id") if isinstance(execution, dict) else None


@contextmanager
def untracked() -> Iterator[None]:
    """Calls made by the emulator's own models while a handler runs: neither recorded nor faulted."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


_handler_cache: dict[str, Callable[..., Any]] = {}


def _load_handler(spec: str) -> Callable[..., Any]:
    if spec not in _handler_cache:
        module_name, _, attribute = spec.rpartition(".")
        module = importlib.import_module(module_name)
        _handler_cache[spec] = getattr(module, attribute)
    return _handler_cache[spec]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
