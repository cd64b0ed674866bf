"""What a DNS client gets from Route 53 for a name and type in the emulated hosted zones.

Route 53 answers DNS queries from its data plane, which keeps working while its API (us-east-1) does
not ("Route 53 ... operates its control plane in the us-east-1 Region, but its data plane is distributed
across hundreds of PoPs globally"; health checks are part of the data plane: AWS Fault Isolation
Boundaries, "Global services",
https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html).

``answer`` is a pure function of moto's hosted zones and a health oracle (``RecordHealth``): a simple
record answers its values (an alias, its target's DNS name); a failover pair answers the PRIMARY if it
is healthy, else the SECONDARY if it is healthy, else, every record of the group being unhealthy, as if
all were healthy: the PRIMARY. Route 53 Developer Guide, "How Amazon Route 53 chooses records when
health checking is configured"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html):
"Records without health checks are always healthy", "If no record is healthy, all records are healthy";
for an "Alias record with Evaluate Target Health set to Yes", "Route 53 checks the health status of the
resource that the alias record references". And "If the health check status for all resource record
sets in the group is unhealthy, Route 53 considers all resource record sets in the group healthy and
responds to DNS queries accordingly" (API Reference, ResourceRecordSet, HealthCheckId).
"""

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from regionshift.emulator.healthchecks import PARTITION
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.route53 import _alias, _fqdn, _stored, _values

ROLES = ("PRIMARY", "SECONDARY")


class RecordHealth(Protocol):
    """What Route 53 knows of health when a query arrives (it checks periodically, not per query)."""

    def check(self, health_check_id: str) -> bool:
        """Whether the health check is healthy now."""
        ...

    def target(self, hosted_zone_id: str, dns_name: str) -> bool:
        """Whether an alias target (``EvaluateTargetHealth``) is healthy now, e.g. a load balancer's."""
        ...


class Answer(BaseModel):
    """The record Route 53 answers with, and its value(s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # the record's name, without the trailing dot
    type: str
    values: list[str]  # the record's values, or the alias target's DNS name (lower case, no trailing dot)
    alias: bool
    failover: Literal["PRIMARY", "SECONDARY"] | None = None  # which record of a failover pair answered
    set_identifier: str | None = None


class UnmodelledRoutingError(ValueError):
    """A record group whose routing policy the emulator does not answer (weighted, latency...)."""


def _bare(name: str) -> str:
    return _fqdn(name).rstrip(".")


def _zone_for(name: str) -> Any | None:
    """The public hosted zone that answers for ``name``: the one whose name is its longest suffix."""
    from moto.route53.models import route53_backends

    fqdn = _fqdn(name)
    zones = [
        z
        for z in route53_backends[ACCOUNT][PARTITION].zones.values()
        if not z.private_zone and (fqdn == _fqdn(z.name) or fqdn.endswith("." + _fqdn(z.name)))
    ]
    return max(zones, key=lambda z: len(_fqdn(z.name)), default=None)


def _healthy(record: dict[str, Any], health: RecordHealth) -> bool:
    """A record is healthy when its health check (if any) is, and, for an alias that evaluates its
    target's health, when its target is."""
    check = record.get("HealthCheckId")
    if check is not None and not health.check(str(check)):
        return False
    alias = _alias(record)
    return alias is None or not alias[2] or health.target(alias[0], _bare(alias[1]))


def _answer(record: dict[str, Any]) -> Answer:
    alias = _alias(record)
    return Answer(
        name=_bare(record["Name"]),
        type=str(record["Type"]),
        values=[_bare(alias[1])] if alias else _values(record),
        alias=alias is not None,
        failover=record.get("Failover"),
        set_identifier=record.get("SetIdentifier"),
    )


def answer(name: str, rtype: str, health: RecordHealth) -> Answer | None:
    """What Route 53 answers for ``name`` and ``rtype`` now (None: no such record in any hosted zone)."""
    zone = _zone_for(name)
    if zone is None:
        return None
    group = [r for r in map(_stored, zone.rrsets) if _fqdn(r["Name"]) == _fqdn(name) and r["Type"] == rtype]
    if not group:
        return None
    if len(group) == 1 and "Failover" not in group[0] and "SetIdentifier" not in group[0]:
        return _answer(group[0])  # a simple record: the whole group, answered whatever its health
    roles = {r.get("Failover"): r for r in group}
    if set(roles) - set(ROLES) or len(roles) != len(group):
        raise UnmodelledRoutingError(
            f"{_bare(name)} {rtype}: only a simple record or a failover pair is answered "
            f"(found {len(group)} record(s), failover roles {sorted(str(k) for k in roles)})"
        )
    ordered = [roles[role] for role in ROLES if role in roles]
    for record in ordered:
        if _healthy(record, health):
            return _answer(record)
    return _answer(ordered[0])  # none healthy: all are considered healthy, and the primary is chosen
