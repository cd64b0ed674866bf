"""The stacks are observable by default and give people least-privilege policies."""

import json
import re
from typing import Any

import pytest

from failover.observability import NAMESPACE
from failover.plan import Plan
from regionshift import template as cfn
from regionshift.plans import stack_parameters
from tests.conftest import PLAN

DOCUMENT = cfn.load()
DETECTOR = cfn.load(cfn.stack_root() / "detector.yaml")
RESOURCES = DOCUMENT["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
STATE_MACHINE_ID, STATE_MACHINE, PATTERN = cfn.state_machine(DOCUMENT)


def _of_type(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in document["Resources"].items() if v["Type"] == kind}


ALARMS = {**_of_type(DOCUMENT, "AWS::CloudWatch::Alarm"), **_of_type(DETECTOR, "AWS::CloudWatch::Alarm")}
LOG_GROUPS = _of_type(DOCUMENT, "AWS::Logs::LogGroup")


def _sub_text(value: Any) -> str:
    return value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_group_under_the_plan(logical_id: str) -> None:
    # Given the function's LoggingConfig
    group_id = FUNCTIONS[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    # Then it names a declared log group of its own, under the prefix the log key's policy allows
    name = _sub_text(LOG_GROUPS[group_id]["LogGroupName"])
    assert name == "/aws/lambda/regionshift-${PlanName}/" + logical_id.removesuffix("Function")


def test_every_log_group_expires_and_is_encrypted_with_the_log_key() -> None:
    assert len(LOG_GROUPS) == len(FUNCTIONS) + 2  # and one per state machine (failover, ManualRun)
    for logical_id, props in LOG_GROUPS.items():
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
        assert props["KmsKeyId"] == {"Fn::GetAtt": ["LogKey", "Arn"]}, logical_id


def test_log_key_lets_cloudwatch_logs_use_it_only_for_the_plan_log_groups() -> None:
    statements = RESOURCES["LogKey"]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "Service" in s["Principal"]]
    assert _sub_text(logs["Principal"]["Service"]) == "logs.${AWS::Region}.amazonaws.com"
    allowed = [_sub_text(a) for a in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]]
    names = {_sub_text(props["LogGroupName"]) for props in LOG_GROUPS.values()}
    for name in names:
        arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + name
        assert any(re.fullmatch(re.escape(a).replace(r"\*", ".*"), arn) for a in allowed), name


def test_state_machine_logs_every_step_without_execution_data_and_traces() -> None:
    logging = STATE_MACHINE["Logging"]
    assert logging["Level"] in {"ALL", "ERROR"}
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}
    assert STATE_MACHINE["Tracing"] == {"Enabled": True}


def _metric_names(props: dict[str, Any]) -> list[str]:
    return [m["MetricStat"]["Metric"]["MetricName"] for m in props.get("Metrics", []) if "MetricStat" in m] + [
        props.get("MetricName", "")
    ]


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_every_alarm_has_an_action(logical_id: str) -> None:
    props = ALARMS[logical_id]
    if logical_id == "PrimaryUnhealthyAlarm":
        # The trigger's action is the EventBridge rule that starts a run; the run notifies.
        assert props["AlarmName"] == {"Ref": "AlarmName"}
        assert "${AlarmName}" in PATTERN["resources"][0]["Fn::Sub"]
    elif logical_id.endswith("ServingAlarm"):
        # A serving alarm's reader is the Route 53 health check on it (data-plane mode, docs/traffic.md)
        checks = [r for r in DOCUMENT["Resources"].values() if r["Type"] == "AWS::Route53::HealthCheck"]
        named = [c["Properties"]["HealthCheckConfig"]["AlarmIdentifier"]["Name"] for c in checks]
        assert {"Ref": logical_id} in named
    elif logical_id == "ProbeAlarm":
        # The same rule starts a run on it; a probe that stops recording (INSUFFICIENT_DATA) pages.
        assert props["AlarmName"]["Fn::Sub"] in PATTERN["resources"][1]["Fn::If"][1]["Fn::Sub"]
        assert props["InsufficientDataActions"] == [{"Ref": "NotificationTopic"}]
    else:
        assert props["AlarmActions"], logical_id


def test_alarm_topics_let_cloudwatch_use_their_keys() -> None:
    for document, topic in ((DOCUMENT, "NotificationTopic"), (DETECTOR, "AlertTopic")):
        key = document["Resources"][topic]["Properties"]["KmsMasterKeyId"]["Ref"]
        statements = document["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
        granted = {
            action
            for s in statements
            if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
            for action in s["Action"]
        }
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= granted, topic
    for props in ALARMS.values():
        for action in props.get("AlarmActions", []):
            assert action in ({"Ref": "NotificationTopic"}, {"Ref": "AlertTopic"})


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_a_run_that_ends_badly_pages_on_its_first_occurrence(metric: str) -> None:
    (props,) = [p for p in ALARMS.values() if p.get("MetricName") == metric]
    assert props["Namespace"] == "AWS/States"
    assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": STATE_MACHINE_ID}}]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 60, 1)
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"


def test_rolled_back_degraded_and_failed_rollback_end_as_failed_executions() -> None:
    asl = json.loads((cfn.stack_root() / STATE_MACHINE["DefinitionUri"]).read_text())
    fails = {name for name, state in asl["States"].items() if state["Type"] == "Fail"}
    assert {"RolledBack", "Degraded", "RollbackFailedEnd"} <= fails


@pytest.mark.parametrize(
    ("document", "queue", "rule"),
    [
        (DOCUMENT, "RuleDeadLetterQueue", f"{STATE_MACHINE_ID}PrimaryUnhealthy"),  # the rule SAM generates
        (DETECTOR, "ForwardDeadLetterQueue", "ForwardAlarmRule"),
    ],
)
def test_each_rule_dead_letters_to_an_encrypted_alarmed_queue_only_it_may_write(
    document: dict[str, Any], queue: str, rule: str
) -> None:
    resources = document["Resources"]
    assert resources[queue]["Properties"]["SqsManagedSseEnabled"] is True
    policies = [p["Properties"] for p in resources.values() if p["Type"] == "AWS::SQS::QueuePolicy"]
    (policy,) = [p for p in policies if p["Queues"] == [{"Ref": queue}]]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}
    alarmed = [
        p
        for p in ALARMS.values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in p.get("Dimensions", [])
    ]
    assert [(p["MetricName"], p["Threshold"]) for p in alarmed] == [("ApproximateNumberOfMessagesVisible", 1)]


def test_both_rules_retry_and_dead_letter() -> None:
    (event,) = STATE_MACHINE["Events"].values()
    assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    (target,) = DETECTOR["Resources"]["ForwardAlarmRule"]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ForwardDeadLetterQueue", "Arn"]}}
    for retry in (event["Properties"]["RetryPolicy"], target["RetryPolicy"]):
        assert retry["MaximumEventAgeInSeconds"] == {"Ref": "MaxEventAgeSeconds"}
        assert retry["MaximumRetryAttempts"] >= 1


def _parameters() -> dict[str, Any]:
    """The template's parameters as `regionshift plan deploy` sets them for the test plan."""
    return {**cfn.parameter_defaults(DOCUMENT), **stack_parameters(PLAN)}


@pytest.mark.parametrize(("first", "units"), [("rds-instance", 1.0), ("aurora-global", 1000.0)])
def test_replica_lag_alarm_fires_before_the_plan_bound_is_reached(first: str, units: float) -> None:
    # Given the alarm's metric math, with the plan's bound and the default warning percentage, for a plan
    # whose first database is an RDS instance (ReplicaLag, seconds) or an Aurora global database
    # (AuroraGlobalDBRPOLag of its secondary cluster, milliseconds)
    plan = PLAN
    if first == "aurora-global":
        aurora = {
            "name": "ledger",
            "kind": "aurora-global",
            "globalCluster": "ledger-global",
            "clusters": {r: f"ledger-{r}" for r in PLAN.region_names},
        }
        document = PLAN.model_dump(mode="json", by_alias=True, exclude_none=True)
        plan = Plan.model_validate({**document, "databases": [aurora, *document["databases"]]})
    props = ALARMS["ReplicaLagAlarm"]
    (lag,) = [m for m in props["Metrics"] if "MetricStat" in m]
    metric = lag["MetricStat"]["Metric"]
    assert metric["Namespace"] == "AWS/RDS"
    assert metric["MetricName"] == {"Ref": "LagWatchMetric"}
    assert metric["Dimensions"] == [{"Name": {"Ref": "LagWatchDimension"}, "Value": {"Ref": "LagWatchReplica"}}]
    (expression,) = [m for m in props["Metrics"] if m.get("ReturnData")]
    parameters = {**cfn.parameter_defaults(DOCUMENT), **stack_parameters(plan)}
    text = re.sub(r"\$\{(\w+)\}", lambda m: str(parameters[m.group(1)]), expression["Expression"]["Fn::Sub"])
    assert props["ComparisonOperator"] == "GreaterThanThreshold"

    def fires(seconds: float) -> bool:
        return float(eval(text, {}, {lag["Id"]: seconds * units})) > props["Threshold"]

    # Then it fires above 80% of the plan's 60 s, not at or below it, and on missing data
    bound = float(parameters["MaxReplicaLagSeconds"])
    assert bound == plan.rails.max_replica_lag_seconds
    assert not fires(bound * 0.8)
    assert fires(bound * 0.8 + 1)
    assert fires(bound)
    assert props["TreatMissingData"] == "breaching"
    # And it watches the first database's member in the first standby region, by its own metric
    standby = plan.standby_regions[0]
    if first == "aurora-global":
        assert parameters["LagWatchReplica"] == f"ledger-{standby}"
        assert (parameters["LagWatchMetric"], parameters["LagWatchDimension"]) == (
            "AuroraGlobalDBRPOLag",
            "DBClusterIdentifier",
        )
    else:
        assert parameters["LagWatchReplica"] == PLAN.databases[0].member(standby, PLAN.primary_region) == "orders-usw2"
        assert (parameters["LagWatchMetric"], parameters["LagWatchDimension"]) == ("ReplicaLag", "DBInstanceIdentifier")


def test_dashboard_shows_outcomes_step_durations_lag_and_health_per_region() -> None:
    # Given the dashboard body with its substitutions named rather than resolved
    body = json.loads(
        re.sub(r"(?<!\")\$\{(\w+)\}", "0", RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    )
    metrics = [(w["properties"]["region"], m) for w in body["widgets"] for m in w["properties"]["metrics"]]
    outcomes = {m[3] for region, m in metrics if m[:3] == [NAMESPACE, "Runs", "outcome"]}
    assert outcomes == {"FAILED_OVER", "NO_ACTION", "REFUSED", "ROLLED_BACK", "DEGRADED", "DRY_RUN"}
    durations = {m[3] for _, m in metrics if m[:3] == ["AWS/Lambda", "Duration", "FunctionName"]}
    # The run's steps (the probe is conditional, and outside any run: its own log group tells its story)
    assert durations == {f"${{{f}}}" for f, resource in FUNCTIONS.items() if "Condition" not in resource}
    # RDS publishes ReplicaLag in the replica's own region
    lag = [(r, m[1:]) for r, m in metrics if m[0] == "AWS/RDS"]
    assert lag == [("${LagWatchRegion}", ["${LagWatchMetric}", "${LagWatchDimension}", "${LagWatchReplica}"])]
    health = {(r, m[3]) for r, m in metrics if m[:2] == ["AWS/Route53", "HealthCheckStatus"]}
    # Route 53 publishes health-check metrics only in us-east-1
    # (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html).
    assert health == {("us-east-1", "${PrimaryHealthCheckId}"), ("us-east-1", "${StandbyHealthCheckId}")}
    # Every substitution the dashboard names is a parameter the plan sets or a resource of the stack
    named = set(re.findall(r"(?<!\")\$\{(\w+)\}", RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]))
    assert named <= set(_parameters()) | set(RESOURCES)


def _policy(logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = RESOURCES[logical_id]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_reader_policy_only_reads() -> None:
    for statement in _policy("ReaderPolicy"):
        for action in _listed(statement["Action"]):
            assert re.match(r"^[a-z0-9-]+:(Get|Describe|List|Query)", action), action


def test_operator_policy_writes_only_control_ops_and_approval_items_and_starts_runs() -> None:
    writes: dict[str, list[Any]] = {}
    for statement in _policy("OperatorPolicy"):
        for action in _listed(statement["Action"]):
            writes.setdefault(action, []).append(statement)
    assert set(writes) == {
        "states:StartExecution",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
    }
    # Runs start through ManualRun, which marks them manual: never the failover state machine itself.
    assert [s["Resource"] for s in writes["states:StartExecution"]] == [{"Ref": "ManualRunStateMachine"}]

    def keys(action: str) -> list[str]:
        return sorted(
            k for s in writes[action] for k in s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
        )

    # approve / deny write and withdraw an answer under APPROVAL, and nothing else of a run's
    assert (keys("dynamodb:PutItem"), keys("dynamodb:DeleteItem")) == (
        ["APPROVAL", "CONTROL", "OPS"],
        ["APPROVAL", "CONTROL", "LOCK"],
    )


def test_operator_writes_cover_the_keys_the_cli_writes() -> None:
    # Given the items pause, resume and ack write (the same module the CLI uses)
    from failover import store

    assert {store.PAUSE["pk"]["S"], store.COOLDOWN["pk"]["S"]} == {"CONTROL"}
    source = (cfn.stack_root() / "functions" / "failover" / "store.py").read_text()
    assert '"pk": {"S": "OPS"}' in source
    # Then no other partition is writable by people: EVENT, RUN# and AUDIT stay the functions', and the
    # LOCK may only be deleted (regionshift unlock, once its holder is no longer running), never written
    statements = _policy("OperatorPolicy")
    writable = {
        (action, k)
        for s in statements
        if "Condition" in s
        for action in _listed(s["Action"])
        for k in s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    }
    keys = {k for _, k in writable}
    assert keys.isdisjoint({"EVENT", "AUDIT"}) and not any(k.startswith("RUN#") for k in keys)
    assert ("dynamodb:PutItem", store.LOCK["pk"]["S"]) not in writable


def test_stack_outputs_the_policies() -> None:
    outputs = DOCUMENT["Outputs"]
    assert outputs["ReaderPolicyArn"]["Value"] == {"Ref": "ReaderPolicy"}
    assert outputs["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
