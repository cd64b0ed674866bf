"""The deployed artefacts agree with each other and with the least-privilege rules."""

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from failover.errors import RegionshiftError
from failover.plan import EXECUTION_TIMEOUT_SECONDS, PLAN_TAG, PROMOTION_CONCURRENCY
from regionshift import template as cfn

DOCUMENT = cfn.load()
ASL = json.loads(Path("statemachine/failover.asl.json").read_text())
RESOURCES = DOCUMENT["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Get|Describe|List|Query)")
# Functions run by a schedule rather than by the state machine.
SCHEDULED = {
    k: v
    for k, v in FUNCTIONS.items()
    if any(e["Type"] == "ScheduleV2" for e in v["Properties"].get("Events", {}).values())
}
# Writes that have no resource types (Service Authorization Reference), each with the condition key that
# scopes it instead: "*" is the only resource they can name.
SCOPED_BY_CONDITION = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}


def _states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those of a Map's ItemProcessor included (by name; names are unique in the ASL)."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found.update(_states(state["ItemProcessor"]["States"]))
    return found


STATES = _states(ASL["States"])


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_handler_is_importable(logical_id: str) -> None:
    module, _, attribute = FUNCTIONS[logical_id]["Properties"]["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_each_task_invokes_a_function_of_the_template() -> None:
    _, props, _ = cfn.state_machine(DOCUMENT)
    substitutions = props["DefinitionSubstitutions"]
    used = {s["Resource"].strip("${}") for s in STATES.values() if s["Type"] == "Task" and s["Resource"][0] == "$"}
    # A callback task (lambda:invoke.waitForTaskToken) names its function in its Parameters.
    used |= {
        s["Parameters"]["FunctionName"].strip("${}")
        for s in STATES.values()
        if s["Type"] == "Task" and s["Resource"].startswith("arn:aws:states:::lambda:invoke")
    }
    assert used == set(substitutions)
    # Every function but the scheduled probe (standby-side detection, outside any run)
    assert {v["Fn::GetAtt"][0] for v in substitutions.values()} == set(FUNCTIONS) - set(SCHEDULED)
    # The promotion Map's steps and TargetHealth are among them
    assert {"PromoteFunctionArn", "PromotionStatusFunctionArn", "TargetHealthFunctionArn"} <= used


def test_the_state_machine_timeout_is_the_run_budget() -> None:
    # failover.plan checks a plan's waits against EXECUTION_TIMEOUT_SECONDS: it must be the ASL's
    assert ASL["TimeoutSeconds"] == EXECUTION_TIMEOUT_SECONDS


def test_the_promotion_maps_move_stage_after_stage_each_with_the_plans_concurrency() -> None:
    maps = {name: state for name, state in STATES.items() if state["Type"] == "Map"}
    assert list(maps) == ["PromoteAll", "PromoteStage"]
    promote_all = maps["PromoteAll"]
    # One stage at a time: a stage starts once every resource of the one before is a writer
    assert promote_all["MaxConcurrency"] == 1
    assert promote_all["ItemsPath"] == "$.assess.stages"
    assert promote_all["ResultPath"] == "$.promotions"
    stage = promote_all["ItemProcessor"]["States"]["PromoteStage"]
    assert stage["Type"] == "Map" and stage["ItemsPath"] == "$.items"
    assert stage["MaxConcurrency"] == PROMOTION_CONCURRENCY
    # A failed iteration ends in Rollback, which finds out what each request did
    assert [c["Next"] for c in promote_all["Catch"] if "States.ALL" in c["ErrorEquals"]] == ["Rollback"]


def test_asl_error_names_are_domain_errors_or_service_errors() -> None:
    import failover.errors as errors

    domain = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, RegionshiftError)}
    for state in STATES.values():
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


# Answering a callback task (regionshift approve / deny): the request names the task by its token alone,
# so IAM cannot scope these to one state machine ("IAM policies for activities and tasks",
# https://docs.aws.amazon.com/step-functions/latest/dg/concept-create-iam-advanced.html).
CALLBACK_ANSWERS = {"states:SendTaskSuccess", "states:SendTaskFailure"}


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


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_mutating_action_has_a_wildcard_resource() -> None:
    checked = 0
    for logical_id, statement in _statements():
        resources = _listed(statement["Resource"])
        mutating = [
            a
            for a in _listed(statement["Action"])
            if not READ_ONLY.match(a) and a not in LOG_DELIVERY | CALLBACK_ANSWERS
        ]
        if mutating and set(mutating) <= set(SCOPED_BY_CONDITION):
            keys = {k for block in statement.get("Condition", {}).values() for k in block}
            assert {SCOPED_BY_CONDITION[a] for a in mutating} <= keys, (logical_id, mutating)
        elif mutating:
            checked += 1
            assert "*" not in resources, (logical_id, mutating)
    assert checked >= 5


def test_rds_actions_carry_the_plan_tag_condition() -> None:
    # RDS actions name any instance of the account (the plan's replicas are in several regions): the
    # plan's tag is what limits them ("Controlling access to Amazon RDS resources with tags",
    # Amazon RDS User Guide; aws:ResourceTag, IAM User Guide).
    statements = [(i, s) for i, s in _statements() if any(a.startswith("rds:") for a in _listed(s["Action"]))]
    assert {i for i, s in statements if "rds:PromoteReadReplica" in _listed(s["Action"])} == {"PromoteFunction"}
    for logical_id, statement in statements:
        if logical_id == "ReaderPolicy":
            # People's read-only policy: `regionshift check` reads each replica and its tags
            assert all(READ_ONLY.match(a) for a in _listed(statement["Action"]))
            continue
        if statement["Resource"] == {"Ref": "GlobalClusterArns"}:
            # Global clusters have no region and are named by the plan (stack_parameters)
            assert set(_listed(statement["Action"])) <= {
                "rds:DescribeGlobalClusters",
                "rds:FailoverGlobalCluster",
                "rds:SwitchoverGlobalCluster",
            }
            continue
        assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{PLAN_TAG}": {"Ref": "PlanName"}}}, (
            logical_id
        )
        assert all(
            ":rds:" in r["Fn::Sub"] and r["Fn::Sub"].endswith((":db:*", ":cluster:*"))
            for r in _listed(statement["Resource"])
        )


def test_log_delivery_actions_are_granted_to_the_state_machine_alone() -> None:
    holders = {logical_id for logical_id, s in _statements() if LOG_DELIVERY & set(s["Action"])}
    assert holders == {"FailoverStateMachine", "ManualRunStateMachine"}


def test_dns_changes_are_limited_to_the_plan_zones_record_types_and_upsert() -> None:
    changers = [(i, s) for i, s in _statements() if "route53:ChangeResourceRecordSets" in _listed(s["Action"])]
    assert [i for i, _ in changers] == ["UpdateDnsFunction"]
    for _, statement in changers:
        assert statement["Resource"] == {"Ref": "HostedZoneArns"}
        condition = statement["Condition"]["ForAllValues:StringEquals"]
        assert condition["route53:ChangeResourceRecordSetsActions"] == ["UPSERT"]
        assert sorted(condition["route53:ChangeResourceRecordSetsRecordTypes"]) == ["A", "AAAA", "CNAME"]


def test_only_the_promote_function_may_promote() -> None:
    promoters = {logical_id for logical_id, s in _statements() if "rds:PromoteReadReplica" in s["Action"]}
    assert promoters == {"PromoteFunction"}


def test_topic_is_encrypted_with_a_customer_key() -> None:
    assert RESOURCES["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    assert RESOURCES["NotificationKey"]["Properties"]["EnableKeyRotation"] is True


def test_every_plan_setting_comes_from_the_template() -> None:
    from failover.settings import Settings

    variables = DOCUMENT["Globals"]["Function"]["Environment"]["Variables"]
    names = {name.upper() for name in Settings.model_fields if name != "plan"} | {"PLAN_FILE", "PLAN_DIGEST"}
    assert names <= set(variables)
    assert (variables["PLAN_FILE"], variables["PLAN_DIGEST"]) == ({"Ref": "PlanFile"}, {"Ref": "PlanDigest"})


def test_lambda_timeouts_fit_inside_their_task_timeouts() -> None:
    glob = DOCUMENT["Globals"]["Function"]["Timeout"]
    _, props, _ = cfn.state_machine(DOCUMENT)
    by_sub = {k: v["Fn::GetAtt"][0] for k, v in props["DefinitionSubstitutions"].items()}
    for name, state in STATES.items():
        if state["Type"] == "Task" and state["Resource"].startswith("${"):
            function = FUNCTIONS[by_sub[state["Resource"].strip("${}")]]
            assert function["Properties"].get("Timeout", glob) < state["TimeoutSeconds"], name


# --- standby-side detection -------------------------------------------------------------------------


def test_the_probe_runs_every_minute_with_its_scheduled_time_and_publishes_only_in_its_namespace() -> None:
    from failover.observability import NAMESPACE
    from failover.probes import METRIC

    probe = RESOURCES["ProbeFunction"]
    assert probe["Condition"] == "HasProbes"
    (event,) = probe["Properties"]["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert json.loads(event["Properties"]["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    (statement,) = probe["Properties"]["Policies"][0]["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}
    # The alarm watches what the probe writes: the primary, seen from the stack's own region
    alarm = RESOURCES["ProbeAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, METRIC)
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Plan": {"Ref": "PlanName"},
        "Region": {"Ref": "PrimaryRegion"},
        "Vantage": {"Ref": "AWS::Region"},
    }


def test_the_probe_alarm_fires_as_route53_judges_and_never_on_missing_data() -> None:
    alarm = RESOURCES["ProbeAlarm"]["Properties"]
    primary = RESOURCES["PrimaryUnhealthyAlarm"]["Properties"]
    # No more than 18% of the minute's probe results healthy, for as long as the Route 53 alarm waits
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Average", 60, 0.18)
    assert alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == primary["EvaluationPeriods"] == {"Ref": "AlarmEvaluationPeriods"}
    # A probe that stops recording says nothing about the primary: no run, but a page
    assert alarm["TreatMissingData"] == "missing"
    # And the rule starts a run on either alarm, the probe's only when the primary is probed
    _, _, pattern = cfn.state_machine(DOCUMENT)
    probe_arn = pattern["resources"][1]["Fn::If"]
    assert probe_arn[0] == "ProbesPrimary" and probe_arn[2] == {"Ref": "AWS::NoValue"}
    assert alarm["AlarmName"]["Fn::Sub"] in probe_arn[1]["Fn::Sub"]
    assert RESOURCES["ProbeAlarm"]["Condition"] == "ProbesPrimary"


@pytest.mark.parametrize(
    ("probed", "functions", "resources"),
    [
        ({}, False, 1),
        ({"standbys": [{"probeUrl": "https://app.us-west-2.example.com/health"}, {}]}, True, 1),
        ({"primary": {"probeUrl": "https://app.us-east-1.example.com/health"}}, True, 2),
    ],
)
def test_probe_resources_exist_only_when_the_plan_probes(
    probed: dict[str, Any], functions: bool, resources: int
) -> None:
    from regionshift import plans
    from tests.conftest import PLAN_DOCUMENT

    regions = PLAN_DOCUMENT["regions"]
    document = {
        **PLAN_DOCUMENT,
        "regions": {
            "primary": {**regions["primary"], **probed.get("primary", {})},
            "standbys": [
                {**s, **o} for s, o in zip(regions["standbys"], probed.get("standbys", [{}, {}]), strict=True)
            ],
        },
    }
    from failover.plan import Plan

    parameters = {**cfn.parameter_defaults(DOCUMENT), **plans.stack_parameters(Plan.model_validate(document))}
    ctx = cfn.Context(parameters=parameters, region="us-west-2")
    ctx.conditions = cfn.evaluate_conditions(DOCUMENT, ctx)
    ctx.refs["NotificationTopic"] = "arn:aws:sns:us-west-2:123456789012:topic"
    ctx.attrs[("RunTable", "Arn")] = "arn:aws:dynamodb:us-west-2:123456789012:table/runs"
    ctx.refs["ReportBucket"] = "reports"
    assert ctx.condition("HasProbes") is functions
    assert ("ProbeFunction" in {f.logical_id for f in cfn.functions(DOCUMENT, ctx)}) is functions
    _, _, pattern = cfn.state_machine(DOCUMENT)
    assert len(cfn.resolve(pattern, ctx)["resources"]) == resources
    env = cfn.resolve(DOCUMENT["Globals"]["Function"]["Environment"]["Variables"], ctx)
    expected = "arn:aws:cloudwatch:us-west-2:123456789012:alarm:regionshift-orders-probe-unhealthy"
    assert env["PROBE_ALARM_ARN"] == (expected if resources == 2 else "")
