"""The deployed artefacts agree with each other and with the least-privilege rules."""

import importlib
import json
import re
from pathlib import Path

import pytest

from failover.errors import RegionshiftError
from regionshift import template as cfn

DOCUMENT = cfn.load()
ASL = json.loads(Path("statemachine/failover.asl.json").read_text())
RESOURCES = DOCUMENT["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Get|Describe|List|Query)")


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_handler_is_importable(logical_id: str) -> None:
    module, _, attribute = FUNCTIONS[logical_id]["Properties"]["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_each_task_invokes_a_function_of_the_template() -> None:
    _, props, _ = cfn.state_machine(DOCUMENT)
    substitutions = props["DefinitionSubstitutions"]
    used = {
        s["Resource"].strip("${}") for s in ASL["States"].values() if s["Type"] == "Task" and s["Resource"][0] == "$"
    }
    assert used == set(substitutions)
    assert {v["Fn::GetAtt"][0] for v in substitutions.values()} == set(FUNCTIONS)


def test_asl_error_names_are_domain_errors_or_service_errors() -> None:
    import failover.errors as errors

    domain = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, RegionshiftError)}
    for state in ASL["States"].values():
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for name in clause["ErrorEquals"]:
                assert name in domain or name.startswith(("Lambda.", "States.", "Sandbox.")), name
    assert all(name.endswith("Error") for name in domain)


def test_rule_matches_only_this_alarm_in_alarm_state() -> None:
    _, _, pattern = cfn.state_machine(DOCUMENT)
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    assert pattern["source"] == ["aws.cloudwatch"]
    assert "${AlarmName}" in pattern["resources"][0]["Fn::Sub"]


# State machine logging goes through CloudWatch Logs log deliveries, which have no resource-level
# permissions; Step Functions documents exactly these actions on "*" ("Logging Step Functions
# executions in CloudWatch Logs", https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _statements() -> list[tuple[str, dict]]:
    """Every IAM statement of both stacks: functions, state machine, roles and managed policies."""
    detector = cfn.load(cfn.stack_root() / "detector.yaml")["Resources"]
    found = []
    for logical_id, resource in [*RESOURCES.items(), *detector.items()]:
        props = resource.get("Properties", {})
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}:
            documents = props.get("Policies", [])
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents = [props["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        else:
            continue
        for document in documents:
            for statement in document.get("Statement", []):
                found.append((logical_id, statement))
    return found


def test_iam_statements_cover_every_policy_holder() -> None:
    holders = {logical_id for logical_id, _ in _statements()}
    assert {"FailoverStateMachine", "ReaderPolicy", "OperatorPolicy", "ForwardRole", "PromoteFunction"} <= holders


def test_no_mutating_action_has_a_wildcard_resource() -> None:
    for logical_id, statement in _statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        mutating = [a for a in actions if not READ_ONLY.match(a) and a not in LOG_DELIVERY]
        if mutating:
            assert "*" not in resources, (logical_id, mutating)


def test_log_delivery_actions_are_granted_to_the_state_machine_alone() -> None:
    holders = {logical_id for logical_id, s in _statements() if LOG_DELIVERY & set(s["Action"])}
    assert holders == {"FailoverStateMachine", "ManualRunStateMachine"}


def test_dns_changes_are_limited_to_the_plan_records_and_upsert() -> None:
    for logical_id, statement in _statements():
        if statement["Action"] == "route53:ChangeResourceRecordSets":
            condition = statement["Condition"]["ForAllValues:StringEquals"]
            assert condition["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == {"Ref": "RecordNames"}, (
                logical_id
            )
            assert condition["route53:ChangeResourceRecordSetsActions"] == ["UPSERT"]


def test_only_the_promote_function_may_promote() -> None:
    promoters = {logical_id for logical_id, s in _statements() if "rds:PromoteReadReplica" in s["Action"]}
    assert promoters == {"PromoteFunction"}


def test_topic_is_encrypted_with_a_customer_key() -> None:
    assert RESOURCES["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    assert RESOURCES["NotificationKey"]["Properties"]["EnableKeyRotation"] is True


def test_every_plan_setting_comes_from_the_template() -> None:
    from failover.settings import Settings

    variables = DOCUMENT["Globals"]["Function"]["Environment"]["Variables"]
    assert {name.upper() for name in Settings.model_fields} <= set(variables)


def test_lambda_timeouts_fit_inside_their_task_timeouts() -> None:
    glob = DOCUMENT["Globals"]["Function"]["Timeout"]
    _, props, _ = cfn.state_machine(DOCUMENT)
    by_sub = {k: v["Fn::GetAtt"][0] for k, v in props["DefinitionSubstitutions"].items()}
    for name, state in ASL["States"].items():
        if state["Type"] == "Task" and state["Resource"].startswith("${"):
            function = FUNCTIONS[by_sub[state["Resource"].strip("${}")]]
            assert function["Properties"].get("Timeout", glob) < state["TimeoutSeconds"], name
