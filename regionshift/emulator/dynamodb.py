"""DynamoDB global tables, which moto 5.2.5 does not implement: ``UpdateTable(ReplicaUpdates=...)``
is silently ignored, ``CreateGlobalTable`` / ``DescribeGlobalTable`` are missing.

Only calls about a global table are answered here; every other call (the product's own state table:
GetItem, PutItem, UpdateItem, Query, DescribeTable of a table never made global) passes to moto.

Version 2019.11.21 (current):
* ``UpdateTable`` with ``ReplicaUpdates`` ``Create`` / ``Delete``: "UpdateTable is an asynchronous
  operation; while it's executing, the table status changes from ACTIVE to UPDATING. While it's
  UPDATING, you can't issue another UpdateTable request" (``ResourceInUseException``). A replica is
  ``CREATING`` then ``ACTIVE``, ``DELETING`` then gone:
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ReplicaDescription.html
* ``DescribeTable`` in any replica's Region: ``GlobalTableVersion`` and ``Replicas`` (the table's
  replicas in the other Regions, as the tutorial's output lists them):
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables.tutorial.html
Version 2017.11.29 (legacy), minimally:
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateGlobalTable.html
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeGlobalTable.html
``ReplicationLatency``: milliseconds, ``AWS/DynamoDB``, dimensions ``TableName`` and
``ReceivingRegion``, "emitted for every source- and destination-Region pair": published in each
source replica's Region:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_monitoring.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.engine import VirtualClock, untracked
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.timed import Model, Operation, metric_names, put_metric, seconds_or_stuck, service_error

CURRENT_VERSION = "2019.11.21"
LAG_METRIC = "ReplicationLatency"


@dataclass
class _Table:
    name: str
    home: str  # the Region whose moto table the description is read from
    replicas: dict[str, str]  # region -> ReplicaStatus
    replica_seconds: float
    stuck: bool
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # receiving region -> latency


@dataclass
class _Legacy:
    name: str
    regions: list[str]
    created: Any


def _moto_table(region: str, name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][region].tables.get(name)


def _error(code: str, message: str, operation: str) -> Exception:
    # DynamoDB answers its errors with HTTP 400 and the exception's name as the code (API reference, "Errors").
    return service_error(code, message, operation, 400)


class GlobalTables(Model):
    """DynamoDB global tables: replicas created and deleted over virtual time."""

    service = "dynamodb"

    def __init__(self, clock: VirtualClock, replica_seconds: float = 600.0) -> None:
        super().__init__(clock)
        self.replica_seconds = replica_seconds
        self._tables: dict[str, _Table] = {}
        self._legacy: dict[str, _Legacy] = {}

    # --- seeding ------------------------------------------------------------------------------------

    def add(
        self,
        table: str,
        regions: dict[str, str],
        latency_ms: dict[str, float | None] | None = None,
        *,
        replica_seconds: float | None = None,
        stuck: bool = False,
    ) -> None:
        """A global table with a replica per Region in the given status (``ACTIVE``, or ``CREATING``: a
        replica still being created when the run starts). The first Region's table must exist in moto."""
        home = next(iter(regions))
        if _moto_table(home, table) is None:
            raise ValueError(f"table {table} does not exist in {home}")
        record = _Table(
            table,
            home,
            dict.fromkeys(regions, "ACTIVE"),
            float(self.replica_seconds if replica_seconds is None else replica_seconds),
            stuck,
            dict(latency_ms or {}),
        )
        self._tables[table] = record
        for region, status in regions.items():
            if status == "CREATING":
                self._start(record, "replica-create", region)
        self.publish_lag()

    # --- ground truth -------------------------------------------------------------------------------

    def replicas(self, table: str) -> dict[str, str]:
        """Each replica's ReplicaStatus now."""
        record = self._tables[table]
        self._settle(record)
        return dict(record.replicas)

    def operations(self, table: str | None = None) -> list[Operation]:
        return [o for o in self.ledger.operations if table is None or o.resource == table]

    # --- lag ----------------------------------------------------------------------------------------

    def set_latency(self, table: str, latency_ms: dict[str, float | None]) -> None:
        self._tables[table].latency_ms.update(latency_ms)

    def publish_lag(self, at: Any = None) -> None:
        when = at or self.clock.now() - timedelta(seconds=30)
        for record in self._tables.values():
            active = [r for r, s in record.replicas.items() if s == "ACTIVE"]
            for receiving, value in record.latency_ms.items():
                if value is None:
                    continue
                for source in active:
                    if source != receiving:
                        put_metric(
                            source,
                            "AWS/DynamoDB",
                            LAG_METRIC,
                            {"TableName": record.name, "ReceivingRegion": receiving},
                            value,
                            "Milliseconds",
                            when,
                        )

    # --- the engine's interceptor -------------------------------------------------------------------

    def interceptor(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if service == "cloudwatch" and LAG_METRIC in metric_names(operation, params):
            self.publish_lag()
            return None
        if service != "dynamodb":
            return None
        if operation == "UpdateTable" and params.get("ReplicaUpdates"):
            return self._update(region, params)
        if operation == "DescribeTable" and params.get("TableName") in self._tables:
            return self._describe_table(region, str(params["TableName"]))
        if operation == "CreateGlobalTable":
            return self._create_global_table(region, params)
        if operation == "DescribeGlobalTable":
            return self._describe_global_table(str(params["GlobalTableName"]))
        return None

    def _pending(self, record: _Table) -> list[Operation]:
        return [o for o in self.operations(record.name) if o.completed is None]

    def _settle(self, record: _Table, noticed: bool = False) -> None:
        for operation in self._pending(record):
            self.ledger.settle(operation, self._complete)
        if noticed:
            for done in self.operations(record.name):
                self.ledger.noticed(done)

    def _start(self, record: _Table, kind: str, region: str) -> None:
        record.replicas[region] = "CREATING" if kind == "replica-create" else "DELETING"
        self.ledger.start(kind, record.name, seconds_or_stuck(record.replica_seconds, record.stuck), region=region)

    def _complete(self, operation: Operation) -> None:
        record = self._tables[operation.resource]
        region = operation.detail["region"]
        if operation.kind == "replica-create":
            record.replicas[region] = "ACTIVE"
        else:
            record.replicas.pop(region, None)

    def _update(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        operation = "UpdateTable"
        name = str(params["TableName"])
        record = self._tables.get(name)
        if record is None:
            if _moto_table(region, name) is None:
                raise _error(
                    "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found", operation
                )
            # Any table becomes a global table by its first replica update.
            record = self._tables[name] = _Table(name, region, {region: "ACTIVE"}, self.replica_seconds, False)
        self._settle(record)
        if region not in record.replicas:
            raise _error(
                "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found", operation
            )
        if self._pending(record):
            raise _error(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being updated: {name}",
                operation,
            )
        updates = [
            (kind, str(u[kind]["RegionName"]))
            for u in params["ReplicaUpdates"]
            for kind in ("Create", "Delete")
            if kind in u
        ]
        for kind, target in updates:
            # Validation of the request as a whole, before any replica changes.
            if kind == "Create" and target in record.replicas:
                raise _error("ValidationException", f"Table {name} already has a replica in {target}.", operation)
            if kind == "Delete" and target not in record.replicas:
                raise _error("ValidationException", f"Table {name} has no replica in {target}.", operation)
        for kind, target in updates:
            self._start(record, "replica-create" if kind == "Create" else "replica-delete", target)
        return {"TableDescription": self._description(record, region)}

    def _describe_table(self, region: str, name: str) -> dict[str, Any] | None:
        record = self._tables[name]
        self._settle(record, noticed=True)
        if region not in record.replicas:
            return None  # no replica there: moto answers ResourceNotFoundException, as DynamoDB does
        return {"Table": self._description(record, region)}

    def _description(self, record: _Table, region: str) -> dict[str, Any]:

        with untracked():
            found: dict[str, Any] = emulated_client("dynamodb", record.home).describe_table(TableName=record.name)[
                "Table"
            ]
        found.pop("ResponseMetadata", None)
        found["TableArn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{record.name}"
        own = record.replicas[region]
        found["TableStatus"] = "CREATING" if own == "CREATING" else "UPDATING" if self._pending(record) else "ACTIVE"
        found["GlobalTableVersion"] = CURRENT_VERSION
        found["Replicas"] = [{"RegionName": r, "ReplicaStatus": s} for r, s in record.replicas.items() if r != region]
        return found

    # --- legacy, version 2017.11.29 -------------------------------------------------------------

    def _create_global_table(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateGlobalTable"
        name = str(params["GlobalTableName"])
        if name in self._legacy:
            raise _error("GlobalTableAlreadyExistsException", f"Global table {name} already exists.", operation)
        regions = [str(r["RegionName"]) for r in params["ReplicationGroup"]]
        for replica in regions:
            if _moto_table(replica, name) is None:
                # "A source table with the name TableName does not currently exist within the
                # subscriber's account or the subscriber is operating in the wrong Region."
                raise _error("TableNotFoundException", f"Table {name} not found in {replica}.", operation)
        self._legacy[name] = _Legacy(name, regions, self.clock.now())
        return {"GlobalTableDescription": self._legacy_description(name, "CREATING")}

    def _describe_global_table(self, name: str) -> dict[str, Any]:
        if name not in self._legacy:
            raise _error("GlobalTableNotFoundException", f"Global table {name} not found.", "DescribeGlobalTable")
        return {"GlobalTableDescription": self._legacy_description(name, "ACTIVE")}

    def _legacy_description(self, name: str, status: str) -> dict[str, Any]:
        legacy = self._legacy[name]
        return {
            "ReplicationGroup": [{"RegionName": r} for r in legacy.regions],
            "GlobalTableArn": f"arn:aws:dynamodb::{ACCOUNT}:global-table/{name}",
            "CreationDateTime": legacy.created,
            "GlobalTableStatus": status,
            "GlobalTableName": name,
        }
