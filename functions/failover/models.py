"""Typed inputs and outputs of every step.

The state machine passes one JSON *run document* from state to state; each step reads the sections
it needs (unknown sections are ignored) and its result is written back under its own key by the
ASL's ``ResultPath``. Field names are camelCase on the wire, snake_case in Python.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

# Step Functions fails a state whose input or output exceeds 256 KiB (States.DataLimitExceeded, which
# States.ALL cannot catch). Every field that can grow has a bound, so the run document stays small
# whatever AWS or an operator sends: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
REASON_LIMIT = 2000
CAUSE_LIMIT = 4096
EXCERPT_LIMIT = 1024


def clip_text(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes (what Step Functions counts), cut at a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "\u2026"


def _clip(limit: int) -> AfterValidator:
    return AfterValidator(lambda text: clip_text(text, limit))


Reason = Annotated[str, _clip(REASON_LIMIT)]
Cause = Annotated[str, _clip(CAUSE_LIMIT)]
Excerpt = Annotated[str, _clip(EXCERPT_LIMIT)]


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


TriggerKind = Literal["alarm", "manual", "reevaluation"]


class TriggerInfo(Model):
    """What started the run. ``reevaluation``: this stack re-evaluating an alarm run that ended
    REFUSED for a passing reason or ROLLED_BACK (``attempt`` counts them; ``of`` is the first run)."""

    kind: TriggerKind
    event_id: Excerpt | None = None
    event_time: datetime
    alarm_name: Excerpt | None = None
    operator: Excerpt | None = None
    reason: Reason | None = None
    # A manual run may name the standby region to move to; otherwise Assess picks it.
    target_region: Excerpt | None = None
    attempt: int = 0
    of: Excerpt | None = None


class Flags(Model):
    dry_run: bool = False
    accept_data_loss: bool = False
    bypass_cooldown: bool = False
    # A planned switchover: the primary is healthy, and the writer moves only once nothing is lost.
    switchover: bool = False


class Waits(Model):
    """Wait-state durations the ASL reads with ``SecondsPath``."""

    confirm_interval_seconds: int
    promotion_poll_seconds: int
    dns_poll_seconds: int


class PlanSummary(Model):
    name: str
    primary_region: str
    standby_regions: list[str]
    databases: int
    records: int
    zones: int


class Direction(Model):
    """Where the estate's writers are now, when it no longer stands as the plan was written: a run that
    moved the writers records it, failback adds the replicas it rebuilt (docs/failback.md). Every step
    of a run reads the plan through it (``Plan.directed``), as Intake found it."""

    primary_region: str
    # Per RDS database, its DB instance in a region where that is not the plan's (a rebuilt replica).
    instances: dict[str, dict[str, str]] = {}
    # Each change adds one: a change is written only over the version it read (nothing is lost).
    version: int = 0
    at: datetime | None = None
    by: Excerpt | None = None  # the run or operator action that set it


class IntakeInput(Model):
    trigger: Any = None
    execution: Execution


class ApprovalNeed(Model):
    """The plan's approval policy for this run's trigger kind: the run waits for a person's answer
    after every check (the ASL reads ``timeoutSeconds`` with ``TimeoutSecondsPath``)."""

    timeout_seconds: int
    on_timeout: Literal["proceed", "refuse"]


class IntakeResult(Model):
    at: datetime
    decision: Literal["PROCEED", "REFUSED"]
    reason: Reason
    trigger: TriggerInfo | None = None
    # A trigger that could not be parsed is kept only as a bounded excerpt, for the audit.
    raw_excerpt: Excerpt | None = None
    flags: Flags = Flags()
    waits: Waits
    plan: PlanSummary
    # Set when the plan makes this kind of run wait for approval before the point of no return.
    approval: ApprovalNeed | None = None
    # The estate's direction as recorded when the run started (None: as the plan was written).
    direction: Direction | None = None


class IntakeOutput(Model):
    """Intake's result replaces the whole document: from here on, the raw trigger is gone."""

    execution: Execution
    intake: IntakeResult


class GateResult(Model):
    at: datetime
    decision: Literal["PROCEED", "REFUSED"]
    reason: Reason
    # A refusal that may not hold later (another run's lock): an alarm run is re-evaluated.
    transient: bool = False
    acquired: bool
    lease_until: datetime | None = None


class CheckerVotes(Model):
    health_check_id: str
    healthy: int
    failing: int
    healthy_percent: float | None
    verdict: Literal["HEALTHY", "UNHEALTHY", "UNKNOWN"]

    @classmethod
    def tally(cls, health_check_id: str, healthy: int, failing: int, healthy_percent_needed: int) -> "CheckerVotes":
        """Votes counted by Route 53's rule: healthy while strictly more than ``healthy_percent_needed``
        % say so, compared exactly (9 of 50 is 18 %, not more than 18 %); no vote at all is UNKNOWN."""
        total = healthy + failing
        if total == 0:
            return cls(health_check_id=health_check_id, healthy=0, failing=0, healthy_percent=None, verdict="UNKNOWN")
        above = 100 * healthy > healthy_percent_needed * total
        return cls(
            health_check_id=health_check_id,
            healthy=healthy,
            failing=failing,
            healthy_percent=round(100.0 * healthy / total, 1),
            verdict="HEALTHY" if above else "UNHEALTHY",
        )


ResourceKind = Literal["rds-instance", "aurora-global", "elasticache-global"]


class ReplicaState(Model):
    """A moved resource's member in one region: an RDS read replica, an Aurora secondary cluster or a
    global datastore member. ``source`` is the writer it follows (None: it is the writer)."""

    identifier: str
    database: str = ""  # the plan's name for it
    region: str = ""
    kind: ResourceKind = "rds-instance"
    global_id: str | None = None  # the global cluster or global datastore
    # A failover or switchover to this member is under way (Aurora's FailoverState names its target).
    incoming: bool = False
    exists: bool
    # The stack's role may not read it (not tagged for the plan): nothing else about it is known.
    denied: bool = False
    status: str | None = None
    source: str | None = None
    endpoint: str | None = None
    lag_seconds: float | None = None


class TableState(Model):
    """A DynamoDB global table's replica in the target region, as Assess found it."""

    name: str  # the plan's name for it
    table: str
    region: str
    exists: bool
    denied: bool = False
    status: str | None = None  # the replica's status (its TableStatus, or its ReplicaStatus where listed)
    # The primary region's table is among its replicas (the same global table).
    global_with_primary: bool = True
    lag_seconds: float | None = None  # ReplicationLatency from the primary's replica, in seconds


class StandbyVerdict(Model):
    """One standby region as Assess saw it, in plan order: chosen, passed over (and why), or not looked at."""

    region: str
    votes: CheckerVotes | None = None
    chosen: bool = False
    passed_over: Reason | None = None


class AssessResult(Model):
    at: datetime
    decision: Literal["PROCEED", "NO_ACTION", "REFUSED", "RECHECK"]
    reason: Reason
    # A refusal that may not hold later (lag, the standby's health or state): re-evaluated.
    transient: bool = False
    probe: int
    primary: CheckerVotes | None = None
    standbys: list[StandbyVerdict] = []
    # The region the run moves to, why it (and not another), and its members as verified, in the
    # plan's stages (the promotion Maps' items: a stage moves once the one before it has).
    target: str | None = None
    why_chosen: Reason | None = None
    stages: list[list[ReplicaState]] = []
    tables: list[TableState] = []
    data_loss_accepted: bool = False
    # A switchover: since when every RDS replica's lag has read 0 on every read (None: not yet, or not
    # a switchover); the writer moves once that has held for the plan's drain window.
    drained_since: datetime | None = None
    # What was verified before the point of no return (one line per check), shown by a dry run too.
    verified: list[Reason] = []
    # Why Route 53's API did not answer this run (failover.health): its later steps read the probes
    # without asking it again (each attempt costs the call's retries).
    route53_unreachable: Reason | None = None

    @property
    def replicas(self) -> list[ReplicaState]:
        return [replica for stage in self.stages for replica in stage]

    @model_validator(mode="before")
    @classmethod
    def _one_stage(cls, data: Any) -> Any:
        """A run started before stages existed (its execution keeps the definition it started with)
        carries ``replicas``: one stage."""
        if isinstance(data, dict) and "replicas" in data and "stages" not in data:
            data = {**data, "stages": [data["replicas"]]}
        return data


class PromotionState(Model):
    at: datetime
    identifier: str
    database: str
    region: str
    kind: ResourceKind = "rds-instance"
    global_id: str | None = None
    already_promoted: bool
    available: bool = False
    status: str | None = None
    polls: int = 0


def _staged(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [value]
    return value


class PromotionItem(Model):
    """One iteration of the promotion Map: a replica of the target region, promoted and polled on its own."""

    execution: Execution
    waits: Waits
    replica: ReplicaState
    # A planned switchover (the run's flag): an Aurora global database switches over, losing nothing.
    switchover: bool = False
    promotion: PromotionState | None = None


class TargetLook(Model):
    """The target region looked at again once every database is a writer, before DNS moves."""

    at: datetime
    region: str
    healthy: bool
    probes: int
    votes: str
    # Still unhealthy after every look: DNS moves anyway (the only writers are here) and the run is DEGRADED.
    gave_up: bool = False


class RecordChange(Model):
    """One record as it was and as the run sets it (targets as text: a CNAME's value or "ALIAS name")."""

    zone_id: str
    name: str
    type: str
    before: str | None
    after: str


class ZoneChange(Model):
    """The one change batch of a hosted zone."""

    zone_id: str
    change_id: str | None
    status: str
    records: int


class Switch(Model):
    """Data-plane mode: one region's serving alarm, the state the run wants it in (OK: the region
    serves; ALARM: it does not) and the state last read."""

    region: str
    alarm: str
    wanted: Literal["OK", "ALARM"]
    state: str | None = None


class DnsState(Model):
    at: datetime
    changes: list[RecordChange]
    zones: list[ZoneChange]
    status: str
    polls: int = 0
    mode: Literal["upsert", "data-plane"] = "upsert"
    switch: list[Switch] = []


class StepError(Model):
    """What a Catch clause stores at ``$.error``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: Excerpt = Field(alias="Error")
    cause: Cause | None = Field(default=None, alias="Cause")


class ApprovalAnswer(Model):
    """A person's answer to a run waiting for approval: sent by ``regionshift approve`` as the task's
    output, or by ``regionshift deny`` as the failure's Cause (JSON)."""

    decision: Literal["APPROVED", "DENIED"]
    operator: Excerpt
    reason: Reason
    at: datetime


class ApprovalResult(Model):
    """``$.approval``: the answer (a denial's is read back from the Catch's Cause by the ASL), or, when
    none came in time, ``timedOut`` (the plan's policy applied)."""

    answer: ApprovalAnswer | None = None
    timed_out: bool = False


class ApprovalInput(Model):
    """What the AwaitApproval task sends the Approval step: its task token and the decision to show."""

    token: Annotated[str, Field(min_length=1, max_length=2048)]  # SendTaskSuccess's taskToken bounds
    execution: Execution
    intake: IntakeResult
    assess: AssessResult


class ApprovalRequested(Model):
    """The Approval step's answer (discarded: the callback task's result is the person's answer)."""

    at: datetime
    deadline: datetime
    message_id: str | None = None


class RunResult(Model):
    at: datetime | None = None
    outcome: Outcome
    reason: Reason
    transient: bool = False
    database_promoted: bool | None = None
    # After a promotion nothing moves back: which databases are writers now, which records point at
    # the target region, and which do not.
    promoted: list[str] = []
    moved: list[str] = []
    not_moved: list[str] = []
    rollback_error: StepError | None = None


class FenceCode(StrEnum):
    """What the Fence step did about one moved resource's old primary: one letter each, in the plan's
    order of ``movers``, so that the run document stays small whatever the plan (its texts are in
    ``failover.fencing``)."""

    STOPPED = "S"  # StopDBInstance accepted, or the instance already stopping / stopped
    AURORA = "A"  # Aurora demotes the old primary cluster itself: no call
    CACHE = "C"  # the datastore's failover made the old primary a secondary: no call
    NOT_PROMOTED = "P"  # this run did not move this resource: its old primary is still its writer
    PLAN_NONE = "N"  # the plan says fence: none
    UNREACHABLE = "U"  # the primary region did not answer
    REFUSED = "R"  # RDS refused to stop it (read replicas, Multi-AZ SQL Server, its state)
    DENIED = "D"  # not tagged for the plan: out of the stack's reach
    GONE = "G"  # the instance no longer exists

    @property
    def by_hand(self) -> bool:
        """A person must fence it (or decide not to)."""
        return self in (FenceCode.PLAN_NONE, FenceCode.UNREACHABLE, FenceCode.REFUSED, FenceCode.DENIED)


# The first refusal's words from RDS, kept for the page: bounded, as the whole document must stay
# below Step Functions' payload limit (tests/unit/test_run_document_size.py).
FENCE_NOTE_LIMIT = 200


class FenceResult(Model):
    """The Fence step's result; or, after its Catch, only ``error`` (the step failed: nothing is known)."""

    at: datetime | None = None
    codes: Annotated[str, Field(pattern=r"^[SACPNURDG]*$")] = ""
    note: Annotated[str, _clip(FENCE_NOTE_LIMIT)] | None = None
    error: Annotated[str, _clip(FENCE_NOTE_LIMIT)] | None = None

    @property
    def entries(self) -> list[FenceCode]:
        return [FenceCode(c) for c in self.codes]


class AlarmWatch(Model):
    """One detection alarm after the writers moved: which region it watched, and which it watches now."""

    alarm: Excerpt
    region: str  # where the alarm is
    before: str | None = None  # the health check id or region it watched (None: no such alarm)
    after: str | None = None  # what it watches now (None: unchanged)
    note: Annotated[str, _clip(FENCE_NOTE_LIMIT)] | None = None  # why it was not pointed at the new primary


class WatchResult(Model):
    """The Watch step's result; or, after its Catch, only ``error``."""

    at: datetime | None = None
    primary: str | None = None  # the region detection should now watch
    alarms: list[AlarmWatch] = []
    error: Annotated[str, _clip(FENCE_NOTE_LIMIT)] | None = None


class NotifyResult(Model):
    published: bool
    message_id: str | None = None
    subject: Excerpt
    error: Reason | None = None


class RunDocument(Model):
    """The whole document as Notify and Finalize see it: every section optional but the first."""

    execution: Execution
    intake: IntakeResult | None = None
    gate: GateResult | None = None
    assess: AssessResult | None = None
    approval: ApprovalResult | None = None
    # The promotion Maps' output: one list per stage of the plan (a run started before stages existed
    # has one flat list: one stage).
    promotion_stages: Annotated[list[list[PromotionState]] | None, BeforeValidator(_staged)] = Field(
        default=None, alias="promotions"
    )
    target: TargetLook | None = None
    dns: DnsState | None = None
    error: StepError | None = None
    result: RunResult | None = None
    fence: FenceResult | None = None
    watch: WatchResult | None = None
    notification: NotifyResult | None = None
    notification_error: StepError | None = None

    @property
    def promoted(self) -> list[str]:
        """The members this run made writers: as Rollback found them (DEGRADED), else the promotions."""
        if self.result is not None and self.result.promoted:
            return self.result.promoted
        return [p.identifier for p in self.promotions or []]

    @property
    def promotions(self) -> list[PromotionState] | None:
        """Every promotion of the run, stage after stage."""
        if self.promotion_stages is None:
            return None
        return [p for stage in self.promotion_stages for p in stage]


class Reevaluation(Model):
    """The next look at an alarm run's outcome, started by the state machine after ``wait_seconds``."""

    attempt: int
    of: str
    name: str
    wait_seconds: int
    trigger: TriggerInfo


class FinalizeResult(Model):
    outcome: Outcome
    reason: Reason
    lock_released: bool
    cooldown_until: datetime | None = None
    reevaluate: Reevaluation | None = None
    report_error: str | None = None  # the run's report could not be written (the run went on)
    direction: Direction | None = None  # where the writers are now, when this run moved them


# --- the probe (standby-side detection, outside any run) ---------------------------------------------


class ProbeInput(Model):
    """What the schedule sends the probe: its scheduled time (EventBridge Scheduler's
    ``<aws.scheduler.scheduled-time>``), which stamps the round's datapoints; absent, the clock does."""

    scheduled_time: AwareDatetime | None = None


class ProbeAnswer(Model):
    """One region's probe: healthy, the HTTP status it answered, or why it did not answer in time."""

    region: str
    healthy: bool
    status: int | None = None
    error: Excerpt | None = None


class ProbeOutput(Model):
    at: datetime
    vantage: str  # the region the probe ran in
    answers: list[ProbeAnswer]
