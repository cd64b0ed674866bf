"""Drill scenarios: the estate's state, what happens to it, the trigger and the expected outcome.

A scenario is a YAML or JSON file; the shipped library lives in ``regionshift/scenarios``. The
format is documented in ``docs/scenarios.md``.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from failover.models import Outcome

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HealthPoint(Strict):
    """From ``at`` seconds after the first trigger on, ``failing`` of the checkers report failure."""

    at: Annotated[float, Field(ge=0)] = 0
    failing: Annotated[int, Field(ge=0)]


class Health(Strict):
    checkers: Annotated[int, Field(ge=0, le=16)] = 8
    primary: list[HealthPoint] = [HealthPoint(failing=8)]
    standby: list[HealthPoint] = [HealthPoint(failing=0)]
    # The health checks' HealthCheckConfig (Route 53 allows 10 or 30 s, and 1 to 10 results).
    request_interval: Literal[10, 30] = Field(default=30, alias="requestInterval")
    failure_threshold: Annotated[int, Field(ge=1, le=10, alias="failureThreshold")] = 3
    # From this many seconds on, Route 53 publishes no HealthCheckStatus (the alarm sees missing data).
    metric_stops_at: float | None = Field(default=None, ge=0, alias="metricStopsAt")


class Replica(Strict):
    exists: bool = True
    lag_seconds: float | None = Field(default=2.0, alias="lagSeconds")
    # "primary" replicates from the plan's primary; any other value names a foreign source database.
    source: str = "primary"
    status: str = "available"
    promotion_polls: Annotated[int, Field(ge=0, alias="promotionPolls")] = 2
    # When set, the promotion completes this many virtual seconds after the call instead.
    promotion_seconds: float | None = Field(default=None, ge=0, alias="promotionSeconds")


class Lock(Strict):
    owner: str = "arn:aws:states:us-west-2:123456789012:execution:regionshift-orders:other-run"
    lease_seconds: int = Field(default=600, alias="leaseSeconds")  # negative: already expired


class Control(Strict):
    paused: dict[str, str] | None = None  # {"operator": ..., "reason": ...}
    cooldown_seconds: int | None = Field(default=None, alias="cooldownSeconds")
    lock: Lock | None = None


class Estate(Strict):
    health: Health = Health()
    replica: Replica = Replica()
    dns_pending_polls: Annotated[int, Field(ge=0, alias="dnsPendingPolls")] = 1
    # When set, a change is INSYNC this many virtual seconds after it was submitted instead.
    dns_sync_seconds: float | None = Field(default=None, ge=0, alias="dnsSyncSeconds")
    control: Control = Control()
    # Properties of the plan's health-check alarm replaced as deployed (e.g. a misconfiguration).
    alarm: dict[str, Any] = {}


class AlarmTrigger(Strict):
    state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = "ALARM"
    age_seconds: float = Field(default=5, alias="ageSeconds")
    alarm_name: str | None = Field(default=None, alias="alarmName")  # another alarm's name
    source: str = "aws.cloudwatch"
    event_id: str | None = Field(default=None, alias="eventId")


class Detection(Strict):
    """No synthetic event: the estate's own chain (health checkers, HealthCheckStatus, the alarm,
    EventBridge) runs minute by minute in virtual time; runs start when, and only if, it fires."""

    # How long the chain is watched (virtual seconds from the scenario's start) if nothing fires.
    horizon_seconds: Annotated[float, Field(gt=0, le=86_400, alias="horizonSeconds")] = 1800


class Trigger(Strict):
    """Exactly one of: the estate's detection chain, a synthetic alarm event (through the EventBridge
    rule), a manual input, raw input."""

    detection: Detection | None = None
    alarm: AlarmTrigger | None = None
    manual: dict[str, Any] | None = None
    raw: Any = None
    raw_given: bool = Field(default=False, exclude=True)
    # Start this many executions at once with the same input: for an alarm, the same event
    # delivered more than once (EventBridge delivers at least once); otherwise racing operators.
    copies: Annotated[int, Field(ge=1, le=20)] = 1

    @model_validator(mode="before")
    @classmethod
    def _mark_raw(cls, data: Any) -> Any:
        if isinstance(data, dict) and "raw" in data:
            data = {**data, "raw_given": True}
        return data

    @model_validator(mode="after")
    def _one(self) -> "Trigger":
        given = sum([self.detection is not None, self.alarm is not None, self.manual is not None, self.raw_given])
        if given != 1:
            raise ValueError("a trigger is exactly one of: detection, alarm, manual, raw")
        return self


class Fault(Strict):
    """An AWS call made by a Lambda that is slow, fails, or takes effect while its answer is lost.

    With ``service: lambda`` it is the Lambda invocation itself (``operation`` is the function's
    logical id): a ``Lambda.*`` error means the service failed the invoke and the handler never ran;
    ``Sandbox.Timedout`` means the handler ran (its calls took effect) but timed out before answering.
    """

    service: str
    operation: str
    error: str | None = None  # None: the call succeeds, after its latency
    latency: Annotated[float, Field(ge=0)] = 0  # virtual seconds the call takes
    message: str = "injected by the scenario"
    times: Annotated[int, Field(ge=1)] = 1_000_000  # how many matching calls fail (default: all)
    after: Annotated[int, Field(ge=0)] = 0  # matching calls that succeed first
    lost_response: bool = Field(default=False, alias="lostResponse")  # the call takes effect, the caller sees the error


class Expect(Strict):
    outcome: Outcome | None  # the headline (most consequential) outcome; None: no run may start
    runs: Annotated[int, Field(ge=0)] | None = None
    outcomes: list[Outcome] | None = None  # every run's outcome, compared as a multiset


class OperatorAction(Strict):
    operator: str = "drill-operator"
    reason: str = "drill"


class Step(Strict):
    """One thing that happens after the first trigger's runs have finished."""

    trigger: Trigger | None = None
    ack: OperatorAction | None = None
    pause: OperatorAction | None = None
    resume: bool = False
    advance: Annotated[float, Field(ge=0)] | None = None  # virtual seconds

    @model_validator(mode="after")
    def _one(self) -> "Step":
        given = sum(
            [
                self.trigger is not None,
                self.ack is not None,
                self.pause is not None,
                self.resume,
                self.advance is not None,
            ]
        )
        if given != 1:
            raise ValueError("a step is exactly one of: trigger, ack, pause, resume, advance")
        return self


class Scenario(Strict):
    name: str
    description: str
    expect: Expect
    plan: dict[str, Any] = {}  # template parameter overrides
    estate: Estate = Estate()
    trigger: Trigger
    then: list[Step] = []
    faults: list[Fault] = []


class ScenarioError(ValueError):
    """A scenario file is missing or malformed."""


def library() -> list[Path]:
    return sorted(p for p in LIBRARY.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def find(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in library():
        if candidate.stem == name_or_path:
            return candidate
    known = ", ".join(p.stem for p in library())
    raise ScenarioError(f"no scenario named {name_or_path!r} (known: {known})")


def load(name_or_path: str) -> Scenario:
    path = find(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML/JSON: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
