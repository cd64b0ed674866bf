"""ElastiCache Global Datastore, which moto 5.2.5 does not implement (its global replication group
actions raise ``NotImplementedError``; its replication groups exist and are used as the members).

* ``CreateGlobalReplicationGroup``: the id is a Region prefix, a dash and the suffix ("a Global
  datastore ID created in the US-West-1 region will begin with "dsdfu""):
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateGlobalReplicationGroup.html
* ``DescribeGlobalReplicationGroups``: ``Members`` only with ``ShowMemberInfo``:
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeGlobalReplicationGroups.html
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_GlobalReplicationGroupMember.html
* ``FailoverGlobalReplicationGroup``: "The secondary region will become primary, and all other
  clusters will become secondary"; ``InvalidGlobalReplicationGroupState``: "The Global datastore is
  not available or in primary-only state":
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html
  While the datastore changes it reads ``modifying`` (the AWS CLI's own example output of a global
  datastore change, https://docs.aws.amazon.com/cli/latest/reference/elasticache/modify-global-replication-group.html),
  then ``available``; members read ``associated``.
* ``GlobalDatastoreReplicationLag``: seconds, ``AWS/ElastiCache``, published in the secondary
  Region for its replication group's primary node (dimension ``CacheClusterId``):
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.engine import VirtualClock, untracked
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.timed import Model, Operation, metric_names, put_metric, seconds_or_stuck, service_error

LAG_METRIC = "GlobalDatastoreReplicationLag"
# The one Region prefix the API reference names; the others follow AWS's published table, which the
# emulator does not copy: a stable five letters per Region stands in for them.
KNOWN_PREFIXES = {"us-west-1": "dsdfu"}


def id_prefix(region: str) -> str:
    if region in KNOWN_PREFIXES:
        return KNOWN_PREFIXES[region]
    digest = hashlib.sha256(region.encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:5])


@dataclass
class _Datastore:
    identifier: str
    members: dict[str, str]  # region -> replication group id
    primary: str  # region
    failover_seconds: float
    stuck: bool
    lag_seconds: float | None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "available"

    @property
    def arn(self) -> str:
        # Global datastores have no Region in their ARN (Service Authorization Reference, ElastiCache).
        return f"arn:aws:elasticache::{ACCOUNT}:globalreplicationgroup:{self.identifier}"


def _groups(region: str) -> dict[str, Any]:
    from moto.elasticache.models import elasticache_backends

    groups: dict[str, Any] = elasticache_backends[ACCOUNT][region].replication_groups
    return groups


class Datastore(Model):
    """ElastiCache global datastores: creation, description and failover over virtual time."""

    service = "elasticache"

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self._stores: dict[str, _Datastore] = {}

    # --- seeding ------------------------------------------------------------------------------------

    def add(
        self,
        global_id: str,
        members: dict[str, str],
        primary_region: str,
        failover_seconds: float = 60.0,
        stuck: bool = False,
        lag_seconds: float | None = None,
    ) -> None:
        """A global datastore of one replication group per Region (created in moto if missing)."""
        if primary_region not in members:
            raise ValueError(f"{global_id}: the primary Region {primary_region} has no member")
        with untracked():
            for region, group in members.items():
                self._ensure_group(region, group)
        self._stores[global_id] = _Datastore(
            global_id, dict(members), primary_region, float(failover_seconds), stuck, lag_seconds
        )
        self.publish_lag()

    @staticmethod
    def _ensure_group(region: str, group: str) -> None:

        if group not in _groups(region):
            emulated_client("elasticache", region).create_replication_group(
                ReplicationGroupId=group,
                ReplicationGroupDescription=group,
                Engine="redis",
                CacheNodeType="cache.r6g.large",
                NumCacheClusters=2,
            )

    # --- ground truth -------------------------------------------------------------------------------

    def primary(self, global_id: str) -> str:
        """The Region whose replication group is the primary now."""
        self._settle(global_id)
        return self._stores[global_id].primary

    def operations(self, global_id: str | None = None) -> list[Operation]:
        return [o for o in self.ledger.operations if global_id is None or o.resource == global_id]

    # --- lag ----------------------------------------------------------------------------------------

    def set_lag(self, global_id: str, lag_seconds: float | None) -> None:
        self._stores[global_id].lag_seconds = lag_seconds

    def publish_lag(self, at: Any = None) -> None:
        when = at or self.clock.now() - timedelta(seconds=30)
        for store in self._stores.values():
            if store.lag_seconds is None:
                continue
            for region, group in store.members.items():
                if region != self.primary(store.identifier):
                    node = _groups(region)[group].member_clusters[0]
                    put_metric(
                        region,
                        "AWS/ElastiCache",
                        LAG_METRIC,
                        {"CacheClusterId": node},
                        store.lag_seconds,
                        "Seconds",
                        when,
                    )

    # --- the engine's interceptor -------------------------------------------------------------------

    def interceptor(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service == "cloudwatch" and LAG_METRIC in metric_names(operation, params):
            self.publish_lag()
            return None
        if service != "elasticache":
            return None
        if operation == "CreateGlobalReplicationGroup":
            return self._create(region, params)
        if operation == "DescribeGlobalReplicationGroups":
            return self._describe_all(params)
        if operation == "FailoverGlobalReplicationGroup":
            return self._failover(params)
        return None

    def _settle(self, global_id: str, noticed: bool = False) -> None:
        pending = self.ledger.pending(global_id)
        if pending is not None:
            self.ledger.settle(pending, self._complete)
        if noticed:
            for done in self.operations(global_id):
                self.ledger.noticed(done)

    def _store(self, global_id: str, operation: str) -> _Datastore:
        store = self._stores.get(global_id)
        if store is None:
            raise service_error(
                "GlobalReplicationGroupNotFoundFault", f"Global datastore {global_id} not found.", operation, 404
            )
        return store

    def _create(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateGlobalReplicationGroup"
        group = str(params["PrimaryReplicationGroupId"]).lower()  # "stored as a lowercase string"
        if group not in _groups(region):
            raise service_error(
                "ReplicationGroupNotFoundFault", f"Replication group {group} not found.", operation, 404
            )
        if any(group == s.members.get(region) for s in self._stores.values()):
            raise service_error(
                "InvalidReplicationGroupState",
                f"Replication group {group} is already a member of a global datastore.",
                operation,
            )
        identifier = f"{id_prefix(region)}-{params['GlobalReplicationGroupIdSuffix']}"
        if identifier in self._stores:
            raise service_error(
                "GlobalReplicationGroupAlreadyExistsFault", f"Global datastore {identifier} already exists.", operation
            )
        tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
        self._stores[identifier] = _Datastore(
            identifier,
            {region: group},
            region,
            60.0,
            False,
            None,
            str(params.get("GlobalReplicationGroupDescription", "")),
            tags,
        )
        return {"GlobalReplicationGroup": self.describe(identifier, members=True)}

    def _describe_all(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("GlobalReplicationGroupId")
        identifiers = [str(wanted)] if wanted is not None else list(self._stores)
        for identifier in identifiers:
            self._store(identifier, "DescribeGlobalReplicationGroups")
            self._settle(identifier, noticed=True)
        members = bool(params.get("ShowMemberInfo"))
        return {"GlobalReplicationGroups": [self.describe(i, members) for i in identifiers]}

    def describe(self, global_id: str, members: bool = True) -> dict[str, Any]:
        """The GlobalReplicationGroup as the API answers it (API_GlobalReplicationGroup.html)."""
        store = self._stores[global_id]
        primary = _groups(store.primary)[store.members[store.primary]]
        found: dict[str, Any] = {
            "GlobalReplicationGroupId": store.identifier,
            "GlobalReplicationGroupDescription": store.description,
            "Status": store.status if len(store.members) > 1 or store.status != "available" else "primary-only",
            "CacheNodeType": primary.cache_node_type,
            "Engine": "redis",
            "ClusterEnabled": False,
            "AuthTokenEnabled": False,
            "TransitEncryptionEnabled": False,
            "AtRestEncryptionEnabled": False,
            "ARN": store.arn,
        }
        if members:
            found["Members"] = [
                {
                    "ReplicationGroupId": group,
                    "ReplicationGroupRegion": region,
                    "Role": "PRIMARY" if region == store.primary else "SECONDARY",
                    "AutomaticFailover": "enabled",
                    "Status": "associated",
                }
                for region, group in store.members.items()
            ]
        return found

    def _failover(self, params: dict[str, Any]) -> dict[str, Any]:
        operation = "FailoverGlobalReplicationGroup"
        identifier = str(params["GlobalReplicationGroupId"])
        store = self._store(identifier, operation)
        self._settle(identifier)
        if store.status != "available" or len(store.members) < 2:
            raise service_error(
                "InvalidGlobalReplicationGroupState",
                f"Global datastore {identifier} is not available or in primary-only state.",
                operation,
            )
        region, group = str(params["PrimaryRegion"]), str(params["PrimaryReplicationGroupId"])
        if region not in store.members:
            raise service_error(
                "InvalidParameterValue", f"Region {region} is not a member of global datastore {identifier}.", operation
            )
        if store.members[region] != group:
            raise service_error(
                "InvalidParameterCombination",
                f"Replication group {group} is not the member of {identifier} in {region}.",
                operation,
            )
        if region == store.primary:
            raise service_error(
                "InvalidParameterValue", f"Replication group {group} is already the primary of {identifier}.", operation
            )
        store.status = "modifying"
        started = self.ledger.start(
            "failover",
            identifier,
            seconds_or_stuck(store.failover_seconds, store.stuck),
            from_region=store.primary,
            to_region=region,
        )
        response = {"GlobalReplicationGroup": self.describe(identifier, members=True)}
        self.ledger.settle(started, self._complete)  # a zero-second failover
        return response

    def _complete(self, operation: Operation) -> None:
        store = self._stores[operation.resource]
        store.primary = operation.detail["to_region"]
        store.status = "available"
