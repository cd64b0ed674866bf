"""What the run table holds, typed: the lock, the pause switch, the cooldown, operator actions, the
facts a run keeps outside its own document, and the audit record.

The Lambdas write these and the operator tools read them back: this module is their one definition.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from failover.models import (
    ApprovalAnswer,
    ApprovalResult,
    AssessResult,
    DnsState,
    Excerpt,
    FenceResult,
    Flags,
    GateResult,
    Model,
    NotifyResult,
    Outcome,
    PromotionState,
    Reason,
    StepError,
    TargetLook,
    TriggerInfo,
    WatchResult,
)


class RunFact(StrEnum):
    """Facts a run saves in the table before acting, so that a failed or retried step cannot lose them."""

    PROMOTION_REQUESTED = "promotion-requested"
    DNS_BEFORE = "dns-before"


class LockHolder(Model):
    owner: str
    lease_until: datetime
    acquired_at: datetime | None = None


class Pause(Model):
    operator: str
    reason: str
    at: datetime


class Cooldown(Model):
    until: datetime
    execution: str
    outcome: Outcome


OperationKind = Literal["pause", "resume", "ack", "unlock", "approve", "deny", "failback", "direction"]


class OperatorAction(Model):
    at: datetime
    kind: OperationKind
    operator: str
    reason: str


class ApprovalRequest(Model):
    """A run waiting for approval, as the Approval step records it: the callback task's token (which
    ``regionshift approve`` / ``deny`` answer) and until when the run waits."""

    execution: str
    token: str
    requested_at: datetime
    deadline: datetime
    on_timeout: Literal["proceed", "refuse"]
    target: str | None = None
    answer: ApprovalAnswer | None = None  # read back from its own item: at most one answer


class Decisions(Model):
    intake: str | None = None
    gate: GateResult | None = None
    assess: AssessResult | None = None
    # The answer to the approval request, or that none came in time (plans that wait for approval).
    approval: ApprovalResult | None = None


class Changes(Model):
    promotions: list[PromotionState] | None = None
    target: TargetLook | None = None
    dns: DnsState | None = None
    # What the Fence step did about each old primary (failover.fencing).
    fence: FenceResult | None = None
    # Which region the detection alarms watch after the writers moved (steps/watch.py).
    watch: WatchResult | None = None


class AuditRecord(Model):
    """One run, as Finalize records it and as `history`, `status` and the run reports read it."""

    execution: str
    started_at: datetime
    finished_at: datetime
    plan: str
    outcome: Outcome
    reason: Reason
    trigger: TriggerInfo | None = None
    # When the trigger could not be parsed: a bounded excerpt of what arrived, for the investigation.
    raw_trigger: Excerpt | None = None
    flags: Flags | None = None
    decisions: Decisions = Decisions()
    changes: Changes = Changes()
    error: StepError | None = None
    rollback_error: StepError | None = None
    # After a promotion: which databases were promoted, which plan records point at the target, and
    # which were left as they stand.
    promoted: list[str] = []
    moved: list[str] = []
    not_moved: list[str] = []
    notification: NotifyResult | None = None
    notification_error: StepError | None = None
    lock_released: bool
    cooldown_until: datetime | None = None
