"""The largest run document the largest valid plan can produce, measured as Step Functions counts it.

The largest plan the model accepts: eight standby regions, MAX_DATABASES databases and caches (half
RDS instances whose identifiers are 63 characters, half global datastores whose ids are at their
longest), MAX_TABLES global tables whose names are 255 characters, MAX_RECORDS alias records whose names and targets are 253 characters, each in a
zone of its own (the most zones, so the most per-zone entries). Every section a run can write is
present at its largest: Assess with every standby passed over but the chosen one and the target's
replicas, the promotion Map's results, DNS with CHANGES_SHOWN changes and every zone, a DEGRADED
result listing every record as moved or not moved, every clipped field (Reason / Cause / Excerpt)
at its clip limit; serialised as the ASL carries it (``wire()``) plus the sections the ASL writes
beside the model (``rollbackError``, ``final``, ``finalizeError``, ``reevaluation``,
``reevaluationError``).
"""

from datetime import UTC, datetime
from typing import Any

from failover import models as m
from failover.plan import MAX_DATABASES, MAX_RECORDS, MAX_TABLES, Plan
from failover.steps.finalize import REPORT_ERROR_CHARS
from failover.traffic import CHANGES_SHOWN
from regionshift.emulator.patches import PAYLOAD_LIMIT_BYTES, payload_bytes

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
# Assess records five lines before the point of no return: target, replicas, tables, lag, records.
VERIFIED_LINES = 5
STANDBYS = 8  # the plan's most standby regions (Regions.standbys max_length)
# Longer than any AWS region name, and valid for the plan's pattern.
REGIONS = [f"us-isob-southeast-{i}" for i in range(STANDBYS + 1)]
# The longest suffix a global datastore's id may have in a plan (failover.plan.GlobalDatastoreId).
GLOBAL_DATASTORE_SUFFIX = 40


def _host(tag: str, i: int, suffix: str = "") -> str:
    """A valid 253-character DNS name: labels of 63 characters, ending in ``suffix`` when given."""
    tail = suffix or ".".join(["c" * 63, "d" * 61])
    head = f"{tag}{i:03d}".ljust(63, "a")
    middle = "b" * (253 - len(head) - len(tail) - 2)
    return ".".join([head, middle, tail])


def _zone_name(i: int) -> str:
    return ".".join([f"z{i:03d}".ljust(63, "c"), "d" * 61])


def largest_plan() -> Plan:
    def health(i: int) -> str:
        return f"00000000-0000-4000-8000-{i:012x}"  # a UUID, as Route 53 gives health checks

    plan = Plan.model_validate(
        {
            "name": "p" * 64,
            "regions": {
                "primary": {"region": REGIONS[0], "healthCheckId": health(0)},
                "standbys": [{"region": r, "healthCheckId": health(i)} for i, r in enumerate(REGIONS[1:], 1)],
            },
            "databases": [
                {
                    "name": f"{d:02d}".ljust(64, "n"),
                    "primary": f"p{d:02d}".ljust(63, "a"),
                    "replicas": {r: f"r{d:02d}x{i}".ljust(63, "a") for i, r in enumerate(REGIONS[1:])},
                }
                for d in range(MAX_DATABASES // 2)
            ],
            "caches": [
                {
                    "name": f"c{d:02d}".ljust(64, "n"),
                    "globalDatastore": "abcde-" + f"g{d:02d}".ljust(GLOBAL_DATASTORE_SUFFIX, "a"),
                    "members": {r: f"m{d:02d}x{i}".ljust(40, "a") for i, r in enumerate(REGIONS)},
                }
                for d in range(MAX_DATABASES - MAX_DATABASES // 2)
            ],
            "tables": [
                {"name": f"t{t:02d}".ljust(64, "n"), "table": f"t{t:02d}".ljust(255, "a")} for t in range(MAX_TABLES)
            ],
            "zones": [
                {
                    "id": f"Z{i:03d}".ljust(32, "Q"),
                    "name": _zone_name(i),
                    "records": [
                        {
                            "name": _host("r", i, _zone_name(i)),
                            "type": "A",
                            "evaluateTargetHealth": True,
                            "targets": {
                                r: {"dnsName": _host(f"t{k}", i), "hostedZoneId": "H" * 32}
                                for k, r in enumerate(REGIONS)
                            },
                        }
                    ],
                }
                for i in range(MAX_RECORDS)
            ],
        }
    )
    assert len(plan.movers) == MAX_DATABASES and len(plan.tables) == MAX_TABLES
    assert len(plan.records) == MAX_RECORDS and {len(r.name) for _, r in plan.records} == {253}
    assert {len(r.target(region)) for _, r in plan.records for region in REGIONS} == {253}
    return plan


def largest_document(fill: str) -> dict[str, Any]:
    reason, cause, excerpt = fill * m.REASON_LIMIT, fill * m.CAUSE_LIMIT, fill * m.EXCERPT_LIMIT
    plan = largest_plan()
    primary, target = plan.primary_region, plan.standby_regions[-1]
    execution_arn = "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:" + "m" * 76 + ":" + "e" * 80
    trigger = m.TriggerInfo(
        kind="reevaluation",
        event_id=excerpt,
        event_time=NOW,
        alarm_name=excerpt,
        operator=excerpt,
        reason=reason,
        target_region=excerpt,
        attempt=24,
        of=excerpt,
    )

    def votes(region: str) -> m.CheckerVotes:
        return m.CheckerVotes(
            health_check_id=plan.health_check(region), healthy=16, failing=16, healthy_percent=50.0, verdict="UNHEALTHY"
        )

    # The last standby is chosen: every other one is passed over, with a reason at its limit.
    standbys = [
        m.StandbyVerdict(region=r, votes=votes(r), chosen=r == target, passed_over=None if r == target else reason)
        for r in plan.standby_regions
    ]
    replicas = [
        m.ReplicaState(
            identifier=identifier,
            database=db.name,
            region=target,
            kind=db.kind,
            global_id=db.global_id,
            exists=True,
            status="s" * 40,
            source=f"arn:aws-us-gov:elasticache:{primary}:123456789012:replicationgroup:{plan.primary_member(db)}",
            endpoint=_host("e", n),
            lag_seconds=1e9,
        )
        for n, (db, identifier) in enumerate(plan.replicas(target))
    ]
    tables = [
        m.TableState(name=t.name, table=t.table, region=target, exists=True, status="s" * 40, lag_seconds=1e9)
        for t in plan.tables
    ]
    promotions = [
        m.PromotionState(
            at=NOW,
            identifier=r.identifier,
            database=r.database,
            region=target,
            kind=r.kind,
            global_id=r.global_id,
            already_promoted=True,
            available=True,
            status="s" * 40,
            polls=plan.rails.promotion_max_polls,
        )
        for r in replicas
    ]
    changes = [
        m.RecordChange(
            zone_id=zone.id, name=spec.name, type=spec.type, before=spec.shown(primary), after=spec.shown(target)
        )
        for zone, spec in plan.records
    ]
    zones = [
        m.ZoneChange(zone_id=z.id, change_id="/change/" + "C" * 32, status="PENDING", records=1) for z in plan.zones
    ]
    names = [spec.name for _, spec in plan.records]
    error = m.StepError(Error=excerpt, Cause=cause)
    document = m.RunDocument(
        execution=m.Execution(id=execution_arn, started_at=NOW),
        intake=m.IntakeResult(
            at=NOW,
            decision="PROCEED",
            reason=reason,
            trigger=trigger,
            raw_excerpt=excerpt,
            flags=m.Flags(dry_run=True, accept_data_loss=True, bypass_cooldown=True),
            waits=m.Waits(confirm_interval_seconds=3600, promotion_poll_seconds=3600, dns_poll_seconds=3600),
            plan=m.PlanSummary(
                name=plan.name,
                primary_region=primary,
                standby_regions=plan.standby_regions,
                databases=len(plan.databases),
                records=len(plan.records),
                zones=len(plan.zones),
            ),
        ),
        gate=m.GateResult(at=NOW, decision="PROCEED", reason=reason, transient=True, acquired=True, lease_until=NOW),
        assess=m.AssessResult(
            at=NOW,
            decision="PROCEED",
            reason=reason,
            transient=True,
            probe=10,
            primary=votes(primary),
            standbys=standbys,
            target=target,
            stages=[replicas],
            tables=tables,
            data_loss_accepted=True,
            verified=[reason] * VERIFIED_LINES,
        ),
        promotions=[promotions],
        target=m.TargetLook(
            at=NOW, region=target, healthy=False, probes=10, votes="16/32 checkers healthy on probe 10", gave_up=True
        ),
        dns=m.DnsState(at=NOW, changes=changes[:CHANGES_SHOWN], zones=zones, status="PENDING", polls=720),
        error=error,
        result=m.RunResult(
            at=NOW,
            outcome=m.Outcome.DEGRADED,
            reason=reason,
            transient=True,
            database_promoted=True,
            promoted=[r.identifier for r in replicas],
            moved=names[: MAX_RECORDS // 2],
            not_moved=names[MAX_RECORDS // 2 :],
            rollback_error=error,
        ),
        # Every old primary with a code, and the refusal's words at their limit.
        fence=m.FenceResult(at=NOW, codes="R" * len(plan.movers), note=fill * m.FENCE_NOTE_LIMIT),
        notification=m.NotifyResult(published=True, message_id="i" * 36, subject=excerpt, error=reason),
        notification_error=error,
    )
    assert document.dns is not None and len(document.dns.changes) == CHANGES_SHOWN
    again = m.Reevaluation(attempt=24, of=excerpt, name="n" * 80, wait_seconds=3600, trigger=trigger)
    final = m.FinalizeResult(
        outcome=m.Outcome.DEGRADED,
        reason=reason,
        lock_released=True,
        cooldown_until=NOW,
        reevaluate=again,
        report_error="x" * REPORT_ERROR_CHARS,
    )
    # Sections the ASL writes that RunDocument does not model (Catch and Task ResultPaths).
    return {
        **document.wire(),
        "rollbackError": error.wire(),
        "final": final.wire(),
        "finalizeError": error.wire(),
        "reevaluation": {"executionArn": execution_arn},
        "reevaluationError": error.wire(),
    }


def _breakdown(document: dict[str, Any]) -> str:
    sizes = sorted(((payload_bytes(v), k) for k, v in document.items()), reverse=True)
    return f"total {payload_bytes(document)} bytes: " + ", ".join(f"{k}={size}" for size, k in sizes)


def test_the_largest_run_document_fits_the_payload_limit() -> None:
    # Given the largest document, every clipped field at its limit
    document = largest_document("x")
    # When it is measured as Step Functions counts it (UTF-8 bytes of its JSON)
    size = payload_bytes(document)
    # Then it fits the 262,144-byte limit (measured: 257,340 bytes, 260,368 with four-byte characters; the largest sections are the
    # result's moved/not-moved names, Assess's replicas and passed-over reasons, and DNS's zones)
    assert size < PAYLOAD_LIMIT_BYTES, _breakdown(document)


def test_the_largest_run_document_is_as_small_with_four_byte_characters() -> None:
    # Clipping counts UTF-8 bytes, as Step Functions does, not characters
    ascii_size = payload_bytes(largest_document("x"))
    emoji = largest_document("\U0001f600")
    assert payload_bytes(emoji) < PAYLOAD_LIMIT_BYTES, _breakdown(emoji)
    assert payload_bytes(emoji) <= ascii_size * 1.05
