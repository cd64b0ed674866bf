"""The plan document: which regions, databases and traffic records one failover moves, and the rails.

A plan is one YAML (or JSON) file, validated here; ``regionshift plan validate`` lists every problem
of a file at once, and ``regionshift plan deploy`` ships it with the functions (``plan.json`` in the
code package) and derives the stack's parameters, IAM included, from it. The steps read the same
model, so a plan that loads is a plan a run can execute. Its JSON Schema is ``docs/plan.schema.json``.
"""

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
Region = Annotated[str, Field(pattern=REGION_PATTERN)]
# A hostname label: letters, digits, hyphens; no wildcard, no empty label.
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


# RDS DB instance identifiers: 1-63 letters, digits or hyphens, starting with a letter, no double or
# trailing hyphen ("CreateDBInstance", Amazon RDS API Reference).
def _db_identifier(value: str) -> str:
    if "--" in value or value.endswith("-"):
        raise ValueError(f"{value!r} is not an RDS identifier (no double or trailing hyphen)")
    return value


DbIdentifier = Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$"), AfterValidator(_db_identifier)]
PositiveInt = Annotated[int, Field(ge=1)]

# The state machine's TimeoutSeconds: a run must finish inside it (a test keeps the two equal).
EXECUTION_TIMEOUT_SECONDS = 3600
# Time a run needs besides its waits: invocations, retries' backoff, rollback and notification.
RUN_OVERHEAD_SECONDS = 300
# Bounds that keep one run's document below Step Functions' 256 KiB payload limit even when every
# name and reason is at its longest (tests/unit/test_run_document_size.py); a realistic plan of 200
# records and 25 databases stays under a tenth of it (the scale benchmark).
MAX_RECORDS = 200
MAX_DATABASES = 50  # databases and caches together
MAX_TABLES = 20
# The promotion Map's MaxConcurrency in statemachine/failover.asl.json (a test keeps the two equal):
# up to this many databases are promoted at once, the rest as slots free.
PROMOTION_CONCURRENCY = 25
# Route 53 counts an UPSERT twice against a change batch's limits of 1,000 ResourceRecord elements
# and 32,000 characters of values ("Quotas on API requests", Amazon Route 53 Developer Guide:
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests).
BATCH_RECORD_ELEMENTS = 1000
BATCH_VALUE_CHARACTERS = 32000
# CloudFront distributions' canonical hosted zone: an alias to one cannot evaluate target health
# ("AliasTarget", Amazon Route 53 API Reference).
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"
ALIAS_TYPES = ("A", "AAAA")
PLAN_TAG = "regionshift:plan"


def normalise_name(name: str) -> str:
    """Lower-case, drop the trailing dot, and reject wildcards or malformed names."""
    if not isinstance(name, str):
        raise ValueError("a DNS name must be a string")
    cleaned = name.strip().lower().removesuffix(".")
    labels = cleaned.split(".")
    if len(cleaned) > 253 or len(labels) < 2 or not all(LABEL_RE.match(label) for label in labels):
        raise ValueError(f"malformed or wildcard DNS name: {name!r}")
    return cleaned


DnsName = Annotated[str, Field(min_length=1)]


class Directed(Protocol):
    """Where the writers are (failover.models.Direction): what ``Plan.along`` reads."""

    primary_region: str
    instances: dict[str, dict[str, str]]


class PlanProblemsError(ValueError):
    """A plan whose sections are each valid but do not fit together; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Strict(BaseModel):
    """Plan sections: camelCase keys, unknown keys refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


ProbeUrl = Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$", max_length=512)]


class RegionSpec(Strict):
    region: Region
    # The Route 53 health check of the region's application endpoint: a UUID ("HealthCheck", Amazon
    # Route 53 API Reference), compared lower-case.
    health_check_id: Annotated[
        str, Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
    ]

    # The application's health URL in this region, probed from the stack region once a minute
    # (standby-side detection: a signal that needs neither the region probed nor us-east-1). None: the
    # region is watched by its Route 53 health check only.
    probe_url: ProbeUrl | None = None

    @field_validator("health_check_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Regions(Strict):
    primary: RegionSpec
    # Tried in this order: a run moves to the first that is healthy and whose replicas are ready.
    standbys: Annotated[list[RegionSpec], Field(min_length=1, max_length=8)]


ResourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
# ElastiCache replication group ids: 1-40 letters, digits or hyphens, starting with a letter, no double
# or trailing hyphen ("CreateReplicationGroup", Amazon ElastiCache API Reference).
ReplicationGroupId = Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,39}$"), AfterValidator(_db_identifier)]
# A global datastore's id is ElastiCache's generated prefix, a hyphen and the suffix the user chose
# ("CreateGlobalReplicationGroup", Amazon ElastiCache API Reference). The suffix is held to a replication
# group id's 40 characters: a bound of the plan (the run's document must stay small), not one AWS states.
GlobalDatastoreId = Annotated[str, Field(pattern=r"^[a-z]{5}-[a-zA-Z0-9-]{1,40}$")]
# DynamoDB table names: 3-255 of letters, digits, "_", "-" and "." ("CreateTable", Amazon DynamoDB API
# Reference).
TableName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_.-]{3,255}$")]
Kind = Literal["rds-instance", "aurora-global", "elasticache-global"]


class Movable(Strict):
    """A resource whose writer moves to the target region: each kind names its member in each region."""

    name: ResourceName
    # Names of databases or caches whose writers must be in the target region before this one moves.
    after: list[ResourceName] = []
    kind: Kind

    def member(self, region: str, primary_region: str) -> str:
        """This resource's identifier in ``region`` (its replica, secondary cluster or member)."""
        raise NotImplementedError

    def member_regions(self, primary_region: str) -> set[str]:
        raise NotImplementedError

    @property
    def global_id(self) -> str | None:
        return None


class Database(Movable):
    """An RDS DB instance in the primary region and its cross-region read replica in each standby."""

    kind: Literal["rds-instance"] = "rds-instance"
    primary: DbIdentifier
    replicas: dict[Region, DbIdentifier]
    # What the run does to the old primary once its replica in the target is the writer (docs/plan.md,
    # "Fencing"): ``stop`` calls StopDBInstance, so that an old primary that still answers takes no
    # more writes (split brain); ``none`` leaves it to a person, and the page says so. RDS refuses to
    # stop an instance that still has read replicas, and starts a stopped instance again after seven
    # days ("Stopping an Amazon RDS DB instance temporarily", Amazon RDS User Guide:
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html).
    fence: Literal["stop", "none"] = "stop"

    def member(self, region: str, primary_region: str) -> str:
        return self.primary if region == primary_region else self.replicas[region]

    def member_regions(self, primary_region: str) -> set[str]:
        return {primary_region, *self.replicas}


class AuroraGlobal(Movable):
    """An Aurora global database: its global cluster and its DB cluster in every region of the plan
    (the primary's writer and each standby's secondary)."""

    kind: Literal["aurora-global"]
    global_cluster: DbIdentifier
    clusters: dict[Region, DbIdentifier]

    @property
    def global_id(self) -> str:
        return self.global_cluster

    def member(self, region: str, primary_region: str) -> str:
        return self.clusters[region]

    def member_regions(self, primary_region: str) -> set[str]:
        return set(self.clusters)


class Cache(Movable):
    """An ElastiCache global datastore (Redis OSS or Valkey) and its replication group in every region."""

    kind: Literal["elasticache-global"] = "elasticache-global"
    global_datastore: GlobalDatastoreId
    members: dict[Region, ReplicationGroupId]

    @property
    def global_id(self) -> str:
        return self.global_datastore

    def member(self, region: str, primary_region: str) -> str:
        return self.members[region]

    def member_regions(self, primary_region: str) -> set[str]:
        return set(self.members)


class GlobalTable(Strict):
    """A DynamoDB global table (version 2019.11.21): nothing to move, every replica takes writes, but
    the target region must hold an ACTIVE replica that is caught up."""

    name: ResourceName
    table: TableName


DATABASE_KINDS = ("rds-instance", "aurora-global")


def _database_kind(value: Any) -> str:
    """A database without ``kind`` is an RDS instance (plans written before the other kinds)."""
    kind = value.get("kind", "rds-instance") if isinstance(value, dict) else getattr(value, "kind", None)
    return str(kind)


AnyDatabase = Annotated[
    Annotated[Database, Tag("rds-instance")] | Annotated[AuroraGlobal, Tag("aurora-global")],
    Discriminator(_database_kind),
]


class AliasTarget(Strict):
    """Where an alias record points in one region: an ALB/NLB, CloudFront, API Gateway... name and its
    canonical hosted zone id ("AliasTarget", Amazon Route 53 API Reference)."""

    dns_name: DnsName
    hosted_zone_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]

    @field_validator("dns_name")
    @classmethod
    def _dns(cls, value: str) -> str:
        # ELB names start with "dualstack." or carry capitals: compared lower-case, as Route 53 answers.
        return normalise_name(value)


class RecordSpec(Strict):
    """One traffic name: an alias (A/AAAA) or a CNAME, with its target in every region of the plan."""

    name: DnsName
    type: Literal["A", "AAAA", "CNAME"]
    # A CNAME has a TTL; an alias has none (Route 53 uses the target's) and says whether Route 53
    # evaluates the target's health.
    ttl: Annotated[int, Field(ge=0, le=2_147_483_647)] | None = None
    evaluate_target_health: bool | None = None
    targets: dict[Region, AliasTarget | DnsName]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return normalise_name(value)

    @property
    def alias(self) -> bool:
        return self.type in ALIAS_TYPES

    def record_set(self, region: str) -> dict[str, Any]:
        """The ``ResourceRecordSet`` that points this record at its target in ``region``."""
        found = self.targets[region]
        if isinstance(found, AliasTarget):
            alias = {
                "HostedZoneId": found.hosted_zone_id,
                "DNSName": found.dns_name,
                "EvaluateTargetHealth": bool(self.evaluate_target_health),
            }
            return {"Name": self.name, "Type": self.type, "AliasTarget": alias}
        return {
            "Name": self.name,
            "Type": self.type,
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": self.target(region)}],
        }

    def shown(self, region: str) -> str:
        return f"ALIAS {self.target(region)}" if self.alias else self.target(region)

    def target(self, region: str) -> str:
        """The target in ``region`` as the run compares it: the alias's DNS name or the CNAME's value."""
        found = self.targets[region]
        return found.dns_name if isinstance(found, AliasTarget) else normalise_name(found)


class Zone(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]
    name: DnsName
    records: Annotated[list[RecordSpec], Field(min_length=1)]

    @field_validator("id", mode="before")
    @classmethod
    def _bare_id(cls, value: Any) -> Any:
        return value.removeprefix("/hostedzone/") if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _zone(cls, value: str) -> str:
        return normalise_name(value)


class Traffic(Strict):
    """How a run moves traffic (docs/plan.md, "traffic"): ``upsert`` rewrites each record with Route 53's
    API (its control plane, served from us-east-1); ``data-plane`` leaves the records alone, as
    PRIMARY/SECONDARY failover pairs provisioned ahead of time, and moves traffic by changing a metric
    in the stack region that the pairs' health checks follow."""

    mode: Literal["upsert", "data-plane"] = "upsert"


class Rails(Strict):
    """The safety rails and waits (each documented in docs/plan.md)."""

    # An endpoint is healthy while more than this percentage of Route 53 checkers say so (Route 53's
    # own rule is more than 18%).
    healthy_checker_percent: Annotated[int, Field(ge=1, le=100)] = 18
    # Re-probes of the primary's health before acting (a blip that recovers ends as NO_ACTION).
    confirm_probes: Annotated[int, Field(ge=0, le=10)] = 2
    confirm_interval_seconds: PositiveInt = 30
    # Promote only when every replica's ReplicaLag is at most this; above it (or unknown) the run
    # refuses, unless an operator accepts data loss.
    max_replica_lag_seconds: Annotated[int, Field(ge=0)] = 60
    # An alarm event older than this is stale (EventBridge may redeliver for up to 24 h).
    max_event_age_seconds: Annotated[int, Field(ge=60)] = 900
    # A crashed run blocks others for at most this long.
    lock_lease_seconds: Annotated[int, Field(ge=60)] = 3600
    # After a failover, automatic runs are refused for this long unless an operator acknowledges.
    cooldown_seconds: Annotated[int, Field(ge=0)] = 3600
    promotion_poll_seconds: PositiveInt = 5
    promotion_max_polls: PositiveInt = 180
    dns_poll_seconds: PositiveInt = 5
    dns_max_polls: PositiveInt = 60
    # An alarm run refused for a passing reason, or rolled back, is looked at again this often, this
    # many times: the alarm stays in ALARM and sends no new event.
    reevaluate_interval_seconds: Annotated[int, Field(ge=60)] = 300
    reevaluate_max_attempts: Annotated[int, Field(ge=0, le=24)] = 6
    # A switchover moves the writer once every RDS replica's ReplicaLag has read 0 on every read (one
    # each confirmIntervalSeconds) for this long; it is refused when that has not happened this long
    # after the run started (the writes were not stopped).
    switchover_drain_seconds: Annotated[int, Field(ge=0)] = 60
    switchover_max_wait_seconds: Annotated[int, Field(ge=60)] = 600

    def longest_run_seconds(self, waves: int = 1) -> int:
        """The longest a run can take at these bounds, its promotions in ``waves`` rounds of the Map."""
        return (
            # the outage is confirmed (or a switchover's lag drains, one look more), then the target may be
            # looked at as often after the promotion
            max(
                self.confirm_probes * self.confirm_interval_seconds,
                self.switchover_max_wait_seconds + self.confirm_interval_seconds,
            )
            + self.confirm_probes * self.confirm_interval_seconds
            + waves * self.promotion_max_polls * self.promotion_poll_seconds
            + self.dns_max_polls * self.dns_poll_seconds
            + RUN_OVERHEAD_SECONDS
        )

    def timing_problems(self, waves: int = 1) -> list[str]:
        longest = self.longest_run_seconds(waves)
        problems = []
        if self.switchover_drain_seconds > self.switchover_max_wait_seconds:
            problems.append(
                f"switchoverDrainSeconds ({self.switchover_drain_seconds} s) is longer than switchoverMaxWaitSeconds "
                f"({self.switchover_max_wait_seconds} s): no switchover could ever move"
            )
        if longest > EXECUTION_TIMEOUT_SECONDS:
            problems.append(
                f"confirmation, promotion and DNS waits add up to {longest} s, beyond the "
                f"{EXECUTION_TIMEOUT_SECONDS} s execution timeout: lower the polls or intervals"
            )
        elif longest + self.reevaluate_interval_seconds > EXECUTION_TIMEOUT_SECONDS:
            problems.append(
                f"the longest run ({longest} s) and the wait before a re-evaluation "
                f"({self.reevaluate_interval_seconds} s) must fit in the "
                f"{EXECUTION_TIMEOUT_SECONDS} s execution timeout"
            )
        if self.lock_lease_seconds < longest:
            problems.append(
                f"the lock lease ({self.lock_lease_seconds} s) is shorter than the longest run ({longest} s)"
            )
        return problems

    @model_validator(mode="after")
    def _fits(self) -> "Rails":
        problems = self.timing_problems()
        if problems:
            raise ValueError(problems[0])
        return self


class Approval(Strict):
    """Whether a run waits for a person before the point of no return, per trigger kind (docs/plan.md,
    "approval"). A re-evaluation follows ``alarm``. Waiting runs as a Step Functions callback task
    (``.waitForTaskToken``): the wait ends with the answer, or with States.Timeout after
    ``timeoutMinutes``, when ``onTimeout`` decides
    (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token)."""

    alarm: Literal["automatic", "approval"] = "automatic"
    manual: Literal["automatic", "approval"] = "automatic"
    timeout_minutes: Annotated[int, Field(ge=1, le=60)] = 15
    on_timeout: Literal["proceed", "refuse"] = "refuse"

    def required(self, kind: str) -> bool:
        """Whether a run started by ``kind`` (alarm, manual, reevaluation) waits for an answer."""
        return (self.manual if kind == "manual" else self.alarm) == "approval"

    @property
    def used(self) -> bool:
        return "approval" in (self.alarm, self.manual)

    @property
    def timeout_seconds(self) -> int:
        return 60 * self.timeout_minutes


class Plan(Strict):
    """One failover plan. Cross-section rules are checked together, and every problem is listed."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    regions: Regions
    databases: Annotated[list[AnyDatabase], Field(min_length=1, max_length=MAX_DATABASES)]
    caches: Annotated[list[Cache], Field(max_length=MAX_DATABASES)] = []
    tables: Annotated[list[GlobalTable], Field(max_length=MAX_TABLES)] = []
    zones: Annotated[list[Zone], Field(min_length=1)]
    traffic: Traffic = Traffic()
    rails: Rails = Rails()
    approval: Approval = Approval()
    _origin: "Plan | None" = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _coherent(self) -> "Plan":
        problems = list(self.problems())
        if problems:
            raise PlanProblemsError(problems)
        return self

    @property
    def promotion_waves(self) -> int:
        """Rounds of the promotion Maps: each stage moves up to PROMOTION_CONCURRENCY resources at once."""
        return sum(-(-len(stage) // PROMOTION_CONCURRENCY) for stage in self.stages)

    @cached_property
    def stages(self) -> list[list[Movable]]:
        """The resources to move, in stages: each waits for every resource it names in ``after`` (which
        is in an earlier stage); a stage's resources move in parallel. A cycle puts what is left in
        one last stage (``problems`` reports the cycle)."""
        left = {m.name: m for m in self.movers}
        stages: list[list[Movable]] = []
        while left:
            stage = [m for m in left.values() if not set(m.after) & set(left)] or list(left.values())
            stages.append(stage)
            for m in stage:
                del left[m.name]
        return stages

    @property
    def longest_run_seconds(self) -> int:
        return self.rails.longest_run_seconds(self.promotion_waves)

    def problems(self) -> Iterator[str]:
        if self.promotion_waves > 1:
            # One round is checked with the rails themselves; more databases than one round need more.
            yield from (f"rails: {p}" for p in self.rails.timing_problems(self.promotion_waves))
        yield from self._region_problems()
        yield from self._database_problems()
        yield from self._traffic_problems()
        yield from self._approval_problems()

    def _region_problems(self) -> Iterator[str]:
        regions = self.region_names
        if len(set(regions)) != len(regions):
            yield f"regions: each region appears once (primary and standbys: {', '.join(regions)})"
        checks = [self.regions.primary.health_check_id] + [s.health_check_id for s in self.regions.standbys]
        if len(set(checks)) != len(checks):
            yield "regions: each region needs its own health check"

    def _database_problems(self) -> Iterator[str]:
        if len(self.movers) > MAX_DATABASES:
            yield (
                f"databases, caches: {len(self.movers)} in all; at most {MAX_DATABASES} "
                "(the run's document must stay small)"
            )
        names = [m.name for m in self.movers] + [t.name for t in self.tables]
        for name in sorted({n for n in names if names.count(n) > 1}):
            yield f"databases, caches, tables: the name {name} is used twice"
        standbys, regions = set(self.standby_regions), set(self.region_names)
        seen: dict[tuple[str, str], str] = {}
        for m in self.movers:
            where = f"{'caches' if isinstance(m, Cache) else 'databases'}.{m.name}"
            # An RDS replica is in each standby (its primary is named apart); a global resource has a
            # member in every region of the plan, the primary's included.
            wanted = standbys if isinstance(m, Database) else regions
            present = m.member_regions(self.primary_region) - (
                {self.primary_region} if isinstance(m, Database) else set()
            )
            missing, extra = wanted - present, present - wanted
            member = {"rds-instance": "replica", "aurora-global": "cluster", "elasticache-global": "member"}[m.kind]
            if missing:
                which = "standby region(s)" if isinstance(m, Database) else "region(s)"
                yield f"{where}: no {member} in {which} {', '.join(sorted(missing))}"
            if extra:
                kind = "standby region" if isinstance(m, Database) else "region of the plan"
                yield f"{where}: {member} in {', '.join(sorted(extra))}, which is not a {kind}"
            # One identifier names one member per region, whatever its kind: a run's records of what it
            # requested, and its reads, are keyed by it.
            for region in sorted(m.member_regions(self.primary_region) & regions):
                identifier = m.member(region, self.primary_region)
                other = seen.setdefault((region, identifier.lower()), m.name)
                if other != m.name:
                    yield f"{where}: {identifier} in {region} is also {other}'s"
            for name in m.after:
                if name == m.name:
                    yield f"{where}: cannot wait for itself"
                elif name not in {x.name for x in self.movers}:
                    is_table = name in {t.name for t in self.tables}
                    yield f"{where}: waits for {name}, which is " + (
                        "a table (a global table has nothing to move)" if is_table else "not in the plan"
                    )
        globals_ = [(type(m).__name__, m.global_id) for m in self.movers if m.global_id is not None]
        for kind, gid in sorted({g for g in globals_ if globals_.count(g) > 1}):
            yield f"{'caches' if kind == 'Cache' else 'databases'}: the global resource {gid} is listed twice"
        tables = [t.table for t in self.tables]
        for table in sorted({t for t in tables if tables.count(t) > 1}):
            yield f"tables: the table {table} is listed twice"
        last = {m.name for m in self.stages[-1]} if self.stages else set()
        cyclic = [m.name for m in self.stages[-1] if set(m.after) & last] if self.stages else []
        if cyclic:
            yield f"databases, caches: {', '.join(sorted(cyclic))} wait for each other (a cycle of after)"

    def _approval_problems(self) -> Iterator[str]:
        """A run that waits must still finish inside the execution timeout, and keep its lock while it
        waits: the lease Gate takes covers the longest run plus the whole wait (a static bound, checked
        here, rather than a lease renewed when the wait starts: one fewer write on the recovery path,
        and a run that dies while waiting frees the lock as any crashed run does)."""
        if not self.approval.used:
            return
        wait, longest = self.approval.timeout_seconds, self.longest_run_seconds
        # An alarm run that is approved and then rolled back waits again before its re-evaluation.
        again = self.rails.reevaluate_interval_seconds if self.approval.alarm == "approval" else 0
        if longest + wait + again > EXECUTION_TIMEOUT_SECONDS:
            extra = f" and the wait before a re-evaluation ({again} s)" if again else ""
            yield (
                f"approval: the longest run ({longest} s), the approval timeout ({wait} s){extra} must fit in "
                f"the {EXECUTION_TIMEOUT_SECONDS} s execution timeout: lower timeoutMinutes or the rails' polls"
            )
        if self.rails.lock_lease_seconds < longest + wait:
            yield (
                f"approval: the lock lease ({self.rails.lock_lease_seconds} s) must cover the longest run "
                f"({longest} s) and the approval timeout ({wait} s)"
            )

    def _traffic_problems(self) -> Iterator[str]:
        regions = set(self.region_names)
        if self.traffic.mode == "data-plane":
            # "For failover alias resource record sets, you must also include the EvaluateTargetHealth
            # element and set the value to true" ("ResourceRecordSet", Amazon Route 53 API Reference).
            for zone, record in self.records:
                if record.alias and record.evaluate_target_health is False:
                    yield (
                        f"zones.{zone.id}.{record.name}: in data-plane mode an alias record is a failover alias, "
                        "which must evaluate target health (evaluateTargetHealth: true)"
                    )
        if self.traffic.mode == "data-plane" and len(self.regions.standbys) != 1:
            # Route 53 failover routing has one PRIMARY and one SECONDARY record per name ("Failover
            # routing", Amazon Route 53 Developer Guide).
            yield (
                f"traffic: data-plane mode moves traffic between two regions (a Route 53 failover pair); "
                f"this plan has {len(self.regions.standbys)} standbys"
            )
        ids = [z.id for z in self.zones]
        for zone_id in sorted({i for i in ids if ids.count(i) > 1}):
            yield f"zones: hosted zone {zone_id} is listed twice (list its records once)"
        total = sum(len(z.records) for z in self.zones)
        if total > MAX_RECORDS:
            yield f"zones: {total} records; at most {MAX_RECORDS} per plan (the run's document must stay small)"
        for zone in self.zones:
            names: dict[str, list[str]] = {}
            for record in zone.records:
                where = f"zones.{zone.id}.{record.name}"
                names.setdefault(record.name, []).append(record.type)
                if record.name != zone.name and not record.name.endswith("." + zone.name):
                    yield f"{where}: not inside the zone {zone.name}"
                yield from self._record_problems(where, record, zone, regions)
            for name, types in sorted(names.items()):
                if len(types) != len(set(types)):
                    yield f"zones.{zone.id}.{name}: listed twice with type {types[0]}"
                elif "CNAME" in types and len(types) > 1:
                    # RFC 1034 3.6.2; Route 53 refuses it ("Choosing between alias and non-alias records").
                    yield f"zones.{zone.id}.{name}: a CNAME cannot share its name with another record type"
            upserts = [r for r in zone.records if not r.alias]
            # Each UPSERT counts twice ("Quotas on API requests"); an alias has no ResourceRecord element.
            # Raw lengths: a malformed target is reported by _record_problems, not raised here.
            values = [
                max((len(t) if isinstance(t, str) else len(t.dns_name) for t in r.targets.values()), default=0)
                for r in upserts
            ]
            if 2 * len(upserts) > BATCH_RECORD_ELEMENTS or 2 * sum(values) > BATCH_VALUE_CHARACTERS:
                yield (
                    f"zones.{zone.id}: too many CNAME values for one change batch "
                    f"({BATCH_RECORD_ELEMENTS} elements / {BATCH_VALUE_CHARACTERS} characters, UPSERTs counted twice)"
                )

    @staticmethod
    def _record_problems(where: str, record: RecordSpec, zone: Zone, regions: set[str]) -> Iterator[str]:
        missing, extra = regions - set(record.targets), set(record.targets) - regions
        if missing:
            yield f"{where}: no target in region(s) {', '.join(sorted(missing))}"
        if extra:
            yield f"{where}: target in {', '.join(sorted(extra))}, which is not a region of the plan"
        yield from _target_region_problems(where, record, regions)
        if record.alias:
            if record.ttl is not None:
                yield f"{where}: an alias record has no TTL (Route 53 uses the target's)"
            if record.evaluate_target_health is None:
                yield f"{where}: an alias record needs evaluateTargetHealth (true or false)"
            for region, target in sorted(record.targets.items()):
                if not isinstance(target, AliasTarget):
                    yield f"{where}: the {region} target of an alias needs dnsName and hostedZoneId"
                elif target.hosted_zone_id == CLOUDFRONT_ZONE and record.evaluate_target_health:
                    yield f"{where}: evaluateTargetHealth cannot be true for a CloudFront target ({region})"
        else:
            if record.name == zone.name:
                yield f"{where}: the zone apex cannot be a CNAME (RFC 1034); use an alias A/AAAA record"
            if record.ttl is None:
                yield f"{where}: a CNAME needs a ttl"
            if record.evaluate_target_health is not None:
                yield f"{where}: evaluateTargetHealth applies to alias records only"
            for region, target in sorted(record.targets.items()):
                if isinstance(target, AliasTarget):
                    yield f"{where}: the {region} target of a CNAME is a host name, not an alias target"
                else:
                    try:
                        normalise_name(target)
                    except ValueError as exc:
                        yield f"{where}: {region}: {exc}"

    # --- what the steps read ----------------------------------------------------------------------

    @property
    def primary_region(self) -> str:
        return self.regions.primary.region

    @property
    def probed_regions(self) -> dict[str, str]:
        """Each region with a ``probeUrl``, and the URL: what the stack region's probe checks."""
        return {s.region: s.probe_url for s in [self.regions.primary, *self.regions.standbys] if s.probe_url}

    @property
    def standby_regions(self) -> list[str]:
        return [s.region for s in self.regions.standbys]

    @property
    def region_names(self) -> list[str]:
        return [self.primary_region, *self.standby_regions]

    def health_check(self, region: str) -> str:
        for spec in [self.regions.primary, *self.regions.standbys]:
            if spec.region == region:
                return spec.health_check_id
        raise KeyError(region)

    @cached_property
    def records(self) -> list[tuple[Zone, RecordSpec]]:
        return [(zone, record) for zone in self.zones for record in zone.records]

    @property
    def movers(self) -> list[Movable]:
        """Every resource whose writer a failover moves: the databases, then the caches."""
        return [*self.databases, *self.caches]

    def replicas(self, region: str) -> list[tuple[Movable, str]]:
        """Each moved resource's member in ``region`` (a standby region): a read replica, a secondary
        cluster or a global datastore member."""
        return [(m, m.member(region, self.primary_region)) for m in self.movers]

    def mover(self, name: str) -> Movable:
        """The database or cache the plan calls ``name``."""
        for resource in self.movers:
            if resource.name == name:
                return resource
        raise KeyError(name)

    def primary_member(self, resource: Movable) -> str:
        return resource.member(self.primary_region, self.primary_region)

    # --- the plan as the estate stands ---------------------------------------------------------------

    def along(self, direction: "Directed | None") -> "Plan":
        """The plan as ``direction`` says the estate stands (None: as written)."""
        return self if direction is None else self.directed(direction.primary_region, direction.instances)

    def directed(self, primary_region: str, instances: dict[str, dict[str, str]]) -> "Plan":
        """This plan as the estate stands after its writers moved (docs/failback.md): ``primary_region``
        holds the writers, the plan's primary becomes a standby in its place in the order, and each RDS
        database's instance in a region is the one ``instances`` names there (a replica rebuilt by
        failback has a name of its own), else the plan's. Raises PlanProblemsError when the direction
        does not fit this plan (a region or database the plan no longer has)."""
        problems = (
            [] if primary_region in self.region_names else [f"direction: {primary_region} is not a region of the plan"]
        )
        rds = {d.name: d for d in self.databases if isinstance(d, Database)}
        for name, where in sorted(instances.items()):
            if name not in rds:
                problems.append(f"direction: {name} is not an RDS database of the plan")
            problems += [
                f"direction: {name} in {r}, which is not a region of the plan"
                for r in where
                if r not in self.region_names
            ]
        if problems:
            raise PlanProblemsError(problems)
        if primary_region == self.primary_region and not instances:
            return self
        specs = {s.region: s for s in [self.regions.primary, *self.regions.standbys]}
        order = [self.primary_region if r == primary_region else r for r in self.standby_regions]
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["regions"] = {
            "primary": specs[primary_region].model_dump(mode="json", by_alias=True, exclude_none=True),
            "standbys": [specs[r].model_dump(mode="json", by_alias=True, exclude_none=True) for r in order],
        }
        for entry in data["databases"]:
            database = rds.get(entry["name"])
            if database is None:
                continue
            members = {
                **{self.primary_region: database.primary},
                **database.replicas,
                **instances.get(database.name, {}),
            }
            entry["primary"] = members[primary_region]
            entry["replicas"] = {r: members[r] for r in order}
        directed = Plan.model_validate(data)
        directed._origin = self
        return directed

    @property
    def origin(self) -> "Plan":
        """The plan as written (and deployed): what a directed plan was derived from."""
        return self._origin or self

    # --- the plan as deployed -----------------------------------------------------------------------

    def canonical(self) -> bytes:
        """The plan as shipped in the code package: compact JSON, keys sorted (its digest is stable)."""
        plan = self.origin
        return json.dumps(plan.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True).encode()

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def _raw_target(target: "AliasTarget | str") -> str:
    return (target.dns_name if isinstance(target, AliasTarget) else target).lower().removesuffix(".")


def _target_region_problems(where: str, record: RecordSpec, regions: set[str]) -> Iterator[str]:
    """A copied target makes a failover a no-op, or sends traffic into the failed region: each region's
    target must be its own, and a target whose name carries a region of the plan must carry its own."""
    seen: dict[str, str] = {}
    for region, target in sorted(record.targets.items()):
        name = _raw_target(target)
        if name in seen:
            yield f"{where}: the {region} target is the {seen[name]} target ({name}): each region needs its own"
        seen.setdefault(name, region)
        labels = set(name.split("."))
        named = sorted((labels & regions) - {region})
        if named and region not in labels:
            yield f"{where}: the {region} target {name} names region {named[0]}"


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
