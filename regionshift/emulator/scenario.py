"""Drill scenarios: the estate's state, what happens to it, the trigger and the expected outcome.

A scenario is a YAML or JSON file; the shipped library lives in ``regionshift/scenarios``. The
format is documented in ``docs/scenarios.md``.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    # Every standby region's timeline, unless ``regions`` gives that region its own.
    standby: list[HealthPoint] = [HealthPoint(failing=0)]
    regions: dict[str, list[HealthPoint]] = {}
    # The health checks' HealthCheckConfig (Route 53 allows 10 or 30 s, and 1 to 10 results).
    request_interval: Literal[10, 30] = Field(default=30, alias="requestInterval")
    failure_threshold: Annotated[int, Field(ge=1, le=10, alias="failureThreshold")] = 3
    # From this many seconds on, Route 53 publishes no HealthCheckStatus (the alarm sees missing data).
    metric_stops_at: float | None = Field(default=None, ge=0, alias="metricStopsAt")


class LagPoint(Strict):
    """From ``at`` seconds after the first trigger on, the replica's ReplicaLag is ``seconds`` (None: RDS
    publishes none)."""

    at: Annotated[float, Field(ge=0)] = 0
    seconds: float | None


class Replica(Strict):
    """A read replica's state when the scenario starts, and how its promotion behaves."""

    exists: bool = True
    # Carries the ``regionshift:plan`` tag the functions' IAM requires (failover.plan.PLAN_TAG).
    tagged: bool = True
    lag_seconds: float | None = Field(default=2.0, alias="lagSeconds")
    # How the lag changes over time (e.g. draining once the writes stop): from each point on, its value.
    lag: list[LagPoint] = []
    # "primary" replicates from the plan's primary; any other value names a foreign source database.
    source: str = "primary"
    status: str = "available"
    promotion_polls: Annotated[int, Field(ge=0, alias="promotionPolls")] = 2
    # When set, the promotion completes this many virtual seconds after the call instead.
    promotion_seconds: float | None = Field(default=None, ge=0, alias="promotionSeconds")

    def lag_at(self, elapsed: float) -> float | None:
        """The ReplicaLag ``elapsed`` seconds after the first trigger: the last point reached, else ``lagSeconds``."""
        reached = [p for p in self.lag if p.at <= elapsed]
        return max(reached, key=lambda p: p.at).seconds if reached else self.lag_seconds


class GlobalShape(Strict):
    """An Aurora global database or an ElastiCache global datastore of the emulated estate: a member
    ``<name>-<region>`` in every region of the plan, the writer in the primary region unless ``writer``
    says otherwise."""

    name: str
    after: list[str] = []
    # Aurora: the secondaries' AuroraGlobalDBRPOLag; a datastore: GlobalDatastoreReplicationLag (None: none).
    lag_seconds: float | None = Field(default=0.5, alias="lagSeconds")
    # How long a failover takes once requested; ``stuck``: it never completes.
    failover_seconds: Annotated[float, Field(ge=0, alias="failoverSeconds")] = 60.0
    stuck: bool = False
    # A failover already under way towards this region when the scenario starts.
    in_progress: str | None = Field(default=None, alias="inProgress")
    writer: str | None = None
    # Aurora clusters carry the ``regionshift:plan`` tag the functions' IAM requires.
    tagged: bool = True


class TableShape(Strict):
    """A DynamoDB global table of the emulated estate: a replica in every region of the plan (``ACTIVE``),
    unless ``replicas`` says ``CREATING`` or ``absent`` for a region."""

    name: str
    replicas: dict[str, Literal["ACTIVE", "CREATING", "absent"]] = {}
    # ReplicationLatency from the primary's replica to each standby (None: no datapoints).
    latency_seconds: float | None = Field(default=0.5, alias="latencySeconds")
    latencies: dict[str, float | None] = {}  # per receiving region, overriding latencySeconds


def replica_spec(estate: "Estate", identifier: str) -> Replica:
    """The replica's state: the estate's default with its own overrides."""
    return Replica.model_validate({**estate.replica.model_dump(by_alias=True), **estate.replicas.get(identifier, {})})


class Lock(Strict):
    owner: str = "arn:aws:states:us-west-2:123456789012:execution:regionshift-orders:other-run"
    lease_seconds: int = Field(default=600, alias="leaseSeconds")  # negative: already expired


class Control(Strict):
    paused: dict[str, str] | None = None  # {"operator": ..., "reason": ...}
    cooldown_seconds: int | None = Field(default=None, alias="cooldownSeconds")
    lock: Lock | None = None


class RecordShape(Strict):
    """A plan record of the emulated estate: an alias (A/AAAA) to each region's load balancer, or a
    CNAME to a database's endpoint in each region (``target``: a database's name) or to the load balancer."""

    name: str
    type: Literal["A", "AAAA", "CNAME"] = "A"
    target: str = "app"  # "app" (the region's load balancer) or a database's name
    evaluate_target_health: bool = Field(default=True, alias="evaluateTargetHealth")


class ZoneShape(Strict):
    name: str
    records: Annotated[list[RecordShape], Field(min_length=1)]


# The design's estate: a primary in us-east-1 and replicas in us-west-2 and eu-west-1; the API behind
# a load balancer in each region, reached through alias records (the apex included).
DEFAULT_ZONES = [
    ZoneShape(
        name="example.com",
        records=[
            RecordShape(name="example.com"),
            RecordShape(name="api.example.com"),
            RecordShape(name="db.example.com", type="CNAME", target="orders"),
        ],
    )
]


# Application Load Balancers' canonical hosted zone per region ("Elastic Load Balancing endpoints and
# quotas", AWS General Reference: https://docs.aws.amazon.com/general/latest/gr/elb.html).
ELB_ZONES = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-central-1": "Z215JYRZR1TBD5",
    "ap-southeast-1": "Z1LMS91P8CMLE5",
    "ap-northeast-1": "Z14GRHDCWA56QT",
}
# The regions the emulated estate can place a load balancer in.
ESTATE_REGIONS = tuple(ELB_ZONES)


class Estate(Strict):
    standbys: Annotated[list[str], Field(min_length=1)] = ["us-west-2", "eu-west-1"]

    @field_validator("standbys")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in ESTATE_REGIONS]
        if unknown:
            raise ValueError(
                f"the emulated estate has no region {', '.join(unknown)} (it has {', '.join(ESTATE_REGIONS)})"
            )
        return value

    databases: Annotated[list[str], Field(min_length=1)] = ["orders", "accounts"]
    # Aurora global databases (after the RDS databases in the plan), global datastores and global tables.
    aurora: list[GlobalShape] = []
    caches: list[GlobalShape] = []
    tables: list[TableShape] = []
    zones: Annotated[list[ZoneShape], Field(min_length=1)] = DEFAULT_ZONES
    health: Health = Health()
    # Every replica's state, unless ``replicas`` (by identifier, e.g. orders-us-west-2) says otherwise.
    replica: Replica = Replica()
    replicas: dict[str, dict[str, Any]] = {}
    # Where a record points when the scenario starts (default: the primary region).
    records: dict[str, str] = {}
    dns_pending_polls: Annotated[int, Field(ge=0, alias="dnsPendingPolls")] = 1
    # Plan records missing from the hosted zone (deleted by someone, or never created).
    absent_records: list[str] = Field(default=[], alias="absentRecords")
    # When set, a change is INSYNC this many virtual seconds after it was submitted instead.
    dns_sync_seconds: float | None = Field(default=None, ge=0, alias="dnsSyncSeconds")
    control: Control = Control()
    # Properties of the plan's health-check alarm replaced as deployed (e.g. a misconfiguration).
    alarm: dict[str, Any] = {}
    # A read replica created by failback is "creating" this many virtual seconds, then "available".
    rebuild_seconds: float = Field(default=600, ge=0, alias="rebuildSeconds")


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


def encode(document: Any) -> str:
    """The execution input a trigger's document is started with (what the drill sends StartExecution)."""
    return json.dumps(document)


# The padding field ``padBytes`` adds to a manual input (an unknown field: Intake refuses it if it
# ever reads the input).
PADDING_FIELD = "padding"


class Generated(Strict):
    """A list field of the manual input, written out when the drill starts: ``count`` items made
    from ``item``, where ``{i}`` is the item's number (0, 1, ...)."""

    field: Annotated[str, Field(min_length=1)]
    item: Annotated[str, Field(min_length=1)]
    count: Annotated[int, Field(ge=0, le=100_000)]


class ApprovalScript(Strict):
    """How the drill answers a run of this trigger that waits for approval: ``afterSeconds`` (virtual)
    after the request, through the same function as ``regionshift approve`` / ``deny``; ``none`` lets
    the plan's timeout run out (in virtual time). An answer due at or after the timeout is not sent."""

    answer: Literal["approve", "deny", "none"]
    after_seconds: Annotated[float, Field(ge=0, alias="afterSeconds")] = 60
    operator: str = "drill-approver"
    reason: str = "drill"


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
    # Large manual inputs, written compactly in the scenario (payload-limit drills):
    generate: Generated | None = None
    # Add a ``padding`` field of "x"s so that the input is exactly this many bytes (UTF-8, as sent).
    pad_bytes: Annotated[int, Field(ge=1, le=1_048_576)] | None = Field(default=None, alias="padBytes")
    # The answer to its runs' approval requests (a plan whose approval section makes them wait).
    approval: ApprovalScript | None = None

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
        if (self.generate is not None or self.pad_bytes is not None) and self.manual is None:
            raise ValueError("generate and padBytes apply to a manual input only")
        self.manual_input()  # a padBytes smaller than the input fails here, when the file is loaded
        return self

    def manual_input(self) -> dict[str, Any] | None:
        """The manual input as started: ``manual`` plus the generated list and the padding."""
        if self.manual is None:
            return None
        document = dict(self.manual)
        if self.generate is not None:
            document[self.generate.field] = [self.generate.item.format(i=i) for i in range(self.generate.count)]
        if self.pad_bytes is not None:
            document[PADDING_FIELD] = ""
            short = self.pad_bytes - len(encode(document).encode("utf-8"))
            if short < 0:
                raise ValueError(f"padBytes {self.pad_bytes} is smaller than the input without padding")
            document[PADDING_FIELD] = "x" * short
        return document


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


class Storm(Strict):
    """For ``seconds``, every AWS call the Lambdas make (to ``services``, or to any) fails with ``error``.

    It starts ``at`` seconds after the first trigger, or when the state machine first invokes the
    function ``step`` (its logical id in template.yaml, e.g. ``PromoteFunction``).
    """

    seconds: Annotated[float, Field(gt=0)]
    at: Annotated[float, Field(ge=0)] | None = None
    step: str | None = None
    error: str = "Throttling"
    status: Annotated[int, Field(ge=400, le=599)] = 400  # the HTTP status: 400 for a throttle, 503...
    services: list[str] = []  # botocore service names; empty: every service
    message: str = "Rate exceeded"

    @model_validator(mode="after")
    def _one_start(self) -> "Storm":
        if (self.at is None) == (self.step is None):
            raise ValueError("a storm starts either `at` seconds after the trigger or with a `step`")
        return self


class Outage(Strict):
    """A whole region lost: from ``at`` seconds after the first trigger, for ``seconds`` (None: to the
    end), every call a Lambda makes to an endpoint in ``region`` fails to connect, and the region's
    CloudWatch and EventBridge do nothing (``estate.py``, ``detection.py``). Route 53's health
    checkers and DNS answers are a global data plane and keep working; its API is us-east-1's."""

    region: str
    at: Annotated[float, Field(ge=0)] = 0
    seconds: Annotated[float, Field(gt=0)] | None = None

    @field_validator("region")
    @classmethod
    def _drillable(cls, value: str) -> str:
        # Imported here: deploy.py imports this module.
        from regionshift.emulator.deploy import STACK_REGION

        if value == STACK_REGION:
            raise ValueError(
                f"an outage of {STACK_REGION}, where the orchestrator's stack runs, leaves nothing of "
                "Regionshift running: that drill is out of scope"
            )
        if value not in ESTATE_REGIONS:
            raise ValueError(f"the emulated estate has no region {value} (it has {', '.join(ESTATE_REGIONS)})")
        return value

    def covers(self, elapsed: float) -> bool:
        """Whether the region is down ``elapsed`` seconds after the first trigger."""
        return self.at <= elapsed and (self.seconds is None or elapsed < self.at + self.seconds)


class DeniedCall(Strict):
    """A call the template's roles must deny (a drill of a permission problem): the function's logical
    id in template.yaml and the IAM action, e.g. ``AssessFunction`` and ``rds:DescribeDBInstances``."""

    function: str
    action: str


class Expect(Strict):
    outcome: Outcome | None  # the headline (most consequential) outcome; None: no run may start
    runs: Annotated[int, Field(ge=0)] | None = None
    outcomes: list[Outcome] | None = None  # every run's outcome, compared as a multiset
    # Any other denied call fails the drill (it would fail on AWS); these must be denied at least once.
    denied: list[DeniedCall] = []


class OperatorAction(Strict):
    operator: str = "drill-operator"
    reason: str = "drill"


class Failback(Strict):
    """An operator's ``regionshift failback``: a replica of each writer rebuilt in ``region``, waited for."""

    region: str
    operator: str = "drill-operator"
    wait_minutes: Annotated[float, Field(ge=0, alias="waitMinutes")] = 60


class Step(Strict):
    """One thing that happens after the first trigger's runs have finished."""

    trigger: Trigger | None = None
    failback: Failback | None = None
    ack: OperatorAction | None = None
    pause: OperatorAction | None = None
    resume: bool = False
    advance: Annotated[float, Field(ge=0)] | None = None  # virtual seconds

    @model_validator(mode="after")
    def _one(self) -> "Step":
        given = sum(
            [
                self.trigger is not None,
                self.failback is not None,
                self.ack is not None,
                self.pause is not None,
                self.resume,
                self.advance is not None,
            ]
        )
        if given != 1:
            raise ValueError("a step is exactly one of: trigger, failback, ack, pause, resume, advance")
        return self


class Scenario(Strict):
    name: str
    description: str
    expect: Expect
    plan: dict[str, Any] = {}  # merged into the emulated estate's plan document (e.g. {rails: {...}})
    parameters: dict[str, Any] = {}  # template parameter overrides (the stack's own settings)
    estate: Estate = Estate()
    trigger: Trigger
    then: list[Step] = []
    # Check the invariants after every step (the trigger and each of ``then``), each step against the
    # world as the one before it left it: a chain of moves (failover, failback, switchover home).
    check_each_step: bool = Field(default=False, alias="checkEachStep")
    faults: list[Fault] = []
    storms: list[Storm] = []
    outages: list[Outage] = []


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
