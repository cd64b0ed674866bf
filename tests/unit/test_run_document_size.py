"""The largest run document the largest valid plan can produce, measured as Step Functions counts it.

Every section present, MAX_RECORDS records whose names and targets are 253 characters, every clipped
field (Reason / Cause / Excerpt) at its clip limit; serialised as the ASL carries it (``wire()``) plus
the sections the ASL writes beside the model (``rollbackError``, ``final``, ``finalizeError``).
"""

from datetime import UTC, datetime
from typing import Any

from failover import models as m
from failover.settings import MAX_RECORDS, Settings
from regionshift.emulator.patches import PAYLOAD_LIMIT_BYTES, payload_bytes
from tests.conftest import PLAN_ENV

# What Assess records before the point of no return: health, replica, lag, and one line for all records.
VERIFIED_LINES = 4
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _host(tag: str, i: int) -> str:
    """A valid 253-character record name: four labels of 63, 63, 63 and 61 characters."""
    return ".".join([f"{tag}{i:03d}".ljust(63, "a"), "b" * 63, "c" * 63, "d" * 61])


def largest_document(fill: str) -> dict[str, Any]:
    reason, cause, excerpt = fill * m.REASON_LIMIT, fill * m.CAUSE_LIMIT, fill * m.EXCERPT_LIMIT
    names = [_host("r", i) for i in range(MAX_RECORDS)]
    targets = [_host("t", i) for i in range(MAX_RECORDS)]
    # The largest plan Settings accepts: this many records, names and targets at their length limit.
    plan = Settings.model_validate(
        {
            **{key.lower(): value for key, value in PLAN_ENV.items()},
            "plan_name": "p" * 64,
            "primary_db_identifier": "a" * 63,
            "standby_db_identifier": "b" * 63,
            "record_names": ",".join(names),
            "standby_targets": ",".join(targets),
        }
    )
    assert len(plan.records) == MAX_RECORDS and {len(n) for n in plan.records} == {253}
    execution_arn = "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:" + "m" * 80 + ":" + "e" * 80
    votes = m.CheckerVotes(health_check_id="h" * 64, healthy=16, failing=16, healthy_percent=50.0, verdict="UNHEALTHY")
    error = m.StepError(Error=excerpt, Cause=cause)
    document = m.RunDocument(
        execution=m.Execution(id=execution_arn, started_at=NOW),
        intake=m.IntakeResult(
            at=NOW,
            decision="PROCEED",
            reason=reason,
            trigger=m.TriggerInfo(
                kind="manual",
                event_id=excerpt,
                event_time=NOW,
                alarm_name=excerpt,
                operator=excerpt,
                reason=reason,
            ),
            raw_excerpt=excerpt,
            flags=m.Flags(dry_run=True, accept_data_loss=True, bypass_cooldown=True),
            waits=m.Waits(confirm_interval_seconds=3600, promotion_poll_seconds=3600, dns_poll_seconds=3600),
            plan=m.PlanSummary(
                name=plan.plan_name,
                primary_region="us-gov-west-1",
                standby_region="us-gov-east-1",
                primary_db=plan.primary_db_identifier,
                standby_db=plan.standby_db_identifier,
            ),
        ),
        gate=m.GateResult(at=NOW, decision="PROCEED", reason=reason, acquired=True, lease_until=NOW),
        assess=m.AssessResult(
            at=NOW,
            decision="PROCEED",
            reason=reason,
            probe=10,
            primary=votes,
            standby=votes,
            replica=m.ReplicaState(
                identifier=plan.standby_db_identifier,
                exists=True,
                status="s" * 40,
                source="arn:aws-us-gov:rds:us-gov-west-1:123456789012:db:" + plan.primary_db_identifier,
                endpoint=_host("e", 0),
                lag_seconds=1e9,
            ),
            data_loss_accepted=True,
            # Assess writes three lines (standby, replica, lag) and one per record.
            verified=[reason] * VERIFIED_LINES,
        ),
        promotion=m.PromotionState(
            at=NOW,
            identifier=plan.standby_db_identifier,
            already_promoted=True,
            available=True,
            status="s" * 40,
            polls=180,
            standby_healthy=True,
            standby_probes=10,
            standby_votes="16/16 healthy (100%)",
        ),
        dns=m.DnsState(
            at=NOW,
            change_id="/change/" + "C" * 32,
            changes=[
                m.RecordChange(name=name, type="CNAME", before=_host("o", i), after=target, ttl=2_147_483_647)
                for i, (name, target) in enumerate(plan.records.items())
            ],
            status="INSYNC",
            polls=60,
        ),
        error=error,
        result=m.RunResult(
            at=NOW,
            outcome=m.Outcome.DEGRADED,
            reason=reason,
            database_promoted=True,
            moved=names[: MAX_RECORDS // 2],
            not_moved=names[MAX_RECORDS // 2 :],
            rollback_error=error,
        ),
        notification=m.NotifyResult(published=True, message_id="i" * 36, subject=excerpt, error=reason),
        notification_error=error,
    )
    final = m.FinalizeResult(outcome=m.Outcome.DEGRADED, reason=reason, lock_released=True, cooldown_until=NOW)
    # Sections the ASL writes that RunDocument does not model (Rollback's and Finalize's ResultPaths).
    return {**document.wire(), "rollbackError": error.wire(), "final": final.wire(), "finalizeError": error.wire()}


def _breakdown(document: dict[str, Any]) -> str:
    sizes = sorted(((payload_bytes(v), k) for k, v in document.items()), reverse=True)
    return ", ".join(f"{k}={size}" for size, k in sizes)


def test_the_largest_run_document_stays_under_half_the_payload_limit() -> None:
    # Given the largest document, every clipped field at its limit
    document = largest_document("x")
    # When it is measured as Step Functions counts it (UTF-8 bytes of its JSON)
    size = payload_bytes(document)
    # Then it stays well inside the 262,144-byte limit
    assert size < PAYLOAD_LIMIT_BYTES / 2, _breakdown(document)


def test_the_largest_run_document_is_as_small_with_four_byte_characters() -> None:
    # Clipping counts UTF-8 bytes, as Step Functions does, not characters
    ascii_size = payload_bytes(largest_document("x"))
    emoji_size = payload_bytes(largest_document("\U0001f600"))
    assert emoji_size < PAYLOAD_LIMIT_BYTES / 2, _breakdown(largest_document("\U0001f600"))
    assert emoji_size <= ascii_size * 1.05
