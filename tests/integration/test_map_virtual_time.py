"""An inline Map's iterations in virtual time (mapstate.py): MaxConcurrency slots, each iteration in
its own fork of the clock, run one after another, the same way every run.

Tiny state machines run on moto with the emulator's patches applied. Each iteration is a Pass, a Wait
of its item's ``seconds`` and a Choice that fails the iteration when the item says so.
"""

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from regionshift.emulator import patches
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.emulator.mapstate import Slots
from regionshift.emulator.stack import in_process

REGION = "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/map-virtual-time"
POLLS = 3000  # at 10 ms a poll: 30 s for a run that takes well under one


def _machine(max_concurrency: int) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": max_concurrency,
                "ItemSelector": {
                    "seconds.$": "$$.Map.Item.Value.seconds",
                    "fail.$": "$$.Map.Item.Value.fail",
                    "index.$": "$$.Map.Item.Index",
                    "batch.$": "$.batch",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Tag",
                    "States": {
                        "Tag": {"Type": "Pass", "ResultPath": "$.tagged", "Result": True, "Next": "Hold"},
                        "Hold": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Verdict"},
                        "Verdict": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.fail", "StringEquals": "early", "Next": "FailEarly"},
                                {"Variable": "$.fail", "StringEquals": "late", "Next": "FailLate"},
                            ],
                            "Default": "Done",
                        },
                        "FailEarly": {"Type": "Fail", "Error": "Item.Early", "Cause": "the earlier failure"},
                        "FailLate": {"Type": "Fail", "Error": "Item.Late", "Cause": "the later failure"},
                        "Done": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
            }
        },
    }


def _items(seconds: list[int], fail: dict[int, str] | None = None) -> str:
    fail = fail or {}
    items = [{"seconds": s, "fail": fail.get(i, "no")} for i, s in enumerate(seconds)]
    return json.dumps({"batch": "b1", "items": items})


class World:
    def __init__(self, engine: Engine) -> None:
        self.clock = engine.recorder.clock
        self.recorder = engine.recorder
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self._count = 0

    def run(self, max_concurrency: int, execution_input: str) -> dict[str, Any]:
        """Start the Map machine and poll until the execution has ended (bounded)."""
        self._count += 1
        machine = self.sfn.create_state_machine(
            name=f"m{self._count}", definition=json.dumps(_machine(max_concurrency)), roleArn=ROLE
        )["stateMachineArn"]
        arn = self.sfn.start_execution(stateMachineArn=machine, name=f"e{self._count}", input=execution_input)[
            "executionArn"
        ]
        for _ in range(POLLS):
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.01)  # a poll pause: the execution runs on moto's thread (its waits are virtual)
        raise AssertionError(f"{arn} still RUNNING after {POLLS} polls")

    def events(self, execution: dict[str, Any]) -> list[dict[str, Any]]:
        history = self.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
        return list(history["events"])


@pytest.fixture
def world() -> Iterator[World]:
    engine = Engine(Recorder(VirtualClock()), base_env={})
    with in_process(), patches.applied(engine):
        yield World(engine)


def _iterations(events: list[dict[str, Any]], kind: str) -> list[int]:
    key = f"mapIteration{kind}EventDetails"
    return [e[key]["index"] for e in events if e["type"] == f"MapIteration{kind}"]


def _seconds_after(start: datetime, events: list[dict[str, Any]], kind: str) -> list[float]:
    return [(e["timestamp"] - start).total_seconds() for e in events if e["type"] == f"MapIteration{kind}"]


# --- the slots ---------------------------------------------------------------------------------------


def test_an_item_takes_the_slot_that_frees_first_the_lowest_of_equals() -> None:
    # Given two slots free at 0, one taken until 10 and the other until 20
    slots = Slots.at(0.0, 2)
    assert slots.take() == (0, 0.0)
    slots.release(0, 10.0)
    assert slots.take() == (1, 0.0)
    slots.release(1, 20.0)
    # Then the next item starts on slot 0 at 10; with both free at 30, slot 0 again
    assert slots.take() == (0, 10.0)
    slots.release(0, 30.0)
    slots.release(1, 30.0)
    assert slots.take() == (0, 30.0)


def test_no_concurrency_is_still_one_slot() -> None:
    # Given an empty Map (no items, so MaxConcurrency 0 means zero slots): one slot, never used
    assert Slots.at(5.0, 0).take() == (0, 5.0)


# --- a Map on moto -------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_concurrency", [5, 0], ids=["five-slots", "unlimited"])
def test_iterations_side_by_side_advance_the_clock_by_the_longest(world: World, max_concurrency: int) -> None:
    # Given five items waiting 10..50 s and a slot for each
    seconds = [10, 20, 30, 40, 50]
    # When the Map runs
    execution = world.run(max_concurrency, _items(seconds))
    # Then it succeeded, the clock advanced by the longest wait (not the 150 s sum), every wait ran
    assert execution["status"] == "SUCCEEDED"
    assert world.clock.offset == pytest.approx(50.0, abs=2)
    assert world.recorder.waits == [10.0, 20.0, 30.0, 40.0, 50.0]
    # And the outputs are in item order, each from its ItemSelector ($$.Map.Item, the Map's input)
    output = json.loads(execution["output"])
    assert [(o["index"], o["seconds"], o["batch"], o["tagged"]) for o in output] == [
        (i, s, "b1", True) for i, s in enumerate(seconds)
    ]


def test_two_slots_schedule_the_items_as_slots_free(world: World) -> None:
    # Given five items waiting 10..50 s and two slots: 10@0-10, 20@0-20, 30@10-40, 40@20-60, 50@40-90
    execution = world.run(2, _items([10, 20, 30, 40, 50]))
    # Then the clock advanced by the schedule's end, 90 s
    assert execution["status"] == "SUCCEEDED"
    assert world.clock.offset == pytest.approx(90.0, abs=2)
    # And each iteration started and ended at its slot's times (history in virtual time)
    events = world.events(execution)
    start = events[0]["timestamp"]
    map_started = next(e["timestamp"] for e in events if e["type"] == "MapStateStarted")
    assert (map_started - start).total_seconds() == pytest.approx(0.0, abs=2)
    started = _seconds_after(map_started, events, "Started")
    succeeded = _seconds_after(map_started, events, "Succeeded")
    assert started == pytest.approx([0, 0, 10, 20, 40], abs=2)
    assert succeeded == pytest.approx([10, 20, 40, 60, 90], abs=2)
    assert _iterations(events, "Started") == [0, 1, 2, 3, 4]


def test_a_failure_fails_the_map_and_items_after_it_never_start(world: World) -> None:
    # Given two slots and item 1 failing at the end of its 20 s wait (10@0-10, 20@0-20 fails, 30@10-40
    # starts before the failure; 40 and 50 would start at 20 and 40: at or after it)
    execution = world.run(2, _items([10, 20, 30, 40, 50], fail={1: "early"}))
    # Then the Map, uncaught, fails the execution with the iteration's error
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "Item.Early"
    events = world.events(execution)
    # And the items whose slot freed at or after the failure never started; the one already running ran
    assert _iterations(events, "Started") == [0, 1, 2]
    assert _iterations(events, "Failed") == [1]
    assert world.recorder.waits == [10.0, 20.0, 30.0]
    # And the clock reads the latest end among the iterations that ran
    assert world.clock.offset == pytest.approx(40.0, abs=2)
    assert any(e["type"] == "MapStateFailed" for e in events)


def test_the_map_fails_with_the_earliest_failure_in_virtual_time_not_in_item_order(world: World) -> None:
    # Given unlimited slots, item 0 failing at 50 s and item 1 failing at 10 s
    execution = world.run(0, _items([50, 10], fail={0: "late", 1: "early"}))
    # Then the Map fails with item 1's error, the earlier end in virtual time
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "Item.Early"
    assert _iterations(world.events(execution), "Failed") == [0, 1]


def test_runs_are_deterministic(world: World) -> None:
    # Given the same Map run twice, with a failure
    execution_input = _items([30, 10, 20, 40, 5], fail={3: "late"})
    first = world.run(2, execution_input)
    second = world.run(2, execution_input)

    def shape(execution: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (e["id"], e.get("previousEventId"), e["type"], json.dumps({k: v for k, v in e.items() if "Details" in k}))
            for e in world.events(execution)
        ]

    # Then both histories have the same events, ids and details in the same order
    assert shape(first) == shape(second)
    assert first.get("error") == second.get("error") == "Item.Late"
