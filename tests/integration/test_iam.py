"""IAM in the emulator: the evaluator, and each function's role against what its code calls."""

import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from regionshift import drill, plans, survival
from regionshift import template as cfn
from regionshift.emulator import iam
from regionshift.emulator import scenario as scenarios
from regionshift.emulator.engine import OPERATOR
from regionshift.emulator.scenario import Step
from tests.conftest import PLAN

# One worker runs the module, so its covering drills (the module fixture) run once, not once per worker.
pytestmark = pytest.mark.xdist_group("iam")

ZONE = "arn:aws:route53:::hostedzone/Z1"
TABLE = "arn:aws:dynamodb:us-west-2:123456789012:table/runs"

# What each function's code calls, per the Service Authorization Reference (the emulator maps each
# call to these); the template grants exactly these and the drills below use every one of them.
# Reading an Aurora global database's member and a global datastore's.
GLOBAL_READS = {"rds:DescribeDBClusters", "rds:DescribeGlobalClusters", "elasticache:DescribeGlobalReplicationGroups"}
NEEDED = {
    "IntakeFunction": {"dynamodb:GetItem"},  # where the writers are now (CONTROL/DIRECTION)
    "GateFunction": {"dynamodb:GetItem", "dynamodb:PutItem"},
    "AssessFunction": {
        "route53:GetHealthCheckStatus",
        "route53:ListResourceRecordSets",
        "rds:DescribeDBInstances",
        "cloudwatch:GetMetricStatistics",
        *GLOBAL_READS,
        "dynamodb:DescribeTable",
        "cloudwatch:DescribeAlarms",  # data-plane mode: the serving alarms
        "dynamodb:GetItem",  # data-plane mode without Route 53's API: the provisioned pairs
    },
    # Describes a replica only when a retried promotion is refused (the lost response); reads a global
    # resource before moving it (already moved, or moving: not requested twice).
    "PromoteFunction": {
        "rds:PromoteReadReplica",
        "rds:DescribeDBInstances",
        "dynamodb:PutItem",
        "rds:DescribeGlobalClusters",
        "rds:FailoverGlobalCluster",
        "rds:SwitchoverGlobalCluster",  # a planned switchover
        "elasticache:DescribeGlobalReplicationGroups",
        "elasticache:FailoverGlobalReplicationGroup",
    },
    "PromotionStatusFunction": {"rds:DescribeDBInstances", *GLOBAL_READS},
    # The probe results in the stack region, when Route 53's API does not answer (failover/health.py).
    "TargetHealthFunction": {"route53:GetHealthCheckStatus", "cloudwatch:GetMetricStatistics"},
    "UpdateDnsFunction": {
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "cloudwatch:PutMetricData",  # data-plane mode: the Serving metric
    },
    "DnsStatusFunction": {"route53:GetChange", "cloudwatch:PutMetricData", "cloudwatch:DescribeAlarms"},
    "RollbackFunction": {
        "route53:ListResourceRecordSets",
        "rds:DescribeDBInstances",
        "dynamodb:GetItem",
        "cloudwatch:DescribeAlarms",
        *GLOBAL_READS,
    },
    # Stops an old primary; describes it when RDS refuses (a retried stop finds it stopping).
    "FenceFunction": {"rds:StopDBInstance", "rds:DescribeDBInstances"},
    # Points the detection alarms at the new primary.
    "WatchFunction": {"cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"},
    # Records the run's task token (APPROVAL items only) and pages the team, like Notify.
    "ApprovalFunction": {"dynamodb:PutItem", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    # SNS encrypts with the topic's customer managed key on the publisher's behalf.
    "NotifyFunction": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    # Its own execution's history and the report bucket, for the run's report.
    "FinalizeFunction": {"dynamodb:PutItem", "dynamodb:DeleteItem", "states:GetExecutionHistory", "s3:PutObject"},
    # Standby-side detection: each round's results, in the Regionshift namespace only.
    "ProbeFunction": {"cloudwatch:PutMetricData"},
}
# Between them these take every step path: failover, DNS rollback, a promotion whose response is lost,
# a failover to the second standby (the first one down), so that every region's health check is
# read, the whole estate's failover (an Aurora global database, a global datastore after it, a global
# table), a cache that fails after the databases moved (Rollback reads every kind) and a data-plane plan's
# failover and partial promotion (the serving alarms and metric). Between them they
# call every API each function may call (the synthetic alarm: no minutes of detection), and the probe's
# drill runs the detection chain with the stack's probe.
INLINE = {
    "first-standby-down": {
        "name": "first-standby-down",
        "description": "us-west-2 is down too: the run passes it over and fails over to eu-west-1",
        "expect": {"outcome": "FAILED_OVER", "runs": 1},
        "estate": {"health": {"regions": {"us-west-2": [{"failing": 8}]}}},
        "trigger": {"alarm": {"state": "ALARM", "ageSeconds": 5}},
    },
    "data-plane-second-promotion-fails": {
        "name": "data-plane-second-promotion-fails",
        "description": "a data-plane plan whose second promotion is refused: Rollback reads the serving alarms",
        "expect": {"outcome": "DEGRADED", "runs": 1},
        "plan": {"traffic": {"mode": "data-plane"}},
        "estate": {"standbys": ["us-west-2"]},
        "trigger": {"alarm": {"state": "ALARM"}},
        "faults": [
            {"service": "rds", "operation": "PromoteReadReplica", "error": "InvalidDBInstanceState", "after": 1}
        ],
    },
}
COVERING = (
    "primary-outage-synthetic",
    "dns-fails",
    "lost-promote-response",
    "first-standby-down",
    "global-estate",
    "cache-fails-after-databases",
    "data-plane-failover",
    "data-plane-second-promotion-fails",
    "probe-detects-outage",
    "region-outage",
    "switchover-aurora",
    # The writers moved and back: a run's target is the plan's primary region (its global table there).
    "failover-failback-home",
    "approval-granted",
)


def statements(*raw: dict[str, Any]) -> tuple[iam.Statement, ...]:
    return tuple(iam.parse_statement(r) for r in raw)


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    found = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        found["Condition"] = condition
    return found


def change(*names: str, action: str = "UPSERT", rtype: str = "CNAME", zone: str = "Z1") -> iam.Request:
    params = {
        "HostedZoneId": zone,
        "ChangeBatch": {
            "Changes": [{"Action": action, "ResourceRecordSet": {"Name": n, "Type": rtype}} for n in names]
        },
    }
    (request,) = iam.requests("route53", "ChangeResourceRecordSets", params, "us-east-1", "123456789012")
    return request


# A condition that also names the records: the template's no longer does (a plan has up to 200
# records in several zones), but the evaluator still models the key, as Route 53 defines it.
NAMES_CONDITION = {
    "ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["app.example.com", "db.example.com"],
        "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
        "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
    }
}


# --- the evaluator ----------------------------------------------------------------------------------


def test_an_allow_matching_action_and_resource_allows() -> None:
    # Given a role that may read the table
    role = statements(allow(["dynamodb:GetItem"], TABLE))
    # When it reads the table (action names are case-insensitive)
    decision = iam.evaluate(role, iam.Request("dynamodb:getitem", TABLE))
    # Then the request is allowed by that grant
    assert decision.allowed and decision.grants == (iam.Grant(0, "dynamodb:GetItem", 0),)


def test_anything_not_allowed_is_implicitly_denied() -> None:
    role = statements(allow("dynamodb:GetItem", TABLE))
    assert not iam.evaluate(role, iam.Request("dynamodb:PutItem", TABLE)).allowed
    other = iam.evaluate(role, iam.Request("dynamodb:GetItem", TABLE + "-other"))
    assert not other.allowed and not other.explicit_deny


def test_an_explicit_deny_wins_over_any_allow() -> None:
    role = statements(allow("dynamodb:*", "*"), {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE})
    decision = iam.evaluate(role, iam.Request("dynamodb:DeleteItem", TABLE))
    assert not decision.allowed and decision.explicit_deny
    assert iam.evaluate(role, iam.Request("dynamodb:PutItem", TABLE)).allowed


def test_wildcards_match_actions_and_resources_but_resources_are_case_sensitive() -> None:
    role = statements(allow("rds:Describe*", "arn:aws:rds:us-west-2:123456789012:db:orders-?tandby"))
    db = "arn:aws:rds:us-west-2:123456789012:db:orders-standby"
    assert iam.evaluate(role, iam.Request("rds:DescribeDBInstances", db)).allowed
    assert not iam.evaluate(role, iam.Request("rds:DescribeDBInstances", db.upper())).allowed
    assert not iam.evaluate(role, iam.Request("rds:PromoteReadReplica", db)).allowed


def test_route53_names_are_normalised_before_the_condition_is_evaluated() -> None:
    # Given the DNS grant limited to the plan's records
    role = statements(allow("route53:ChangeResourceRecordSets", ZONE, NAMES_CONDITION))
    # When the request spells a name in upper case with a trailing dot, Route 53 still matches it
    assert iam.evaluate(role, change("App.Example.COM.", "db.example.com")).allowed
    # But a record outside the plan, another type or another action is refused
    assert not iam.evaluate(role, change("app.example.com", "www.example.com")).allowed
    assert not iam.evaluate(role, change("app.example.com", rtype="A")).allowed
    assert not iam.evaluate(role, change("app.example.com", action="DELETE")).allowed


def test_normalised_names_escape_other_characters_as_octal() -> None:
    assert iam.normalise_record_name("*.Example.com.") == "\\052.example.com"
    assert iam.normalise_record_name("\\052.example.com") == "\\052.example.com"


def test_set_operators_follow_iam_semantics_for_multivalued_keys() -> None:
    names = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
    any_app = statements(allow("route53:*", "*", {"ForAnyValue:StringLike": {names: ["app.*"]}}))
    all_app = statements(allow("route53:*", "*", {"ForAllValues:StringLike": {names: ["app.*"]}}))
    mixed = change("app.example.com", "db.example.com")
    assert iam.evaluate(any_app, mixed).allowed
    assert not iam.evaluate(all_app, mixed).allowed
    # ForAllValues holds on a request without the key; ForAnyValue does not.
    get = iam.Request("route53:GetChange", "arn:aws:route53:::change/C1")
    assert iam.evaluate(all_app, get).allowed
    assert not iam.evaluate(any_app, get).allowed


def test_null_and_single_valued_operators_on_a_missing_key() -> None:
    actions = "route53:ChangeResourceRecordSetsActions"
    absent = statements(allow("route53:*", "*", {"Null": {actions: "true"}}))
    negated = statements(allow("route53:*", "*", {"StringNotEquals": {actions: "DELETE"}}))
    get = iam.Request("route53:GetChange", "arn:aws:route53:::change/C1")
    assert iam.evaluate(absent, get).allowed
    assert not iam.evaluate(absent, change("app.example.com")).allowed
    assert iam.evaluate(negated, get).allowed


def test_an_unsupported_operator_or_key_is_refused_loudly() -> None:
    with pytest.raises(iam.IamModelError):
        iam.parse_statement(allow("*", "*", {"NumericLessThan": {"route53:ChangeResourceRecordSetsActions": "1"}}))
    with pytest.raises(iam.IamModelError):
        iam.parse_statement(allow("*", "*", {"StringEquals": {"aws:SourceIp": "10.0.0.1"}}))
    with pytest.raises(iam.IamModelError):
        iam.parse_statement({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})


def test_a_denied_call_fails_as_the_service_answers() -> None:
    # Given a role without any grant
    guard = iam.Guard({"Fn": iam.Role("Fn", "regionshift-FnRole", ())}, {"regionshift-Fn": "Fn"}, "123456789012", {})
    # When it publishes, reads the table and describes the replica
    calls = [
        ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-west-2:123456789012:t"}, "AuthorizationError", 403),
        ("dynamodb", "GetItem", {"TableName": "runs"}, "AccessDeniedException", 400),
        ("rds", "DescribeDBInstances", {"DBInstanceIdentifier": "orders-standby"}, "AccessDenied", 403),
    ]
    for service, operation, params, code, status in calls:
        with pytest.raises(ClientError) as denied:
            guard("regionshift-Fn", service, operation, "us-west-2", params)
        # Then each answers with its own code, status and the message AWS gives
        error = denied.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
        assert error["Error"]["Message"].startswith(
            "User: arn:aws:sts::123456789012:assumed-role/regionshift-FnRole/regionshift-Fn is not authorized"
        )
    assert len(guard.denied) == 3


def test_an_unmodelled_call_is_refused_loudly() -> None:
    with pytest.raises(iam.IamModelError):
        iam.requests("s3", "GetObject", {}, "us-west-2", "123456789012")


# --- the template's roles against the drills ----------------------------------------------------------


def _ctx() -> cfn.Context:
    """The template's context for the test plan: its derived parameters, the stack's own resources."""
    document = cfn.load()
    parameters = {**cfn.parameter_defaults(document), **plans.stack_parameters(PLAN)}
    ctx = cfn.Context(parameters=parameters, region="us-west-2")
    ctx.refs["NotificationTopic"] = "arn:aws:sns:us-west-2:123456789012:topic"
    ctx.attrs[("RunTable", "Arn")] = TABLE
    ctx.attrs[("NotificationKey", "Arn")] = "arn:aws:kms:us-west-2:123456789012:key/k"
    ctx.refs["ReportBucket"] = "reports"
    ctx.attrs[("ReportBucket", "Arn")] = "arn:aws:s3:::reports"
    return ctx


def test_each_function_is_granted_exactly_the_actions_its_code_calls() -> None:
    granted = {name: {g.action for g in role.grants()} for name, role in iam.roles(cfn.load(), _ctx()).items()}
    assert granted == NEEDED


def test_the_dns_grant_allows_only_upserts_of_the_plans_record_types_in_its_zones() -> None:
    # Given UpdateDns's role as the template resolves it for the test plan (zone Z0EXAMPLE)
    role = iam.roles(cfn.load(), _ctx())["UpdateDnsFunction"].statements
    # When it UPSERTs alias A / AAAA or CNAME records in the plan's zone, whatever their names
    for rtype in ("A", "AAAA", "CNAME"):
        assert iam.evaluate(role, change("example.com", "App.Example.COM.", rtype=rtype, zone="Z0EXAMPLE")).allowed
    # Then it may; but not delete or create one, change another type, or touch another zone
    assert not iam.evaluate(role, change("example.com", action="DELETE", rtype="A", zone="Z0EXAMPLE")).allowed
    assert not iam.evaluate(role, change("example.com", action="CREATE", rtype="A", zone="Z0EXAMPLE")).allowed
    for rtype in ("TXT", "MX", "NS"):
        assert not iam.evaluate(role, change("example.com", rtype=rtype, zone="Z0EXAMPLE")).allowed
    assert not iam.evaluate(role, change("example.com", rtype="A", zone="Z0OTHER")).allowed


def test_the_rds_grants_reach_only_databases_tagged_for_the_plan() -> None:
    # Given the roles that touch RDS, as resolved for the test plan (name "orders")
    roles = iam.roles(cfn.load(), _ctx())
    for function in ("AssessFunction", "PromoteFunction", "PromotionStatusFunction", "RollbackFunction"):
        role = roles[function].statements
        for region in ("us-west-2", "eu-west-1"):
            db = f"arn:aws:rds:{region}:123456789012:db:orders-{region}"
            tagged: dict[str, tuple[str, ...]] = {"aws:ResourceTag/regionshift:plan": ("orders",)}
            # Then a replica tagged for the plan may be described in any region of the account
            assert iam.evaluate(role, iam.Request("rds:DescribeDBInstances", db, tagged)).allowed
            # And one tagged for another plan, or not tagged, may not
            other: dict[str, tuple[str, ...]] = {"aws:ResourceTag/regionshift:plan": ("billing",)}
            assert not iam.evaluate(role, iam.Request("rds:DescribeDBInstances", db, other)).allowed
            assert not iam.evaluate(role, iam.Request("rds:DescribeDBInstances", db)).allowed
            # And only Promote may promote it
            promote = iam.evaluate(role, iam.Request("rds:PromoteReadReplica", db, tagged)).allowed
            assert promote is (function == "PromoteFunction")
        # And nothing in another account
        foreign = "arn:aws:rds:us-west-2:210987654321:db:orders-us-west-2"
        assert not iam.evaluate(role, iam.Request("rds:DescribeDBInstances", foreign, tagged)).allowed


def _drill(name: str) -> tuple[drill.DrillResult, iam.Guard]:
    scenario = scenarios.Scenario.model_validate(INLINE[name]) if name in INLINE else scenarios.load(name)
    with drill.Session(scenario) as session:
        for step in [Step(trigger=scenario.trigger), *scenario.then]:
            session.step(step)
        (guard,) = iam.guards(session.stack.engine.interceptors)
        return session.result(), guard


# (function's logical id, IAM action, region) of every call a covering drill made.
Call = tuple[str, str, str]


@pytest.fixture(scope="module")
def covering() -> tuple[dict[tuple[str, iam.Grant], str], set[Call]]:
    """(function, grant) -> the covering drill that used it with the fewest Lambda invocations (the one
    a removed grant reruns), and every call they made; every covering drill passes."""
    used: dict[tuple[str, iam.Grant], str] = {}
    cost: dict[str, int] = {}
    calls: set[Call] = set()
    for name in COVERING:
        result, guard = _drill(name)
        assert result.passed, (name, result.problems)
        assert not guard.denied
        cost[name] = len(result.recorder.invocations)
        for authorization in guard.log:
            for grant in authorization.grants:
                key = (authorization.function, grant)
                if key not in used or cost[name] < cost[used[key]]:
                    used[key] = name
        for call in result.recorder.calls:
            if call.function == OPERATOR:
                continue  # a person's own credentials (failback), not a function's role
            prefix = iam._SERVICES[call.service][0]
            calls.add((guard.functions[call.function], f"{prefix}:{call.operation}", call.region))
    return used, calls


@pytest.fixture(scope="module")
def covered(covering: tuple[dict[tuple[str, iam.Grant], str], set[Call]]) -> dict[tuple[str, iam.Grant], str]:
    return covering[0]


def test_every_grant_is_used_by_a_drill(covered: dict[tuple[str, iam.Grant], str]) -> None:
    for name, role in iam.roles(cfn.load(), _ctx()).items():
        unused = {g for g in role.grants() if (name, g) not in covered}
        assert not unused, (name, unused)


def test_a_failover_to_the_second_standby_reads_its_replicas_and_health(
    covered: dict[tuple[str, iam.Grant], str],
) -> None:
    # Given the drill whose first standby is down: its run moved to eu-west-1
    result, _ = _drill("first-standby-down")
    (run,) = result.runs
    assert run.outcome == "FAILED_OVER" and {r["region"] for r in result.world["dns"]} == {"eu-west-1"}
    # Then TargetHealth read eu-west-1's check (one of HealthCheckArns) with its role
    targets = {g for (function, g), name in covered.items() if function == "TargetHealthFunction"}
    assert any(g.resource == 2 for g in targets)


@pytest.mark.parametrize("function", sorted(n for n, actions in NEEDED.items() if actions))
def test_removing_any_grant_fails_a_drill_with_access_denied(
    function: str, covered: dict[tuple[str, iam.Grant], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = cfn.load
    for (name, grant), scenario in sorted(covered.items(), key=str):
        if name != function:
            continue
        # Given the template without this one grant (one action, or one of several resources)
        role = iam.roles(original(), _ctx())[function]
        several = len(role.statements[grant.statement].resources) > 1
        changed = iam.without_grant(
            original(),
            function,
            grant.statement,
            action=None if several else grant.action,
            resource=grant.resource if several else None,
        )
        monkeypatch.setattr(cfn, "load", lambda path=None, c=changed: c if path is None else original(path))
        # When the drill that uses it runs
        result, _ = _drill(scenario)
        # Then it fails, and says the call was denied
        assert not result.passed, (function, grant)
        assert any(p.startswith(f"AccessDenied: {function} ") for p in result.problems), (function, grant)
        assert any(
            c.function == f"regionshift-{function}" and c.error in iam.ACCESS_DENIED_CODES
            for c in result.recorder.calls
        ), (function, grant)


def test_operators_can_start_manual_runs_but_never_the_failover_state_machine_itself() -> None:
    # Given the stack's OperatorPolicy, resolved as CloudFormation would
    ctx = _ctx()
    account, region = "123456789012", "us-west-2"
    failover = f"arn:aws:states:{region}:{account}:stateMachine:regionshift-orders"
    manual = f"arn:aws:states:{region}:{account}:stateMachine:regionshift-orders-manual"
    ctx.refs.update({"FailoverStateMachine": failover, "ManualRunStateMachine": manual})
    document = cfn.load()["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"]
    resolved = cfn.resolve(document, ctx)["Statement"]
    # The Step Functions statements (the table's are condition-scoped by dynamodb:LeadingKeys, a key
    # the emulator's evaluator does not model, and say nothing about starting runs).
    statements = tuple(
        iam.parse_statement({k: v for k, v in s.items() if k != "Sid"})
        for s in resolved
        if any(str(a).startswith("states:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    )
    # Then StartExecution is allowed on ManualRun (which marks every run manual) and on nothing else:
    # an operator cannot hand the failover state machine an alarm-shaped input.
    assert iam.evaluate(statements, iam.Request("states:StartExecution", manual)).allowed
    assert not iam.evaluate(statements, iam.Request("states:StartExecution", failover)).allowed


def test_replicas_not_tagged_for_the_plan_are_out_of_reach_as_aws_would_have_them() -> None:
    # Given the orders replica in every standby without the regionshift:plan tag (plan deploy tags each)
    scenario = scenarios.Scenario.model_validate(
        {
            "name": "untagged-replicas",
            "description": "the orders replicas lack the plan's tag",
            "expect": {"outcome": "REFUSED", "runs": 1},
            "plan": {"rails": {"reevaluateMaxAttempts": 2}},
            "estate": {"replicas": {"orders-us-west-2": {"tagged": False}, "orders-eu-west-1": {"tagged": False}}},
            "trigger": {"alarm": {"state": "ALARM", "ageSeconds": 5}},
        }
    )
    # When the alarm fires
    result = drill.run(scenario)
    # Then Assess is denied reading them (the role's condition needs the tag), each region is passed
    # over for it, and the refusal is final (not re-evaluated: tagging is a person's job)
    (run,) = result.runs
    assert run.outcome == "REFUSED" and run.reason.count("AccessDenied") == 2
    assert sorted((d.function, d.action, d.resource) for d in result.denied) == [
        ("AssessFunction", "rds:DescribeDBInstances", "arn:aws:rds:eu-west-1:123456789012:db:orders-eu-west-1"),
        ("AssessFunction", "rds:DescribeDBInstances", "arn:aws:rds:us-west-2:123456789012:db:orders-us-west-2"),
    ]
    assert not [m for m in result.mutations if m["operation"] == "PromoteReadReplica"]
    assert result.world == result.before


# --- the recovery-path inventory (README) ------------------------------------------------------------

# Where each "goes to" of the inventory may send a call in the covering drills (the default estate:
# primary us-east-1, standbys us-west-2 and eu-west-1, the stack in us-west-2). Route 53's global
# endpoint is reported as aws-global by botocore and served from us-east-1. Once the writers have
# moved (failover-failback-home), us-west-2 is the primary and us-east-1 a standby and the target.
GOES_TO = {
    "us-east-1 (Route 53 API)": {"aws-global", "us-east-1"},
    "stack region": {"us-west-2"},
    "alarm region (us-east-1 by default)": {"us-east-1"},
    "each standby": {"us-west-2", "eu-west-1", "us-east-1"},
    "target": {"us-west-2", "eu-west-1", "us-east-1"},
    "primary (a global table's latency)": {"us-east-1", "us-west-2"},
    "primary": {"us-east-1", "us-west-2"},
}


def _rows() -> list[list[str]]:
    """The cells of each row of README's recovery-path table."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- recovery-path:begin -->")[1].split("<!-- recovery-path:end -->")[0]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.strip().splitlines()[2:]]


def test_the_recovery_path_inventory_names_each_calls_plane_as_the_code_counts_it() -> None:
    for _step, actions, _goes_to, planes, _when in _rows():
        for action in re.findall(r"`([a-z0-9]+:\w+)`", actions):
            assert survival.plane(action) in planes.split(", "), (action, planes)


def _inventory() -> list[tuple[str, set[str], set[str]]]:
    """(function's logical id, IAM actions, regions allowed) per row of README's recovery-path table."""
    rows = []
    for step, actions, goes_to, _plane, _when in _rows():
        regions = set().union(*(GOES_TO[part.strip()] for part in goes_to.split(";")))
        rows.append((f"{step}Function", set(re.findall(r"`([a-z0-9]+:\w+)`", actions)), regions))
    return rows


def test_the_recovery_path_inventory_lists_exactly_each_functions_grants() -> None:
    # Given README's table of every call from the alarm to the notification
    listed: dict[str, set[str]] = {}
    for function, actions, _ in _inventory():
        listed.setdefault(function, set()).update(actions)
    # Then it names, per function, exactly the actions its role is granted (and its code calls)
    granted = {name: {g.action for g in role.grants()} for name, role in iam.roles(cfn.load(), _ctx()).items()}
    assert listed == {name: actions for name, actions in granted.items() if actions}


def test_every_call_of_the_covering_drills_goes_where_the_inventory_says(
    covering: tuple[dict[tuple[str, iam.Grant], str], set[Call]],
) -> None:
    rows = _inventory()
    for function, action, region in covering[1]:
        allowed = set().union(*(r for f, a, r in rows if f == function and action in a))
        assert region in allowed, (function, action, region, allowed)


def test_the_probe_may_publish_only_in_the_regionshift_namespace() -> None:
    # Given the probe's role as the template resolves it
    role = iam.roles(cfn.load(), _ctx())["ProbeFunction"].statements
    (ours,) = iam.requests("cloudwatch", "PutMetricData", {"Namespace": "Regionshift"}, "us-west-2", "123456789012")
    (theirs,) = iam.requests("cloudwatch", "PutMetricData", {"Namespace": "AWS/RDS"}, "us-west-2", "123456789012")
    # Then it may record its results, and may not forge another service's metric (a replica's lag)
    assert iam.evaluate(role, ours).allowed
    assert not iam.evaluate(role, theirs).allowed
