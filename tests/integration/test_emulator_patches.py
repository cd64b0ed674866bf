"""The emulator's moto patches are one checked list, and the one polling loop reads history sparingly."""

import importlib
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from failover.history import ExecutionHistory
from regionshift.emulator import patches
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.execution import follow


def test_every_patched_moto_attribute_exists_on_the_pinned_version() -> None:
    # Given the moto the project pins
    assert version("moto") == patches.MOTO_VERSION
    # Then every attribute the emulator replaces is still where the list says, and says why
    for patch in patches.PATCHES:
        assert hasattr(patch.owner(), patch.attribute), f"{patch.target}.{patch.attribute}"
        assert patch.why


def test_every_interception_model_exists_and_moto_still_lacks_what_it_models() -> None:
    # Given the models that answer what moto 5.2.5 does not implement
    for model in patches.MODELS:
        # Then each model class is importable and offers the engine's interceptor
        assert callable(model.owner().interceptor), model.model
        assert model.why and model.source.startswith("https://docs.aws.amazon.com/")
        # And moto still has no handler for what it models (a moto that gains one is a reason to look again)
        for missing in model.missing:
            target, _, method = missing.rpartition(".")
            module, _, cls = target.partition(":")
            assert not hasattr(getattr(importlib.import_module(module), cls), method), missing


def test_patches_are_replaced_inside_the_block_and_restored_after() -> None:
    # Given the originals
    owners = [(patch.owner(), patch.attribute) for patch in patches.PATCHES]
    originals = [getattr(owner, attribute) for owner, attribute in owners]
    engine = Engine(Recorder(VirtualClock()), base_env={})
    # When the patches are applied, every attribute is replaced
    with patches.applied(engine):
        assert all(getattr(o, a) is not v for (o, a), v in zip(owners, originals, strict=True))
    # Then afterwards every original is back
    assert all(getattr(o, a) is v for (o, a), v in zip(owners, originals, strict=True))


class _Sfn:
    """A Step Functions client whose execution runs for ``running`` status reads."""

    def __init__(self, running: int) -> None:
        self.running = running
        self.history_reads = 0
        self.started = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.running -= 1
        status = "RUNNING" if self.running >= 0 else "SUCCEEDED"
        return {"status": status, "startDate": self.started}

    def get_execution_history(self, executionArn: str, maxResults: int) -> dict[str, Any]:
        self.history_reads += 1
        entered = {
            "type": "TaskStateEntered",
            "timestamp": self.started + timedelta(seconds=30),
            "stateEnteredEventDetails": {"name": "Assess"},
        }
        return {"events": [{"type": "ExecutionStarted", "timestamp": self.started}, entered]}


def test_unwatched_follow_reads_the_history_once_when_the_execution_ends() -> None:
    # Given an execution that runs for three polls
    sfn = _Sfn(running=3)
    # When it is followed without a watcher
    final = follow(sfn, ["arn:1"], poll_seconds=0)
    # Then its history was read once, at the end, with each state's offset from the start
    assert sfn.history_reads == 1
    assert final["arn:1"].status == "SUCCEEDED"
    assert [(v.name, v.at) for v in final["arn:1"].visits] == [("Assess", 30.0)]


def test_watched_follow_hands_every_read_to_the_watcher() -> None:
    # Given an execution that runs for two polls and a watcher
    sfn = _Sfn(running=2)
    seen: list[ExecutionHistory] = []
    # When it is followed
    follow(sfn, ["arn:1"], seen.append, poll_seconds=0)
    # Then the watcher saw it running, then ended
    assert [e.status for e in seen] == ["RUNNING", "RUNNING", "SUCCEEDED"]
