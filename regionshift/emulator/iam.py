"""IAM in the emulator: every AWS call a Lambda makes is evaluated against that function's role.

moto does not evaluate IAM, so a role that lacks a grant passes every drill and fails on AWS. This
module reads each function's ``Policies`` from ``template.yaml``, maps a botocore call to the IAM
request AWS authorizes (action, resource ARN, condition context) and evaluates it as AWS evaluates
identity-based policies: an explicit Deny wins, else a matching Allow, else the implicit deny.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

A denied call fails with the error the service returns. Anything this module cannot model (a policy
shape, a condition operator or key, an operation) raises ``IamModelError``: never a silent allow.
"""

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from regionshift import template as cfn
from regionshift.emulator.engine import OPERATOR

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError", "KMSAccessDenied"})


class IamModelError(RuntimeError):
    """The template or a call uses something the emulator's IAM model does not evaluate."""


# --- policies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    sid: str | None = None


@dataclass(frozen=True)
class Role:
    function: str  # logical id
    name: str
    statements: tuple[Statement, ...]

    def grants(self) -> set["Grant"]:
        """Every (statement, action, resource) an Allow statement names."""
        return {
            Grant(i, action, r)
            for i, s in enumerate(self.statements)
            if s.effect == "Allow"
            for action in s.actions
            for r in range(len(s.resources))
        }


@dataclass(frozen=True)
class Grant:
    """One action on one resource of one statement (indices, so that grants compare across estates)."""

    statement: int
    action: str
    resource: int


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)


def parse_statement(raw: dict[str, Any], where: str = "policy") -> Statement:
    unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unknown:
        # NotAction, NotResource, Principal...: not modelled, so refuse rather than mis-evaluate.
        raise IamModelError(f"{where}: statement elements {sorted(unknown)} are not evaluated by the emulator")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise IamModelError(f"{where}: Effect must be Allow or Deny, got {raw.get('Effect')!r}")
    condition = {
        operator: {key: _strings(values) for key, values in block.items()}
        for operator, block in (raw.get("Condition") or {}).items()
    }
    for operator, block in condition.items():
        _operator(operator)  # fail at load time on an unsupported operator
        for key in block:
            if not is_modelled_key(key):
                raise IamModelError(f"{where}: condition key {key} is not modelled by the emulator")
    return Statement(
        effect=raw["Effect"],
        actions=_strings(raw["Action"]),
        resources=_strings(raw["Resource"]),
        condition=condition,
        sid=raw.get("Sid"),
    )


def roles(document: dict[str, Any], ctx: cfn.Context, stack: str = "regionshift") -> dict[str, Role]:
    """The role SAM creates for each ``AWS::Serverless::Function``, with its inline statements resolved.

    SAM turns ``Policies`` into the function's execution role; a function without ``Policies`` gets
    only AWSLambdaBasicExecutionRole (logs), i.e. no AWS API action.
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html#sam-function-policies
    """
    found: dict[str, Role] = {}
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        if "Role" in props:
            raise IamModelError(f"{logical_id}: an explicit Role is not evaluated by the emulator")
        policies = props.get("Policies", [])
        statements: list[Statement] = []
        for index, policy in enumerate(policies if isinstance(policies, list) else [policies]):
            where = f"{logical_id}.Policies[{index}]"
            if not isinstance(policy, dict) or set(policy) - {"Version", "Statement"}:
                # A managed policy name or a SAM policy template: not modelled, so refuse loudly.
                raise IamModelError(f"{where}: only inline policy documents (Statement) are evaluated")
            resolved = cfn.resolve(policy["Statement"], ctx)
            statements += [parse_statement(s, where) for s in (resolved if isinstance(resolved, list) else [resolved])]
        found[logical_id] = Role(logical_id, f"{stack}-{logical_id}Role", tuple(statements))
    return found


# --- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What AWS authorizes for one call: an action on a resource, in a condition context."""

    action: str
    resource: str
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)
    code: str = "AccessDenied"  # the error code the service answers on a denial
    status: int = 403


# botocore service name -> IAM service prefix, and how that service answers a denied request.
# DynamoDB: AccessDeniedException, HTTP 400 (DynamoDB Developer Guide, "Error handling with DynamoDB").
# SNS: AuthorizationError, HTTP 403 (SNS API Reference, Publish, Errors).
# RDS, Route 53, CloudWatch: AccessDenied, HTTP 403 (IAM User Guide, "Troubleshoot access denied error messages").
# S3: AccessDenied, HTTP 403 (Amazon S3 API Reference, "Error responses").
# Step Functions: AccessDeniedException, HTTP 400 (AWS Step Functions API Reference, "Common Errors").
# ElastiCache: AccessDenied, HTTP 403, as the other Query-protocol services (RDS) answer; the denial as
# callers see it: https://github.com/codeforamerica/sebt-self-service-portal/pull/444,
# https://github.com/iann0036/former2/issues/16 ("AccessDenied: User ... is not authorized to perform:
# elasticache:...").
_SERVICES: dict[str, tuple[str, str, int]] = {
    "elasticache": ("elasticache", "AccessDenied", 403),
    "s3": ("s3", "AccessDenied", 403),
    "stepfunctions": ("states", "AccessDeniedException", 400),
    "dynamodb": ("dynamodb", "AccessDeniedException", 400),
    "rds": ("rds", "AccessDenied", 403),
    "route53": ("route53", "AccessDenied", 403),
    "cloudwatch": ("cloudwatch", "AccessDenied", 403),
    "sns": ("sns", "AuthorizationError", 403),
}


def prefix(service: str) -> str:
    """The IAM action prefix of a botocore service name (``stepfunctions`` -> ``states``)."""
    if service not in _SERVICES:
        raise IamModelError(f"the emulator does not model IAM for {service}")
    return _SERVICES[service][0]


# Condition keys the emulator supplies (for the actions that have them); any other key is refused.
CONTEXT_KEYS = frozenset(
    {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames",
        "route53:ChangeResourceRecordSetsRecordTypes",
        "route53:ChangeResourceRecordSetsActions",
        "cloudwatch:namespace",
        "dynamodb:LeadingKeys",
    }
)


# Key families the emulator supplies, one key per name after the prefix: a DB instance's tags, for the
# rds actions on the db resource type (see ``requests``).
CONTEXT_KEY_FAMILIES = ("aws:ResourceTag/",)

TagReader = Callable[[str, str], dict[str, str] | None]  # (region, resource id) -> its tags, None if unknown


def is_modelled_key(key: str) -> bool:
    return key in CONTEXT_KEYS or any(key.startswith(f) and len(key) > len(f) for f in CONTEXT_KEY_FAMILIES)


def moto_db_tags(region: str, identifier: str) -> dict[str, str] | None:
    """A DB instance's tags as moto's RDS backend keeps them (``[{"Key", "Value"}]`` on the instance)."""
    from regionshift.emulator import patches

    try:
        instance = patches.rds_instance(region, identifier)
    except KeyError:
        return None
    return {str(t["Key"]): str(t["Value"]) for t in instance.tags or []}


def moto_cluster_tags(region: str, identifier: str) -> dict[str, str] | None:
    """A DB cluster's tags as moto's RDS backend keeps them."""
    from moto.rds.models import rds_backends

    from regionshift.emulator.patches import ACCOUNT

    cluster = rds_backends[ACCOUNT][region].clusters.get(identifier)
    return None if cluster is None else {str(t["Key"]): str(t["Value"]) for t in cluster.tags or []}


def resource_tag_context(tags: dict[str, str] | None) -> dict[str, tuple[str, ...]]:
    """``aws:ResourceTag/<key>`` for each tag the resource has. A tag the resource lacks leaves its key
    out of the request context: StringEquals on it is then false and ...IfExists true.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourcetag
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
    """
    return {f"aws:ResourceTag/{key}": (value,) for key, value in (tags or {}).items()}


def normalise_record_name(name: str) -> str:
    """The form of ``route53:ChangeResourceRecordSetsNormalizedRecordNames``: lower case, no trailing
    dot, and every character but a-z, 0-9, '-', '_' and '.' as a backslash and three octal digits
    (an escape already in that form is kept).
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html
    """
    text = name.lower().removesuffix(".")
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and re.fullmatch(r"[0-7]{3}", text[i + 1 : i + 4]):
            out.append(text[i : i + 4])
            i += 4
            continue
        out.append(char if re.fullmatch(r"[a-z0-9_.-]", char) else f"\\{ord(char):03o}")
        i += 1
    return "".join(out)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _id(value: str, kind: str) -> str:
    """A Route 53 id as the API accepts it (``Z123`` or ``/hostedzone/Z123``)."""
    return value.removeprefix(f"/{kind}/")


def requests(
    service: str,
    operation: str,
    params: dict[str, Any],
    region: str,
    account: str,
    topic_keys: dict[str, str] | None = None,
    db_tags: TagReader | None = None,
    cluster_tags: TagReader | None = None,
) -> list[Request]:
    """The IAM requests AWS authorizes for one API call (resources per the Service Authorization Reference).

    ``db_tags`` / ``cluster_tags`` read a DB instance's / DB cluster's tags for the
    ``aws:ResourceTag/<key>`` keys (none without them).

    https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
    """
    if service not in _SERVICES:
        raise IamModelError(f"the emulator does not model IAM for {service}:{operation}")
    prefix, code, status = _SERVICES[service]
    action = f"{prefix}:{operation}"

    def one(resource: str, context: dict[str, tuple[str, ...]] | None = None) -> list[Request]:
        return [Request(action, resource, context or {}, code, status)]

    if service == "dynamodb" and operation in ("GetItem", "PutItem", "DeleteItem", "UpdateItem", "Query"):
        # list_amazondynamodb.html: item and query actions on the table resource; dynamodb:LeadingKeys is
        # the partition key of the item or query ("Using IAM policy conditions for fine-grained access
        # control", Amazon DynamoDB Developer Guide). The run table's partition key is ``pk``.
        table = str(params["TableName"])
        item = params.get("Key") or params.get("Item") or {}
        query = (params.get("ExpressionAttributeValues") or {}).get(":pk")
        pk = (item.get("pk") or query or {}).get("S")
        context: dict[str, tuple[str, ...]] = {"dynamodb:LeadingKeys": (str(pk),)} if pk is not None else {}
        return one(table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}", context)
    if service == "rds" and operation in ("DescribeDBInstances", "PromoteReadReplica", "StopDBInstance"):
        # list_amazonrds.html: all three act on the db resource type (db*) and add no condition key of
        # their own; the db resource type's keys include aws:ResourceTag/${TagKey}, the instance's tags.
        if "DBInstanceIdentifier" not in params:
            raise IamModelError(f"rds:{operation} without DBInstanceIdentifier is not modelled")
        db = str(params["DBInstanceIdentifier"])
        arn = db if db.startswith("arn:") else f"arn:aws:rds:{region}:{account}:db:{db}"
        parts = arn.split(":")
        tags = db_tags(parts[3], parts[6]) if db_tags is not None else None
        return one(arn, resource_tag_context(tags))
    if service == "rds" and operation in ("FailoverGlobalCluster", "SwitchoverGlobalCluster", "DescribeGlobalClusters"):
        # list_amazonrds.html: FailoverGlobalCluster acts on cluster* and global-cluster*; SwitchoverGlobalCluster
        # (added later) on the same two; DescribeGlobalClusters on global-cluster*. A global cluster's ARN has
        # no Region, and its resource type has no condition key (so no aws:ResourceTag); the cluster's does.
        if "GlobalClusterIdentifier" not in params:
            raise IamModelError(f"rds:{operation} of every global cluster is not modelled")
        found = one(f"arn:aws:rds::{account}:global-cluster:{params['GlobalClusterIdentifier']}")
        if operation == "DescribeGlobalClusters":
            return found
        target = _cluster_arn(str(params["TargetDbClusterIdentifier"]), region, account)
        parts = target.split(":")
        tags = cluster_tags(parts[3], parts[6]) if cluster_tags is not None else None
        return [Request(action, target, resource_tag_context(tags), code, status), *found]
    if service == "rds" and operation == "DescribeDBClusters":
        # list_amazonrds.html: cluster*, whose keys include aws:ResourceTag/${TagKey}.
        if "DBClusterIdentifier" not in params:
            raise IamModelError("rds:DescribeDBClusters without DBClusterIdentifier is not modelled")
        arn = _cluster_arn(str(params["DBClusterIdentifier"]), region, account)
        parts = arn.split(":")
        return one(arn, resource_tag_context(cluster_tags(parts[3], parts[6]) if cluster_tags is not None else None))
    if service == "elasticache" and operation in ("FailoverGlobalReplicationGroup", "DescribeGlobalReplicationGroups"):
        # list_amazonelasticache.html: both act on globalreplicationgroup* (no Region in the ARN, no
        # condition key on the resource type).
        if "GlobalReplicationGroupId" not in params:
            raise IamModelError(f"elasticache:{operation} of every global datastore is not modelled")
        return one(f"arn:aws:elasticache::{account}:globalreplicationgroup:{params['GlobalReplicationGroupId']}")
    if service == "dynamodb" and operation == "DescribeTable":
        # list_amazondynamodb.html: table* (the replica's table in the Region called).
        return one(f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}")
    if service == "route53" and operation == "GetHealthCheckStatus":
        # list_amazonroute53.html: healthcheck resource; Route 53 ARNs have no region or account.
        return one(f"arn:aws:route53:::healthcheck/{_id(str(params['HealthCheckId']), 'healthcheck')}")
    if service == "route53" and operation == "GetChange":
        return one(f"arn:aws:route53:::change/{_id(str(params['Id']), 'change')}")
    if service == "route53" and operation == "ListResourceRecordSets":
        return one(f"arn:aws:route53:::hostedzone/{_id(str(params['HostedZoneId']), 'hostedzone')}")
    if service == "route53" and operation == "ChangeResourceRecordSets":
        changes = params["ChangeBatch"]["Changes"]
        context = {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": _unique(
                normalise_record_name(c["ResourceRecordSet"]["Name"]) for c in changes
            ),
            "route53:ChangeResourceRecordSetsRecordTypes": _unique(c["ResourceRecordSet"]["Type"] for c in changes),
            "route53:ChangeResourceRecordSetsActions": _unique(c["Action"] for c in changes),
        }
        return one(f"arn:aws:route53:::hostedzone/{_id(str(params['HostedZoneId']), 'hostedzone')}", context)
    if service == "s3" and operation == "PutObject":
        # list_amazons3.html: PutObject acts on the object resource, arn:aws:s3:::bucket/key (S3 ARNs
        # have no region or account).
        return one(f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")
    if service == "stepfunctions" and operation == "GetExecutionHistory":
        # list_awsstepfunctions.html: GetExecutionHistory acts on the execution resource.
        return one(str(params["executionArn"]))
    if service == "cloudwatch" and operation in ("GetMetricStatistics", "GetMetricData"):
        # list_amazoncloudwatch.html: these actions support no resource type, so the resource is "*".
        return one("*")
    if service == "cloudwatch" and operation == "PutMetricData":
        # list_amazoncloudwatch.html: no resource type; the cloudwatch:namespace condition key names the
        # namespace the data goes to.
        return one("*", {"cloudwatch:namespace": (str(params["Namespace"]),)})
    if service == "cloudwatch" and operation == "DescribeAlarms":
        # list_amazoncloudwatch.html: DescribeAlarms acts on the alarm resource type; by name, each alarm's
        # ARN (a call without names would need "*": the steps always name theirs).
        names = params.get("AlarmNames") or []
        if not names:
            raise IamModelError("cloudwatch:DescribeAlarms without AlarmNames is not modelled")
        return [r for name in names for r in one(f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}")]
    if service == "cloudwatch" and operation == "PutMetricAlarm":
        # list_amazoncloudwatch.html: PutMetricAlarm acts on the alarm resource type (its condition keys
        # are the request's tags, which the Watch step never sends).
        return one(f"arn:aws:cloudwatch:{region}:{account}:alarm:{params['AlarmName']}")
    if service == "sns" and operation == "Publish":
        if "TopicArn" not in params:
            raise IamModelError("sns:Publish to a target or phone number is not modelled")
        topic = str(params["TopicArn"])
        found = one(topic)
        key = (topic_keys or {}).get(topic)
        if key is not None:
            # Publishing to a topic encrypted with a customer managed key also needs kms:GenerateDataKey*
            # and kms:Decrypt on that key; SNS answers KMSAccessDenied (HTTP 400) when they are missing.
            # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
            # https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
            found += [Request(f"kms:{a}", key, {}, "KMSAccessDenied", 400) for a in ("GenerateDataKey", "Decrypt")]
        return found
    raise IamModelError(f"the emulator does not model IAM for {action}")


def _cluster_arn(identifier: str, region: str, account: str) -> str:
    """A DB cluster's ARN, given as one or as its identifier in the call's Region."""
    return identifier if identifier.startswith("arn:") else f"arn:aws:rds:{region}:{account}:cluster:{identifier}"


# --- evaluation ---------------------------------------------------------------------------------


def _glob(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", flags | re.DOTALL)


def _arn_like(value: str, pattern: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-delimited parts matches on its own, with wildcards.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    """
    parts, wanted = value.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(wanted) == 6 and all(_glob(w).match(p) for p, w in zip(parts, wanted, strict=True))


# Base operator -> (value matches one policy value, negated).
_MATCHERS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (lambda v, p: bool(_glob(p).match(v)), False),
    "StringNotLike": (lambda v, p: bool(_glob(p).match(v)), True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda v, p: v.lower() == p.lower(), False),
}


def _operator(name: str) -> tuple[str | None, str, bool]:
    """(set qualifier, base operator, IfExists) of a condition operator; unsupported ones raise."""
    qualifier, _, base = name.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise IamModelError(f"unsupported condition set qualifier {qualifier!r} in {name}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null" and not qualifier and not if_exists:
        return None, base, False
    if base not in _MATCHERS:
        raise IamModelError(f"unsupported condition operator {name}")
    return qualifier or None, base, if_exists


def _condition_holds(operator: str, key: str, wanted: tuple[str, ...], context: dict[str, tuple[str, ...]]) -> bool:
    """One key of one operator, as IAM evaluates it.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    """
    qualifier, base, if_exists = _operator(operator)
    values = context.get(key)
    if base == "Null":
        return (values is None) == (wanted[0].lower() == "true")
    match, negated = _MATCHERS[base]

    def hit(value: str) -> bool:
        matched = any(match(value, p) for p in wanted)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        # True when every value matches, which includes a missing or empty key.
        return all(hit(v) for v in values or ())
    if qualifier == "ForAnyValue":
        return any(hit(v) for v in values or ())
    if values is None:
        # A missing key matches nothing: a positive operator is false, a negated one true; IfExists is true.
        return if_exists or negated
    if len(values) != 1:
        raise IamModelError(f"{operator} on the multivalued key {key} needs ForAllValues or ForAnyValue")
    return hit(values[0])


def _conditions_hold(statement: Statement, context: dict[str, tuple[str, ...]]) -> bool:
    # Operators and the keys within one are ANDed; the values of one key are ORed.
    return all(
        _condition_holds(operator, key, wanted, context)
        for operator, block in statement.condition.items()
        for key, wanted in block.items()
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    grants: tuple[Grant, ...] = ()  # the Allow grants that matched


def evaluate(statements: tuple[Statement, ...], request: Request) -> Decision:
    """Identity-based policy evaluation: explicit Deny, else any matching Allow, else implicit deny."""
    allowed: list[Grant] = []
    for index, statement in enumerate(statements):
        actions = [a for a in statement.actions if _glob(a, re.IGNORECASE).match(request.action)]
        resources = [i for i, r in enumerate(statement.resources) if _glob(r).match(request.resource)]
        if not actions or not resources or not _conditions_hold(statement, request.context):
            continue
        if statement.effect == "Deny":
            return Decision(False, explicit_deny=True)
        allowed += [Grant(index, a, r) for a in actions for r in resources]
    return Decision(bool(allowed), grants=tuple(allowed))


def denial(request: Request, principal: str, operation: str, explicit: bool) -> ClientError:
    """The error AWS returns for a denied request.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    """
    on = "" if request.resource == "*" else f" on resource: {request.resource}"
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {request.action} action"
    )
    message = f"User: {principal} is not authorized to perform: {request.action}{on} {why}"
    return ClientError(
        {"Error": {"Code": request.code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": request.status}},
        operation,
    )


# --- the interceptor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    """One evaluated request, kept so that tests and drills can see what each role was used for."""

    function: str  # logical id
    operation: str
    action: str
    resource: str
    allowed: bool
    grants: tuple[Grant, ...]


class Guard:
    """An engine interceptor that authorizes each call a Lambda makes against its template role."""

    def __init__(
        self,
        roles: dict[str, Role],
        functions: dict[str, str],
        account: str,
        topic_keys: dict[str, str],
        db_tags: TagReader = moto_db_tags,
        cluster_tags: TagReader = moto_cluster_tags,
    ) -> None:
        self.roles = roles
        self.functions = functions  # function name -> logical id
        self.account = account
        self.topic_keys = topic_keys
        self.db_tags = db_tags  # read when the call is made: tags as they are at that moment
        self.cluster_tags = cluster_tags
        self.log: list[Authorization] = []

    @classmethod
    def from_template(cls, document: dict[str, Any], ctx: cfn.Context, functions: dict[str, str]) -> "Guard":
        return cls(roles(document, ctx), dict(functions), ctx.account, topic_keys(document, ctx))

    @property
    def denied(self) -> list[Authorization]:
        return [a for a in self.log if not a.allowed]

    def __call__(
        self, function: str, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if function == OPERATOR:
            return None  # a person's own credentials: not the stack's roles
        if function not in self.functions:
            raise IamModelError(f"no role is known for function {function}")
        role = self.roles[self.functions[function]]
        principal = f"arn:aws:sts::{self.account}:assumed-role/{role.name}/{function}"
        for request in requests(
            service, operation, params, region, self.account, self.topic_keys, self.db_tags, self.cluster_tags
        ):
            decision = evaluate(role.statements, request)
            self.log.append(
                Authorization(
                    role.function, operation, request.action, request.resource, decision.allowed, decision.grants
                )
            )
            if not decision.allowed:
                raise denial(request, principal, operation, decision.explicit_deny)
        return None


def topic_keys(document: dict[str, Any], ctx: cfn.Context) -> dict[str, str]:
    """Topic ARN -> ARN of the customer managed KMS key that encrypts it."""
    found: dict[str, str] = {}
    for logical_id, resource in document["Resources"].items():
        key = resource["Properties"].get("KmsMasterKeyId") if resource["Type"] == "AWS::SNS::Topic" else None
        if key is None:
            continue
        target = key.get("Ref") if isinstance(key, dict) else None
        if target is not None and document["Resources"].get(target, {}).get("Type") == "AWS::KMS::Key":
            found[str(ctx.ref(logical_id))] = str(cfn.resolve({"Fn::GetAtt": [target, "Arn"]}, ctx))
        elif isinstance(key, str) and key == "alias/aws/sns":
            continue  # the AWS managed key needs no grant from the publisher
        else:
            raise IamModelError(f"{logical_id}: KmsMasterKeyId {key!r} is not modelled")
    return found


def guards(interceptors: Iterable[Any]) -> list[Guard]:
    """The IAM guards among an engine's interceptors."""
    return [i for i in interceptors if isinstance(i, Guard)]


def without_grant(
    document: dict[str, Any], logical_id: str, statement: int, *, action: str | None = None, resource: int | None = None
) -> dict[str, Any]:
    """A copy of the template in which one function's statement lost one action or one resource."""
    changed = copy.deepcopy(document)
    policies = changed["Resources"][logical_id]["Properties"]["Policies"]
    statements = [s for p in policies for s in p["Statement"]]
    target = statements[statement]
    if action is not None:
        actions = target["Action"] if isinstance(target["Action"], list) else [target["Action"]]
        target["Action"] = [a for a in actions if a != action]
    if resource is not None:
        resources = target["Resource"] if isinstance(target["Resource"], list) else [target["Resource"]]
        target["Resource"] = [r for i, r in enumerate(resources) if i != resource]
    if not target["Action"] or not target["Resource"]:
        for policy in policies:
            if target in policy["Statement"]:
                policy["Statement"].remove(target)
    return changed
