"""boto3 clients, created on first use (never at import time) and translated errors.

Retries live in one place, the state machine: its backoff with full jitter is visible in the
execution history and bounded below each task's timeout. botocore therefore makes one attempt and
times out quickly, and throttles or passing faults surface as ``TransientAwsError``.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from failover.errors import RegionshiftError, TransientAwsError

_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    # Well inside the shortest function timeout (10 s), so a hung call fails as a retryable error.
    connect_timeout=2,
    read_timeout=5,
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


class Clients:
    """A cache of one client per (service, region)."""

    def __init__(self, factory: Callable[..., Any] | None = None) -> None:
        self._factory = factory
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._cache:
            factory = self._factory or boto3.session.Session().client
            self._cache[key] = factory(service, region_name=region, config=_CONFIG)
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
        if code in TRANSIENT_CODES:
            raise TransientAwsError(f"{what}: {code}: {message}") from exc
        raise error(f"{what}: {code}: {message}") from exc
    except (ConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError(f"{what}: {exc}") from exc
    except BotoCoreError as exc:
        raise error(f"{what}: {exc}") from exc
