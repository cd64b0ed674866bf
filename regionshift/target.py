"""Where an operator command acts: a deployed stack (resolved from its CloudFormation outputs) or a
run table named directly. Credentials come the usual way (``--profile``, environment, instance role).
"""

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


class TargetError(Exception):
    """The stack, table or credentials could not be used; the message is one line for the operator."""


@dataclass
class Target:
    session: Any
    table: str
    state_machine_arn: str | None = None
    topic_arn: str | None = None
    endpoint_url: str | None = None
    parameters: dict[str, str] | None = None  # the stack's parameters: the plan
    report_bucket: str | None = None  # where Finalize writes run reports (stacks that have one)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region, endpoint_url=self.endpoint_url)

    def store(self) -> Any:
        from failover.store import StateStore

        return StateStore(self.client("dynamodb"), self.table)


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
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise TargetError(str(exc)) from exc
    if session.region_name is None:
        raise TargetError("no region: pass --region or set AWS_REGION")
    if table:
        return Target(session=session, table=table, endpoint_url=endpoint_url)
    try:
        cfn = session.client("cloudformation", endpoint_url=endpoint_url)
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = described.get("Outputs", [])
    except NoCredentialsError as exc:
        raise TargetError("no AWS credentials: pass --profile or set AWS_PROFILE / AWS_ACCESS_KEY_ID") from exc
    except NoRegionError as exc:
        raise TargetError("no region: pass --region or set AWS_REGION") from exc
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise TargetError(f"stack {stack} in {session.region_name}: {message}") from exc
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "RunTableName" not in values:
        raise TargetError(f"stack {stack} has no RunTableName output: is it a Regionshift stack?")
    return Target(
        session=session,
        table=values["RunTableName"],
        state_machine_arn=values.get("StateMachineArn"),
        topic_arn=values.get("NotificationTopicArn"),
        report_bucket=values.get("ReportBucketName"),
        endpoint_url=endpoint_url,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
    )
