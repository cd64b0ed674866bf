"""The in-Lambda retry of transient AWS failures (``failover.clients.call``): budgets per kind of
call, the invocation's deadline, which failures count as transient, and sleeps in virtual time."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover import clock
from failover.clients import BUDGETS, DEADLINE_MARGIN_SECONDS, CallKind, call, retrying
from failover.errors import StateStoreError, TransientAwsError
from tests.conftest import NOW
from tests.unit.fakes import virtual_sleeps


def _error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class Flaky:
    """A request that fails with ``errors`` in turn, then answers ``{"ok": True}``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> dict[str, Any]:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


@pytest.fixture
def slept() -> Iterator[list[float]]:
    """Sleeps go to this list (virtual time) instead of the wall clock."""
    with virtual_sleeps() as sleeps:
        yield sleeps


def lowest() -> float:
    return 0.0


def highest() -> float:
    return 1.0


def throttled_forever() -> Flaky:
    return Flaky(*[_error("Throttling") for _ in range(100)])


@pytest.mark.parametrize("kind", list(CallKind))
def test_each_kind_stops_after_its_own_attempt_budget(kind: CallKind, slept: list[float]) -> None:
    # Given a request throttled on every attempt, and the shortest sleeps
    request = throttled_forever()
    # When it is retried
    with pytest.raises(ClientError):
        retrying(kind, request, rng=lowest)
    # Then it is attempted exactly the kind's budget, with a sleep between attempts
    assert request.attempts == BUDGETS[kind].attempts
    assert len(slept) == BUDGETS[kind].attempts - 1
    assert BUDGETS[CallKind.READ].attempts > BUDGETS[CallKind.WRITE].attempts


def test_sleeps_back_off_exponentially_with_half_of_each_delay_fixed(slept: list[float]) -> None:
    with pytest.raises(ClientError):
        retrying(CallKind.READ, throttled_forever(), rng=lowest)
    # Then the delays 0.5, 1, 2, 4, 4 s (capped) are halved by the lowest jitter, never below
    assert slept == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_the_time_budget_cuts_the_longest_sleeps_short(slept: list[float]) -> None:
    # Given the longest jitter: 0.5 + 1 + 2 + 4 s, and 4 s more would pass the read budget (10 s)
    request = throttled_forever()
    with pytest.raises(ClientError):
        retrying(CallKind.READ, request, rng=highest)
    assert slept == [0.5, 1.0, 2.0, 4.0]
    assert sum(slept) <= BUDGETS[CallKind.READ].seconds
    assert request.attempts == 5


def test_retrying_stops_before_the_invocation_deadline(slept: list[float]) -> None:
    # Given an invocation with 12 s left, whose clock advances with every sleep
    left = [12.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        left[0] -= seconds

    clock.use(lambda: NOW, sleep)
    request = throttled_forever()
    # When a throttled read is retried
    with clock.deadline(lambda: left[0]), pytest.raises(ClientError):
        retrying(CallKind.READ, request, rng=highest)
    # Then it gives up while the margin for one more hung call is still left
    assert left[0] >= DEADLINE_MARGIN_SECONDS
    assert slept == [0.5, 1.0, 2.0]
    assert request.attempts == 4


def test_no_time_left_means_no_retry(slept: list[float]) -> None:
    request = throttled_forever()
    with clock.deadline(lambda: DEADLINE_MARGIN_SECONDS), pytest.raises(ClientError):
        retrying(CallKind.WRITE, request, rng=lowest)
    assert request.attempts == 1 and slept == []


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (_error("Throttling"), True),
        (_error("ProvisionedThroughputExceededException"), True),
        (_error("PriorRequestNotComplete"), True),
        (_error("SomethingNew", 503), True),  # any 5xx
        (_error("AccessDenied", 403), False),
        (_error("ConditionalCheckFailedException"), False),
        (_error("InvalidDBInstanceState"), False),
    ],
)
def test_only_transient_failures_are_retried(error: ClientError, retried: bool, slept: list[float]) -> None:
    request = Flaky(error)
    if retried:
        assert retrying(CallKind.WRITE, request, rng=lowest) == {"ok": True}
        assert request.attempts == 2 and len(slept) == 1
    else:
        with pytest.raises(ClientError):
            retrying(CallKind.WRITE, request, rng=lowest)
        assert request.attempts == 1 and slept == []


def test_a_burst_shorter_than_the_budget_is_absorbed_in_the_lambda(slept: list[float]) -> None:
    request = Flaky(_error("Throttling"), _error("ServiceUnavailable", 503))
    answer = call(CallKind.READ, StateStoreError, "read state", request)
    assert answer == {"ok": True}
    assert request.attempts == 3 and len(slept) == 2


def test_an_exhausted_budget_becomes_the_transient_error_the_state_machine_retries(slept: list[float]) -> None:
    with pytest.raises(TransientAwsError, match="read state: Throttling"):
        call(CallKind.READ, StateStoreError, "read state", throttled_forever())


def test_a_definitive_refusal_keeps_its_domain_error_and_is_not_retried(slept: list[float]) -> None:
    request = Flaky(_error("AccessDenied", 403))
    with pytest.raises(StateStoreError, match="AccessDenied"):
        call(CallKind.WRITE, StateStoreError, "write state", request)
    assert request.attempts == 1


def test_a_passthrough_code_reaches_the_caller_untouched(slept: list[float]) -> None:
    request: Callable[[], Any] = Flaky(_error("ConditionalCheckFailedException"))
    with pytest.raises(ClientError):
        call(
            CallKind.WRITE,
            StateStoreError,
            "acquire lock",
            request,
            passthrough=frozenset({"ConditionalCheckFailedException"}),
        )


def test_a_storm_starts_either_at_a_moment_or_with_a_step() -> None:
    from pydantic import ValidationError

    from regionshift.emulator.scenario import Storm

    assert Storm.model_validate({"step": "PromoteFunction", "seconds": 60}).error == "Throttling"
    assert Storm.model_validate({"at": 0, "seconds": 60, "services": ["rds"]}).services == ["rds"]
    for bad in ({"seconds": 60}, {"at": 0, "step": "PromoteFunction", "seconds": 60}, {"at": 0, "seconds": 0}):
        with pytest.raises(ValidationError):
            Storm.model_validate(bad)
