"""Each Lambda handler under its own IAM role from template.yaml, with moto's IAM enforcement on.

A permission the code needs and the template lacks fails a test, as it would fail in AWS.

How it fits together
--------------------
- ``IamEnforcement`` (inside ``mock_aws()``): creates an IAM user with ``*`` on ``*`` and makes it the
  test side's identity (environment and boto3's default session), then turns moto's enforcement on
  (moto's ``enable_iam_authentication``: ``INITIAL_NO_AUTH_ACTION_COUNT = 0`` right after those
  bootstrap calls, rather than counting them). Every request moto answers is then signed by a known
  key, its signature verified, and its action checked against the caller's policies: the tests'
  setup and inspection (``boto3.client(...)``) run as that administrator. Start the mock with
  ``core.mock_credentials`` off (``IAM_MOCK_CONFIG``), or a nested ``mock_aws`` (the state machine
  harness) would put moto's fake keys back into the environment.
- ``LambdaRuntime`` (over an ``EmulatedStack``): per function (and state machine) an IAM role in moto
  with exactly the identity policies template.yaml gives it, resolved by tests/support/iam_policies.py for the
  emulated stack's physical names and for the parameters the function's environment shows (an
  environment variable the template sets from ``!Ref Parameter`` gives that parameter's value). Its
  credentials come from moto's STS (AssumeRole). ``invoke(function, event)`` finds the handler from the
  template's ``Handler``, and calls it with a Lambda context while the application's clients
  (``lookout_diagnostics.aws.clients.client``) are that role's: they are reset before and after, and created with
  the role's credentials, warm per function for the test, as a Lambda container keeps them.
  ``EmulatedStateMachine()`` (given the runtime, or finding the running one) runs each Lambda step the
  same way, and the state machine's own SDK calls (aws-sdk tasks, its Lambda invocations) under the
  role of the template's state machine (``create(..., identity="TrainingStateMachine")``).
  Also: ``current_runtime()`` (for module-level helpers), ``grant`` / ``remove_permission`` (a role
  wider or narrower than the template's), ``client(identity, service)`` (the client that identity's
  code gets, to watch or break its requests), ``on_client`` (a hook on every such client),
  ``credentials`` (a client checked by moto alone), ``denials`` / ``pop_denials``.
- Every client created under a role carries a check of each request against the role's policies
  (botocore ``before-call``): action, resource ARN and Condition, as AWS evaluates them for this
  template. A refusal is answered as the service answers it (AccessDenied, AccessDeniedException,
  AuthorizationError) without reaching the service, and is recorded in ``denials``; the integration
  tests fail on a denial they did not expect, even when the code under test swallowed the error.

What moto 5.2 checks by itself (``moto/core/authorization.py``, ``moto/iam/access_control.py``)
------------------------------------------------------------------------------------------------
===================== ================================= =================================== ==========
service               action checked                    resource checked                    Condition
===================== ================================= =================================== ==========
S3                    yes, S3's own map (s3/responses)  yes: bucket or bucket/key ARN       no (1)
SQS                   yes (operation name)              yes: queue ARN (``*`` if missing)   no (1)
SNS, DynamoDB,        yes (operation name)              no: moto passes ``*``, so a grant   no (1)
EventBridge, Step                                       scoped to an ARN never matches and
Functions                                               is DENIED (stricter than AWS) (2)
Lambda                ``lambda:Invoke`` (the operation, no (``*``), as above (2)              no (1)
                      not lambda:InvokeFunction) (3)
IAM, STS              yes                               yes                                 (1), (4)
lookoutequipment,     never reach moto: tests/support/fake_lookout.py and fake_sitewise.py answer in
iotsitewise           ``before-send``
===================== ================================= =================================== ==========

(1) moto evaluates a Condition only with the values it collects from a request, which are none but
    sts:ExternalId (AssumeRole's trust policy), and only StringEquals: a condition without a value,
    or with another operator, holds. In identity policies a conditional Allow is an unconditional one.
(2) Only S3, SQS, IAM and STS tell moto the resource (``_determine_resource``); the others are
    authorised on ``*``. IamEnforcement patches moto so that ``*`` (resource unknown to moto) matches
    any Resource: moto then checks the action only, and the resource is checked here.
(3) IamEnforcement translates ``lambda:Invoke`` to ``lambda:InvokeFunction`` for moto's check. moto also
    computes a wrong signature for Lambda requests without a body (GET, or Invoke without Payload):
    they fail with SignatureDoesNotMatch under enforcement. No code here makes one.
(4) AssumeRole also checks the role's trust policy, but moto's principal check fails on a trust policy
    whose principal is a service only (``{"Service": ...}``, as SAM writes them): the roles here are
    assumed through moto's STS backend, as the Lambda service would, not by a caller.
Requests are signed by moto's IAM users and assumed roles only: an unknown access key is refused
(InvalidClientTokenId, S3's InvalidAccessKeyId), and the signature is verified.

S3 in detail: HeadObject is authorised as s3:GetObject (as AWS does); GetObject with a VersionId as
s3:GetObjectVersion (as AWS does); HeadObject with a VersionId as s3:GetObject (AWS: s3:GetObjectVersion).
A missing key is 404 (NoSuchKey, or 404 for HEAD) whatever the caller may list; AWS answers 403
(AccessDenied, 403 Forbidden for HEAD) when the caller lacks s3:ListBucket on the bucket.

What this module models, where moto is kinder or silent
-------------------------------------------------------
- The resource ARN and the Condition of every request made under a role, for S3, DynamoDB, SNS, SQS,
  EventBridge, Lambda, Step Functions and Lookout for Equipment (``requirements``), with IAM's
  action names (HeadObject with a VersionId needs s3:GetObjectVersion; Invoke is
  lambda:InvokeFunction; PutEvents names each entry's bus). An explicit Deny wins.
- Lookout for Equipment: the action on its model ARN ``model/NAME/ID`` (model version ARN for
  DescribeModelVersion, dataset and label group ARNs for CreateModel); ListModels and the other List
  calls are unscoped (``*``). The model's id is not in a request, so a stand-in id is used: sound for
  policies that end a model ARN with a wildcard, as this template's do. Tags on CreateModel need
  lookoutequipment:TagResource; a RoleArn (CreateModel, UpdateModel) needs iam:PassRole on that role
  with ``iam:PassedToService = lookoutequipment.amazonaws.com``.
- AWS IoT SiteWise: the action on the computation model or asset a request names, and the asset it
  resolves to (ListComputationModels and DescribeExecution are unscoped; DescribeAction names only an
  action, so a stand-in computation model ARN is checked).
- S3's 403 for a missing key when the caller lacks s3:ListBucket (HeadObject and GetObject).
- An operation this module does not know how AWS authorises fails the test (``UnmodelledRequest``)
  rather than passing unchecked.

Not modelled: resource-based policies (bucket, topic, queue, key policies), KMS (moto's S3 makes no KMS
request on the caller's behalf; a role's kms: statements are never exercised), permission boundaries,
session policies, SCPs, and global condition keys taken from the request (aws:SecureTransport,
aws:SourceIp...). Unknown to moto as to this module, and so not checked: requests made by the test side
(the administrator). The demo (`make demo`) runs without enforcement.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, Final, Protocol, Self
from unittest import mock
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse
from moto.core import enable_iam_authentication
from moto.core.config import DefaultConfig
from moto.core.models import botocore_stubber
from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase
from moto.sts.models import sts_backends

from lookout_diagnostics.aws import clients
from tests.support.iam_policies import ACCOUNT, REGION, STACK_NAME, Stack, as_list, permits, policy_documents
from tests.support.lambda_context import LocalContext
from tests.support.stack import LOOKOUT_ROLE_ARN, EmulatedStack
from tests.support.template import STATE_MACHINE_NAMES, load_template

# Start moto this way under IamEnforcement: moto then leaves the credentials in the environment alone.
IAM_MOCK_CONFIG: Final[DefaultConfig] = {"core": {"mock_credentials": False}}
ADMIN_USER: Final = "test-administrator"
FUNCTION_TYPES: Final = ("AWS::Serverless::Function",)
STATE_MACHINE_TYPES: Final = ("AWS::Serverless::StateMachine",)
LOOKOUT_SERVICE_PRINCIPAL: Final = "lookoutequipment.amazonaws.com"
# A Lookout resource id stands in for the one AWS generates (the requests name models, not ids).
STAND_IN_RESOURCE_ID: Final = "00000000-0000-0000-0000-000000000000"
# moto checks some actions under the operation's name; IAM's name is this.
_MOTO_ACTION_NAMES: Final = {"lambda:Invoke": "lambda:InvokeFunction", "lambda:InvokeAsync": "lambda:InvokeFunction"}
_PARAMS: Final = "local_iam_api_params"  # where the request's parameters wait in botocore's context
# What tests/support/iam_policies.py writes for a resource it has no physical name of.
_STAND_IN: Final = re.compile(r"<[A-Za-z][A-Za-z0-9.]*>|arn:aws:test:")

LambdaHandler = Callable[[Any, Any], Any]


class Invoke(Protocol):
    def __call__(self, function: str, event: Any, context: Any = None) -> Any: ...


# --------------------------------------------------------------------------------------------------
# What AWS checks for a request
# --------------------------------------------------------------------------------------------------


class UnmodelledRequest(AssertionError):
    """A request made under a role whose authorisation this module does not know: teach it, do not guess."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"tests/support/iam.py does not know how AWS authorises {service} {operation}: add it to requirements() "
            "(the Service Authorization Reference lists its action, resource types and condition keys)"
        )


@dataclass(frozen=True)
class Requirement:
    """One action on one resource that a request needs the caller's policies to allow."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Denial:
    """A request refused under a role: which identity lacked which action on which resource."""

    identity: str
    action: str
    resource: str
    operation: str = ""


def requirements(
    service: str, operation: str, params: Mapping[str, Any], *, region: str = REGION, account: str = ACCOUNT
) -> list[Requirement]:
    """What IAM checks for `operation` of `service` (its IAM prefix) with API parameters `params`."""
    rules = _RULES.get(service)
    if rules is None:
        raise UnmodelledRequest(service, operation)
    return rules(operation, params, region, account)


def _s3(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    bucket = f"arn:aws:s3:::{params.get('Bucket', '')}"
    versioned = bool(params.get("VersionId"))
    objects = {
        # HeadObject is authorised as GetObject; a VersionId needs the *Version action.
        "GetObject": "s3:GetObjectVersion" if versioned else "s3:GetObject",
        "HeadObject": "s3:GetObjectVersion" if versioned else "s3:GetObject",
        "GetObjectAttributes": "s3:GetObjectVersionAttributes" if versioned else "s3:GetObjectAttributes",
        "PutObject": "s3:PutObject",
        "DeleteObject": "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
        "GetObjectTagging": "s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging",
        "PutObjectTagging": "s3:PutObjectVersionTagging" if versioned else "s3:PutObjectTagging",
    }
    buckets = {
        "ListObjects": "s3:ListBucket",
        "ListObjectsV2": "s3:ListBucket",
        "HeadBucket": "s3:ListBucket",
        "ListObjectVersions": "s3:ListBucketVersions",
        "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
        "GetBucketVersioning": "s3:GetBucketVersioning",
        "GetBucketLocation": "s3:GetBucketLocation",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    }
    if operation in objects:
        return [Requirement(objects[operation], f"{bucket}/{params['Key']}")]
    if operation in buckets:
        prefix = {"s3:prefix": str(params["Prefix"])} if "Prefix" in params else {}
        return [Requirement(buckets[operation], bucket, prefix)]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            path, _, query = source.lstrip("/").partition("?versionId=")
            copied_bucket, _, copied_key = path.partition("/")
            source = {"Bucket": copied_bucket, "Key": unquote(copied_key), "VersionId": query or None}
        read = _s3("GetObject", source, region, account)
        return [*read, Requirement("s3:PutObject", f"{bucket}/{params['Key']}")]
    if operation == "ListBuckets":
        return [Requirement("s3:ListAllMyBuckets", "*")]
    raise UnmodelledRequest("s3", operation)


def _dynamodb(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    single = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "DescribeTimeToLive"}
    if operation in single:
        return [Requirement(f"dynamodb:{operation}", table(params["TableName"]))]
    if operation in {"Query", "Scan"}:
        return [Requirement(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [Requirement(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        actions = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        actions["Get"] = "GetItem"
        needed = []
        for item in params["TransactItems"]:
            ((kind, request),) = item.items()
            needed.append(Requirement(f"dynamodb:{actions[kind]}", table(request["TableName"])))
        return needed
    if operation == "ListTables":
        return [Requirement("dynamodb:ListTables", "*")]
    raise UnmodelledRequest("dynamodb", operation)


def _sns(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    if operation in {"Publish", "PublishBatch"}:
        return [Requirement("sns:Publish", str(params.get("TopicArn") or params.get("TargetArn") or "*"))]
    if "TopicArn" in params:
        return [Requirement(f"sns:{operation}", str(params["TopicArn"]))]
    if operation == "ListTopics":
        return [Requirement("sns:ListTopics", "*")]
    raise UnmodelledRequest("sns", operation)


def _sqs(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    action = f"sqs:{operation.removesuffix('Batch')}"
    if "QueueUrl" in params:
        owner, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
        return [Requirement(action, f"arn:aws:sqs:{region}:{owner}:{name}")]
    if "QueueName" in params:
        owner = str(params.get("QueueOwnerAWSAccountId") or account)
        return [Requirement(action, f"arn:aws:sqs:{region}:{owner}:{params['QueueName']}")]
    if operation == "ListQueues":
        return [Requirement("sqs:ListQueues", "*")]
    raise UnmodelledRequest("sqs", operation)


def _events(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    if operation != "PutEvents":
        raise UnmodelledRequest("events", operation)
    needed: list[Requirement] = []
    for entry in params.get("Entries", []):
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
        if Requirement("events:PutEvents", arn) not in needed:
            needed.append(Requirement("events:PutEvents", arn))
    return needed


def _lambda(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    name = str(params.get("FunctionName", ""))
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:  # a partial ARN: ACCOUNT:function:NAME
        arn = f"arn:aws:lambda:{region}:{name}"
    else:
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    if params.get("Qualifier"):
        arn = f"{arn}:{params['Qualifier']}"
    actions = {
        "Invoke": "lambda:InvokeFunction",
        "InvokeAsync": "lambda:InvokeFunction",
        "InvokeWithResponseStream": "lambda:InvokeFunction",
        "GetFunction": "lambda:GetFunction",
        "GetFunctionConfiguration": "lambda:GetFunctionConfiguration",
    }
    if operation in actions:
        return [Requirement(actions[operation], arn)]
    raise UnmodelledRequest("lambda", operation)


def _states(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    on_state_machine = {"StartExecution", "StartSyncExecution", "DescribeStateMachine", "ListExecutions"}
    on_execution = {"DescribeExecution", "StopExecution", "GetExecutionHistory"}
    unscoped = {"ListStateMachines", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}
    if operation in on_state_machine:
        return [Requirement(f"states:{operation}", str(params["stateMachineArn"]))]
    if operation in on_execution:
        return [Requirement(f"states:{operation}", str(params["executionArn"]))]
    if operation in unscoped:
        return [Requirement(f"states:{operation}", "*")]
    raise UnmodelledRequest("states", operation)


def _lookoutequipment(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    def arn(kind: str, name: str) -> str:
        return f"arn:aws:lookoutequipment:{region}:{account}:{kind}/{name}/{STAND_IN_RESOURCE_ID}"

    def pass_role(role_arn: str) -> Requirement:
        return Requirement("iam:PassRole", role_arn, {"iam:PassedToService": LOOKOUT_SERVICE_PRINCIPAL})

    action = f"lookoutequipment:{operation}"
    unscoped = {
        "ListModels",
        "ListDatasets",
        "ListLabelGroups",
        "ListInferenceSchedulers",
        "ListRetrainingSchedulers",
        "ListDataIngestionJobs",
    }
    on_model = {
        "DescribeModel",
        "ListModelVersions",
        "DeleteModel",
        "UpdateActiveModelVersion",
        "CreateRetrainingScheduler",
        "DescribeRetrainingScheduler",
        "StartRetrainingScheduler",
        "StopRetrainingScheduler",
        "UpdateRetrainingScheduler",
        "DeleteRetrainingScheduler",
    }
    if operation in unscoped:
        return [Requirement(action, "*")]
    if operation in on_model:
        return [Requirement(action, arn("model", params["ModelName"]))]
    if operation == "DescribeModelVersion":
        version = f"{arn('model', params['ModelName'])}/model-version/{params['ModelVersion']}"
        return [Requirement(action, version)]
    if operation == "DescribeDataset":
        return [Requirement(action, arn("dataset", params["DatasetName"]))]
    if operation in {"TagResource", "UntagResource", "ListTagsForResource"}:
        return [Requirement(action, str(params["ResourceArn"]))]
    if operation == "CreateModel":
        model = arn("model", params["ModelName"])
        needed = [Requirement(action, model), Requirement(action, arn("dataset", params["DatasetName"]))]
        label_group = (params.get("LabelsInputConfiguration") or {}).get("LabelGroupName")
        if label_group:
            needed.append(Requirement(action, arn("label-group", label_group)))
        if params.get("Tags"):
            needed.append(Requirement("lookoutequipment:TagResource", model))
        if params.get("RoleArn"):
            needed.append(pass_role(str(params["RoleArn"])))
        return needed
    if operation == "UpdateModel":
        needed = [Requirement(action, arn("model", params["ModelName"]))]
        if params.get("RoleArn"):
            needed.append(pass_role(str(params["RoleArn"])))
        return needed
    raise UnmodelledRequest("lookoutequipment", operation)


def _iotsitewise(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    """AWS IoT SiteWise, per the Service Authorization Reference: the computation model or asset a request
    names (and the asset it resolves to). DescribeAction names only an action: its target stands in."""

    def arn(kind: str, resource_id: str) -> str:
        return f"arn:aws:iotsitewise:{region}:{account}:{kind}/{resource_id}"

    def target(kind: str, resource_id: str) -> str:
        return arn("computation-model" if kind == "COMPUTATION_MODEL" else "asset", resource_id)

    action = f"iotsitewise:{operation}"
    if operation in {"ListComputationModels", "DescribeExecution"}:
        return [Requirement(action, "*")]
    if operation == "DescribeComputationModel":
        return [Requirement(action, arn("computation-model", str(params["computationModelId"])))]
    if operation in {"DescribeAsset", "DescribeAssetModel"}:
        kind, key = ("asset", "assetId") if operation == "DescribeAsset" else ("asset-model", "assetModelId")
        return [Requirement(action, arn(kind, str(params[key])))]
    if operation == "DescribeAction":
        return [Requirement(action, arn("computation-model", STAND_IN_RESOURCE_ID))]
    if operation in {"ListActions", "ListExecutions"}:
        needed = [Requirement(action, target(str(params["targetResourceType"]), str(params["targetResourceId"])))]
        if params.get("resolveToResourceId"):
            needed.append(Requirement(action, arn("asset", str(params["resolveToResourceId"]))))
        return needed
    if operation == "CreateComputationModel":
        bindings = json.dumps(params.get("computationModelDataBinding", {}))
        asset_models = sorted(set(re.findall(r'"assetModelId": "([0-9a-f-]{36})"', bindings)))
        return [Requirement(action, arn("asset-model", asset_model)) for asset_model in asset_models] or [
            Requirement(action, "*")
        ]
    if operation == "ExecuteAction":
        resource = params["targetResource"]
        needed = [
            Requirement(action, arn("computation-model", str(resource["computationModelId"])))
            if "computationModelId" in resource
            else Requirement(action, arn("asset", str(resource["assetId"])))
        ]
        resolve_to = (params.get("resolveTo") or {}).get("assetId")
        if resolve_to:
            needed.append(Requirement(action, arn("asset", str(resolve_to))))
        return needed
    raise UnmodelledRequest("iotsitewise", operation)


def _sts(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    if operation == "GetCallerIdentity":  # allowed to everyone, even under an explicit Deny
        return []
    raise UnmodelledRequest("sts", operation)


def _cloudwatch(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Requirement]:
    if operation == "PutMetricData":
        return [Requirement("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": str(params["Namespace"])})]
    raise UnmodelledRequest("cloudwatch", operation)


_RULES: Final[dict[str, Callable[[str, Mapping[str, Any], str, str], list[Requirement]]]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sns": _sns,
    "sqs": _sqs,
    "events": _events,
    "lambda": _lambda,
    "states": _states,
    "lookoutequipment": _lookoutequipment,
    "iotsitewise": _iotsitewise,
    "sts": _sts,
    "monitoring": _cloudwatch,
}

# How each service says "your policies do not allow this": (HTTP status, error code).
_REFUSALS: Final[dict[str, tuple[int, str]]] = {
    "s3": (403, "AccessDenied"),
    "sns": (403, "AuthorizationError"),
    "sqs": (403, "AccessDenied"),
    "dynamodb": (400, "AccessDeniedException"),
    "events": (400, "AccessDeniedException"),
    "lambda": (403, "AccessDeniedException"),
    "states": (400, "AccessDeniedException"),
    "lookoutequipment": (400, "AccessDeniedException"),
    "iotsitewise": (403, "AccessDeniedException"),
    "monitoring": (403, "AccessDenied"),
}


class _EmptyBody:
    """The raw body of an answer made here (botocore never reads it: the answer comes parsed)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any) -> bytes:
        return b""


def _refusal(service: str, operation: str, url: str, status: int, code: str, message: str) -> tuple[Any, Any]:
    if service == "s3" and operation == "HeadObject":  # a HEAD answer has no body: botocore sees the status
        code, message = "403", "Forbidden"
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"RequestId": "iam-emulation", "HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    return AWSResponse(url, status, {}, _EmptyBody()), parsed


# --------------------------------------------------------------------------------------------------
# moto with enforcement, and an administrator for the test side
# --------------------------------------------------------------------------------------------------


def _resource_unknown_to_moto_matches(original: Callable[..., bool]) -> Callable[..., bool]:
    """moto authorises most services on "*" (it does not know the resource): let that match any Resource,
    so that moto checks the action and a scoped grant is not refused. The resource is checked here."""

    def check_element_matches(statement: IAMPolicyStatement, element: str, value: str) -> bool:
        if element == "Resource" and value == "*":
            return True
        return original(statement, element, value)

    return check_element_matches


def _iam_action_names(original: Callable[..., None]) -> Callable[..., None]:
    """moto checks Lambda's Invoke as "lambda:Invoke"; IAM's action is lambda:InvokeFunction."""

    def check_action_permitted(request: IAMRequestBase, resource: str) -> None:
        request._action = _MOTO_ACTION_NAMES.get(request._action, request._action)
        original(request, resource)

    return check_action_permitted


class IamEnforcement:
    """moto's IAM enforcement on, with an administrator for the test side. Enter inside mock_aws()."""

    def __init__(self, *, region: str = REGION) -> None:
        self.region = region
        self.access_key_id = ""
        self.secret_access_key = ""
        self._stack: ExitStack | None = None
        self._environment: dict[str, str | None] = {}

    @property
    def admin_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/{ADMIN_USER}"

    def admin_session(self) -> boto3.session.Session:
        """A boto3 session with the administrator's credentials, explicitly."""
        return boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )

    def __enter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("IamEnforcement is already on")
        if not botocore_stubber.enabled:  # never bootstrap against a real account
            raise RuntimeError("start moto's mock_aws() before IamEnforcement")
        # Enforcement is still off: the bootstrap may sign with anything.
        bootstrap = boto3.session.Session(
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=self.region
        ).client("iam")
        bootstrap.create_user(UserName=ADMIN_USER)
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        bootstrap.put_user_policy(UserName=ADMIN_USER, PolicyName="everything", PolicyDocument=json.dumps(everything))
        key = bootstrap.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        stack = ExitStack()
        try:
            # The test side is the administrator: in the environment (new sessions), and in boto3's
            # default session (moto's mock_aws restores the previous one when it stops).
            self._environment = {name: os.environ.get(name) for name in _CREDENTIAL_VARIABLES}
            stack.callback(self._restore_environment)
            os.environ.update(AWS_ACCESS_KEY_ID=self.access_key_id, AWS_SECRET_ACCESS_KEY=self.secret_access_key)
            for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
                os.environ.pop(name, None)
            boto3.setup_default_session(region_name=self.region)
            stack.enter_context(
                mock.patch.object(
                    IAMPolicyStatement,
                    "_check_element_matches",
                    _resource_unknown_to_moto_matches(IAMPolicyStatement._check_element_matches),
                )
            )
            stack.enter_context(
                mock.patch.object(
                    IAMRequestBase, "check_action_permitted", _iam_action_names(IAMRequestBase.check_action_permitted)
                )
            )
            stack.enter_context(enable_iam_authentication())
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _restore_environment(self) -> None:
        for name, value in self._environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_CREDENTIAL_VARIABLES: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
)


# --------------------------------------------------------------------------------------------------
# Roles from the template
# --------------------------------------------------------------------------------------------------


def physical_ids(stack: EmulatedStack, template: Mapping[str, Any]) -> dict[str, str]:
    """What each of the template's resources is called in the emulation (tests/support/stack.py and the harness),
    by logical id (``!Ref``) and ``LogicalId.Arn`` (``!GetAtt``)."""

    def table_arn(name: str) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    ids = {
        "DiagnosticsBucket": stack.bucket,
        "DiagnosticsBucket.Arn": f"arn:aws:s3:::{stack.bucket}",
        "AlertLedgerTable": stack.table,
        "AlertLedgerTable.Arn": table_arn(stack.table),
        "ModelStateTable": stack.state_table,
        "ModelStateTable.Arn": table_arn(stack.state_table),
        "AlertTopic": stack.topic_arn,
        "LookoutRole.Arn": LOOKOUT_ROLE_ARN,
    }
    for logical_id, name in STATE_MACHINE_NAMES.items():
        ids[logical_id] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        ids[f"{logical_id}.Name"] = name
    for logical_id, resource in template["Resources"].items():
        # The harness names functions by their logical id (EmulatedStateMachine.register_function).
        if resource["Type"] in FUNCTION_TYPES:
            ids[logical_id] = logical_id
            ids[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
    return ids


def stack_parameters(template: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, str]:
    """The stack parameters a function's environment shows: a variable the template sets to
    ``!Ref Parameter`` gives that parameter's value (so a test that sets ENABLE_DIAGNOSTICS_ON_MODELS
    gets the role a stack deployed with EnableDiagnosticsOnModels has)."""
    variables: Mapping[str, Any] = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    parameters = {}
    for variable, value in variables.get("Variables", {}).items():
        reference = value.get("Ref") if isinstance(value, dict) else None
        if isinstance(reference, str) and reference in template["Parameters"] and variable in environment:
            parameters[reference] = environment[variable]
    return parameters


@dataclass
class _Role:
    name: str
    arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session_arn(self) -> str:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.name}/{self.name}"


class _ApplicationBoto3:
    """Stands in for ``boto3`` inside lookout_diagnostics.aws.clients: the application's clients are the role's of the
    identity this thread runs as, and the administrator's otherwise (test-side calls into src/)."""

    def __init__(self, runtime: LambdaRuntime, real: Any) -> None:
        self._runtime = runtime
        self._real = real

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        return _IdentityRoutedClient(self, service_name, args, kwargs)

    def client_for(self, identity: str | None, service_name: str, args: Any, kwargs: Any) -> Any:
        if identity is None:
            return self._real.client(service_name, *args, **kwargs)
        return self._runtime._role_client(identity, service_name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"aws.clients uses boto3.{name}: tests/support/iam.py routes only boto3.client to the function's role"
        )


class _IdentityRoutedClient:
    """What aws.clients caches for the whole process: each call goes to the client of the identity the calling
    thread runs as. In Lambda a process is one function; here several functions' handlers run at once in
    threads (a fleet's assets), and one cached client must not carry one function's role into another's."""

    def __init__(self, factory: _ApplicationBoto3, service_name: str, args: Any, kwargs: Any) -> None:
        self._factory, self._service, self._args, self._kwargs = factory, service_name, args, kwargs
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def _current(self) -> Any:
        identity = self._factory._runtime.current_identity()
        with self._lock:
            if identity not in self._clients:
                self._clients[identity] = self._factory.client_for(identity, self._service, self._args, self._kwargs)
            return self._clients[identity]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


_ACTIVE: list[LambdaRuntime] = []


def current_runtime() -> LambdaRuntime:
    """The LambdaRuntime started last and still running (the integration tests' ``lambda_runtime``)."""
    if not _ACTIVE:
        raise RuntimeError("no LambdaRuntime is running (integration tests: use the lambda_runtime fixture)")
    return _ACTIVE[-1]


def active_runtime() -> LambdaRuntime | None:
    """The running LambdaRuntime, if any."""
    return _ACTIVE[-1] if _ACTIVE else None


class LambdaRuntime:
    """Runs the template's Lambda handlers in-process, each under its own role (see the module docstring)."""

    def __init__(
        self,
        stack: EmulatedStack,
        enforcement: IamEnforcement,
        *,
        template: dict[str, Any] | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.emulated = stack
        self.enforcement = enforcement
        self.template = template if template is not None else load_template()
        self.parameters = dict(parameters or {})
        self.denials: list[Denial] = []
        self.problems: list[str] = []
        self._resources: dict[str, Any] = self.template["Resources"]
        self._physical = physical_ids(stack, self.template)
        self._granted: dict[str, list[dict[str, Any]]] = {}
        self._removed: dict[str, set[str]] = {}
        self._roles: dict[str, _Role] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._client_hooks: list[Callable[[str, Any], None]] = []
        self._thread = threading.local()
        self._lock = threading.RLock()
        self._iam: Any = None
        self._stack: ExitStack | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("LambdaRuntime is already started")
        stack = ExitStack()
        stack.enter_context(mock.patch.object(clients, "boto3", _ApplicationBoto3(self, clients.boto3)))
        stack.callback(clients.reset)
        clients.reset()
        _ACTIVE.append(self)
        stack.callback(_ACTIVE.remove, self)
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._clients.clear()

    # ---- identities and their policies -----------------------------------------------------------

    def identities(self) -> list[str]:
        """The template's functions and state machines: every identity a role is made for."""
        kinds = FUNCTION_TYPES + STATE_MACHINE_TYPES
        return sorted(name for name, resource in self._resources.items() if resource["Type"] in kinds)

    def policies(self, identity: str) -> list[dict[str, Any]]:
        """The identity policies of `identity`'s role: the template's, for the parameters the environment
        shows, less what a test removed, plus what it granted."""
        if identity not in self.identities():
            raise KeyError(f"template.yaml has no function or state machine {identity}")
        parameters = stack_parameters(self.template, os.environ) | self.parameters
        resolved = Stack(self.template, physical=self._physical, **parameters)
        removed = self._removed.get(identity, set())
        documents = [_without(document, removed) for document in policy_documents(resolved, self._resources, identity)]
        return [document for document in documents if document["Statement"]] + self._granted.get(identity, [])

    def grant(self, identity: str, *statements: dict[str, Any]) -> None:
        """Add statements to `identity`'s role, as an operator widening it would."""
        self._granted.setdefault(identity, []).append({"Version": "2012-10-17", "Statement": list(statements)})

    def remove_permission(self, identity: str, action: str) -> None:
        """Take `action` out of every statement of `identity`'s role that names it (a template that lacks it;
        a wildcard such as ``s3:Get*`` is left as it is)."""
        self._removed.setdefault(identity, set()).add(action.lower())

    def role_arn(self, identity: str) -> str:
        return self._role(identity).arn

    def credentials(self, identity: str) -> dict[str, str]:
        """`identity`'s role's credentials as boto3.client takes them (a client with them is checked by moto only)."""
        role = self._role(identity)
        return {
            "aws_access_key_id": role.access_key_id,
            "aws_secret_access_key": role.secret_access_key,
            "aws_session_token": role.session_token,
        }

    def pop_denials(self) -> list[Denial]:
        """The requests refused so far (and forget them)."""
        denials, self.denials = self.denials, []
        return denials

    # ---- running as an identity ------------------------------------------------------------------

    def current_identity(self) -> str | None:
        identities: list[str] = getattr(self._thread, "identities", [])
        return identities[-1] if identities else None

    @contextmanager
    def run_as(self, identity: str) -> Iterator[None]:
        """Within the block, in this thread, the application's AWS clients are `identity`'s role's."""
        if self._stack is None:
            raise RuntimeError("use LambdaRuntime as a context manager")
        self._role(identity)
        identities: list[str] = self._thread.__dict__.setdefault("identities", [])
        identities.append(identity)
        clients.reset()
        try:
            yield
        finally:
            identities.pop()
            clients.reset()

    def handler(self, function: str) -> LambdaHandler:
        """The handler template.yaml names for `function` (``Handler: module.attribute``)."""
        properties = self._function(function)["Properties"]
        module, _, attribute = str(properties["Handler"]).rpartition(".")
        handler: LambdaHandler = getattr(importlib.import_module(module), attribute)
        return handler

    def context(self, function: str) -> LocalContext:
        """A Lambda context for `function`, with its memory and timeout from the template."""
        properties = self._function(function)["Properties"]
        return LocalContext(
            function_name=function,
            memory_limit_in_mb=int(self._value(properties.get("MemorySize", 128))),
            timeout_seconds=int(self._value(properties.get("Timeout", 3))),
        )

    def _value(self, value: Any) -> Any:
        """A property's value: a `!Ref Parameter` is the parameter's value in this stack, or its default."""
        reference = value.get("Ref") if isinstance(value, dict) else None
        if reference is None:
            return value
        return self.parameters.get(reference, self.template["Parameters"][reference]["Default"])

    def invoke(self, function: str, event: Any, context: Any = None) -> Any:
        """Call `function`'s handler with `event` under its role; its result, or its exception, unchanged."""
        handler = self.handler(function)
        with self.run_as(function):
            return handler(event, context if context is not None else self.context(function))

    def as_function(self, function: str, handler: LambdaHandler) -> LambdaHandler:
        """`handler`, run under `function`'s role (for a handler given explicitly, e.g. to the harness)."""
        self._function(function)

        def under_role(event: Any, context: Any) -> Any:
            with self.run_as(function):
                return handler(event, context)

        return under_role

    def client(self, identity: str, service: str) -> Any:
        """The client `identity`'s code gets for `service` (warm for the test): to watch or break its requests."""
        with self.run_as(identity):
            routed = clients.client(service)
            # The role's own client, not the process-wide stand-in that routes each call by the calling thread.
            return routed._current() if isinstance(routed, _IdentityRoutedClient) else routed

    def on_client(self, hook: Callable[[str, Any], None]) -> None:
        """Call `hook(identity, client)` for every client made under a role, those made so far included."""
        self._client_hooks.append(hook)
        for (identity, _service), made in list(self._clients.items()):
            hook(identity, made)

    def sdk_client(self, identity: str, service: str, **kwargs: Any) -> Any:
        """A new client with `identity`'s credentials and checks (the state machine's own SDK calls)."""
        return self._new_client(identity, service, **kwargs)

    # ---- internals -------------------------------------------------------------------------------

    def _function(self, function: str) -> dict[str, Any]:
        resource: dict[str, Any] | None = self._resources.get(function)
        if resource is None or resource["Type"] not in FUNCTION_TYPES:
            raise KeyError(f"template.yaml has no function {function}")
        return resource

    def _admin_iam(self) -> Any:
        if self._iam is None:
            self._iam = self.enforcement.admin_session().client("iam")
        return self._iam

    def _role(self, identity: str) -> _Role:
        """`identity`'s role in moto, created on first use, its policies brought up to date."""
        documents = self.policies(identity)
        stand_in = _STAND_IN.search(json.dumps(documents))
        if stand_in:
            raise AssertionError(
                f"{identity}'s policies name a resource the emulation has no name for ({stand_in[0]}): "
                "add it to tests/support/iam.py's physical_ids"
            )
        with self._lock:
            role = self._roles.get(identity)
            if role is None:
                role = self._roles[identity] = self._create_role(identity)
            if role.documents != documents:
                iam = self._admin_iam()
                for index in range(len(documents), len(role.documents)):
                    iam.delete_role_policy(RoleName=role.name, PolicyName=f"policy-{index}")
                for index, document in enumerate(documents):
                    iam.put_role_policy(
                        RoleName=role.name,
                        PolicyName=f"policy-{index}",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", **document}),
                    )
                role.documents = documents
            return role

    def _create_role(self, identity: str) -> _Role:
        kind = self._resources[identity]["Type"]
        principal = "states.amazonaws.com" if kind in STATE_MACHINE_TYPES else "lambda.amazonaws.com"
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
        }
        name = f"{STACK_NAME}-{identity}Role"
        arn = str(
            self._admin_iam().create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        )
        # What the Lambda (or Step Functions) service does with the role: assume it. Through moto's STS
        # backend, as the service and not as a caller (moto's trust check cannot read a Service principal).
        assumed = sts_backends[ACCOUNT]["aws"].assume_role(
            region_name=REGION,
            role_session_name=name,
            role_arn=arn,
            policy="",  # no session policy
            duration=43200,
            external_id="",
        )
        return _Role(name, arn, assumed.access_key_id, assumed.secret_access_key, assumed.session_token)

    def _role_client(self, identity: str, service: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            made = self._clients.get((identity, service))
            if made is None:
                made = self._clients[(identity, service)] = self._new_client(identity, service, *args, **kwargs)
                for hook in self._client_hooks:
                    hook(identity, made)
            return made

    def _new_client(self, identity: str, service: str, *args: Any, **kwargs: Any) -> Any:
        made = boto3.client(service, *args, **self.credentials(identity), **kwargs)
        events = made.meta.events
        events.register("before-parameter-build", _remember_parameters)
        events.register("before-call", partial(self._authorise, identity))
        if made.meta.service_model.service_name == "s3":
            for operation in ("GetObject", "HeadObject"):
                events.register(f"after-call.s3.{operation}", partial(self._missing_key, identity))
        return made

    def _authorise(self, identity: str, model: Any, params: Any, context: dict[str, Any], **_: Any) -> Any:
        """botocore's before-call: answer a request the role's policies do not allow as the service would."""
        service = str(model.service_model.signing_name)
        try:
            needed = requirements(service, model.name, context.get(_PARAMS, {}))
        except UnmodelledRequest as error:
            self.problems.append(str(error))
            raise
        documents = self._role(identity).documents
        for requirement in needed:
            if not permits(documents, requirement.action, requirement.resource, requirement.context):
                self.denials.append(Denial(identity, requirement.action, requirement.resource, model.name))
                status, code = _REFUSALS.get(service, (403, "AccessDeniedException"))
                message = (
                    f"User: {self._roles[identity].session_arn} is not authorized to perform: {requirement.action} "
                    f"on resource: {requirement.resource} because no identity-based policy allows the "
                    f"{requirement.action} action"
                )
                return _refusal(service, model.name, str(params.get("url", "")), status, code, message)
        return None

    def _missing_key(
        self, identity: str, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any
    ) -> None:
        """botocore's after-call of GetObject/HeadObject: S3 hides a missing key from whoever may not list."""
        if http_response.status_code != 404 or parsed.get("Error", {}).get("Code") not in {
            "NoSuchKey",
            "404",
            "NotFound",
        }:
            return
        bucket = f"arn:aws:s3:::{kwargs['context'].get(_PARAMS, {}).get('Bucket', '')}"
        if permits(self._role(identity).documents, "s3:ListBucket", bucket):
            return
        self.denials.append(Denial(identity, "s3:ListBucket", bucket, model.name))
        http_response.status_code = 403
        head = model.name == "HeadObject"
        parsed["Error"] = (
            {"Code": "403", "Message": "Forbidden"} if head else {"Code": "AccessDenied", "Message": "Access Denied"}
        )
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403


def _remember_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = dict(params)


def _without(document: dict[str, Any], actions: set[str]) -> dict[str, Any]:
    """A policy document without `actions` (lower case) in any statement; emptied statements dropped."""
    if not actions:
        return document
    statements = []
    for statement in as_list(document["Statement"]):
        kept = [action for action in as_list(statement.get("Action", [])) if action.lower() not in actions]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**document, "Statement": statements}
