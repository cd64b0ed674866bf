"""Run a drill scenario on the embedded emulator and describe what happened."""

import json
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from failover import approval
from failover.history import ExecutionHistory, Visit
from failover.models import Outcome
from failover.plan import Plan
from failover.state import AuditRecord, LockHolder
from regionshift.emulator import iam
from regionshift.emulator import stack as emulator
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.deploy import ALARM_NAME, STACK_REGION
from regionshift.emulator.detection import Transition
from regionshift.emulator.engine import Recorder
from regionshift.emulator.estate import alarm_event
from regionshift.emulator.iam import Authorization
from regionshift.emulator.patches import ACCOUNT
from regionshift.emulator.scenario import ApprovalScript, Detection, Scenario, Step, Trigger, encode
from regionshift.execution import follow, start_manual

# Outcomes from the most to the least consequential: the headline of a drill with several runs.
SIGNIFICANCE = (
    Outcome.DEGRADED,
    Outcome.FAILED_OVER,
    Outcome.ROLLED_BACK,
    Outcome.DRY_RUN,
    Outcome.NO_ACTION,
    Outcome.REFUSED,
)
EXECUTION_DEADLINE_SECONDS = 120
# While a run may wait for approval, the drill looks for its request this often (real seconds).
APPROVAL_LOOK_SECONDS = 0.05
# The Fail states' error names (statemachine/failover.asl.json) and the outcome each stands for.
TERMINAL_ERRORS = {"Regionshift.RolledBack": Outcome.ROLLED_BACK, "Regionshift.Degraded": Outcome.DEGRADED}


# Called with each state a run enters, as the drill follows it.
OnState = Callable[["Run", Visit], None]


@dataclass
class Run:
    arn: str
    status: str = "RUNNING"
    states: list[Visit] = field(default_factory=list)
    outcome: Outcome | None = None
    reason: str | None = None
    error: str | None = None
    cause: str | None = None
    audit: AuditRecord | None = None
    virtual_seconds: float = 0.0
    execution: ExecutionHistory | None = None  # the execution as read back once it ended

    def wire(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "status": self.status,
            "states": [s.name for s in self.states],
            "timeline": [{"state": s.name, "at": round(s.at, 1)} for s in self.states],
            "outcome": self.outcome,
            "reason": self.reason,
            "error": self.error,
            "cause": self.cause,
            "virtualSeconds": round(self.virtual_seconds, 1),
        }


@dataclass
class DrillResult:
    scenario: Scenario
    runs: list[Run]
    world: dict[str, Any]
    before: dict[str, Any]
    notifications: list[dict[str, Any]]
    recorder: Recorder
    audit: list[AuditRecord]
    plan: Plan  # the plan the emulated stack ran
    lock: LockHolder | None = None
    effects: list[dict[str, str]] = field(default_factory=list)
    slack: dict[str, list[float]] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # execution ARN -> run report
    denied: list[Authorization] = field(default_factory=list)  # calls the functions' roles did not allow
    transitions: list[Transition] = field(default_factory=list)  # alarm state changes the emulator evaluated
    # What clients resolve for each plan record at the end (emulator/dns.py), in world["dns"]'s shape.
    answers: list[dict[str, Any]] = field(default_factory=list)
    # A scenario that checks each step (Scenario.check_each_step): each step's own result, in order.
    steps: list["StepResult"] = field(default_factory=list)
    # What each failback step rebuilt and found (regionshift.failback).
    failbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome | None:
        outcomes = [r.outcome for r in self.runs if r.outcome]
        for candidate in SIGNIFICANCE:
            if candidate in outcomes:
                return candidate
        return None

    @property
    def mutations(self) -> list[dict[str, Any]]:
        return [
            {
                "service": c.service,
                "operation": c.operation,
                "region": c.region,
                "function": c.function,
                "error": c.error,
            }
            for c in self.recorder.calls
            if c.mutating
        ]

    @property
    def problems(self) -> list[str]:
        """Why the drill did not go as the scenario expects (empty when it did)."""
        expect = self.scenario.expect
        found = []
        if self.outcome != expect.outcome:
            found.append(f"expected outcome {expect.outcome}, got {self.outcome}")
        if expect.runs is not None and len(self.runs) != expect.runs:
            found.append(f"expected {expect.runs} run(s), got {len(self.runs)}")
        if expect.outcomes is not None:
            got = sorted(str(r.outcome) for r in self.runs)
            if got != sorted(expect.outcomes):
                found.append(f"expected run outcomes {sorted(expect.outcomes)}, got {got}")
        for run in self.runs:
            if run.status == "RUNNING":
                found.append(f"execution {run.arn} did not finish")
        for done in self.failbacks:
            if done.get("error"):
                found.append(f"failback {done['region']} refused: {done['error']}")
            elif any(m["state"] != "ready" for m in done["members"]):
                found.append(f"failback {done['region']}: not every replica ready ({done['members']})")
        # A call the template's role does not allow would fail on AWS: the drill is wrong whatever the
        # outcome, unless the scenario drills exactly that denial.
        expected = {(e.function, e.action) for e in expect.denied}
        for d in self.denied:
            if (d.function, d.action) not in expected:
                found.append(f"AccessDenied: {d.function} may not {d.action} on {d.resource}")
        for function, action in sorted(expected - {(d.function, d.action) for d in self.denied}):
            found.append(f"expected {function} to be denied {action}, but it never was")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems

    def wire(self) -> dict[str, Any]:
        first = self.runs[0] if self.runs else None
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "expected": self.scenario.expect.outcome,
            "outcome": self.outcome,
            "passed": self.passed,
            "problems": self.problems,
            "reason": first.reason if first else None,
            "execution": first.wire() if first else None,
            "runs": [r.wire() for r in self.runs],
            "world": self.world,
            "before": self.before,
            "notifications": [{"subject": n["subject"], "outcome": n["outcome"]} for n in self.notifications],
            "mutations": self.mutations,
            "effects": self.effects,
            "calls": [c.wire() for c in self.recorder.calls],
            "retries": [round(r, 3) for r in self.recorder.retries],
            "backoffs": [round(b, 3) for b in self.recorder.backoffs],
            "waits": self.recorder.waits,
            "virtualSeconds": round(self.recorder.elapsed(), 1),
            "audit": [a.wire() for a in self.audit],
            "denied": [{"function": d.function, "action": d.action, "resource": d.resource} for d in self.denied],
            "answers": self.answers,
            "failbacks": self.failbacks,
            "steps": [{"step": st.label, "outcomes": [r.outcome for r in st.result.runs]} for st in self.steps],
            "alarmTransitions": [
                {"alarm": t.alarm, "region": t.region, "state": t.state, "at": round(t.at, 1)} for t in self.transitions
            ],
        }


@dataclass
class StepResult:
    """One step of a chained drill, as a drill of its own: its runs, the world before and after it."""

    label: str
    result: DrillResult


class Session:
    """One emulated estate, provisioned once, on which triggers can be fired one after another."""

    def __init__(self, scenario: Scenario, on_state: OnState | None = None) -> None:
        self.scenario = scenario
        self.on_state = on_state
        self.runs: list[Run] = []
        # When the outage began and the health check turned unhealthy, for runs the chain started.
        self.chain: dict[str, datetime | None] | None = None
        # How the current trigger's runs answer approval requests, and the runs already answered.
        self.approval: ApprovalScript | None = None
        self._answered: set[str] = set()
        self._context = ExitStack()
        self.notifications: list[dict[str, Any]] = []
        self.steps: list[StepResult] = []
        self.failbacks: list[dict[str, Any]] = []

    def __enter__(self) -> "Session":
        self.stack = self._context.enter_context(emulator.start(self.scenario))
        self.recorder = self.stack.recorder
        self.deployment = self.stack.deployment
        self.before = self.snapshot()
        self.sfn = emulated_client("stepfunctions", STACK_REGION)
        self.store = self.deployment.store()
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.close()

    def snapshot(self) -> dict[str, Any]:
        """The estate's databases and where its traffic goes. A data-plane plan's records never change
        (failover pairs): where traffic goes is what clients resolve, so that is its ``dns``."""
        found = self.deployment.snapshot()
        if self.deployment.plan.traffic.mode == "data-plane":
            found["dns"] = [{k: v for k, v in a.items() if k != "failover"} for a in self.stack.estate.answers()]
        return found

    def start(self, documents: list[Any], manual: bool = False) -> list[Run]:
        """Start one run per input document at once, and follow them, and any re-evaluation they start,
        to the end. ``manual``: through the ManualRun state machine, as operators do; otherwise the
        document is the failover state machine's own input (an alarm event, or a raw start)."""
        names = [
            f"drill-{self.scenario.name}-{len(self.runs) + i + 1}-{uuid.uuid4().hex[:8]}"[:80]
            for i in range(len(documents))
        ]
        started = []
        for name, document in zip(names, documents, strict=True):
            if manual:
                arn = start_manual(self.sfn, self.deployment.manual_run_arn, name, document, 0.02)
            else:
                arn = self.sfn.start_execution(
                    stateMachineArn=self.deployment.state_machine_arn, name=name, input=encode(document)
                )["executionArn"]
            started.append(Run(arn))
        batch = started
        while batch:
            self._follow(batch)
            self.runs.extend(batch)
            self._conclude(batch)
            # A run may have started its own re-evaluation: follow it as a run of this drill.
            known = {r.arn for r in self.runs}
            listed = self.sfn.list_executions(stateMachineArn=self.deployment.state_machine_arn)["executions"]
            batch = [
                Run(e["executionArn"])
                for e in sorted(listed, key=lambda e: e["startDate"])
                if e["executionArn"] not in known
            ]
            started.extend(batch)
        return started

    def step(self, step: Step) -> None:
        now = self.recorder.clock.now()
        if step.trigger is not None and step.trigger.detection is not None:
            self.watch(step.trigger.detection)
        elif step.trigger is not None:
            self.approval = step.trigger.approval
            self.start(_trigger_inputs(step.trigger, self.stack), manual=step.trigger.manual is not None)
        elif step.failback is not None:
            self.failback(step.failback.region, step.failback.operator, step.failback.wait_minutes * 60)
        elif step.ack is not None:
            self.store.acknowledge(step.ack.operator, step.ack.reason, now)
        elif step.pause is not None:
            self.store.pause(step.pause.operator, step.pause.reason, now)
        elif step.resume:
            self.store.resume("drill-operator", now)
        elif step.advance is not None:
            self.recorder.clock.advance(step.advance)

    def failback(self, region: str, operator: str, timeout_seconds: float) -> None:
        """What ``regionshift failback --apply --wait`` does, as an operator's calls (Engine.operator):
        replicas of the writers rebuilt in ``region``, then waited for in virtual time."""
        from regionshift import failback

        clock = self.recorder.clock

        with self.stack.engine.operator():
            direction = self.store.direction()
            readers = failback.Readers(emulated_client, self.deployment.plan.along(direction))
            try:
                rebuilt, direction = failback.rebuild(
                    readers, self.store, direction, region, operator, "drill", clock.now()
                )
            except failback.FailbackError as exc:
                # What the command prints before it exits 6: the drill reports it as a problem.
                self.failbacks.append({"region": region, "error": str(exc), "rebuilt": [], "members": []})
                return
            readers = failback.Readers(emulated_client, self.deployment.plan.along(direction))
            found = failback.wait(
                readers, region, clock=clock.now, sleep=clock.advance, timeout_seconds=timeout_seconds
            )
        self.failbacks.append(
            {
                "region": region,
                "rebuilt": [
                    {"database": r.database, "identifier": r.identifier, "created": r.created} for r in rebuilt
                ],
                "members": [{"database": m.database, "identifier": m.identifier, "state": m.state} for m in found],
            }
        )

    def drained(self) -> list[dict[str, Any]]:
        """Every notification published so far (the topic's queue is drained once: kept here)."""
        self.notifications += self.deployment.notifications()
        return list(self.notifications)

    def watch(self, detection: Detection) -> list[Run]:
        """Advance virtual time minute by minute through the estate's detection chain (health checks
        publish, alarms evaluate, EventBridge routes) until the stack's rule delivers an event, then
        follow the run(s) it starts; nothing starts if the horizon passes first."""
        chain = self.stack.detection
        horizon = chain.origin + detection.horizon_seconds
        while chain.next_tick <= horizon:
            self.recorder.clock.advance(chain.next_tick - self.recorder.clock.offset)
            chain.tick()
            documents = _deliveries(self.stack)
            if documents:
                self.chain = chain.chain(self.deployment.parameters["PrimaryHealthCheckId"])
                return self.start(documents)
        return []

    def _follow(self, runs: list[Run]) -> None:
        by_arn = {r.arn: r for r in runs}

        def show(execution: ExecutionHistory) -> None:
            _show_new_states(by_arn[execution.arn], execution, self.on_state)

        # Polling competes with the executions for the interpreter: read the history while running
        # only when someone watches, and not too often.
        watched = show if self.on_state else None
        stop_at = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            left = stop_at - time.monotonic()
            look = min(left, APPROVAL_LOOK_SECONDS) if self.approval else left
            final = follow(self.sfn, list(by_arn), watched, 0.05 if watched else 0.02, look)
            ended = all(a in final and final[a].finished for a in by_arn)
            if ended or self.approval is None or time.monotonic() >= stop_at:
                break
            self._answer_approvals(list(by_arn))
        for r in runs:
            execution = final.get(r.arn)
            if execution is None or not execution.finished:
                continue  # still RUNNING at the deadline: the drill reports it
            r.states = list(execution.visits)  # as they ended (a watcher was shown each already)
            r.execution = execution
            r.status, r.error, r.cause = execution.status, execution.error, execution.cause
            if execution.stopped is not None:
                r.virtual_seconds = (execution.stopped - execution.started).total_seconds()

    def _answer_approvals(self, arns: list[str]) -> None:
        """Answer each run that now waits for approval, as the scenario says, in virtual time."""
        script = self.approval
        assert script is not None
        clock = self.recorder.clock
        for arn in arns:
            if arn in self._answered:
                continue
            request = self.store.approval_request(arn)
            if request is None:
                continue
            self._answered.add(arn)
            left = (request.deadline - clock.now()).total_seconds()
            if script.answer == "none" or script.after_seconds >= left:
                clock.advance(left + 1)  # the wait times out (emulator/patches.py: _virtual_callback_wait)
                continue
            clock.advance(script.after_seconds)
            decision: Literal["APPROVED", "DENIED"] = "APPROVED" if script.answer == "approve" else "DENIED"
            approval.answer(self.store, self.sfn, arn, decision, script.operator, script.reason, clock.now())

    def _conclude(self, runs: list[Run]) -> None:
        by_execution = {record.execution: record for record in self.store.audit(limit=500)}
        for r in runs:
            r.audit = by_execution.get(r.arn)
            if r.audit:
                r.outcome, r.reason = r.audit.outcome, r.audit.reason
            elif r.error in TERMINAL_ERRORS:
                r.outcome, r.reason = TERMINAL_ERRORS[r.error], r.cause

    def result(self, before: dict[str, Any] | None = None, runs: int = 0, effects: int = 0) -> DrillResult:
        """The drill as it stands; from ``before`` on, the runs and effects after the first ``runs`` and
        ``effects`` only (one step of a chain), else the whole drill with its steps."""
        from regionshift import runreport

        mine = self.runs[runs:]
        reports = {r.arn: runreport.build(r.execution, r.audit, self.chain) for r in mine if r.execution is not None}
        return DrillResult(
            reports=reports,
            scenario=self.scenario,
            runs=mine,
            world=self.snapshot(),
            before=before if before is not None else self.before,
            notifications=self.drained(),
            recorder=self.recorder,
            audit=self.store.audit(limit=500),
            plan=self.deployment.plan,
            lock=self.store.lock_holder(),
            effects=self.stack.estate.effects[effects:],
            slack=self.stack.estate.slack,
            denied=[d for guard in iam.guards(self.stack.engine.interceptors) for d in guard.denied],
            transitions=list(self.stack.detection.transitions),
            answers=self.stack.estate.answers(),
            steps=[] if before is not None else list(self.steps),
            failbacks=list(self.failbacks),
        )


def _label(index: int, step: Step) -> str:
    kind = next(
        k for k in ("trigger", "failback", "ack", "pause", "resume", "advance") if getattr(step, k) not in (None, False)
    )
    return f"step {index} ({kind})"


def run(scenario: Scenario, on_state: OnState | None = None) -> DrillResult:
    """Provision the estate, fire the trigger(s), wait for every run, read the world back."""
    with Session(scenario, on_state) as session:
        for index, step in enumerate([Step(trigger=scenario.trigger), *scenario.then]):
            if scenario.check_each_step:
                before, runs, effects = session.snapshot(), len(session.runs), len(session.stack.estate.effects)
            session.step(step)
            if scenario.check_each_step:
                session.steps.append(StepResult(_label(index, step), session.result(before, runs, effects)))
        return session.result()


def _trigger_inputs(trigger: Trigger, stack: emulator.EmulatedStack) -> list[Any]:
    """The execution inputs the trigger produces; an alarm goes through the template's own rule."""
    manual = trigger.manual_input()
    if manual is not None:
        return [manual] * trigger.copies
    if trigger.raw_given:
        return [trigger.raw] * trigger.copies
    alarm = trigger.alarm
    assert alarm is not None
    name = alarm.alarm_name or ALARM_NAME
    alarm_arn = f"arn:aws:cloudwatch:{stack.deployment.parameters['AlarmRegion']}:123456789012:alarm:{name}"
    at = stack.recorder.clock.now() - timedelta(seconds=alarm.age_seconds)
    event = alarm_event(alarm_arn, name, alarm.state, at, alarm.event_id or str(uuid.uuid4()))
    events = emulated_client("events", STACK_REGION)
    events.put_events(
        Entries=[
            {
                "Source": alarm.source,
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "Time": at,
            }
        ]
    )
    inputs = []
    for routed in _deliveries(stack):
        # EventBridge keeps the source event's identity; the emulated bus assigns its own id and
        # region, so put back the ones CloudWatch gave it (it is forwarded from the alarm's region).
        routed.update({key: event[key] for key in ("id", "region", "time", "account", "version")})
        inputs.extend([routed] * trigger.copies)
    return inputs


def _deliveries(stack: emulator.EmulatedStack) -> list[dict[str, Any]]:
    """The events the stack's rule delivered since the last look (its queue target, drained)."""
    sqs = emulated_client("sqs", STACK_REGION)
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=stack.deployment.event_queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            event = json.loads(message["Body"])
            # EventBridge delivers the whole event; moto's default input template leaves out the account.
            event.setdefault("account", ACCOUNT)
            found.append(event)
            sqs.delete_message(QueueUrl=stack.deployment.event_queue, ReceiptHandle=message["ReceiptHandle"])


def _show_new_states(r: Run, execution: ExecutionHistory, on_state: OnState | None) -> None:
    # The emulator stamps history events in virtual time.
    for visit in execution.visits[len(r.states) :]:
        r.states.append(visit)
        if on_state:
            on_state(r, visit)
