"""Where an operator command acts: a deployed stack (resolved from its CloudFormation outputs) or a
run table named directly. Credentials come the usual way (``--profile``, environment, instance role).
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from failover.adapters import CloudWatch, Rds
from failover.clients import TRANSIENT_CODES, error_code
from failover.errors import TransientAwsError
from failover.members import AuroraGlobal, GlobalDatastore, GlobalTables
from failover.plan import Plan

# An operator waits at a prompt: a dead endpoint fails in seconds, not after botocore's 60 s
# defaults. Retries stay botocore's (AWS_MAX_ATTEMPTS / AWS_RETRY_MODE apply): "Retry behavior",
# AWS SDKs and Tools Reference Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
OPERATOR_CONFIG = Config(connect_timeout=5, read_timeout=30)


class TargetError(Exception):
    """The stack, table or credentials could not be used; the message is one line for the operator."""


@dataclass
class Target:
    session: Any
    table: str
    state_machine_arn: str | None = None
    manual_run_arn: str | None = None  # people start runs here (it marks them manual)
    topic_arn: str | None = None
    endpoint_url: str | None = None
    parameters: dict[str, str] | None = None  # the stack's parameters: the plan
    report_bucket: str | None = None  # where Finalize writes run reports (stacks that have one)
    outputs: dict[str, str] | None = None  # the stack's outputs (data-plane mode: its serving checks)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=OPERATOR_CONFIG)

    def serving_checks(self, plan: Any) -> dict[str, str]:
        """Data-plane mode: region -> the stack's serving health check, from its outputs (those present)."""
        from failover import traffic

        outputs = self.outputs or {}
        return traffic.serving_checks(plan, outputs.get("PrimaryServingCheckId"), outputs.get("StandbyServingCheckId"))

    def store(self) -> Any:
        from failover.store import StateStore

        return StateStore(self.client("dynamodb"), self.table)


class Readers:
    """What ``failover.members`` reads (its ``Readers``), over an operator's clients: ``client(service,
    region)``, e.g. ``Target.client``. The functions read through their ``Runtime`` instead."""

    def __init__(self, client: Callable[[str, str], Any], plan: Plan) -> None:
        self.client, self.plan = client, plan

    def rds(self, region: str) -> Rds:
        return Rds(self.client("rds", region))

    def cloudwatch(self, region: str) -> CloudWatch:
        return CloudWatch(self.client("cloudwatch", region))

    def aurora(self, region: str) -> AuroraGlobal:
        return AuroraGlobal(self.client("rds", region))

    def datastore(self, region: str) -> GlobalDatastore:
        return GlobalDatastore(self.client("elasticache", region))

    def tables(self, region: str) -> GlobalTables:
        return GlobalTables(self.client("dynamodb", region))


def resolve(
    stack: str | None,
    table: str | None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Target:
    if bool(stack) == bool(table):
        raise TargetError(
            "name exactly one of --stack NAME or --table NAME (`regionshift serve` runs an emulated stack locally)"
        )
    _check_endpoint(endpoint_url)
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise TargetError(str(exc)) from exc
    if session.region_name is None:
        raise TargetError("no region: pass --region or set AWS_REGION")
    _check_region(session)
    target = Target(session=session, table=table or "", endpoint_url=endpoint_url)
    if table:
        return target
    try:
        cfn = target.client("cloudformation")
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = described.get("Outputs", [])
    except NoCredentialsError as exc:
        raise TargetError("no AWS credentials: pass --profile or set AWS_PROFILE / AWS_ACCESS_KEY_ID") from exc
    except NoRegionError as exc:
        raise TargetError("no region: pass --region or set AWS_REGION") from exc
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise TargetError(f"stack {stack} in {session.region_name}: {message}") from exc
    except BotoCoreError as exc:  # the endpoint: DNS, connection, timeout
        raise TargetError(f"stack {stack} in {session.region_name}: {exc}") from exc
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "RunTableName" not in values:
        raise TargetError(f"stack {stack} has no RunTableName output: is it a Regionshift stack?")
    return Target(
        session=session,
        table=values["RunTableName"],
        state_machine_arn=values.get("StateMachineArn"),
        manual_run_arn=values.get("ManualRunStateMachineArn"),
        topic_arn=values.get("NotificationTopicArn"),
        report_bucket=values.get("ReportBucketName"),
        endpoint_url=endpoint_url,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        outputs=values,
    )


def _check_endpoint(endpoint_url: str | None) -> None:
    if endpoint_url is None:
        return
    try:
        parts = urlsplit(endpoint_url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise TargetError(f"--endpoint-url {endpoint_url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"--endpoint-url {endpoint_url!r} is not an http:// or https:// URL")


def _check_region(session: Any) -> None:
    """Refuse a region botocore does not know (``us-west2``): the call would fail on DNS, later and
    less clearly. Regions: "AWS Regions", https://docs.aws.amazon.com/general/latest/gr/rande.html"""
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("cloudformation", partition)
    }
    region = session.region_name
    if region not in known:
        close = difflib.get_close_matches(region, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise TargetError(f"unknown region {region!r}{hint}")


def is_unreachable(exc: BaseException) -> bool:
    """AWS could not be asked (DNS, connection, timeout, throttling, credentials): the operator's
    problem to fix and retry, never a finding about the stack."""
    if isinstance(exc, BotoCoreError | TransientAwsError):
        return True
    return isinstance(exc, ClientError) and error_code(exc) in TRANSIENT_CODES
