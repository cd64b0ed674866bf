"""What a step needs at run time: the validated plan and adapters over lazily created clients."""

from functools import cached_property

from failover.adapters import CloudWatch, Rds, Route53, Sns
from failover.clients import Clients
from failover.settings import Settings
from failover.store import StateStore

# Route 53's control plane and health-check API are served from us-east-1 in the aws partition.
ROUTE53_REGION = "us-east-1"


def region_of(arn: str) -> str:
    return arn.split(":")[3]


class Runtime:
    def __init__(self, settings: Settings, clients: Clients) -> None:
        self.settings = settings
        self._clients = clients

    @cached_property
    def route53(self) -> Route53:
        return Route53(self._clients.get("route53", ROUTE53_REGION))

    @cached_property
    def rds(self) -> Rds:
        return Rds(self._clients.get("rds", self.settings.standby_region))

    @cached_property
    def cloudwatch(self) -> CloudWatch:
        return CloudWatch(self._clients.get("cloudwatch", self.settings.standby_region))

    @cached_property
    def sns(self) -> Sns:
        return Sns(self._clients.get("sns", region_of(self.settings.topic_arn)))

    @cached_property
    def store(self) -> StateStore:
        arn = self.settings.table_arn
        return StateStore(self._clients.get("dynamodb", region_of(arn)), arn.rsplit("/", 1)[-1])


_clients = Clients()


def reset_clients() -> None:
    """Forget cached clients (a host that changes endpoints between runs, like the emulator)."""
    global _clients
    _clients = Clients()


def current() -> Runtime:
    """The runtime for this invocation (settings re-read, clients reused across invocations)."""
    return Runtime(Settings.from_env(), _clients)
