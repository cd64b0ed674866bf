"""One way to start the emulator: ``start(scenario)`` deploys the scenario's estate and the stack on
moto, in this process (drills) or behind a local endpoint (``server.serve``), and runs the real
handlers in virtual time until the block ends.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from regionshift.emulator import patches, probes
from regionshift.emulator.deploy import STACK_REGION, Deployment, deploy
from regionshift.emulator.detection import Detection, evaluated_on_read
from regionshift.emulator.engine import Engine, Recorder, VirtualClock
from regionshift.emulator.estate import EstateModel
from regionshift.emulator.scenario import Scenario

# moto runs the ASL only when asked to (it otherwise marks every execution SUCCEEDED at once).
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
# Not behaviour: moto loads its catalogue of EC2 images into every region's EC2 model it makes (RDS
# makes one for the default VPC, and a reset remakes each), a tenth of a drill; no emulated call reads one.
MOTO_ENV = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
# The Lambda runtime's environment besides the function's own: no X-Ray daemon to send traces to.
HANDLER_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"}


@dataclass
class EmulatedStack:
    """The deployed stack, the estate's behaviour, and the record of everything the run did."""

    scenario: Scenario
    recorder: Recorder
    engine: Engine
    deployment: Deployment
    estate: EstateModel
    environment: dict[str, str]  # what a client needs to reach this moto (empty in-process)
    detection: Detection  # health checks and alarms, ticked by whoever advances the clock


@contextmanager
def in_process() -> Iterator[dict[str, str]]:
    """moto in this process: every boto3 client is intercepted, no endpoint needed."""
    from moto import mock_aws

    with mock.patch.dict(os.environ, MOTO_ENV), mock_aws(config=MOTO_CONFIG):
        yield {}


@contextmanager
def start(scenario: Scenario, moto: AbstractContextManager[dict[str, str]] | None = None) -> Iterator[EmulatedStack]:
    """Deploy the scenario on ``moto`` (``in_process()`` unless given; it yields the environment
    handlers need to reach it) and run the stack until the block ends."""
    with ExitStack() as context:
        environment = context.enter_context(moto if moto is not None else in_process())
        recorder = Recorder(VirtualClock())
        engine = Engine(recorder, base_env={**HANDLER_ENV, **environment})
        context.enter_context(engine.handler_runtime())
        context.enter_context(patches.applied(engine))
        workdir = context.enter_context(tempfile.TemporaryDirectory(prefix="regionshift-plan-"))
        deployment = deploy(scenario, Path(workdir))
        estate = EstateModel(scenario, recorder, deployment)
        estate.attach(engine)
        engine.interceptors.append(evaluated_on_read(recorder.clock))
        # AWS authorizes a call against the function's role before anything else happens to it; only a
        # lost region comes first (the request never reaches AWS).
        engine.interceptors.insert(engine.interceptors.index(estate.outages) + 1, deployment.guard)
        parameters = deployment.parameters
        detection = Detection(
            scenario,
            recorder.clock,
            checks=deployment.health,
            alarm_regions=tuple(dict.fromkeys([parameters["AlarmRegion"], STACK_REGION])),
            origin=estate.trigger_offset,
            publishers=[estate.publish_lag],
            is_down=estate.is_down,
        )
        if probes.deployed(deployment):
            # Standby-side detection: the probe's schedule runs with the chain, its GETs answered from
            # the scenario's health timelines.
            endpoints = probes.Endpoints(scenario, deployment, recorder.clock, estate.trigger_offset, estate.is_down)
            context.enter_context(probes.answering(endpoints))
            rounds = probes.Rounds(deployment, endpoints, recorder.clock, estate.trigger_offset)
            engine.interceptors.append(rounds.catch_up)
            detection.publishers.append(probes.Schedule(deployment, is_down=estate.is_down, rounds=rounds))
        yield EmulatedStack(scenario, recorder, engine, deployment, estate, environment, detection)
