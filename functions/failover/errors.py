"""Domain errors. The state machine's Retry and Catch clauses name these classes exactly.

A Lambda that raises one of them fails with ``errorType`` equal to the class name, which is the
error name Step Functions matches in ``ErrorEquals``.
"""


class RegionshiftError(Exception):
    """Base of every error the steps raise on purpose."""


class ConfigurationError(RegionshiftError):
    """The function's environment does not describe a valid plan."""


class TransientAwsError(RegionshiftError):
    """AWS answered with a throttle or a passing fault; the state machine retries it."""


class PromotionError(RegionshiftError):
    """The standby database could not be promoted (a definitive refusal from RDS)."""


class PromotionTimeoutError(RegionshiftError):
    """The promoted database did not become available within the plan's bound."""


class DnsUpdateError(RegionshiftError):
    """Route 53 rejected the record change."""


class DnsSyncTimeoutError(RegionshiftError):
    """The record change did not reach INSYNC within the plan's bound."""


class StateStoreError(RegionshiftError):
    """The run-state table could not be read or written."""


class DirectionUnreadableError(StateStoreError):
    """The recorded direction (CONTROL/DIRECTION) is not one: written by hand, or by another version."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version  # what a correction is written over


class NotificationError(RegionshiftError):
    """The notification could not be published."""


class StepFailedError(RegionshiftError):
    """An unexpected failure of a step, whose message was too long to carry whole (it is logged)."""


class ReportError(RegionshiftError):
    """The run's report could not be read from its history or written to the report bucket; it never
    fails the run (Finalize records it)."""


class FencingError(RegionshiftError):
    """RDS refused to fence an old primary (its answer is recorded; it never fails the run)."""


class ApprovalDeniedError(RegionshiftError):
    """An operator denied a run waiting for approval: ``regionshift deny`` fails the run's callback task
    with this name (SendTaskFailure), and the ASL catches it by name."""


class ApprovalError(RegionshiftError):
    """An answer to an approval request could not be given: no run waits for it, it was answered
    already, or the wait ended first."""
