"""Read ``template.yaml`` and resolve the intrinsic functions the emulator needs.

The emulator takes handlers, environment, definition substitutions and the EventBridge pattern from
the deployed template itself, so a change there is a change in what the drills run.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parent


def checkout() -> Path | None:
    """The source checkout regionshift runs from (an editable install), or None when installed from a wheel."""
    root = _PACKAGE.parent
    return root if (root / "template.yaml").is_file() and (root / "pyproject.toml").is_file() else None


def stack_root() -> Path:
    """Where ``template.yaml``, ``detector.yaml`` and ``statemachine/`` are read from.

    A checkout's own files, so a drill always runs what would be deployed; installed from a wheel,
    the copy setup.py packaged as ``regionshift/stack``.
    """
    return checkout() or _PACKAGE / "stack"


# libyaml's parser where PyYAML was built with it (a tenth of the pure-Python parser's time on the
# template, which every emulated deployment reads); the constructors, and so the result, are the same.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct(tag: str) -> Any:
    def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag}": value}

    return build


for _tag in (
    "Ref",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Condition",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load(path: Path | None = None) -> dict[str, Any]:
    """The SAM template (``template.yaml`` unless another template is named)."""
    with (path or stack_root() / "template.yaml").open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


class ResolveError(ValueError):
    """The template uses an intrinsic the emulator cannot resolve."""


@dataclass
class Context:
    """What ``Ref`` and ``Fn::GetAtt`` resolve to in one emulated deployment."""

    parameters: dict[str, Any]
    region: str
    account: str = "123456789012"
    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)
    # The template's Conditions, evaluated (``evaluate_conditions``) for Fn::If and resources' Condition.
    conditions: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise ResolveError(f"unevaluated condition {name}")
        return self.conditions[name]

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": "regionshift",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise ResolveError(f"unresolved Ref {name}")


_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class _NoValue:
    """``Ref AWS::NoValue``: the list item or property it stands for is left out."""


NO_VALUE = _NoValue()


def resolve(value: Any, ctx: Context) -> Any:
    if isinstance(value, list):
        return [item for item in (resolve(v, ctx) for v in value) if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE
        if key == "Ref":
            return ctx.ref(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return resolve(when_true if ctx.condition(name) else when_false, ctx)
        if key == "Fn::GetAtt":
            resource, attribute = arg
            if (resource, attribute) not in ctx.attrs:
                raise ResolveError(f"unresolved GetAtt {resource}.{attribute}")
            return ctx.attrs[(resource, attribute)]
        if key == "Fn::Join":
            separator, parts = arg
            items = resolve(parts, ctx)
            return separator.join(str(i) for i in items)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name:
                    resource, attribute = name.split(".", 1)
                    return str(resolve({"Fn::GetAtt": [resource, attribute]}, ctx))
                return str(ctx.ref(name))

            return _SUB.sub(substitute, text)
        if key.startswith("Fn::"):
            raise ResolveError(f"the emulator does not resolve {key}")
    resolved = {k: resolve(v, ctx) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def evaluate_conditions(document: dict[str, Any], ctx: Context) -> dict[str, bool]:
    """The template's Conditions as CloudFormation evaluates them for ``ctx``'s parameters and region
    (Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition; "Condition functions", CloudFormation User Guide)."""
    definitions = document.get("Conditions", {})
    found: dict[str, bool] = {}

    def holds(node: Any) -> bool:
        ((key, arg),) = node.items()
        if key == "Condition":
            return named(arg)
        if key == "Fn::Equals":
            left, right = (str(resolve(v, ctx)) for v in arg)
            return left == right
        if key == "Fn::Not":
            return not holds(arg[0])
        if key == "Fn::And":
            return all(holds(v) for v in arg)
        if key == "Fn::Or":
            return any(holds(v) for v in arg)
        raise ResolveError(f"the emulator does not evaluate the condition function {key}")

    def named(name: str) -> bool:
        if name not in found:
            found[name] = holds(definitions[name])
        return found[name]

    for name in definitions:
        named(name)
    return found


def parameter_defaults(document: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in document.get("Parameters", {}).items():
        if "Default" in spec:
            default = spec["Default"]
            values[name] = default.split(",") if spec["Type"] == "CommaDelimitedList" else default
    return values


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]


def functions(document: dict[str, Any], ctx: Context) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with its Globals merged in and its environment resolved."""
    glob = document.get("Globals", {}).get("Function", {})
    base_env = glob.get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if "Condition" in resource and not ctx.condition(resource["Condition"]):
            continue  # not created for this stack's parameters
        props = resource["Properties"]
        env = {**base_env, **props.get("Environment", {}).get("Variables", {})}
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                handler=props.get("Handler", glob.get("Handler")),
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
                environment={k: str(v) for k, v in resolve(env, ctx).items()},
            )
        )
    return specs


def state_machine(document: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(logical id, properties, EventBridge rule pattern) of the failover state machine, the one a rule starts."""
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] == "AWS::Serverless::StateMachine" and resource["Properties"].get("Events"):
            props = resource["Properties"]
            patterns = [
                event["Properties"]["Pattern"]
                for event in props.get("Events", {}).values()
                if event["Type"] == "EventBridgeRule"
            ]
            if len(patterns) != 1:
                raise ResolveError("expected exactly one EventBridgeRule event on the state machine")
            return logical_id, props, patterns[0]
    raise ResolveError("template has no AWS::Serverless::StateMachine")


def other_state_machines(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of the state machines besides the one the rule starts (ManualRun)."""
    failover = state_machine(document)[0]
    return [
        (logical_id, resource["Properties"])
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine" and logical_id != failover
    ]


def definition(props: dict[str, Any], ctx: Context) -> str:
    """The ASL text with its DefinitionSubstitutions applied, as CloudFormation would."""
    text = (stack_root() / props["DefinitionUri"]).read_text(encoding="utf-8")
    substitutions = resolve(props.get("DefinitionSubstitutions", {}), ctx)
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", str(value))
    leftover = re.findall(r"\$\{(\w+)\}", text)
    if leftover:
        raise ResolveError(f"definition has unsubstituted variables: {sorted(set(leftover))}")
    return text
