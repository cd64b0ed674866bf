"""boto3 clients, created on first use (never at import time), a bounded retry of transient
failures, and translated errors.

Two layers retry a throttle or a passing fault:

* ``call`` retries it in the Lambda, with a budget per kind of call (``BUDGETS``) and never past
  the invocation's deadline, so a short burst costs a second, not a Task retry;
* the state machine retries ``TransientAwsError`` on a deterministic schedule that alone outlasts
  a 60 s storm on every API (``tests/integration/test_catch_paths.py`` checks the arithmetic).

Why not botocore's own retry modes (``standard``/``adaptive``,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html)? They take one attempt
budget per client, know nothing of the Lambda deadline, and share a retry-quota token bucket per
client that a storm drains (botocore ``retries/quota.py``: 500 tokens, 5 per retry). And the
emulator answers and faults calls at ``BaseClient._make_api_call``, above botocore's retry loop,
where its estate model also lives: botocore's retries would never see an injected fault, while
this helper does, and sleeps through ``failover.clock`` in virtual time. botocore therefore still
makes one attempt per call.
"""

import functools
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from failover import clock
from failover.errors import RegionshiftError, TransientAwsError

# Well inside the shortest function timeout (10 s), so a hung call fails as a retryable error.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)

# Error codes that mean "try again later" in the services the steps call.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def is_transient(exc: Exception) -> bool:
    """A throttle, a 5xx or a connection that failed or hung: the same call may succeed later.

    The AWS SDKs treat these as retryable (AWS SDKs and Tools Reference Guide, "Retry behavior":
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
    """
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if not isinstance(exc, ClientError):
        return False
    return error_code(exc) in TRANSIENT_CODES or http_status(exc) >= 500


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_unreachable(exc: BaseException) -> bool:
    """The endpoint did not answer (a connection that failed or hung, or a 5xx), as in an outage of
    its region; a throttle or a refusal is an answer. Follows ``raise ... from`` to the AWS failure."""
    cause = exc.__cause__ if isinstance(exc, RegionshiftError) else exc
    if isinstance(cause, ConnectionError | ReadTimeoutError):
        return True
    return (
        isinstance(cause, ClientError)
        and int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0) >= 500
    )


class CallKind(StrEnum):
    READ = "read"  # Describe/Get/List/Query: no effect, repeated freely
    # A change. Repeating one is safe because every write the steps make is idempotent (a conditional
    # put, an UPSERT, a promotion that counts "already standalone" as done), which the state
    # machine's own retries already rely on.
    WRITE = "write"


@dataclass(frozen=True)
class RetryBudget:
    """How hard one call is retried in the Lambda before it becomes a ``TransientAwsError``."""

    attempts: int  # calls in all, the first included
    first_delay: float  # seconds; doubled after each failure...
    max_delay: float  # ...up to this
    seconds: float  # the most one call may spend sleeping between its attempts


BUDGETS: Mapping[CallKind, RetryBudget] = MappingProxyType(
    {
        CallKind.READ: RetryBudget(attempts=6, first_delay=0.5, max_delay=4.0, seconds=10.0),
        # Control-plane writes have the lowest request rates (Route 53 allows five requests per second
        # per account, "Quotas on API requests"), so they back off from a longer first delay.
        CallKind.WRITE: RetryBudget(attempts=4, first_delay=1.0, max_delay=4.0, seconds=8.0),
    }
)
# Left in the invocation after the last sleep: room for one more call that hangs to its timeouts and
# for the step to answer, so retrying never runs a step into its Lambda timeout.
DEADLINE_MARGIN_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS + 1


def backoff(budget: RetryBudget, failures: int, rng: Callable[[], float] = random.random) -> float:
    """The sleep after the ``failures``-th failed attempt: capped exponential with "equal jitter".

    Half the delay is fixed and half random (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): the random half spreads retries out, the fixed half gives the budget a lower bound.
    """
    delay = min(budget.max_delay, budget.first_delay * 2 ** (failures - 1))
    return delay / 2 + rng() * delay / 2


def retrying[T](kind: CallKind, request: Callable[[], T], rng: Callable[[], float] = random.random) -> T:
    """``request()``, repeated after a transient failure within the kind's budget and the deadline.

    The last failure is re-raised as it came (a caller's ``translate`` names it).
    """
    budget = BUDGETS[kind]
    slept = 0.0
    failures = 0
    while True:
        try:
            return request()
        except (ClientError, ConnectionError, ReadTimeoutError) as exc:
            failures += 1
            if not is_transient(exc) or failures >= budget.attempts:
                raise
            delay = backoff(budget, failures, rng)
            remaining = clock.remaining_seconds()
            if slept + delay > budget.seconds or (
                remaining is not None and remaining - delay < DEADLINE_MARGIN_SECONDS
            ):
                raise
            clock.sleep(delay)
            slept += delay


def call[T](
    kind: CallKind,
    error: type[RegionshiftError],
    what: str,
    request: Callable[[], T],
    *,
    passthrough: frozenset[str] = frozenset(),
) -> T:
    """One AWS call as every adapter makes it: retried (``retrying``), then translated (``translate``)."""
    with translate(error, what, passthrough=passthrough):
        return retrying(kind, request)


@functools.cache
def _session() -> boto3.session.Session:
    """The process's session (a Lambda container's, or the emulator's across its drills)."""
    return boto3.session.Session()


class Clients:
    """A cache of one client per (service, region)."""

    def __init__(self, factory: Callable[..., Any] | None = None) -> None:
        self._factory = factory
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._cache:
            if self._factory is None:
                # One session for every client: its loader reads each service model once, where a
                # session per client would read and parse it again for every region (a plan's
                # replicas are read in each of its regions).
                self._factory = _session().client
            self._cache[key] = self._factory(service, region_name=region, config=_CONFIG)
        return self._cache[key]


@contextmanager
def translate(error: type[RegionshiftError], what: str, *, passthrough: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn AWS failures into domain errors: transient ones into ``TransientAwsError``.

    Codes in ``passthrough`` are re-raised untouched for the caller to interpret.
    """
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in passthrough:
            raise
        message = exc.response.get("Error", {}).get("Message", "")
        if is_transient(exc):
            raise TransientAwsError(f"{what}: {code}: {message}") from exc
        raise error(f"{what}: {code}: {message}") from exc
    except (ConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError(f"{what}: {exc}") from exc
    except BotoCoreError as exc:
        raise error(f"{what}: {exc}") from exc
