"""IAM is enforced in the integration tests: each handler runs under its role from template.yaml (tests/support/iam.py).

These tests show that it bites: a request the role does not allow is refused as AWS refuses it, S3 hides a
missing key from a role that may not list the bucket, the state machine's own calls are checked against its
role, and the test side keeps acting as an administrator.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.fake_lookout import FakeLookout, listed_models
from tests.support.iam import Denial, Invoke, LambdaRuntime
from tests.support.samples import event
from tests.support.stack import LOOKOUT_ROLE_ARN, EmulatedStack
from tests.support.state_machine import EmulatedStateMachine
from tests.support.template import ROOT
from tests.support.workflow import create_training_workflow

KEY = "pump-7/model_diagnostics_results.json.gz"
MISSING_KEY = "pump-8/model_diagnostics_results.json.gz"
RECORDS = [
    {"timestamp": "2024-01-01T00:00:00.000000", "prediction": 0, "anomaly_score": 0.1},
    {"timestamp": "2024-01-01T00:01:00.000000", "prediction": 1, "anomaly_score": 0.9},
]
DIAGNOSTICS = "DiagnosticsFunction"
POLLER = "StatusPollerFunction"


def upload(stack: EmulatedStack, key: str = KEY) -> str | None:
    """A diagnostics file stored by the test side (the administrator); its version id, if versioned."""
    body = gzip.compress(b"".join(json.dumps(record).encode() + b"\n" for record in RECORDS))
    stored = boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    version_id: str | None = stored.get("VersionId")
    return version_id


def object_created(stack: EmulatedStack, key: str = KEY) -> dict[str, Any]:
    """EventBridge's "Object Created" for the stored object, as S3 writes it."""
    head = boto3.client("s3").head_object(Bucket=stack.bucket, Key=key)
    announced = event("eventbridge-object-created")
    announced["resources"] = [f"arn:aws:s3:::{stack.bucket}"]
    announced["detail"]["bucket"]["name"] = stack.bucket
    stored = announced["detail"]["object"]
    stored.update(key=quote_plus(key, safe="/"), size=head["ContentLength"], etag=head["ETag"].strip('"'))
    stored.pop("version-id", None)
    if head.get("VersionId") and head["VersionId"] != "null":
        stored["version-id"] = head["VersionId"]
    return announced


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# ------------------------------------------------------------------------------- a missing permission


def test_a_handler_whose_role_lacks_a_permission_it_needs_fails_with_access_denied(
    stack: EmulatedStack, lookout: FakeLookout, lambda_runtime: LambdaRuntime, invoke: Invoke
) -> None:
    # Given a stack whose diagnostics function may not publish to the alert topic, and a file that landed
    lambda_runtime.remove_permission(DIAGNOSTICS, "sns:Publish")
    upload(stack)
    # When the file is announced
    with pytest.raises(ClientError) as refused:
        invoke(DIAGNOSTICS, object_created(stack))
    # Then the invocation fails as SNS refuses a publish the role does not allow, and nobody is alerted
    assert code(refused) == "AuthorizationError"
    assert "is not authorized to perform: sns:Publish" in str(refused.value)
    assert stack.received_alerts() == []
    assert lambda_runtime.pop_denials() == [Denial(DIAGNOSTICS, "sns:Publish", stack.topic_arn, "Publish")]


@pytest.mark.parametrize(
    ("service", "call", "expected"),
    [
        (
            "sns",
            lambda c, s: c.publish(TopicArn=s.topic_arn.replace("alerts", "other"), Message="m"),
            "AuthorizationError",
        ),
        ("s3", lambda c, s: c.put_object(Bucket=s.bucket, Key="pump-7/notes.txt", Body=b"x"), "AccessDenied"),
        ("s3", lambda c, s: c.put_object(Bucket=s.bucket, Key=KEY, Body=b"x"), "AccessDenied"),
        ("dynamodb", lambda c, s: c.get_item(TableName=s.state_table, Key={"pk": {"S": "x"}}), "AccessDeniedException"),
        ("sqs", lambda c, s: c.receive_message(QueueUrl=s.subscriber_queue_url), "AccessDenied"),
        (
            "events",
            lambda c, s: c.put_events(Entries=[{"Source": "x", "DetailType": "y", "Detail": "{}"}]),
            "AccessDeniedException",
        ),
        ("lookoutequipment", lambda c, s: c.describe_model(ModelName="pump-7"), "AccessDeniedException"),
    ],
    ids=[
        "sns-other-topic",
        "s3-put-outside-summaries",
        "s3-overwrite-diagnostics",
        "dynamodb-other-table",
        "sqs-read-subscriber",
        "events-put",
        "lookout-describe-model",
    ],
)
def test_the_diagnostics_functions_own_clients_are_refused_what_its_role_does_not_allow(
    stack: EmulatedStack, lookout: FakeLookout, lambda_runtime: LambdaRuntime, service: str, call: Any, expected: str
) -> None:
    # Given the client the diagnostics function's code gets for `service`
    client = lambda_runtime.client(DIAGNOSTICS, service)
    # When it makes a request its role does not allow, Then the service refuses it as AWS would
    with pytest.raises(ClientError) as refused:
        call(client, stack)
    assert code(refused) == expected
    [denial] = lambda_runtime.pop_denials()
    assert denial.identity == DIAGNOSTICS


def test_lookout_calls_are_checked_on_the_model_and_the_passed_role(
    stack: EmulatedStack, lookout: FakeLookout, lambda_runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model, and the poller of a stack deployed without EnableDiagnosticsOnModels
    lookout.add_model("pump-7")
    poller = lambda_runtime.client(POLLER, "lookoutequipment")
    output = {"S3OutputConfiguration": {"Bucket": stack.bucket, "Prefix": "pump-7/"}}
    # When it reads the model and lists the models, Then it may; when it updates the model, it may not
    assert poller.describe_model(ModelName="pump-7")["ModelName"] == "pump-7"
    assert [m["ModelName"] for m in poller.list_models()["ModelSummaries"]] == ["pump-7"]
    with pytest.raises(ClientError) as refused:
        poller.update_model(ModelName="pump-7", RoleArn=LOOKOUT_ROLE_ARN, ModelDiagnosticsOutputConfiguration=output)
    assert code(refused) == "AccessDeniedException"
    assert lambda_runtime.pop_denials()[0].action == "lookoutequipment:UpdateModel"
    # Given the stack deployed with EnableDiagnosticsOnModels (its environment says so: so does its role)
    monkeypatch.setenv("ENABLE_DIAGNOSTICS_ON_MODELS", "true")
    # When the poller passes the Lookout role, Then it may; another role, Then iam:PassRole refuses it
    poller.update_model(ModelName="pump-7", RoleArn=LOOKOUT_ROLE_ARN, ModelDiagnosticsOutputConfiguration=output)
    other_role = LOOKOUT_ROLE_ARN.replace("LookoutRole", "Admin")
    with pytest.raises(ClientError) as refused:
        poller.update_model(ModelName="pump-7", RoleArn=other_role, ModelDiagnosticsOutputConfiguration=output)
    assert code(refused) == "AccessDeniedException"
    assert lambda_runtime.pop_denials() == [Denial(POLLER, "iam:PassRole", other_role, "UpdateModel")]
    assert lookout.model("pump-7").role_arn == LOOKOUT_ROLE_ARN


# ------------------------------------------------------------------------------- S3: 403, not 404


@pytest.mark.parametrize(("operation", "forbidden"), [("head_object", "403"), ("get_object", "AccessDenied")])
def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(
    stack: EmulatedStack, lambda_runtime: LambdaRuntime, operation: str, forbidden: str
) -> None:
    # Given a role that may read diagnostics files but not list the bucket
    lambda_runtime.remove_permission(DIAGNOSTICS, "s3:ListBucket")
    s3 = lambda_runtime.client(DIAGNOSTICS, "s3")
    # When it asks for a diagnostics file that does not exist, Then S3 answers 403, as for a forbidden key
    with pytest.raises(ClientError) as hidden:
        getattr(s3, operation)(Bucket=stack.bucket, Key=MISSING_KEY)
    assert (code(hidden), hidden.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (forbidden, 403)
    assert lambda_runtime.pop_denials() == [
        Denial(DIAGNOSTICS, "s3:ListBucket", f"arn:aws:s3:::{stack.bucket}", operation.title().replace("_", ""))
    ]
    # Given the same role allowed to list the bucket
    lambda_runtime.grant(
        DIAGNOSTICS, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{stack.bucket}"}
    )
    # When it asks again, Then S3 says the key does not exist
    with pytest.raises(ClientError) as missing:
        getattr(s3, operation)(Bucket=stack.bucket, Key=MISSING_KEY)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert code(missing) in {"404", "NoSuchKey"}


def test_reading_a_given_version_needs_get_object_version(stack: EmulatedStack, lambda_runtime: LambdaRuntime) -> None:
    # Given a versioned bucket holding a diagnostics file, and a role without s3:GetObjectVersion
    boto3.client("s3").put_bucket_versioning(Bucket=stack.bucket, VersioningConfiguration={"Status": "Enabled"})
    version_id = upload(stack)
    assert version_id
    lambda_runtime.remove_permission(DIAGNOSTICS, "s3:GetObjectVersion")
    s3 = lambda_runtime.client(DIAGNOSTICS, "s3")
    # When it reads the current object, Then it may
    assert s3.head_object(Bucket=stack.bucket, Key=KEY)["VersionId"] == version_id
    # When it names the version (HeadObject or GetObject), Then S3 refuses: AWS checks s3:GetObjectVersion
    for read in (s3.head_object, s3.get_object):
        with pytest.raises(ClientError) as refused:
            read(Bucket=stack.bucket, Key=KEY, VersionId=version_id)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert {d.action for d in lambda_runtime.pop_denials()} == {"s3:GetObjectVersion"}


# ------------------------------------------------------------------------------- the state machine's role


def test_the_state_machines_own_calls_are_checked_against_its_role(
    stack: EmulatedStack, lookout: FakeLookout, lambda_runtime: LambdaRuntime
) -> None:
    # Given a training workflow whose state machine may not describe models
    lambda_runtime.remove_permission("TrainingStateMachine", "lookoutequipment:DescribeModel")
    training_input = json.loads((ROOT / "events" / "training-input.json").read_text())
    # (with no poll planned IN_PROGRESS, the first DescribeModel to reach L4E would end the training)
    lookout.train_on_create(training_input["ModelName"], in_progress_polls=0)
    with EmulatedStateMachine(runtime=lambda_runtime) as machine:
        create_training_workflow(machine)
        # When a training is started
        result = machine.run(training_input, name="train-1")
    # Then the model was created (the start step's role may), but the first DescribeModel is refused and the
    # execution fails, with an alert saying so; the model, never described, still shows as training
    assert listed_models() == {training_input["ModelName"]: "IN_PROGRESS"}
    assert result.status == "FAILED"
    assert "not authorized to perform: lookoutequipment:DescribeModel" in (result.cause or "")
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "WORKFLOW_FAILED"
    assert {(d.identity, d.action) for d in lambda_runtime.pop_denials()} == {
        ("TrainingStateMachine", "lookoutequipment:DescribeModel")
    }


# ------------------------------------------------------------------------------- the test side


def test_the_test_side_acts_as_an_administrator_and_unknown_keys_are_refused(
    stack: EmulatedStack, lambda_runtime: LambdaRuntime
) -> None:
    # Given IAM enforcement on
    s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
    # When the test side writes anywhere, creates resources and reads the subscriber's queue, Then it may
    s3.put_object(Bucket=stack.bucket, Key="anything/at/all.txt", Body=b"x")
    other_topic = sns.create_topic(Name="another-topic")["TopicArn"]
    sns.publish(TopicArn=other_topic, Message="hello")
    assert sqs.receive_message(QueueUrl=stack.subscriber_queue_url, WaitTimeSeconds=0).get("Messages", []) == []
    assert boto3.client("sts").get_caller_identity()["Arn"] == lambda_runtime.enforcement.admin_arn
    # When a caller signs with a key no IAM user or role has, Then moto refuses it
    stranger = boto3.client("s3", aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x")
    with pytest.raises(ClientError) as refused:
        stranger.list_objects_v2(Bucket=stack.bucket)
    assert code(refused) == "InvalidAccessKeyId"
    # And a function's role is refused by moto itself what the administrator may do (an action it lacks)
    sqs_as_function = boto3.client("sqs", **lambda_runtime.credentials(DIAGNOSTICS))  # no check but moto's
    with pytest.raises(ClientError) as refused:
        sqs_as_function.receive_message(QueueUrl=stack.subscriber_queue_url)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert lambda_runtime.pop_denials() == []  # refused by moto, not by the harness
