"""What template.yaml promises its users, checked on the template itself (no AWS account).

The template is read with a YAML loader that turns CloudFormation short tags into their long
form, and the few intrinsics that matter are resolved for a given set of parameters, so each
test can ask what a deployed stack would do, for a stack that creates its bucket and for one
that watches an existing bucket.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.diagnostics import DIAGNOSTICS_FILE_NAME, SUMMARY_FILE_NAME
from common.settings import Settings

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
POWERTOOLS_AND_LOGGING = re.compile(r"^(POWERTOOLS_.*|LOG_LEVEL)$")
CREATED_BUCKET = "stack-created-diagnostics-bucket"
ACCOUNT = "123456789012"
REGION = "eu-west-1"


# --------------------------------------------------------------------------- loading
class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads `!Ref x` as {"Ref": x}, `!Sub s` as {"Fn::Sub": s}, ..."""


def _short_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE_PATH.read_text(), Loader=CloudFormationLoader)  # a SafeLoader subclass


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


# ------------------------------------------------------------------------- resolving
class Stack:
    """Resolves Ref / Fn::If / Fn::Sub / conditions as CloudFormation would for some parameters."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.template = template
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
            "AWS::StackName": "lookout-diagnostics",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name == "DiagnosticsBucket":
            return CREATED_BUCKET
        if name.endswith(".Arn"):
            return f"arn:aws:test:{REGION}:{ACCOUNT}:{name.removesuffix('.Arn')}"
        return f"<{name}>"  # any other resource: a stand-in physical id


NO_VALUE = object()

BOTH_BUCKET_MODES = pytest.mark.parametrize(
    ("parameters", "watched_bucket"),
    [({}, CREATED_BUCKET), ({"ExistingBucketName": "team-l4e-output"}, "team-l4e-output")],
    ids=["stack-created-bucket", "existing-bucket"],
)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the parts this template uses: exact values and suffix filters."""
    for field, expected in pattern.items():
        actual = event.get(field)
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not matches(expected, actual):
                return False
            continue
        if not any(
            (isinstance(option, dict) and isinstance(actual, str) and actual.endswith(option["suffix"]))
            or option == actual
            for option in expected
        ):
            return False
    return True


def object_created(bucket: str, key: str, **overrides: Any) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1024}},
    } | overrides


def iam_statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of the identity and resource policies written in the template.

    KMS key policies are left out: there "Resource": "*" means "this key" and nothing wider.
    A statement behind Fn::If is included in both of its branches.
    """
    documents: list[tuple[str, Any]] = []
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            documents += [(name, policy) for policy in properties.get("Policies", []) if isinstance(policy, dict)]
        elif "PolicyDocument" in properties:
            documents.append((name, properties["PolicyDocument"]))
    statements = []
    for name, document in documents:
        for statement in document.get("Statement", []):
            branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
            statements += [(name, branch) for branch in branches if branch != {"Ref": "AWS::NoValue"}]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_allows(stack: Stack, resources: dict[str, Any], action: str, resource_arn: str) -> bool:
    """Whether the function's own policies, as deployed by `stack`, allow `action` on `resource_arn`."""
    for policy in resources["DiagnosticsFunction"]["Properties"]["Policies"]:
        for statement in stack.resolve(policy)["Statement"]:
            if statement["Effect"] != "Allow" or action not in as_list(statement["Action"]):
                continue
            if any(fnmatch.fnmatchcase(resource_arn, pattern) for pattern in as_list(statement["Resource"])):
                return True
    return False


# ---------------------------------------------------------------------------- bucket
def test_created_bucket_refuses_requests_that_are_not_over_tls(resources: dict[str, Any]) -> None:
    # Given the policy of the bucket the stack creates
    policy = resources["DiagnosticsBucketPolicy"]["Properties"]
    statements = policy["PolicyDocument"]["Statement"]

    # When we look for a statement that denies plain-HTTP requests
    denials = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s["Principal"] == "*"
        and "s3:*" in as_list(s["Action"])
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]

    # Then there is one, and it covers the bucket itself and every object in it
    assert policy["Bucket"] == {"Ref": "DiagnosticsBucket"}
    assert len(denials) == 1
    covered = as_list(denials[0]["Resource"])
    assert {"Fn::GetAtt": ["DiagnosticsBucket", "Arn"]} in covered
    assert {"Fn::Sub": "${DiagnosticsBucket.Arn}/*"} in covered


def test_created_bucket_is_private_encrypted_and_announces_new_objects(resources: dict[str, Any]) -> None:
    # Given the bucket the stack creates
    bucket = resources["DiagnosticsBucket"]["Properties"]

    # When its access, encryption and notification settings are read
    public_access = bucket["PublicAccessBlockConfiguration"]
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ownership = bucket["OwnershipControls"]["Rules"]

    # Then no public ACL or policy can open it, ACLs are off, objects are encrypted at rest,
    # and new objects reach EventBridge (which is what triggers the function)
    assert public_access == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}


def test_a_stack_watching_an_existing_bucket_creates_no_bucket(template: dict[str, Any]) -> None:
    # Given a stack deployed with the name of an existing bucket
    stack = Stack(template, ExistingBucketName="team-l4e-output")

    # When CloudFormation evaluates the bucket's condition
    creates = {name: stack.condition(r["Condition"]) for name, r in template["Resources"].items() if "Condition" in r}

    # Then neither the bucket nor its policy is created
    assert creates["DiagnosticsBucket"] is False
    assert creates["DiagnosticsBucketPolicy"] is False
    assert Stack(template).condition("CreateBucket") is True


# ------------------------------------------------------------------------------ rule
@BOTH_BUCKET_MODES
def test_rule_fires_only_for_diagnostics_files_in_the_watched_bucket(
    template: dict[str, Any], parameters: dict[str, str], watched_bucket: str
) -> None:
    # Given the rule's event pattern as deployed for this bucket mode
    stack = Stack(template, **parameters)
    event_source = template["Resources"]["DiagnosticsFunction"]["Properties"]["Events"]["DiagnosticsLanded"]
    assert event_source["Type"] == "EventBridgeRule"
    pattern = stack.resolve(event_source["Properties"]["Pattern"])
    diagnostics_key = f"pump-7/model-v3/{DIAGNOSTICS_FILE_NAME}"

    # When S3 announces various objects
    # Then only a diagnostics file created in the watched bucket invokes the function
    assert matches(pattern, object_created(watched_bucket, diagnostics_key))
    assert matches(pattern, object_created(watched_bucket, DIAGNOSTICS_FILE_NAME))
    # ... never the summary the function writes beside it (no feedback loop)
    assert not matches(pattern, object_created(watched_bucket, f"pump-7/model-v3/{SUMMARY_FILE_NAME}"))
    assert not matches(pattern, object_created(watched_bucket, f"{diagnostics_key}.tmp"))
    assert not matches(pattern, object_created(watched_bucket, "pump-7/model-v3/inference_results.json.gz"))
    assert not matches(pattern, object_created("some-other-bucket", diagnostics_key))
    assert not matches(pattern, object_created(watched_bucket, diagnostics_key, **{"detail-type": "Object Deleted"}))
    assert not matches(pattern, object_created(watched_bucket, diagnostics_key, source="custom.app"))


# -------------------------------------------------------------------------- function
def test_handler_named_by_the_template_exists(resources: dict[str, Any]) -> None:
    # Given the handler the function is configured with (CodeUri is src/)
    module_name, _, function_name = resources["DiagnosticsFunction"]["Properties"]["Handler"].rpartition(".")

    # When the module is located under src/ and its top-level functions are listed
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, f"{module_name} is not importable from src/"
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}

    # Then the entry point Lambda will call is there
    assert function_name in defined


def _function_environment(template: dict[str, Any]) -> dict[str, Any]:
    from_globals = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"]["DiagnosticsFunction"]["Properties"]["Environment"]["Variables"]
    return from_globals | own


def test_function_environment_is_exactly_what_the_settings_read(template: dict[str, Any]) -> None:
    # Given the variables the deployed function gets (Globals merged with its own)
    environment = _function_environment(template)
    configured = {name for name in environment if not POWERTOOLS_AND_LOGGING.match(name)}

    # When they are compared with the environment variables Settings reads
    read_by_code = {field.validation_alias for field in Settings.model_fields.values()}

    # Then none is missing and none is set for nothing
    assert configured == read_by_code


def test_default_stack_configures_valid_settings_with_the_code_defaults(template: dict[str, Any]) -> None:
    # Given a stack deployed with every parameter left at its default
    environment = {name: str(value) for name, value in Stack(template).resolve(_function_environment(template)).items()}

    # When the function reads its settings from that environment
    settings = Settings.model_validate(environment)

    # Then they validate, and the thresholds are the ones the code (and the CLI) use by default
    for name, field in Settings.model_fields.items():
        if not field.is_required():
            assert getattr(settings, name) == field.default, f"{field.validation_alias} differs from the code"


def test_alert_claim_outlives_the_invocation_that_made_it(resources: dict[str, Any]) -> None:
    # Given the function's timeout and the claim duration it is told to use
    function = resources["DiagnosticsFunction"]["Properties"]
    claim_seconds = int(function["Environment"]["Variables"]["CLAIM_SECONDS"])

    # When they are compared
    # Then a slow but live invocation never loses its claim to a retry
    assert claim_seconds > int(function["Timeout"])


@BOTH_BUCKET_MODES
def test_function_reads_diagnostics_and_writes_only_summaries_in_the_watched_bucket(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, str], watched_bucket: str
) -> None:
    # Given the function's permissions as deployed for this bucket mode
    stack = Stack(template, **parameters)

    def arn(bucket: str, file_name: str) -> str:
        return f"arn:aws:s3:::{bucket}/pump-7/model-v3/{file_name}"

    # When we ask what it may do with the objects it deals with
    # Then it reads the diagnostics file and writes the summary beside it
    assert function_allows(stack, resources, "s3:GetObject", arn(watched_bucket, DIAGNOSTICS_FILE_NAME))
    assert function_allows(stack, resources, "s3:PutObject", arn(watched_bucket, SUMMARY_FILE_NAME))
    # ... and nothing else: it cannot overwrite the diagnostics or touch other objects or buckets
    assert not function_allows(stack, resources, "s3:PutObject", arn(watched_bucket, DIAGNOSTICS_FILE_NAME))
    assert not function_allows(stack, resources, "s3:GetObject", arn(watched_bucket, "other.csv"))
    assert not function_allows(stack, resources, "s3:GetObject", arn("some-other-bucket", DIAGNOSTICS_FILE_NAME))


def test_kms_permission_is_granted_only_for_a_given_key(template: dict[str, Any], resources: dict[str, Any]) -> None:
    # Given a stack without a customer key and one watching a bucket encrypted with one
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    without_key = Stack(template, ExistingBucketName="team-l4e-output")
    with_key = Stack(template, ExistingBucketName="team-l4e-output", DiagnosticsKmsKeyArn=key_arn)

    # When we ask whether the function may decrypt and encrypt with that key
    # Then it may only when the key was given, for that key only
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert not function_allows(without_key, resources, action, key_arn)
        assert function_allows(with_key, resources, action, key_arn)
        assert not function_allows(with_key, resources, action, key_arn.replace("1234abcd", "ffffffff"))


def test_no_iam_statement_grants_every_resource_except_listing_models(resources: dict[str, Any]) -> None:
    # Given every Allow statement in the template's IAM and resource policies
    statements = [(name, s) for name, s in iam_statements(resources) if s["Effect"] == "Allow"]
    assert statements, "no policy statement found: the walk over the template is broken"

    # When we keep those whose Resource is "*"
    unrestricted = {
        action
        for _, statement in statements
        if "*" in as_list(statement.get("Resource"))
        for action in as_list(statement["Action"])
    }

    # Then only lookoutequipment:ListModels is there: it supports no resource-level restriction
    # (ListModelVersions and DescribeModelVersion do, and are scoped to this account's models)
    assert unrestricted == {"lookoutequipment:ListModels"}


def test_template_has_no_literal_account_id() -> None:
    # Given the template's text
    text = TEMPLATE_PATH.read_text()

    # When we look for anything shaped like a 12-digit account id
    # Then there is none: ARNs are built with pseudo parameters
    assert re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", text) == []


# -------------------------------------------------------------------------- ledger
def test_alert_ledger_forgets_keys_through_ttl_on_expires_at(resources: dict[str, Any]) -> None:
    # Given the alert ledger table
    table = resources["AlertLedgerTable"]["Properties"]

    # When its key and time-to-live are read
    # Then items are keyed by pk and DynamoDB deletes them once expires_at has passed
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert {"AttributeName": "pk", "AttributeType": "S"} in table["AttributeDefinitions"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


# ------------------------------------------------------------------------ failures
def test_failed_invocations_and_undeliverable_events_go_to_the_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    # Given the function's asynchronous invocation settings and its rule's target settings
    function = resources["DiagnosticsFunction"]["Properties"]
    on_failure = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    rule = function["Events"]["DiagnosticsLanded"]["Properties"]
    dead_letter_queue = {"Fn::GetAtt": ["DiagnosticsDeadLetterQueue", "Arn"]}

    # When an invocation fails every retry, or EventBridge cannot invoke the function
    # Then the event is kept in the dead-letter queue rather than lost
    assert on_failure == {"Type": "SQS", "Destination": dead_letter_queue}
    assert rule["DeadLetterConfig"] == {"Arn": dead_letter_queue}
    assert function["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_only_the_rule_may_send_dead_letters_through_the_queue_policy(resources: dict[str, Any]) -> None:
    # Given the dead-letter queue's resource policy
    policy = resources["DiagnosticsDeadLetterQueuePolicy"]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]

    # When the statement letting EventBridge in is read
    # Then it allows only SendMessage, only to this queue, only from the generated rule
    assert policy["Queues"] == [{"Ref": "DiagnosticsDeadLetterQueue"}]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == {"Fn::GetAtt": ["DiagnosticsDeadLetterQueue", "Arn"]}
    # SAM names the rule it generates <Function><EventName>.
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["DiagnosticsFunctionDiagnosticsLanded", "Arn"]
    }


def _alarm_watching(resources: dict[str, Any], namespace: str, metric: str) -> dict[str, Any]:
    (alarm,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["Namespace"] == namespace
        and r["Properties"]["MetricName"] == metric
    ]
    return alarm


def test_a_message_in_the_dead_letter_queue_alerts_operations(resources: dict[str, Any]) -> None:
    # Given the alarm on the dead-letter queue's visible messages
    alarm = _alarm_watching(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible")

    # When one message is visible in the queue
    # Then the alarm goes off and notifies the operations topic
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DiagnosticsDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


def test_a_function_error_alerts_operations(resources: dict[str, Any]) -> None:
    # Given the alarm on the function's errors
    alarm = _alarm_watching(resources, "AWS/Lambda", "Errors")

    # When one invocation fails
    # Then the alarm goes off and notifies the operations topic
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "DiagnosticsFunction"}}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


def test_alarms_can_publish_to_the_encrypted_operations_topic(resources: dict[str, Any]) -> None:
    # Given the operations topic and the key it is encrypted with
    topic = resources["OpsTopic"]["Properties"]

    # When CloudWatch publishes an alarm to it
    # Then the key is not the AWS managed alias/aws/sns (CloudWatch may not use that one)
    # but a key of this stack whose policy lets CloudWatch encrypt for the topic
    assert topic["KmsMasterKeyId"] == {"Ref": "OpsTopicKey"}
    key_policy = resources["OpsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in key_policy if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(cloudwatch[0]["Action"]))
