"""Typed inputs and outputs of every step.

The state machine passes one JSON *run document* from state to state; each step reads the sections
it needs (unknown sections are ignored) and its result is written back under its own key by the
ASL's ``ResultPath``. Field names are camelCase on the wire, snake_case in Python.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Outcome(StrEnum):
    """How a run ended: the one vocabulary of runs, reports, notifications and drills."""

    FAILED_OVER = "FAILED_OVER"
    NO_ACTION = "NO_ACTION"
    REFUSED = "REFUSED"
    ROLLED_BACK = "ROLLED_BACK"
    DEGRADED = "DEGRADED"
    DRY_RUN = "DRY_RUN"

    @property
    def changed_writer(self) -> bool:
        """The standby became the writer: the cooldown starts and the old primary must be fenced."""
        return self in (Outcome.FAILED_OVER, Outcome.DEGRADED)

    @property
    def failed_execution(self) -> bool:
        """The execution ends FAILED (so that Step Functions' failed-executions alarm pages someone)."""
        return self in (Outcome.ROLLED_BACK, Outcome.DEGRADED)


class Model(BaseModel):
    """Base of the wire models: camelCase aliases, unknown sections ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


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
