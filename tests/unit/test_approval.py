"""The approval gate's plan rules, its step (the request and the page) and the answer, on fakes and moto."""

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover import approval
from failover.clients import Clients
from failover.errors import ApprovalError
from failover.models import ApprovalInput, ApprovalResult
from failover.plan import EXECUTION_TIMEOUT_SECONDS
from failover.runtime import Runtime
from failover.state import ApprovalRequest
from failover.steps.approval import request_approval
from failover.store import StateStore
from tests.conftest import NOW, PLAN, create_run_table
from tests.unit.fakes import EXECUTION, alarm, assessed, client_error, intake, plan_with, settings_for

RUN = EXECUTION["id"]

# --- the plan ----------------------------------------------------------------------------------------


def test_by_default_no_run_waits_and_existing_plans_are_unchanged() -> None:
    assert not PLAN.approval.used
    assert intake(alarm()).approval is None


def test_each_trigger_kind_follows_its_policy_and_a_reevaluation_follows_the_alarm() -> None:
    plan = plan_with(approval={"manual": "approval", "timeoutMinutes": 5, "onTimeout": "proceed"})
    assert plan.approval.required("manual")
    assert not plan.approval.required("alarm") and not plan.approval.required("reevaluation")
    plan = plan_with(approval={"alarm": "approval"})
    assert plan.approval.required("alarm") and plan.approval.required("reevaluation")
    # And its defaults are the safe ones: wait 15 minutes, then refuse
    assert (plan.approval.timeout_seconds, plan.approval.on_timeout) == (900, "refuse")


def test_intake_tells_the_state_machine_how_long_to_wait_and_what_then() -> None:
    settings = settings_for(plan_with(approval={"alarm": "approval", "timeoutMinutes": 10}))
    need = intake(alarm(), settings).approval
    assert need is not None and need.wire() == {"timeoutSeconds": 600, "onTimeout": "refuse"}
    manual = {"manual": {"operator": "alice", "reason": "drill"}}
    assert intake(manual, settings).approval is None


def test_the_wait_must_fit_the_execution_timeout_and_the_lock_lease_every_problem_listed() -> None:
    # Given rails whose longest run leaves little room (the test plan's, about 1,600 s) and a short lease
    longest = PLAN.longest_run_seconds
    rails = {**PLAN.rails.model_dump(by_alias=True), "lockLeaseSeconds": longest + 60}
    # When the plan waits up to an hour for approval
    with pytest.raises(ValueError) as raised:
        plan_with(rails=rails, approval={"alarm": "approval", "timeoutMinutes": 60})
    # Then both problems are named at once, with their figures
    text = str(raised.value)
    assert (
        f"approval timeout (3600 s) and the wait before a re-evaluation (300 s) must fit in the {EXECUTION_TIMEOUT_SECONDS} s"
        in text
    )
    assert f"approval: the lock lease ({longest + 60} s) must cover the longest run ({longest} s)" in text


def test_a_wait_that_fits_is_accepted_and_an_automatic_plan_is_not_held_to_it() -> None:
    assert plan_with(approval={"alarm": "approval", "timeoutMinutes": 15}).approval.used
    # The timeout of a plan that never waits is not a constraint
    assert not plan_with(approval={"timeoutMinutes": 60}).approval.used


def test_unknown_or_wrong_approval_settings_are_refused() -> None:
    for bad in ({"alarm": "ask"}, {"onTimeout": "maybe"}, {"timeoutMinutes": 0}, {"timeout": 5}):
        with pytest.raises(ValueError, match="approval"):
            plan_with(approval=bad)


# --- the step ----------------------------------------------------------------------------------------


class FakeSns:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, str, str]] = []

    def publish(self, topic: str, subject: str, message: str, outcome: str) -> str:
        self.published.append((topic, subject, message, outcome))
        return "msg-1"


@pytest.fixture
def store() -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        create_run_table(client)
        yield StateStore(client, "regionshift-runs")


def waiting(store: StateStore) -> tuple[FakeSns, ApprovalInput]:
    settings = settings_for(plan_with(approval={"alarm": "approval", "timeoutMinutes": 10}))
    doc = assessed("us-west-2", settings.plan)
    assert doc.intake is not None and doc.assess is not None
    doc.assess.verified.append("2 replica(s) within 60 s of lag (worst 2 s)")
    inp = ApprovalInput(token="token-1", execution=doc.execution, intake=doc.intake, assess=doc.assess)
    sns = FakeSns()
    request_approval(inp, Runtime(settings, Clients(), sns=sns, store=store), NOW)  # type: ignore[arg-type]
    return sns, inp


def test_the_step_records_the_token_and_pages_the_figures_and_the_commands(store: StateStore) -> None:
    # Given a run past every check, in a plan that makes alarm runs wait
    sns, _ = waiting(store)
    # Then the token is recorded under the execution, with the deadline
    request = store.approval_request(RUN)
    assert request is not None and request.token == "token-1" and request.answer is None
    assert request.deadline == NOW + timedelta(minutes=10) and request.on_timeout == "refuse"
    # And the page shows the target, what was verified and the exact commands that answer
    ((_, subject, message, kind),) = sns.published
    assert kind == approval.PAGE_KIND and subject.endswith("APPROVAL NEEDED: us-east-1 -> us-west-2")
    assert "Verified: 2 replica(s) within 60 s of lag" in message
    assert f"regionshift approve {RUN} --table regionshift-runs --region us-west-2" in message
    assert f"regionshift deny {RUN} --table regionshift-runs --region us-west-2" in message
    assert "it is refused (nothing changes)" in message


# --- the answer --------------------------------------------------------------------------------------


class FakeSfn:
    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, **params: Any) -> None:
        self._send("success", params)

    def send_task_failure(self, **params: Any) -> None:
        self._send("failure", params)

    def _send(self, kind: str, params: dict[str, Any]) -> None:
        if self.error:
            raise client_error(self.error, "SendTask")
        self.sent.append((kind, params))


def test_an_approval_is_sent_once_and_audited(store: StateStore) -> None:
    waiting(store)
    sfn = FakeSfn()
    given = approval.answer(store, sfn, RUN, "APPROVED", "carol", "confirmed", NOW)
    # Then the task's output is the answer the ASL stores at $.approval
    ((kind, params),) = sfn.sent
    assert kind == "success" and params["taskToken"] == "token-1"
    assert ApprovalResult.model_validate(json.loads(params["output"])).answer == given
    # And it is recorded, and a second answer is refused naming the first
    assert store.approval_request(RUN).answer == given  # type: ignore[union-attr]
    assert store.operations()[0].kind == "approve" and store.operations()[0].operator == "carol"
    with pytest.raises(ApprovalError, match="already answered: APPROVED by carol"):
        approval.answer(store, sfn, RUN, "DENIED", "dave", "no", NOW)
    assert len(sfn.sent) == 1


def test_a_denial_fails_the_task_with_the_error_the_asl_catches_and_the_answer_as_cause(store: StateStore) -> None:
    waiting(store)
    sfn = FakeSfn()
    approval.answer(store, sfn, RUN, "DENIED", "dave", "restoring in place", NOW)
    ((kind, params),) = sfn.sent
    assert kind == "failure" and params["error"] == "ApprovalDeniedError"
    cause = json.loads(params["cause"])
    assert (cause["decision"], cause["operator"]) == ("DENIED", "dave")
    # SendTaskFailure's limits: error 256, cause 32,768 characters
    assert len(params["error"]) <= 256 and len(params["cause"]) <= 32_768


@pytest.mark.parametrize(
    ("code", "says"),
    [("TaskTimedOut", "too late"), ("TaskDoesNotExist", "no longer waits"), ("InvalidToken", "no longer waits")],
)
def test_an_answer_step_functions_refuses_is_withdrawn_and_explained(store: StateStore, code: str, says: str) -> None:
    waiting(store)
    with pytest.raises(ApprovalError, match=says):
        approval.answer(store, FakeSfn(code), RUN, "APPROVED", "carol", "late", NOW)
    # Then no answer stands, and nothing is logged as approved
    assert store.approval_request(RUN).answer is None  # type: ignore[union-attr]
    assert store.operations() == []


def test_a_run_that_does_not_wait_cannot_be_answered(store: StateStore) -> None:
    with pytest.raises(ApprovalError, match="does not wait for approval"):
        approval.answer(store, FakeSfn(), RUN, "APPROVED", "carol", "?", NOW)


def test_the_page_and_the_audit_say_what_happened() -> None:
    need = intake(alarm(), settings_for(plan_with(approval={"alarm": "approval", "onTimeout": "proceed"}))).approval
    assert "proceeded without an answer" in approval.describe(ApprovalResult(timed_out=True), need)
    request = ApprovalRequest(
        execution=RUN, token="t", requested_at=NOW, deadline=NOW, on_timeout="proceed", target="us-west-2"
    )
    assert request.answer is None
