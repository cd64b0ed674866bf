"""Typed inputs and outputs of every step.

The state machine passes one JSON *run document* from state to state; each step reads the sections
it needs (unknown sections are ignored) and its result is written back under its own key by the
ASL's ``ResultPath``. Field names are camelCase on the wire, snake_case in Python.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from failover.settings import REGION_RE, normalise_record_name

Outcome = Literal["FAILED_OVER", "NO_ACTION", "REFUSED", "ROLLED_BACK", "DEGRADED", "DRY_RUN"]


class Model(BaseModel):
    """Base of the wire models: camelCase aliases, unknown sections ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --- triggers ------------------------------------------------------------------------------------


class AlarmState(BaseModel):
    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str | None = None
    timestamp: datetime | None = None


class AlarmDetail(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    alarm_name: str
    state: AlarmState
    previous_state: AlarmState | None = None


class AlarmEvent(EventBridgeModel):
    """An EventBridge ``CloudWatch Alarm State Change`` event."""

    source: Literal["aws.cloudwatch"]  # type: ignore[assignment]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")  # type: ignore[assignment]
    detail: AlarmDetail  # type: ignore[assignment]
    # A time without a zone cannot be compared with the clock: refused, not guessed.
    time: AwareDatetime  # type: ignore[assignment]


class ManualTrigger(Model):
    """What an operator passes to start a run by hand (a drill or a planned switch).

    The optional ``sourceRegion`` / ``targetRegion`` / ``replica`` / ``records`` fields are
    assertions: a run refuses when they disagree with the deployed plan, so an operator cannot move
    the wrong thing by mistake.
    """

    # Strict: "yes" or 1 is not a boolean here; an operator's intent must be unambiguous.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)

    operator: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    dry_run: bool = False
    accept_data_loss: bool = False
    bypass_cooldown: bool = False
    source_region: Annotated[str, Field(pattern=REGION_RE.pattern)] | None = None
    target_region: Annotated[str, Field(pattern=REGION_RE.pattern)] | None = None
    replica: Annotated[str, Field(min_length=1)] | None = None
    records: list[str] | None = None

    @field_validator("operator", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [normalise_record_name(n) for n in value]


# --- the run document ------------------------------------------------------------------------------


class Execution(Model):
    id: str
    started_at: datetime


class TriggerInfo(Model):
    kind: Literal["alarm", "manual"]
    event_id: str | None = None
    event_time: datetime
    alarm_name: str | None = None
    operator: str | None = None
    reason: str | None = None


class Flags(Model):
    dry_run: bool = False
    accept_data_loss: bool = False
    bypass_cooldown: bool = False


class Waits(Model):
    """Wait-state durations the ASL reads with ``SecondsPath``."""

    confirm_interval_seconds: int
    promotion_poll_seconds: int
    dns_poll_seconds: int


class PlanSummary(Model):
    name: str
    primary_region: str
    standby_region: str
    primary_db: str
    standby_db: str
    records: dict[str, str]


class IntakeInput(Model):
    trigger: Any = None
    execution: Execution


class IntakeResult(Model):
    at: datetime
    decision: Literal["PROCEED", "REFUSED"]
    reason: str
    trigger: TriggerInfo | None = None
    flags: Flags = Flags()
    waits: Waits
    plan: PlanSummary


class GateResult(Model):
    at: datetime
    decision: Literal["PROCEED", "REFUSED"]
    reason: str
    acquired: bool
    lease_until: datetime | None = None


class CheckerVotes(Model):
    health_check_id: str
    healthy: int
    failing: int
    healthy_percent: float | None
    verdict: Literal["HEALTHY", "UNHEALTHY", "UNKNOWN"]


class ReplicaState(Model):
    identifier: str
    exists: bool
    status: str | None = None
    source: str | None = None
    lag_seconds: float | None = None


class AssessResult(Model):
    at: datetime
    decision: Literal["PROCEED", "NO_ACTION", "REFUSED", "RECHECK"]
    reason: str
    probe: int
    primary: CheckerVotes | None = None
    standby: CheckerVotes | None = None
    replica: ReplicaState | None = None
    data_loss_accepted: bool = False


class PromotionState(Model):
    at: datetime
    identifier: str
    already_promoted: bool
    available: bool = False
    status: str | None = None
    polls: int = 0


class RecordChange(Model):
    name: str
    type: str
    before: str | None
    after: str
    ttl: int


class DnsState(Model):
    at: datetime
    change_id: str | None
    changes: list[RecordChange]
    status: str
    polls: int = 0


class StepError(Model):
    """What a Catch clause stores at ``$.error``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class RunResult(Model):
    at: datetime | None = None
    outcome: Outcome
    reason: str
    restored: list[RecordChange] = []
    database_promoted: bool | None = None
    rollback_error: StepError | None = None


class NotifyResult(Model):
    published: bool
    message_id: str | None = None
    subject: str
    error: str | None = None


class RunDocument(Model):
    """The whole document as Notify and Finalize see it: every section optional but the first."""

    execution: Execution
    trigger: Any = None
    intake: IntakeResult | None = None
    gate: GateResult | None = None
    assess: AssessResult | None = None
    promotion: PromotionState | None = None
    dns: DnsState | None = None
    error: StepError | None = None
    result: RunResult | None = None
    notification: NotifyResult | None = None
    notification_error: StepError | None = None


class FinalizeResult(Model):
    outcome: Outcome
    reason: str
    lock_released: bool
    cooldown_until: datetime | None = None
