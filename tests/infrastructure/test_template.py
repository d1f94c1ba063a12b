"""What template.yaml promises its users, checked on the template itself (no AWS account).

The template is read with a YAML loader that turns CloudFormation short tags into their long
form, and the few intrinsics that matter are resolved for a given set of parameters, so each
test can ask what a deployed stack would do, for a stack that creates its bucket and for one
that watches an existing bucket. The resolver (tests/support/iam_policies.py) is the one the integration
tests' IAM emulation builds each function's role from.

Permissions are read from what the template writes: inline statements, the template's own
managed policies (followed through `!Ref`) and SAM's LambdaInvokePolicy template. SAM adds
AWSLambdaBasicExecutionRole to functions and AWSXrayWriteOnlyAccess where tracing is on; those
grant logs and X-Ray only and are not modelled here.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from lookout_diagnostics.domain.services import DIAGNOSTICS_FILE_NAME, SUMMARY_FILE_NAME
from lookout_diagnostics.settings import Settings
from tests.support.iam_policies import (
    ACCOUNT,
    BOTH_ROLE_MODES,
    CREATED_BUCKET,
    LOOKOUT_PRINCIPAL,
    LOOKOUT_ROLES,
    OTHER_ROLE,
    PASS_CONTEXTS,
    REGION,
    Stack,
    allows,
    as_list,
    function_allows,
    grants_pass_role,
    iam_statements,
    is_lambda_invoke_policy,
    lookout_arn,
    lookout_operations,
    policy_documents,
)
from tests.support.template import (
    ALARMS,
    FLEET_FUNCTION,
    FLEET_ONLY_SETTINGS,
    FUNCTIONS,
    LOG_GROUPS,
    QUEUES,
    SITEWISE_TRAINING,
    START_TRAINING,
    STATE_MACHINES,
    STATUS_POLLER,
    TEMPLATE,
    WORKFLOW_FUNCTIONS,
    alarm_watching,
    event_matches,
    function_environment,
    function_timeout,
    state_machine_properties,
)

POWERTOOLS_AND_LOGGING = re.compile(r"^(POWERTOOLS_.*|LOG_LEVEL)$")


# The functions that read diagnostics files and write summaries, with what else each may read.
DIAGNOSTICS_PROCESSORS = {
    # Every path that alerts a file reads the previous version's summary, to say what changed.
    "DiagnosticsFunction": {SUMMARY_FILE_NAME},
    # The workflow reuses a summary the S3 trigger already wrote for the same file.
    "TrainingFinishedFunction": {SUMMARY_FILE_NAME},
    # The safety net summarises a success's file the S3 trigger did not alert.
    "StatusPollerFunction": {SUMMARY_FILE_NAME},
    # SiteWise's workflow summarises its evaluation results (and reuses the trigger's summary of them).
    "SiteWiseTrainingFunction": {SUMMARY_FILE_NAME},
}
# Functions that read summaries the others wrote, and never a diagnostics file.
SUMMARY_READERS = {
    # The fleet's digest reports a training whose alert was pending from the summary beside its file.
    FLEET_FUNCTION,
}


BOTH_BUCKET_MODES = pytest.mark.parametrize(
    ("parameters", "watched_bucket"),
    [({}, CREATED_BUCKET), ({"ExistingBucketName": "team-l4e-output"}, "team-l4e-output")],
    ids=["stack-created-bucket", "existing-bucket"],
)


def object_created(bucket: str, key: str, **overrides: Any) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1024}},
    } | overrides


# ---------------------------------------------------------------------------- bucket
def test_created_bucket_refuses_requests_that_are_not_over_tls(resources: dict[str, Any]) -> None:
    # Given the policy of the bucket the stack creates
    policy = resources["DiagnosticsBucketPolicy"]["Properties"]
    statements = policy["PolicyDocument"]["Statement"]

    # When we look for a statement that denies plain-HTTP requests
    denials = [
        s
        for s in statements
        if "Effect" in s  # (a statement under Fn::If grants; it denies nothing)
        and s["Effect"] == "Deny"
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


PRIVATE = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KMS_KEY = KMS_KEY.replace("1234abcd", "ffffffff")
THROUGH_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


def test_created_bucket_is_private_encrypted_and_announces_new_objects(template: dict[str, Any]) -> None:
    # Given the bucket the stack creates, as deployed without a customer key
    bucket = Stack(template).resolve(template["Resources"]["DiagnosticsBucket"]["Properties"])

    # When its access, encryption and notification settings are read
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    # Then no public ACL or policy can open it, ACLs are off, objects are encrypted at rest (SSE-S3),
    # and new objects reach EventBridge (which is what triggers the function)
    assert bucket["PublicAccessBlockConfiguration"] == PRIVATE
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert encryption == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}


def test_created_bucket_encrypts_with_the_given_customer_key_and_a_bucket_key(template: dict[str, Any]) -> None:
    # Given a stack that creates its bucket and is given a customer managed KMS key
    stack = Stack(template, DiagnosticsKmsKeyArn=KMS_KEY)

    # When the bucket's default encryption is read
    bucket = stack.resolve(template["Resources"]["DiagnosticsBucket"]["Properties"])
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    # Then every object is encrypted with that key (SSE-KMS), through an S3 Bucket Key
    assert encryption == {
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
        "BucketKeyEnabled": True,
    }


@pytest.mark.parametrize(
    "bucket_parameters", [{}, {"ExistingBucketName": "team-l4e-output"}], ids=["created", "existing"]
)
def test_created_lookout_role_may_use_the_given_key_only_through_s3(
    template: dict[str, Any], resources: dict[str, Any], bucket_parameters: dict[str, str]
) -> None:
    # Given the role the stack creates for Lookout for Equipment, without and with a customer key
    def role_may(stack: Stack, action: str, key: str, context: dict[str, str] | None) -> bool:
        documents = [stack.resolve(p["PolicyDocument"]) for p in resources["LookoutRole"]["Properties"]["Policies"]]
        return allows(documents, action, key, context)

    without_key = Stack(template, **bucket_parameters)
    with_key = Stack(template, DiagnosticsKmsKeyArn=KMS_KEY, **bucket_parameters)

    # When Lookout for Equipment writes (and reads back) diagnostics in the bucket through S3
    # Then it may use the given key for that, and only that key, only through S3, only when one is given
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert role_may(with_key, action, KMS_KEY, THROUGH_S3), action
        assert not role_may(with_key, action, KMS_KEY, None), action
        assert not role_may(with_key, action, KMS_KEY, {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}), action
        assert not role_may(with_key, action, OTHER_KMS_KEY, THROUGH_S3), action
        assert not role_may(without_key, action, KMS_KEY, THROUGH_S3), action
    assert not role_may(with_key, "kms:CreateGrant", KMS_KEY, THROUGH_S3)


def test_every_kms_grant_names_the_given_key_and_goes_through_s3(resources: dict[str, Any]) -> None:
    # Given every Allow statement of the template's policies that names a KMS action
    kms_statements = [
        (name, statement)
        for name, statement in iam_statements(resources)
        if statement["Effect"] == "Allow"
        and any(str(action).lower().startswith("kms:") for action in as_list(statement.get("Action", "*")))
    ]

    # When their resources, actions and conditions are read
    # Then each grants only encrypting and decrypting, on DiagnosticsKmsKeyArn, and only through S3
    # (the functions' shared policy, the poller's safety net, the created Lookout role, and the fleet's plans and
    # tables: nothing else uses a key)
    assert {name for name, _ in kms_statements} == {
        "DiagnosticsProcessingPolicy",
        "StatusPollerFunction",
        "LookoutRole",
        "FleetFunction",
        "FleetStateMachine",
    }
    for name, statement in kms_statements:
        assert statement["Resource"] == {"Ref": "DiagnosticsKmsKeyArn"}, name
        assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"], name
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
        }, name


# ------------------------------------------------------------------ access logs
def test_created_bucket_logs_every_access_to_a_private_bucket_of_its_own(template: dict[str, Any]) -> None:
    # Given the stack-created diagnostics bucket and the bucket its access logs go to
    stack = Stack(template)
    resources = template["Resources"]
    logging = stack.resolve(resources["DiagnosticsBucket"]["Properties"]["LoggingConfiguration"])
    logs = stack.resolve(resources["DiagnosticsAccessLogsBucket"]["Properties"])

    # When their settings are read
    (encryption,) = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (rule,) = logs["LifecycleConfiguration"]["Rules"]

    # Then the diagnostics bucket's access is logged there, under a prefix of its own ...
    assert logging == {"DestinationBucketName": "<DiagnosticsAccessLogsBucket>", "LogFilePrefix": "diagnostics-bucket/"}
    # ... to a bucket that is private, encrypted with SSE-S3 (what S3 log delivery can write), kept if
    # the stack goes, and whose logs expire with the stack's other logs
    assert logs["PublicAccessBlockConfiguration"] == PRIVATE
    assert logs["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert encryption == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert resources["DiagnosticsAccessLogsBucket"]["DeletionPolicy"] == "Retain"
    assert rule["Status"] == "Enabled"
    assert resources["DiagnosticsAccessLogsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0][
        "ExpirationInDays"
    ] == {"Ref": "LogRetentionDays"}
    # ... and that exists only with the bucket it logs
    for name in ("DiagnosticsAccessLogsBucket", "DiagnosticsAccessLogsBucketPolicy"):
        assert resources[name]["Condition"] == "CreateBucket"
    assert template["Outputs"]["DiagnosticsAccessLogsBucketName"]["Condition"] == "CreateBucket"


def test_only_s3_log_delivery_for_the_diagnostics_bucket_writes_access_logs(template: dict[str, Any]) -> None:
    # Given the access-log bucket's policy, as deployed
    stack = Stack(template)
    policy = template["Resources"]["DiagnosticsAccessLogsBucketPolicy"]["Properties"]
    document = stack.resolve(policy["PolicyDocument"])
    logs_arn = f"arn:aws:test:{REGION}:{ACCOUNT}:DiagnosticsAccessLogsBucket"  # the stand-in for its .Arn
    diagnostics_arn = f"arn:aws:test:{REGION}:{ACCOUNT}:DiagnosticsBucket"
    from_diagnostics = {"aws:SourceArn": diagnostics_arn, "aws:SourceAccount": ACCOUNT}
    allowed = [s for s in document["Statement"] if s["Effect"] == "Allow"]

    # When we ask who may write a log object, and from which source
    (grant,) = allowed

    # Then only S3's log delivery may, only PutObject under the prefix, only for this account's diagnostics bucket
    assert policy["Bucket"] == {"Ref": "DiagnosticsAccessLogsBucket"}
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allows(
        [document], "s3:PutObject", f"{logs_arn}/diagnostics-bucket/2025-01-01-00-00-00-ABC", from_diagnostics
    )
    assert not allows([document], "s3:GetObject", f"{logs_arn}/diagnostics-bucket/x", from_diagnostics)
    assert not allows([document], "s3:PutObject", f"{logs_arn}/elsewhere/x", from_diagnostics)
    for source in (
        {"aws:SourceArn": "arn:aws:s3:::some-other-bucket", "aws:SourceAccount": ACCOUNT},
        {"aws:SourceArn": diagnostics_arn, "aws:SourceAccount": "210987654321"},
        {},
    ):
        assert not allows([document], "s3:PutObject", f"{logs_arn}/diagnostics-bucket/x", source), source
    # ... and, like the diagnostics bucket, it refuses requests not made over TLS
    denials = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denials] == [{"Bool": {"aws:SecureTransport": "false"}}]
    assert sorted(as_list(denials[0]["Resource"])) == [logs_arn, f"{logs_arn}/*"]


# ------------------------------------------------------------------------ log groups


@pytest.mark.parametrize("log_group", LOG_GROUPS)
def test_log_group_uses_the_given_customer_key_and_cloudwatch_encryption_otherwise(
    template: dict[str, Any], log_group: str
) -> None:
    # Given one of the stack's log groups, deployed without and with LogsKmsKeyArn
    properties = template["Resources"][log_group]["Properties"]

    # When its encryption settings are resolved
    without_key = Stack(template).resolve(properties)
    with_key = Stack(template, LogsKmsKeyArn=KMS_KEY).resolve(properties)

    # Then the given key encrypts it, and without one CloudWatch Logs' own encryption does (no KmsKeyId)
    assert with_key["KmsKeyId"] == KMS_KEY
    assert "KmsKeyId" not in without_key


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
    assert event_matches(pattern, object_created(watched_bucket, diagnostics_key))
    assert event_matches(pattern, object_created(watched_bucket, DIAGNOSTICS_FILE_NAME))
    # ... never the summary the function writes beside it (no feedback loop)
    assert not event_matches(pattern, object_created(watched_bucket, f"pump-7/model-v3/{SUMMARY_FILE_NAME}"))
    assert not event_matches(pattern, object_created(watched_bucket, f"{diagnostics_key}.tmp"))
    assert not event_matches(pattern, object_created(watched_bucket, "pump-7/model-v3/inference_results.json.gz"))
    assert not event_matches(pattern, object_created("some-other-bucket", diagnostics_key))
    assert not event_matches(
        pattern, object_created(watched_bucket, diagnostics_key, **{"detail-type": "Object Deleted"})
    )
    assert not event_matches(pattern, object_created(watched_bucket, diagnostics_key, source="custom.app"))


# ------------------------------------------------------------------------- functions
@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_named_by_the_template_exists(resources: dict[str, Any], function: str) -> None:
    # Given the handler the function is configured with (CodeUri is src/)
    module_name, _, function_name = resources[function]["Properties"]["Handler"].rpartition(".")

    # When the module is located under src/ and its top-level functions are listed
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, f"{module_name} is not importable from src/"
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}

    # Then the entry point Lambda will call is there
    assert function_name in defined


def test_the_stack_has_the_trigger_function_the_three_workflow_steps_and_the_poller() -> None:
    # Given the functions the template defines
    # When the training workflow's steps are looked up among them
    # Then each is there (the tests below are parametrised over this list)
    assert set(FUNCTIONS) == WORKFLOW_FUNCTIONS | {
        "DiagnosticsFunction",
        STATUS_POLLER,
        SITEWISE_TRAINING,
        FLEET_FUNCTION,
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_environment_is_exactly_what_the_settings_read(template: dict[str, Any], function: str) -> None:
    # Given the variables the deployed function gets (Globals merged with its own)
    environment = function_environment(template, function)
    configured = {name for name in environment if not POWERTOOLS_AND_LOGGING.match(name)}

    # When they are compared with the environment variables Settings reads (every function reads Settings)
    read_by_code = {field.validation_alias for field in Settings.model_fields.values()}
    if function != FLEET_FUNCTION:
        read_by_code -= FLEET_ONLY_SETTINGS

    # Then none is missing and none is set for nothing
    assert configured == read_by_code


@pytest.mark.parametrize(
    ("parameters", "watched_bucket", "lookout_role"),
    [
        ({}, CREATED_BUCKET, f"arn:aws:test:{REGION}:{ACCOUNT}:LookoutRole"),
        (
            {"ExistingBucketName": "team-l4e-output", "LookoutRoleArn": f"arn:aws:iam::{ACCOUNT}:role/team-l4e"},
            "team-l4e-output",
            f"arn:aws:iam::{ACCOUNT}:role/team-l4e",
        ),
    ],
    ids=["stack-created-bucket-and-role", "existing-bucket-and-role"],
)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_default_stack_configures_valid_settings_with_the_code_defaults(
    template: dict[str, Any], function: str, parameters: dict[str, str], watched_bucket: str, lookout_role: str
) -> None:
    # Given a stack deployed with the thresholds left at their defaults
    stack = Stack(template, **parameters)
    environment = {name: str(value) for name, value in stack.resolve(function_environment(template, function)).items()}

    # When the function reads its settings from that environment
    settings = Settings.model_validate(environment)

    # Then they validate, and the thresholds are the ones the code (and the CLI) use by default
    for name, field in Settings.model_fields.items():
        if not field.is_required() and field.default is not None:
            assert getattr(settings, name) == field.default, f"{field.validation_alias} differs from the code"
    # ... and the training workflow's defaults name this deployment's bucket and Lookout role
    assert settings.diagnostics_bucket == watched_bucket
    assert settings.lookout_role_arn == lookout_role


@pytest.mark.parametrize("function", FUNCTIONS)
def test_alert_claim_outlives_the_invocation_that_made_it(template: dict[str, Any], function: str) -> None:
    # Given the function's timeout and the claim duration it is told to use
    claim_seconds = int(function_environment(template, function)["CLAIM_SECONDS"])

    # When they are compared
    # Then a slow but live invocation never loses its claim to a retry
    assert claim_seconds > function_timeout(template, function)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_logs_to_a_group_of_this_stack_that_expires(resources: dict[str, Any], function: str) -> None:
    # Given the log group the function writes to
    log_group = resources[function]["Properties"]["LoggingConfig"]["LogGroup"]

    # When that group is looked up in the template
    # Then it is one of this stack's groups, and its logs expire
    assert set(log_group) == {"Ref"}
    group = resources[log_group["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _object_arn(bucket: str, file_name: str) -> str:
    return f"arn:aws:s3:::{bucket}/pump-7/model-v3/{file_name}"


@BOTH_BUCKET_MODES
@pytest.mark.parametrize("function", sorted(DIAGNOSTICS_PROCESSORS))
def test_function_reads_diagnostics_and_writes_only_summaries_in_the_watched_bucket(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, str], watched_bucket: str, function: str
) -> None:
    # Given the function's permissions as deployed for this bucket mode
    stack = Stack(template, **parameters)

    def may(action: str, bucket: str, file_name: str) -> bool:
        return function_allows(stack, resources, function, action, _object_arn(bucket, file_name))

    # When we ask what it may do with the objects it deals with
    # Then it reads the diagnostics file and writes the summary beside it
    assert may("s3:GetObject", watched_bucket, DIAGNOSTICS_FILE_NAME)
    assert may("s3:PutObject", watched_bucket, SUMMARY_FILE_NAME)
    # ... reads the summary only if it reuses the trigger's
    assert may("s3:GetObject", watched_bucket, SUMMARY_FILE_NAME) == (
        SUMMARY_FILE_NAME in DIAGNOSTICS_PROCESSORS[function]
    )
    # ... and nothing else: it cannot overwrite the diagnostics or touch other objects or buckets
    assert not may("s3:PutObject", watched_bucket, DIAGNOSTICS_FILE_NAME)
    assert not may("s3:DeleteObject", watched_bucket, DIAGNOSTICS_FILE_NAME)
    assert not may("s3:GetObject", watched_bucket, "other.csv")
    assert not may("s3:GetObject", "some-other-bucket", DIAGNOSTICS_FILE_NAME)


@pytest.mark.parametrize("function", sorted(set(FUNCTIONS) - set(DIAGNOSTICS_PROCESSORS)))
def test_functions_that_do_not_process_diagnostics_cannot_touch_the_bucket(
    template: dict[str, Any], resources: dict[str, Any], function: str
) -> None:
    # Given a function that neither summarises diagnostics nor reuses a summary (a summary reader only reads)
    stack = Stack(template)
    readable = {SUMMARY_FILE_NAME} if function in SUMMARY_READERS else set()

    # When we ask whether it may read or write the diagnostics or the summaries
    # Then it may not, but for reading a summary where it reads them
    for action in ("s3:GetObject", "s3:PutObject"):
        for file_name in (DIAGNOSTICS_FILE_NAME, SUMMARY_FILE_NAME):
            allowed = function_allows(stack, resources, function, action, _object_arn(CREATED_BUCKET, file_name))
            assert allowed == (action == "s3:GetObject" and file_name in readable), (action, file_name)


@pytest.mark.parametrize(
    "bucket_parameters", [{}, {"ExistingBucketName": "team-l4e-output"}], ids=["created", "existing"]
)
@pytest.mark.parametrize("function", sorted(DIAGNOSTICS_PROCESSORS))
def test_kms_permission_is_granted_only_for_a_given_key_through_s3(
    template: dict[str, Any], resources: dict[str, Any], function: str, bucket_parameters: dict[str, str]
) -> None:
    # Given a stack without a customer key and one whose bucket (created or existing) is encrypted with one
    key_arn = KMS_KEY
    without_key = Stack(template, **bucket_parameters)
    with_key = Stack(template, DiagnosticsKmsKeyArn=key_arn, **bucket_parameters)
    through_s3 = THROUGH_S3

    # When we ask whether the function may decrypt and encrypt with that key
    # Then it may only when the key was given, for that key only, and only through S3
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert not function_allows(without_key, resources, function, action, key_arn, through_s3)
        assert function_allows(with_key, resources, function, action, key_arn, through_s3)
        assert not function_allows(with_key, resources, function, action, key_arn)
        assert not function_allows(
            with_key, resources, function, action, key_arn, {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}
        )
        other_key = key_arn.replace("1234abcd", "ffffffff")
        assert not function_allows(with_key, resources, function, action, other_key, through_s3)


# Every action this stack grants on all resources ("*"), where it is granted, and why it cannot be
# scoped. The test below fails for any other, and for any of these that is no longer granted.
_LOG_DELIVERY = (
    "CloudWatch Logs' log-delivery actions support no resource-level permissions; Step Functions needs "
    "them to deliver execution logs, and its documentation grants them on '*'"
)
_LIST_MODELS = (
    "the Service Authorization Reference lists no resource type for ListModels "
    "(ListModelVersions and DescribeModelVersion have one and are scoped to this account's models)"
)
_SITEWISE_UNSCOPED = (
    "the Service Authorization Reference lists no resource type for ListComputationModels and DescribeExecution "
    "(the other SiteWise reads are scoped to this account's computation models and assets)"
)
_LOG_GRANTS = [
    ("TrainingStateMachine", f"logs:{action}")
    for action in (
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DescribeLogGroups",
    )
]
UNSCOPABLE_GRANTS: dict[tuple[str, str], str] = {
    ("DiagnosticsProcessingPolicy", "iotsitewise:ListComputationModels"): _SITEWISE_UNSCOPED,
    ("DiagnosticsProcessingPolicy", "iotsitewise:DescribeExecution"): _SITEWISE_UNSCOPED,
    (STATUS_POLLER, "iotsitewise:ListComputationModels"): _SITEWISE_UNSCOPED,
    (STATUS_POLLER, "iotsitewise:DescribeExecution"): _SITEWISE_UNSCOPED,
    ("DiagnosticsProcessingPolicy", "lookoutequipment:ListModels"): _LIST_MODELS,
    (STATUS_POLLER, "lookoutequipment:ListModels"): _LIST_MODELS,
    ("TrainingStateMachine", "logs:CreateLogDelivery"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:GetLogDelivery"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:UpdateLogDelivery"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:DeleteLogDelivery"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:ListLogDeliveries"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:PutResourcePolicy"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:DescribeResourcePolicies"): _LOG_DELIVERY,
    ("TrainingStateMachine", "logs:DescribeLogGroups"): _LOG_DELIVERY,
    ("SiteWiseTrainingFunction", "iotsitewise:DescribeExecution"): _SITEWISE_UNSCOPED,
    **{("SiteWiseTrainingStateMachine", action): _LOG_DELIVERY for _, action in _LOG_GRANTS},
    (FLEET_FUNCTION, "lookoutequipment:ListModels"): _LIST_MODELS,
    (START_TRAINING, "lookoutequipment:ListModels"): _LIST_MODELS,
    **{("FleetStateMachine", action): _LOG_DELIVERY for _, action in _LOG_GRANTS},
}


def test_no_iam_statement_grants_every_resource_except_the_unscopable_ones(resources: dict[str, Any]) -> None:
    # Given every Allow statement in the template's IAM and resource policies
    statements = [(name, s) for name, s in iam_statements(resources) if s["Effect"] == "Allow"]
    assert statements, "no policy statement found: the walk over the template is broken"
    assert {
        "DiagnosticsProcessingPolicy",
        "TrainingStateMachine",
        "LookoutRole",
        "DiagnosticsAccessLogsBucketPolicy",
        "DiagnosticsDeadLetterQueuePolicy",
    } <= {name for name, _ in statements}

    # When we keep those whose Resource is "*" (or NotResource, which is as wide)
    unrestricted = {
        (name, action)
        for name, statement in statements
        if "*" in as_list(statement.get("Resource")) or "NotResource" in statement or "NotAction" in statement
        for action in as_list(statement.get("Action", "*"))
    }

    # Then only the actions that support no resource-level permission are there, each where it is needed
    assert unrestricted == set(UNSCOPABLE_GRANTS)


def test_every_parameter_is_shown_in_exactly_one_console_group(template: dict[str, Any]) -> None:
    # Given the parameter groups the CloudFormation console shows
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]

    # When the parameters they list are collected
    grouped = [name for group in groups for name in group["Parameters"]]

    # Then each parameter of the template is listed once, and nothing else is
    assert sorted(grouped) == sorted(template["Parameters"])


def test_template_has_no_literal_account_id() -> None:
    # Given the template's text
    text = TEMPLATE.read_text()

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
    # SAM names the rules it generates <Function><EventName>: the S3 trigger's and the fleet's end.
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["DiagnosticsFunctionDiagnosticsLanded", "Arn"]},
        {"Fn::GetAtt": ["FleetFunctionFleetEnded", "Arn"]},
    ]


@pytest.mark.parametrize("queue", QUEUES)
def test_a_message_in_any_queue_alerts_operations(resources: dict[str, Any], queue: str) -> None:
    # Given the alarm on the queue's visible messages (every queue of this stack holds failures)
    queue_name = ("QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
    alarm = alarm_watching(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue_name)

    # When one message is visible in the queue
    # Then the alarm goes off and notifies the operations topic
    assert alarm["Dimensions"] == [{"Name": queue_name[0], "Value": queue_name[1]}]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


@pytest.mark.parametrize("queue", QUEUES)
def test_operations_are_warned_before_a_queue_deletes_a_message(resources: dict[str, Any], queue: str) -> None:
    # Given how long the queue keeps a message and the alarm on its oldest message's age
    retention = int(resources[queue]["Properties"]["MessageRetentionPeriod"])
    alarm = alarm_watching(
        resources, "AWS/SQS", "ApproximateAgeOfOldestMessage", ("QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
    )

    # When a message nobody redrove grows old
    # Then the operations topic is told while at least three days remain before SQS deletes it
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] + alarm["Period"] * alarm["EvaluationPeriods"] <= retention - 3 * 86400
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_error_alerts_operations(resources: dict[str, Any], function: str) -> None:
    # Given the alarm on the function's errors (every function has one, the workflow's steps included)
    alarm = alarm_watching(resources, "AWS/Lambda", "Errors", ("FunctionName", {"Ref": function}))

    # When one invocation fails
    # Then the alarm goes off in the next five minutes and notifies the operations topic
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300
    assert alarm["TreatMissingData"] == "notBreaching"
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


@pytest.mark.parametrize("alarm", ALARMS)
def test_every_alarm_notifies_only_the_operations_topic(resources: dict[str, Any], alarm: str) -> None:
    # Given one of the stack's alarms
    properties = resources[alarm]["Properties"]

    # When it goes off (or, where it says so, recovers)
    # Then the operations topic, which OpsEmail may subscribe to, is told, and nobody else
    assert properties["AlarmActions"] == [{"Ref": "OpsTopic"}]
    assert properties.get("OKActions", [{"Ref": "OpsTopic"}]) == [{"Ref": "OpsTopic"}]
    assert properties.get("ActionsEnabled", True) is True


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


# ----------------------------------------------------------------- training workflow


def test_state_machine_invokes_only_the_three_workflow_functions(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the state machine's policies
    policies = as_list(state_machine_properties(resources)["Policies"])
    documents = policy_documents(Stack(template), resources, "TrainingStateMachine")

    # When we list the functions SAM's LambdaInvokePolicy grants, and any other Lambda grant
    invoked = [p["LambdaInvokePolicy"]["FunctionName"] for p in policies if is_lambda_invoke_policy(p)]
    other_lambda_grants = [
        action
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
        if action.lower().startswith("lambda:") or action == "*"
    ]

    # Then it may invoke the workflow's three functions, by reference to this stack's functions, and no other
    assert sorted(invoked, key=str) == sorted(({"Ref": name} for name in WORKFLOW_FUNCTIONS), key=str)
    assert other_lambda_grants == []
    for function in WORKFLOW_FUNCTIONS:
        assert allows(documents, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:<{function}>")
    assert not allows(
        documents, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:<DiagnosticsFunction>"
    )


MODEL_ARN = lookout_arn("model/pump-7/0f1e2d3c")
DATASET_ARN = lookout_arn("dataset/pump-7-data/4b5a6978")
LABEL_GROUP_ARN = lookout_arn("label-group/pump-7-labels/12")
# Lookout for Equipment resources the workflow must not touch: other accounts, regions and types.
LOOKOUT_ELSEWHERE = (
    lookout_arn("model/pump-7/0f1e2d3c", account="210987654321"),
    lookout_arn("model/pump-7/0f1e2d3c", region="us-east-1"),
    lookout_arn("dataset/pump-7-data/4b5a6978", account="210987654321"),
    lookout_arn("label-group/pump-7-labels/12", region="us-east-1"),
    lookout_arn("inference-scheduler/pump-7/99"),
)


def test_state_machine_only_describes_this_accounts_models(template: dict[str, Any], resources: dict[str, Any]) -> None:
    # Given the state machine's permissions and every operation Lookout for Equipment has
    documents = policy_documents(Stack(template), resources, "TrainingStateMachine")

    # When we ask which operations it may call on a model, a dataset and a label group of this account and region
    def allowed_on(resource_arn: str) -> set[str]:
        return {op for op in lookout_operations() if allows(documents, f"lookoutequipment:{op}", resource_arn)}

    # Then exactly the two the polling needs, on models (and their versions) only: CreateModel is the
    # StartTraining function's, so the state machine may neither create nor tag anything
    assert allowed_on(MODEL_ARN) == {"DescribeModel", "DescribeModelVersion"}
    assert allows(documents, "lookoutequipment:DescribeModelVersion", f"{MODEL_ARN}/model-version/3")
    assert allowed_on(DATASET_ARN) == set()
    assert allowed_on(LABEL_GROUP_ARN) == set()
    # ... and in this account and region only
    for elsewhere in LOOKOUT_ELSEWHERE:
        assert allowed_on(elsewhere) == set(), elsewhere


def test_state_machine_grants_nothing_beyond_the_workflow(resources: dict[str, Any]) -> None:
    # Given the state machine's inline statements (the Lambda grants are checked above)
    actions = {
        action
        for policy in as_list(state_machine_properties(resources)["Policies"])
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
    }

    # When they are compared with what the workflow does
    # Then there is nothing else: describing the model being trained, delivering its logs (no role passing)
    model_calls = {"lookoutequipment:DescribeModel", "lookoutequipment:DescribeModelVersion"}
    log_delivery = {action for (name, action) in UNSCOPABLE_GRANTS if name == "TrainingStateMachine"}
    assert actions == model_calls | log_delivery


def test_start_step_calls_only_create_model_and_tag_resource_on_this_accounts_resources(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the StartTraining function's permissions and every operation Lookout for Equipment has
    stack = Stack(template)

    # When we ask which operations it may call on the resources CreateModel names (the model it creates,
    # the dataset it trains on, the label group it may read) and on resources elsewhere
    def allowed_on(resource_arn: str) -> set[str]:
        return {
            op
            for op in lookout_operations()
            if function_allows(stack, resources, START_TRAINING, f"lookoutequipment:{op}", resource_arn)
        }

    # Then it may create (and, through CreateModel's Tags, tag) models: CreateModel and its dependent
    # TagResource (Service Authorization Reference), on those three resource types of this account and region
    for resource_arn in (MODEL_ARN, DATASET_ARN, LABEL_GROUP_ARN):
        assert allowed_on(resource_arn) == {"CreateModel", "TagResource", "ListModels"}, resource_arn
    for elsewhere in LOOKOUT_ELSEWHERE:
        assert allowed_on(elsewhere) - {"ListModels"} == set(), elsewhere
    # (and ListModels, which supports no resource type: to tell a busy account from a full one)
    assert function_allows(stack, resources, START_TRAINING, "lookoutequipment:ListModels", "*")


def test_start_step_may_create_a_model_and_pass_the_lookout_role_and_nothing_else(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the function that validates the workflow's input and calls CreateModel
    function = resources[START_TRAINING]["Properties"]
    stack = Stack(template)

    def may(action: str, resource_arn: str) -> bool:
        return function_allows(stack, resources, START_TRAINING, action, resource_arn)

    # When its role and every action its policies grant are read
    actions = {
        action.lower()
        for document in policy_documents(stack, resources, START_TRAINING)
        for statement in document["Statement"]
        for action in as_list(statement.get("Action", "*"))
    }

    # Then it has its own inline statements only (no shared managed policy, no role of another's),
    # granting CreateModel, the TagResource it depends on, passing a role, and counting the models training
    assert "Role" not in function
    assert all(isinstance(p, dict) and "Statement" in p for p in as_list(function.get("Policies", [])))
    assert actions == {
        "lookoutequipment:createmodel",
        "lookoutequipment:tagresource",
        "iam:passrole",
        "lookoutequipment:listmodels",
    }
    # ... so it cannot read or write diagnostics, alert, or touch the alert ledger
    for action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"):
        assert not may(action, _object_arn(CREATED_BUCKET, DIAGNOSTICS_FILE_NAME)), action
        assert not may(action, f"arn:aws:s3:::{CREATED_BUCKET}"), action
    assert not may("sns:Publish", "<AlertTopic>")  # the stand-in for !Ref AlertTopic
    assert not may("sns:Publish", "<OpsTopic>")
    ledger = f"arn:aws:test:{REGION}:{ACCOUNT}:AlertLedgerTable"  # the stand-in for !GetAtt AlertLedgerTable.Arn
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        assert not may(action, ledger), action
    # ... nor read or change models it did not create (describing is the state machine's; listing them, which
    # has no resource type, only tells it how many are training)
    for action in ("lookoutequipment:DescribeModel", "lookoutequipment:DeleteModel", "lookoutequipment:UpdateModel"):
        assert not may(action, MODEL_ARN), action


@BOTH_ROLE_MODES
def test_start_step_passes_only_the_lookout_role_and_only_to_lookout(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, str], passable_role: str
) -> None:
    # Given the StartTraining function's permissions as deployed for this role mode
    stack = Stack(template, **parameters)

    def may_pass(role: str, context: dict[str, str] | None) -> bool:
        return function_allows(stack, resources, START_TRAINING, "iam:PassRole", role, context)

    # When it passes a role in CreateModel's RoleArn
    # Then only this deployment's Lookout role may be passed, and only to Lookout for Equipment
    assert may_pass(passable_role, {"iam:PassedToService": LOOKOUT_PRINCIPAL})
    for context in PASS_CONTEXTS[1:]:
        assert not may_pass(passable_role, context), context
    for role in (OTHER_ROLE, *(r for r in LOOKOUT_ROLES if r != passable_role)):
        for context in PASS_CONTEXTS:
            assert not may_pass(role, context), (role, context)


_NEVER_PASSING = [*sorted(set(FUNCTIONS) - {START_TRAINING, STATUS_POLLER}), "TrainingStateMachine"]


@BOTH_ROLE_MODES
@pytest.mark.parametrize(
    ("principal", "diagnostics_on_models"),
    [*((p, "false") for p in [*_NEVER_PASSING, STATUS_POLLER]), *((p, "true") for p in _NEVER_PASSING)],
)
def test_no_other_function_nor_the_state_machine_may_pass_a_role(
    template: dict[str, Any],
    resources: dict[str, Any],
    parameters: dict[str, str],
    passable_role: str,
    principal: str,
    diagnostics_on_models: str,
) -> None:
    # Given the permissions of a function other than StartTraining, or of the state machine (and of the
    # status poller when the stack does not configure diagnostics on models)
    stack = Stack(template, EnableDiagnosticsOnModels=diagnostics_on_models, **parameters)
    documents = policy_documents(stack, resources, principal)

    # When we ask whether it may pass the Lookout role, or any role, to anyone
    # Then it may not: StartTraining's CreateModel and the opted-in poller's UpdateModel are the only
    # calls that pass a role (the poller's is tested in test_poller_template.py)
    for role in (passable_role, OTHER_ROLE):
        for context in PASS_CONTEXTS:
            assert not allows(documents, "iam:PassRole", role, context), (role, context)
    assert not grants_pass_role(documents)


def test_lookout_role_trusts_only_lookout_for_this_account(template: dict[str, Any], resources: dict[str, Any]) -> None:
    # Given the role the stack creates for Lookout for Equipment
    role = resources["LookoutRole"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    # When its trust policy is read
    # Then only Lookout for Equipment may assume it, and only on behalf of this account (no confused deputy)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": LOOKOUT_PRINCIPAL}
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # ... and it exists only when no existing role was given
    assert role["Condition"] == "CreateLookoutRole"
    assert Stack(template).condition("CreateLookoutRole") is True
    assert (
        Stack(template, LookoutRoleArn=f"arn:aws:iam::{ACCOUNT}:role/team-l4e").condition("CreateLookoutRole") is False
    )


@pytest.mark.parametrize("state_machine", STATE_MACHINES)
def test_a_failed_training_execution_alerts_operations(resources: dict[str, Any], state_machine: str) -> None:
    # Given the alarm on the state machine's failed executions
    alarm = alarm_watching(resources, "AWS/States", "ExecutionsFailed", ("StateMachineArn", {"Ref": state_machine}))

    # When one execution fails (even one whose own alert could not be sent)
    # Then the alarm goes off and notifies the operations topic
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": state_machine}}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert {"Ref": "OpsTopic"} in alarm["AlarmActions"]


@pytest.mark.parametrize("name", STATE_MACHINES)
def test_state_machine_logs_every_execution_and_traces_it(
    template: dict[str, Any], resources: dict[str, Any], name: str
) -> None:
    # Given the state machine's logging and tracing settings
    state_machine = state_machine_properties(resources, name)
    logging = state_machine["Logging"]

    # When they are read
    # Then executions are traced, and every event is logged to a group of this stack that expires
    assert state_machine["Tracing"] == {"Enabled": True}
    assert logging["Level"] == "ALL"
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": [f"{name}LogGroup", "Arn"]}
    group = resources[f"{name}LogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # Under /aws/vendedlogs/ CloudWatch Logs needs no resource policy per group (its size is capped).
    assert Stack(template).resolve(group["LogGroupName"]).startswith("/aws/vendedlogs/states/")


# ---------------------------------------------------------- AWS IoT SiteWise training workflow
SITEWISE = f"arn:aws:iotsitewise:{REGION}:{ACCOUNT}"


def test_sitewise_state_machine_invokes_its_one_function_and_delivers_its_logs_only(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the SiteWise state machine's policies
    policies = as_list(state_machine_properties(resources, "SiteWiseTrainingStateMachine")["Policies"])
    documents = policy_documents(Stack(template), resources, "SiteWiseTrainingStateMachine")

    # When its grants are listed
    invoked = [p["LambdaInvokePolicy"]["FunctionName"] for p in policies if is_lambda_invoke_policy(p)]
    actions = {
        action
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
    }

    # Then it invokes its step function and no other, and otherwise only delivers its logs
    assert invoked == [{"Ref": SITEWISE_TRAINING}]
    assert allows(
        documents, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:<{SITEWISE_TRAINING}>"
    )
    assert not allows(
        documents, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:<{START_TRAINING}>"
    )
    assert actions == {action for (name, action) in UNSCOPABLE_GRANTS if name == "SiteWiseTrainingStateMachine"}


def test_sitewise_steps_train_only_this_accounts_computation_models_and_assets(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the SiteWise workflow function's permissions
    stack = Stack(template)

    def may(action: str, resource: str) -> bool:
        return function_allows(stack, resources, SITEWISE_TRAINING, action, resource)

    # When it starts and follows a training
    # Then it may train and read this account's computation models and assets, and nothing elsewhere
    for resource in (f"{SITEWISE}:computation-model/1b4d2c0e", f"{SITEWISE}:asset/2c5e3d1f"):
        for action in ("ExecuteAction", "DescribeAction", "ListExecutions"):
            assert may(f"iotsitewise:{action}", resource), (action, resource)
    assert may("iotsitewise:DescribeComputationModel", f"{SITEWISE}:computation-model/1b4d2c0e")
    # ... create a computation model on this account's asset models (a NewComputationModel in the input)
    for action in ("CreateComputationModel", "DescribeAssetModel"):
        assert may(f"iotsitewise:{action}", f"{SITEWISE}:asset-model/3d6f4e2a"), action
        assert not may(f"iotsitewise:{action}", "arn:aws:iotsitewise:eu-west-1:210987654321:asset-model/x"), action
    assert not may("iotsitewise:ExecuteAction", "arn:aws:iotsitewise:us-east-1:123456789012:computation-model/x")
    assert not may("iotsitewise:ExecuteAction", "arn:aws:iotsitewise:eu-west-1:210987654321:asset/x")
    assert not may("iotsitewise:DeleteComputationModel", f"{SITEWISE}:computation-model/1b4d2c0e")
    # ... and with SiteWise turned off, the function and its state machine are not deployed at all
    off = Stack(template, EnableIoTSiteWise="false")
    for name in (SITEWISE_TRAINING, "SiteWiseTrainingStateMachine", "SiteWiseTrainingStateMachineLogGroup"):
        assert not off.condition(resources[name]["Condition"]), name


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_sitewise_may_write_its_evaluation_results_to_the_created_bucket_only_when_enabled(
    template: dict[str, Any], enabled: str
) -> None:
    # Given the created bucket's policy, as deployed with and without AWS IoT SiteWise
    stack = Stack(template, EnableIoTSiteWise=enabled)
    policy = stack.resolve(template["Resources"]["DiagnosticsBucketPolicy"]["Properties"]["PolicyDocument"])
    granted = [s for s in policy["Statement"] if s["Effect"] == "Allow"]

    # When its grants to SiteWise are read
    to_sitewise = [s for s in granted if s.get("Principal") == {"Service": "iotsitewise.amazonaws.com"}]

    # Then, when enabled, SiteWise may write and read objects and list the bucket, for this account's
    # trainings only; otherwise nothing is granted to anyone
    if enabled == "false":
        assert granted == []
        return
    assert {(a, s["Resource"]) for s in to_sitewise for a in as_list(s["Action"])} == {
        ("s3:PutObject", f"arn:aws:test:{REGION}:{ACCOUNT}:DiagnosticsBucket/*"),
        ("s3:GetObject", f"arn:aws:test:{REGION}:{ACCOUNT}:DiagnosticsBucket/*"),
        ("s3:ListBucket", f"arn:aws:test:{REGION}:{ACCOUNT}:DiagnosticsBucket"),
    }
    assert all(s["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}} for s in to_sitewise)
    assert granted == to_sitewise


# ------------------------------------------------------------------ each service on or off
@pytest.mark.parametrize(
    ("service_parameters", "served", "not_served"),
    [
        ({"EnableLookoutForEquipment": "false"}, "iotsitewise:", "lookoutequipment:"),
        ({"EnableIoTSiteWise": "false"}, "lookoutequipment:", "iotsitewise:"),
    ],
    ids=["sitewise-only", "lookout-only"],
)
def test_a_service_turned_off_gets_no_permission_no_trigger_and_no_workflow(
    template: dict[str, Any],
    resources: dict[str, Any],
    service_parameters: dict[str, str],
    served: str,
    not_served: str,
) -> None:
    # Given a stack deployed with one service turned off
    stack = Stack(template, **service_parameters)
    deployed = {name for name, r in resources.items() if "Condition" not in r or stack.condition(r["Condition"])}

    # When every action its functions and state machines may take is collected
    granted = {
        action.lower()
        for name in deployed
        if resources[name]["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
        for document in policy_documents(stack, resources, name)
        for statement in document["Statement"]
        for action in as_list(statement.get("Action", "*"))
    }
    pattern = stack.resolve(resources["DiagnosticsFunction"]["Properties"]["Events"]["DiagnosticsLanded"]["Properties"])

    # Then nothing of the service that is off is granted, and the other's permissions are there
    assert not [action for action in granted if action.startswith(not_served)]
    assert [action for action in granted if action.startswith(served)]
    # ... its workflow is not deployed (nor, for L4E, the role L4E assumes)
    off_resources = (
        {"TrainingStateMachine", START_TRAINING, "TrainingFinishedFunction", "TrainingFailedFunction", "LookoutRole"}
        if not_served == "lookoutequipment:"
        else {"SiteWiseTrainingStateMachine", SITEWISE_TRAINING}
    )
    assert not off_resources & deployed
    # ... and the S3 trigger's rule does not fire for its files
    suffixes = {option["suffix"] for option in pattern["Pattern"]["detail"]["object"]["key"]}
    if not_served == "lookoutequipment:":
        assert suffixes == {"evaluation_results.jsonl", "evaluation_results.jsonl.gz"}
    else:
        assert suffixes == {DIAGNOSTICS_FILE_NAME}


def test_the_stack_refuses_to_serve_no_service_at_all(template: dict[str, Any]) -> None:
    # Given the template's rules
    (assertion,) = template["Rules"]["AtLeastOneService"]["Assertions"]

    # When both services are turned off, or either is on
    def holds(**parameters: str) -> bool:
        return bool(Stack(template, **parameters).resolve(assertion["Assert"]))

    # Then CloudFormation refuses only the first
    assert not holds(EnableLookoutForEquipment="false", EnableIoTSiteWise="false")
    assert holds(EnableLookoutForEquipment="false") and holds(EnableIoTSiteWise="false") and holds()


def test_every_function_that_summarises_has_the_memory_the_sizing_parameter_gives(template: dict[str, Any]) -> None:
    # Given the functions and the memory each is given
    memory = {
        logical_id: resource["Properties"].get("MemorySize")
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    # Then the four that summarise a file (the S3 trigger, the workflows' finishing steps and the poller's safety
    # net) take it from SummaryMemoryMB, and no other does: one vCPU (1769 MB) by default, within Lambda's range
    sized = sorted(function for function, size in memory.items() if size == {"Ref": "SummaryMemoryMB"})
    assert sized == [
        "DiagnosticsFunction",
        "SiteWiseTrainingFunction",
        "StatusPollerFunction",
        "TrainingFinishedFunction",
    ]
    parameter = template["Parameters"]["SummaryMemoryMB"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (1769, 512, 10240)
