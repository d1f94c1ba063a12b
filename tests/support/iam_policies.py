"""The identity policies template.yaml gives each function and state machine, resolved for a deployment.

One resolver for the template's infrastructure tests (what a deployed stack would allow, for given
parameters) and for the IAM emulation of the integration tests (tests/support/iam.py: each handler runs under
a role holding exactly these policies).

Ref / Fn::GetAtt / Fn::If / Fn::Sub / Fn::Equals / Fn::Not / Fn::And / Fn::Or and conditions are
resolved as CloudFormation would for some parameters. A resource the template creates has no physical
name here unless one is given (``physical``, by logical id, or ``LogicalId.Attribute`` for Fn::GetAtt):
by default a stand-in (``<LogicalId>``, ``arn:aws:test:REGION:ACCOUNT:LogicalId`` for ``.Arn``,
CREATED_BUCKET for the bucket), which is what the template's own tests reason about; the emulation
passes the names it created.

Permissions are read from what the template writes: inline statements, the template's own managed
policies (followed through `!Ref`) and SAM's LambdaInvokePolicy template. SAM adds
AWSLambdaBasicExecutionRole to functions and AWSXrayWriteOnlyAccess where tracing is on; those grant
logs and X-Ray only and are not modelled here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.support.botocore_fake import service_model

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
STACK_NAME = "lookout-diagnostics"
# The stand-in name of the bucket a stack creates, when no physical name is given.
CREATED_BUCKET = "stack-created-diagnostics-bucket"
SERVERLESS_WITH_POLICIES = {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}


class _NoValue:
    """AWS::NoValue: the property or list item is left out."""


NO_VALUE: Any = _NoValue()


class Stack:
    """Resolves Ref / Fn::If / Fn::Sub / conditions as CloudFormation would for some parameters."""

    def __init__(
        self, template: dict[str, Any], *, physical: Mapping[str, Any] | None = None, **parameters: str
    ) -> None:
        self.template = template
        self.physical = dict(physical or {})
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()
        } | parameters

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::GetAtt":
                return self._ref(".".join(arg))
            if key == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else arg
                names = {name: self.resolve(v) for name, v in names.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(names[m[1]] if m[1] in names else self._ref(m[1])), text)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::NoValue": NO_VALUE,
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK_NAME,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        if name == "DiagnosticsBucket":
            return CREATED_BUCKET
        if name.endswith(".Arn"):
            return f"arn:aws:test:{REGION}:{ACCOUNT}:{name.removesuffix('.Arn')}"
        return f"<{name}>"  # any other resource: a stand-in physical id


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of the identity and resource policies written in the template.

    KMS key policies are left out: there "Resource": "*" means "this key" and nothing wider.
    Trust policies are left out: they name principals, not resources.
    A statement behind Fn::If is included in both of its branches.
    """
    documents: list[tuple[str, Any]] = []
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] in SERVERLESS_WITH_POLICIES:
            for policy in as_list(properties.get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    documents.append((name, policy))
                elif not (is_managed_policy_ref(resources, policy) or is_lambda_invoke_policy(policy)):
                    # An AWS managed policy or another SAM policy template: its statements are not in
                    # this template, so neither this walk nor the least-privilege tests could see them.
                    raise AssertionError(f"{name}: policy form not checked by these tests: {policy!r}")
        elif resource["Type"] == "AWS::IAM::Role":
            documents += [(name, policy["PolicyDocument"]) for policy in properties.get("Policies", [])]
        elif "PolicyDocument" in properties:
            documents.append((name, properties["PolicyDocument"]))
    statements = []
    for name, document in documents:
        for statement in document.get("Statement", []):
            branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
            statements += [(name, branch) for branch in branches if branch != {"Ref": "AWS::NoValue"}]
    return statements


def is_managed_policy_ref(resources: dict[str, Any], policy: Any) -> bool:
    return (
        isinstance(policy, dict)
        and set(policy) == {"Ref"}
        and resources.get(policy["Ref"], {}).get("Type") == "AWS::IAM::ManagedPolicy"
    )


def is_lambda_invoke_policy(policy: Any) -> bool:
    return isinstance(policy, dict) and set(policy) == {"LambdaInvokePolicy"}


def policy_documents(stack: Stack, resources: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """The identity policies the template gives a function or state machine, as `stack` deploys them."""
    documents = []
    for policy in as_list(resources[logical_id]["Properties"].get("Policies", [])):
        if is_managed_policy_ref(resources, policy):
            documents.append(stack.resolve(resources[policy["Ref"]]["Properties"]["PolicyDocument"]))
        elif is_lambda_invoke_policy(policy):
            # What SAM's LambdaInvokePolicy template expands to (samtranslator's policy_templates.json).
            name = stack.resolve(policy["LambdaInvokePolicy"]["FunctionName"])
            resource = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}*"
            documents.append(
                {"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": resource}]}
            )
        elif isinstance(policy, dict) and "Statement" in policy:
            documents.append(stack.resolve(policy))
        else:
            raise AssertionError(f"{logical_id}: policy form not evaluated by these tests: {policy!r}")
    return documents


# The condition operators this template uses; any other fails loudly rather than being ignored.
CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringLike": fnmatch.fnmatchcase,
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": fnmatch.fnmatchcase,
}


def conditions_hold(condition: dict[str, Any], context: Mapping[str, str]) -> bool:
    """Whether a statement's Condition block holds in a request's context (a missing key: it does not)."""
    for operator, pairs in condition.items():
        test = CONDITION_OPERATORS[operator]
        for key, expected in pairs.items():
            actual = context.get(key)
            if actual is None or not any(test(actual, str(option)) for option in as_list(expected)):
                return False
    return True


def _statements(
    documents: list[dict[str, Any]], effect: str, action: str, resource_arn: str, context: Mapping[str, str]
) -> list[dict[str, Any]]:
    matching = []
    for document in documents:
        for statement in as_list(document["Statement"]):
            if statement["Effect"] != effect:
                continue
            if not any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in as_list(statement["Action"])):
                continue
            if not any(fnmatch.fnmatchcase(resource_arn, pattern) for pattern in as_list(statement["Resource"])):
                continue
            if conditions_hold(statement.get("Condition", {}), context):
                matching.append(statement)
    return matching


def allows(
    documents: list[dict[str, Any]], action: str, resource_arn: str, context: Mapping[str, str] | None = None
) -> bool:
    """Whether an Allow statement of `documents` grants `action` on `resource_arn` in request `context`."""
    return bool(_statements(documents, "Allow", action, resource_arn, context or {}))


def permits(
    documents: list[dict[str, Any]], action: str, resource_arn: str, context: Mapping[str, str] | None = None
) -> bool:
    """IAM's answer for one identity's policies: an explicit Deny wins, else an Allow must grant it."""
    context = context or {}
    if _statements(documents, "Deny", action, resource_arn, context):
        return False
    return allows(documents, action, resource_arn, context)


def function_allows(
    stack: Stack,
    resources: dict[str, Any],
    function: str,
    action: str,
    resource_arn: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether `function`'s policies, as deployed by `stack`, allow `action` on `resource_arn`."""
    return allows(policy_documents(stack, resources, function), action, resource_arn, context)


# ---- the Lookout role, and to whom it may be passed -----------------------------------------------

LOOKOUT_PRINCIPAL = "lookoutequipment.amazonaws.com"
STACK_LOOKOUT_ROLE = f"arn:aws:test:{REGION}:{ACCOUNT}:LookoutRole"  # the stand-in for !GetAtt LookoutRole.Arn
EXISTING_LOOKOUT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/team-l4e"
# Both Lookout roles: in each role mode the other mode's role is just another role.
LOOKOUT_ROLES = (STACK_LOOKOUT_ROLE, EXISTING_LOOKOUT_ROLE)
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
PASS_CONTEXTS: tuple[dict[str, str] | None, ...] = (
    {"iam:PassedToService": LOOKOUT_PRINCIPAL},
    {"iam:PassedToService": "ec2.amazonaws.com"},
    {"iam:PassedToService": "lambda.amazonaws.com"},
    None,
)
BOTH_ROLE_MODES = pytest.mark.parametrize(
    ("parameters", "passable_role"),
    [({}, STACK_LOOKOUT_ROLE), ({"LookoutRoleArn": EXISTING_LOOKOUT_ROLE}, EXISTING_LOOKOUT_ROLE)],
    ids=["stack-created-role", "existing-role"],
)


def grants_pass_role(documents: list[dict[str, Any]]) -> bool:
    """Whether any Allow statement names iam:PassRole, or a wildcard covering it, whatever its resource.

    A statement without Action (a NotAction one) counts as "*".
    """
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase("iam:passrole", p.lower()) for p in as_list(statement.get("Action", "*")))
        for document in documents
        for statement in document["Statement"]
    )


def lookout_arn(resource: str, *, account: str = ACCOUNT, region: str = REGION) -> str:
    """The ARN of a Lookout for Equipment resource, e.g. lookout_arn("model/pump/0f1e")."""
    return f"arn:aws:lookoutequipment:{region}:{account}:{resource}"


def lookout_operations() -> list[str]:
    """Every Lookout for Equipment operation botocore knows."""
    return list(service_model("lookoutequipment").operation_names)
