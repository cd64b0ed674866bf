"""The run-state table (DynamoDB): run lock, pause switch, cooldown, seen events, capture and audit.

One table, keyed by ``pk`` / ``sk``. The operator CLI uses this same module, so the rules that
decide whether a lock is held or a cooldown is active live in one place.
"""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from failover.clients import CallKind, call
from failover.errors import DirectionUnreadableError, StateStoreError
from failover.models import ApprovalAnswer, Direction, Outcome
from failover.state import (
    ApprovalRequest,
    AuditRecord,
    Cooldown,
    LockHolder,
    OperationKind,
    OperatorAction,
    Pause,
    RunFact,
)

LOCK = {"pk": {"S": "LOCK"}, "sk": {"S": "LOCK"}}
PAUSE = {"pk": {"S": "CONTROL"}, "sk": {"S": "PAUSE"}}
COOLDOWN = {"pk": {"S": "CONTROL"}, "sk": {"S": "COOLDOWN"}}
# Data-plane mode: the plan (by digest) whose failover pairs `regionshift plan pairs --apply` provisioned.
PAIRS = {"pk": {"S": "CONTROL"}, "sk": {"S": "PAIRS"}}
# Where the writers are now, when not where the plan put them (failover.models.Direction).
DIRECTION = {"pk": {"S": "CONTROL"}, "sk": {"S": "DIRECTION"}}
# Runs waiting for approval: the request under the execution's ARN, its one answer beside it. A
# partition of its own, so that operators may write answers there and nowhere near the lock or audit.
APPROVAL = "APPROVAL"
_CONDITIONAL_FAILED = frozenset({"ConditionalCheckFailedException"})


def _epoch(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class StateStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    # --- run lock -----------------------------------------------------------------------------

    def acquire_lock(self, owner: str, now: datetime, lease_seconds: int) -> tuple[bool, LockHolder | None]:
        """Take the lock unless another live run holds it. Returns (acquired, current holder).

        Re-acquiring one's own lock succeeds, so a retried step is harmless; an expired lease is
        taken over, so a crashed run blocks failover only until its lease ends.
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        if not self._write_if(
            "acquire lock",
            lambda: self._client.put_item(
                TableName=self._table,
                Item={
                    **LOCK,
                    "owner": {"S": owner},
                    "leaseUntil": {"N": _epoch(lease_until)},
                    "acquiredAt": {"S": _iso(now)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #o = :me OR leaseUntil < :now",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}, ":now": {"N": _epoch(now)}},
            ),
        ):
            return False, self.lock_holder()
        return True, LockHolder(owner=owner, lease_until=lease_until, acquired_at=now)

    def lock_holder(self) -> LockHolder | None:
        item = self._get(LOCK)
        if not item:
            return None
        acquired = item.get("acquiredAt", {}).get("S")
        return LockHolder(
            owner=item["owner"]["S"],
            lease_until=datetime.fromtimestamp(int(item["leaseUntil"]["N"]), tz=UTC),
            acquired_at=datetime.fromisoformat(acquired) if acquired else None,
        )

    def release_lock(self, owner: str) -> bool:
        """Release the lock if ``owner`` still holds it; ``False`` if it did not."""
        return self._write_if(
            "release lock",
            lambda: self._client.delete_item(
                TableName=self._table,
                Key=LOCK,
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            ),
        )

    def break_lock(self, holder: LockHolder, operator: str, reason: str, now: datetime) -> bool:
        """Remove the lock an operator found stale, only if ``holder`` still holds it (same owner,
        same acquisition), so a lock a new run took meanwhile is never removed; audited as ``unlock``."""
        values = {":me": {"S": holder.owner}}
        condition = "#o = :me"
        if holder.acquired_at is not None:
            condition += " AND acquiredAt = :at"
            values[":at"] = {"S": _iso(holder.acquired_at)}
        if not self._write_if(
            "unlock",
            lambda: self._client.delete_item(
                TableName=self._table,
                Key=LOCK,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=values,
            ),
        ):
            return False
        self.record_operation("unlock", operator, f"{reason} (lock of {holder.owner})", now)
        return True

    # --- pause switch and cooldown ---------------------------------------------------------------

    def pause(self, operator: str, reason: str, now: datetime, replace: bool = True) -> tuple[bool, Pause | None]:
        """Pause failover. Returns (paused, the pause in place before). Without ``replace``, an
        existing pause is kept (a conditional write, so two operators cannot both think they paused)."""
        previous = self.paused()
        condition = {} if replace else {"ConditionExpression": "attribute_not_exists(pk)"}
        if not self._write_if(
            "pause",
            lambda: self._client.put_item(
                TableName=self._table,
                Item={**PAUSE, "operator": {"S": operator}, "reason": {"S": reason}, "at": {"S": _iso(now)}},
                **condition,
            ),
        ):
            return False, self.paused()
        replaced = f" (replaced the pause by {previous.operator}: {previous.reason})" if previous else ""
        self.record_operation("pause", operator, reason + replaced, now)
        return True, previous

    def resume(self, operator: str, now: datetime, reason: str | None = None) -> Pause | None:
        """Lift the pause; returns the pause that was lifted (``None`` if there was none)."""
        lifted = self.paused()
        call(
            CallKind.WRITE,
            StateStoreError,
            "resume",
            lambda: self._client.delete_item(TableName=self._table, Key=PAUSE),
        )
        if lifted:
            why = f"{reason} (lifted pause: {lifted.reason})" if reason else f"lifted pause: {lifted.reason}"
            self.record_operation("resume", operator, why, now)
        return lifted

    def paused(self) -> Pause | None:
        item = self._get(PAUSE)
        if not item:
            return None
        return Pause(operator=item["operator"]["S"], reason=item["reason"]["S"], at=item["at"]["S"])

    def record_pairs(self, digest: str, operator: str, now: datetime) -> None:
        """The plan ``digest``'s failover pairs were provisioned (and verified by Route 53 applying them)."""
        self._put({**PAIRS, "digest": {"S": digest}, "operator": {"S": operator}, "at": {"S": _iso(now)}})

    def pairs_digest(self) -> str | None:
        """The digest of the plan whose pairs were last provisioned, or ``None``."""
        item = self._get(PAIRS)
        return str(item["digest"]["S"]) if item else None

    def direction(self) -> Direction | None:
        """The estate's recorded direction, or ``None`` (it stands as the plan was written)."""
        item = self._get(DIRECTION)
        if not item:
            return None
        try:
            return Direction.model_validate_json(item["direction"]["S"])
        except (KeyError, ValueError) as exc:
            written = str(item.get("version", {}).get("N", ""))
            version = int(written) if written.isdigit() else 0
            raise DirectionUnreadableError(
                f"the recorded direction (CONTROL/DIRECTION) cannot be read ({str(exc)[:200]}): "
                "correct it with regionshift direction set",
                version,
            ) from exc

    def set_direction(self, direction: Direction, over: Direction | None) -> Direction | None:
        """Record ``direction`` with its version one more than ``over``'s, and return it as recorded;
        None when another change came first (nothing is written: the caller reads it again)."""
        expected = over.version if over is not None else 0
        recorded = direction.model_copy(update={"version": expected + 1})
        item = {
            **DIRECTION,
            "direction": {"S": recorded.model_dump_json(by_alias=True)},
            "version": {"N": str(recorded.version)},
        }
        condition = "attribute_not_exists(pk)" if over is None else "version = :v"
        if over is not None and expected == 0:
            condition += " OR attribute_not_exists(version)"  # replacing an unreadable item without one
        values = {} if over is None else {"ExpressionAttributeValues": {":v": {"N": str(expected)}}}
        written = self._write_if(
            "record direction",
            lambda: self._client.put_item(TableName=self._table, Item=item, ConditionExpression=condition, **values),
        )
        return recorded if written else None

    def start_cooldown(self, execution_id: str, outcome: Outcome, until: datetime) -> None:
        self._put(
            {
                **COOLDOWN,
                "until": {"N": _epoch(until)},
                "execution": {"S": execution_id},
                "outcome": {"S": outcome},
            }
        )

    def cooldown(self, now: datetime) -> Cooldown | None:
        """The active cooldown, or ``None`` when there is none, it expired or it was acknowledged."""
        item = self._get(COOLDOWN)
        if not item or int(item["until"]["N"]) <= int(now.timestamp()):
            return None
        return Cooldown(
            until=datetime.fromtimestamp(int(item["until"]["N"]), tz=UTC),
            execution=item["execution"]["S"],
            outcome=Outcome(item["outcome"]["S"]),
        )

    def acknowledge(self, operator: str, reason: str, now: datetime) -> Cooldown | None:
        """End the active cooldown; the acknowledgement is kept in the audit trail."""
        active = self.cooldown(now)
        if active is None:
            return None
        call(
            CallKind.WRITE,
            StateStoreError,
            "acknowledge cooldown",
            lambda: self._client.delete_item(TableName=self._table, Key=COOLDOWN),
        )
        self.record_operation("ack", operator, f"{reason} (cooldown after {active.execution})", now)
        return active

    def record_operation(self, kind: OperationKind, operator: str, reason: str, now: datetime) -> None:
        """Keep an operator's action (pause, resume, ack, unlock) beside the run audit records."""
        self._put(
            {
                "pk": {"S": "OPS"},
                # Two actions in the same instant (one command recording several) must not overwrite.
                "sk": {"S": f"{_iso(now)}#{kind}#{uuid.uuid4().hex[:8]}"},
                "kind": {"S": kind},
                "operator": {"S": operator},
                "reason": {"S": reason},
            }
        )

    def operations(self, limit: int = 50) -> list[OperatorAction]:
        return [
            OperatorAction(
                at=i["sk"]["S"].split("#")[0],
                kind=i["kind"]["S"],
                operator=i["operator"]["S"],
                reason=i["reason"]["S"],
            )
            for i in self._newest("OPS", limit)
        ]

    # --- duplicate deliveries ---------------------------------------------------------------------

    def claim_event(self, event_id: str, execution_id: str, now: datetime, keep_seconds: int) -> str | None:
        """Record that this execution handles ``event_id``; returns the other owner if one did first."""
        if not self._write_if(
            "claim event",
            lambda: self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": "EVENT"},
                    "sk": {"S": event_id},
                    "execution": {"S": execution_id},
                    "expiresAt": {"N": _epoch(now + timedelta(seconds=keep_seconds))},
                },
                ConditionExpression="attribute_not_exists(pk) OR execution = :me",
                ExpressionAttributeValues={":me": {"S": execution_id}},
            ),
        ):
            item = self._get({"pk": {"S": "EVENT"}, "sk": {"S": event_id}})
            return item["execution"]["S"] if item else "another execution"
        return None

    # --- what a run changed (kept outside the run's own state, so a failed step cannot lose it) ---

    def save_run_fact(self, execution_id: str, fact: RunFact, value: Any, key: str = "") -> None:
        """``key`` tells facts of one kind apart (one per database or zone)."""
        sort_key = f"{fact}#{key}" if key else str(fact)
        self._put({"pk": {"S": f"RUN#{execution_id}"}, "sk": {"S": sort_key}, "value": {"S": json.dumps(value)}})

    def run_fact(self, execution_id: str, fact: RunFact, key: str = "") -> Any:
        sort_key = f"{fact}#{key}" if key else str(fact)
        item = self._get({"pk": {"S": f"RUN#{execution_id}"}, "sk": {"S": sort_key}})
        return json.loads(item["value"]["S"]) if item else None

    # --- approval ------------------------------------------------------------------------------

    def request_approval(self, request: ApprovalRequest) -> None:
        """Record that ``request.execution`` waits for an answer (a retried step writes it again, with
        the new task token: only the latest token answers)."""
        self._put(self._approval_item(request.execution, request.model_dump_json(by_alias=True, exclude={"answer"})))

    def approval_request(self, execution_id: str) -> ApprovalRequest | None:
        """The run's approval request, with its answer if one was given."""
        item = self._get(self._approval_key(execution_id))
        if not item:
            return None
        answered = self._get(self._approval_key(execution_id, "#answer"))
        request = ApprovalRequest.model_validate_json(item["record"]["S"])
        if answered:
            request.answer = ApprovalAnswer.model_validate_json(answered["record"]["S"])
        return request

    def waiting_approvals(self, now: datetime, limit: int = 50) -> list[ApprovalRequest]:
        """Runs that wait for an answer now (no answer yet, deadline ahead), among the newest requests."""
        items = self._newest(APPROVAL, limit)
        answered = {i["sk"]["S"].removesuffix("#answer") for i in items if i["sk"]["S"].endswith("#answer")}
        requests = [
            ApprovalRequest.model_validate_json(i["record"]["S"])
            for i in items
            if not i["sk"]["S"].endswith("#answer") and i["sk"]["S"] not in answered
        ]
        return [r for r in requests if r.deadline > now]

    def claim_answer(self, execution_id: str, answer: ApprovalAnswer) -> ApprovalAnswer | None:
        """Record ``answer`` unless the run was answered already; returns that earlier answer if so (a
        conditional write: two operators answering at once cannot both win)."""
        if not self._write_if(
            "answer approval",
            lambda: self._client.put_item(
                TableName=self._table,
                Item=self._approval_item(execution_id, answer.model_dump_json(by_alias=True), "#answer"),
                ConditionExpression="attribute_not_exists(pk)",
            ),
        ):
            request = self.approval_request(execution_id)
            return request.answer if request and request.answer else answer
        return None

    def withdraw_answer(self, execution_id: str, answer: ApprovalAnswer) -> None:
        """Remove an answer Step Functions did not take (the wait had ended), only if it is still this one."""
        # A failed condition: another answer replaced it meanwhile, and that one stands.
        self._write_if(
            "withdraw approval answer",
            lambda: self._client.delete_item(
                TableName=self._table,
                Key=self._approval_key(execution_id, "#answer"),
                ConditionExpression="#r = :mine",
                ExpressionAttributeNames={"#r": "record"},
                ExpressionAttributeValues={":mine": {"S": answer.model_dump_json(by_alias=True)}},
            ),
        )

    @staticmethod
    def _approval_key(execution_id: str, suffix: str = "") -> dict[str, Any]:
        return {"pk": {"S": APPROVAL}, "sk": {"S": execution_id + suffix}}

    def _approval_item(self, execution_id: str, record: str, suffix: str = "") -> dict[str, Any]:
        return {**self._approval_key(execution_id, suffix), "record": {"S": record}}

    # --- audit ---------------------------------------------------------------------------------

    def put_audit(self, record: AuditRecord) -> None:
        self._put(
            {
                "pk": {"S": "AUDIT"},
                "sk": {"S": f"{_iso(record.started_at)}#{record.execution}"},
                "execution": {"S": record.execution},
                "outcome": {"S": record.outcome},
                "record": {"S": record.model_dump_json(by_alias=True)},
            }
        )

    def audit(self, limit: int = 50) -> list[AuditRecord]:
        """The newest audit records first."""
        return [AuditRecord.model_validate_json(item["record"]["S"]) for item in self._newest("AUDIT", limit)]

    def audit_of(self, execution_id: str, limit: int = 200) -> AuditRecord | None:
        """The audit record of one execution among the newest ``limit``, if it was written."""
        return next((record for record in self.audit(limit) if record.execution == execution_id), None)

    # --- plumbing -------------------------------------------------------------------------------

    def _newest(self, pk: str, limit: int) -> list[dict[str, Any]]:
        """The items of one partition, newest (highest sort key) first."""
        answer = call(
            CallKind.READ,
            StateStoreError,
            f"read {pk.lower()}",
            lambda: self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ScanIndexForward=False,
                Limit=limit,
            ),
        )
        items: list[dict[str, Any]] = answer.get("Items", [])
        return items

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        answer = call(
            CallKind.READ,
            StateStoreError,
            "read state",
            lambda: self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True),
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _put(self, item: dict[str, Any]) -> None:
        call(
            CallKind.WRITE,
            StateStoreError,
            "write state",
            lambda: self._client.put_item(TableName=self._table, Item=item),
        )

    def _write_if(self, what: str, write: Callable[[], Any]) -> bool:
        """One conditional write: ``True`` when it was made, ``False`` when its condition failed. Every
        other failure is raised as ``call`` translates it (retried first when transient)."""
        try:
            call(CallKind.WRITE, StateStoreError, what, write, passthrough=_CONDITIONAL_FAILED)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _CONDITIONAL_FAILED:
                return False
            raise
        return True
