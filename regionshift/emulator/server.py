"""The emulated estate behind a local AWS endpoint (moto server mode), registered as a CloudFormation
stack, so that the commands a real stack uses (``--stack``) run unchanged against it."""

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from unittest import mock

from regionshift import template as cfn
from regionshift.emulator.clients import client as emulated_client
from regionshift.emulator.deploy import STACK_REGION, Deployment
from regionshift.emulator.scenario import Scenario
from regionshift.emulator.stack import MOTO_CONFIG, MOTO_ENV, EmulatedStack, start

STACK_NAME = "regionshift-emulated"


@dataclass
class ServedStack(EmulatedStack):
    """An emulated stack behind an endpoint, findable by its name."""

    endpoint_url: str
    stack_name: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(port: int | None = None) -> Iterator[dict[str, str]]:
    """moto's server on loopback, empty; yields the environment that points clients at it."""
    import logging

    import requests
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        "MOTO_PORT": str(port),  # moto's Step Functions calls Lambda through this port
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "emulated",
        "AWS_SECRET_ACCESS_KEY": "emulated",
        "AWS_DEFAULT_REGION": STACK_REGION,
        **MOTO_ENV,
    }
    with mock.patch.dict(os.environ, environment):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            # moto's backends live in the process: start from, and leave, an empty account.
            requests.post(f"{url}/moto-api/reset", timeout=5)
            requests.post(f"{url}/moto-api/config", json=MOTO_CONFIG, timeout=5)
            yield environment
        finally:
            requests.post(f"{url}/moto-api/reset", timeout=5)
            server.stop()


@contextmanager
def serve(scenario: Scenario, port: int | None = None) -> Iterator[ServedStack]:
    """The scenario's estate on moto's server, registered as a CloudFormation stack."""
    with start(scenario, moto_server(port)) as emulated:
        # Nobody drains the rule's queue here: its state machine target starts the runs, as on AWS
        # (e.g. after `aws cloudwatch set-alarm-state ... ALARM`, the usual way to game-day an alarm).
        emulated.engine.state_machine_targets = True
        _register_stack(emulated.deployment)
        parts = {f.name: getattr(emulated, f.name) for f in fields(emulated)}
        yield ServedStack(**parts, endpoint_url=emulated.environment["AWS_ENDPOINT_URL"], stack_name=STACK_NAME)


def _register_stack(deployment: Deployment) -> None:
    """A stack whose parameters are the plan and whose outputs name the emulated resources."""
    names = list(cfn.load()["Parameters"])
    template = {
        "Parameters": {name: {"Type": "String"} for name in names},
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/regionshift/emulated", "Type": "String", "Value": "plan"},
            }
        },
        "Outputs": {
            "StateMachineArn": {"Value": deployment.state_machine_arn},
            "ManualRunStateMachineArn": {"Value": deployment.manual_run_arn},
            "NotificationTopicArn": {"Value": deployment.topic_arn},
            "RunTableName": {"Value": deployment.table_arn.rsplit("/", 1)[-1]},
            "ReportBucketName": {"Value": deployment.report_bucket},
            # Data-plane mode: the serving checks (template.yaml's conditional outputs)
            **{
                key: {"Value": deployment.serving_checks[region]}
                for key, region in (
                    ("PrimaryServingCheckId", deployment.plan.primary_region),
                    ("StandbyServingCheckId", deployment.plan.standby_regions[0]),
                )
                if region in deployment.serving_checks
            },
        },
    }
    values = [
        {"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else str(v)}
        for k, v in deployment.parameters.items()
    ]
    emulated_client("cloudformation", STACK_REGION).create_stack(
        StackName=STACK_NAME, TemplateBody=json.dumps(template), Parameters=values
    )
