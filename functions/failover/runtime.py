"""What a step needs at run time: the validated plan and adapters over lazily created clients.

Tests and the emulator pass their own adapters to the constructor; otherwise each is built on first
use from the shared client cache.
"""

from collections.abc import Callable
from typing import Any

from failover.adapters import S3, CloudWatch, Rds, Route53, Sns, StepFunctions
from failover.clients import Clients
from failover.members import AuroraGlobal, GlobalDatastore, GlobalTables
from failover.models import Direction
from failover.plan import Plan, Rails
from failover.probes import ProbeVotes, Transport
from failover.probes import transport as default_transport
from failover.settings import Settings
from failover.store import StateStore

# Route 53's control plane and health-check API are served from us-east-1 in the aws partition.
ROUTE53_REGION = "us-east-1"


def region_of(arn: str) -> str:
    return arn.split(":")[3]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        clients: Clients,
        *,
        route53: Route53 | None = None,
        rds: dict[str, Rds] | None = None,
        aurora: dict[str, AuroraGlobal] | None = None,
        datastores: dict[str, GlobalDatastore] | None = None,
        tables: dict[str, GlobalTables] | None = None,
        cloudwatch: dict[str, CloudWatch] | None = None,
        sns: Sns | None = None,
        store: StateStore | None = None,
        stepfunctions: StepFunctions | None = None,
        s3: S3 | None = None,
        probes: ProbeVotes | None = None,
        http: Transport | None = None,
    ) -> None:
        self.settings = settings
        self._clients = clients
        self._route53, self._sns, self._store = route53, sns, store
        # Per region: each database's replica is read and promoted in its own region.
        self._rds: dict[str, Rds] = dict(rds or {})
        self._aurora: dict[str, AuroraGlobal] = dict(aurora or {})
        self._datastores: dict[str, GlobalDatastore] = dict(datastores or {})
        self._tables: dict[str, GlobalTables] = dict(tables or {})
        self._cloudwatch: dict[str, CloudWatch] = dict(cloudwatch or {})
        self._stepfunctions, self._s3 = stepfunctions, s3
        # Why Route 53's API failed in this invocation (failover.health): not asked again after that.
        self.route53_unreachable: str | None = None
        self._probes, self._http = probes, http
        self._direction: Direction | None = None
        self._plan: Plan | None = None

    def direct(self, direction: Direction | None) -> None:
        """Read the plan as the estate stands (``direction``, as Intake found it) for the rest of the
        invocation."""
        self._direction = direction
        self._plan = None

    @property
    def direction(self) -> Direction | None:
        return self._direction

    @property
    def plan(self) -> Plan:
        """The plan as the estate stands: as written, or directed where a run or failback moved it."""
        if self._plan is None:
            self._plan = self.settings.plan.along(self._direction)
        return self._plan

    @property
    def rails(self) -> Rails:
        return self.settings.plan.rails

    @property
    def stack_region(self) -> str:
        """Where the stack is: its table, state machine and report bucket."""
        return region_of(self.settings.table_arn)

    @property
    def route53(self) -> Route53:
        if self._route53 is None:
            self._route53 = Route53(self._clients.get("route53", ROUTE53_REGION))
        return self._route53

    def rds(self, region: str) -> Rds:
        if region not in self._rds:
            self._rds[region] = Rds(self._clients.get("rds", region))
        return self._rds[region]

    def aurora(self, region: str) -> AuroraGlobal:
        """Aurora global databases through ``region``'s RDS endpoint (the target's, in an outage)."""
        if region not in self._aurora:
            self._aurora[region] = AuroraGlobal(self._clients.get("rds", region))
        return self._aurora[region]

    def datastore(self, region: str) -> GlobalDatastore:
        if region not in self._datastores:
            self._datastores[region] = GlobalDatastore(self._clients.get("elasticache", region))
        return self._datastores[region]

    def tables(self, region: str) -> GlobalTables:
        if region not in self._tables:
            self._tables[region] = GlobalTables(self._clients.get("dynamodb", region))
        return self._tables[region]

    def cloudwatch(self, region: str) -> CloudWatch:
        """CloudWatch in ``region``: RDS publishes a replica's ReplicaLag in the replica's region."""
        if region not in self._cloudwatch:
            self._cloudwatch[region] = CloudWatch(self._clients.get("cloudwatch", region))
        return self._cloudwatch[region]

    @property
    def sns(self) -> Sns:
        if self._sns is None:
            self._sns = Sns(self._clients.get("sns", region_of(self.settings.topic_arn)))
        return self._sns

    @property
    def store(self) -> StateStore:
        if self._store is None:
            arn = self.settings.table_arn
            self._store = StateStore(self._clients.get("dynamodb", self.stack_region), arn.rsplit("/", 1)[-1])
        return self._store

    @property
    def stepfunctions(self) -> StepFunctions:
        if self._stepfunctions is None:
            self._stepfunctions = StepFunctions(self._clients.get("stepfunctions", self.stack_region))
        return self._stepfunctions

    @property
    def s3(self) -> S3:
        if self._s3 is None:
            self._s3 = S3(self._clients.get("s3", self.stack_region))
        return self._s3

    @property
    def probes(self) -> ProbeVotes:
        """The probe results in the stack region's CloudWatch, where the stack's probe records them."""
        if self._probes is None:
            cloudwatch = self._clients.get("cloudwatch", self.stack_region)
            self._probes = ProbeVotes(cloudwatch, self.plan.name, (self.stack_region,))
        return self._probes

    @property
    def http(self) -> Transport:
        """How the probe GETs an endpoint (``failover.probes.use`` replaces it in the emulator)."""
        return self._http or default_transport()


_clients = Clients()


def reset_clients(factory: Callable[..., Any] | None = None) -> None:
    """Forget cached clients (a host that changes endpoints between runs, like the emulator), and make
    new ones with ``factory`` (``boto3.Session.client``'s signature) rather than boto3's."""
    global _clients
    _clients = Clients(factory)


def current() -> Runtime:
    """The runtime for this invocation (settings re-read, clients reused across invocations)."""
    return Runtime(Settings.from_env(), _clients)
