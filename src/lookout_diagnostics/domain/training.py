"""The training workflow's domain: its input, the CreateModel request, its outcomes in words.

Pure: no I/O. The StartTraining step validates the console input with it and builds the CreateModel
request with the stack's defaults (the step then calls CreateModel; the state machine polls L4E itself
through direct SDK integrations), and the failure step turns what failed into the named failure and the
advice a person reads in the console and in the alert.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from lookout_diagnostics.errors import InvalidTrainingInputError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings

# Lookout for Equipment's quota on models training at once in an account (docs/service-facts.md).
LOOKOUT_CONCURRENT_TRAININGS = 5

NAME_PATTERN = r"^[0-9a-zA-Z_-]{1,200}$"
BUCKET_PATTERN = r"^[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9]$"
ROLE_PATTERN = r"^arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+$"
# ModelDiagnosticsOutputConfiguration.KmsKeyId (shape NameOrArn): a key id, key ARN, alias or alias ARN.
KMS_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2047}$"
# L4E's S3Prefix pattern (botocore's service model): empty, or 1-1023 Latin-1 characters and a final '/'.
PREFIX_PATTERN = re.compile(r"[\u0009\u000A\u000D\u0020-\u00FF]{1,1023}/")
# A poll is about 11 history events (Wait, DescribeModel, counter, Choice); a Standard
# workflow may have 25,000. 2,000 polls leave room for everything else.
MAX_POLLS = 2000

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class S3OutputConfiguration(Model):
    model_config = ConfigDict(extra="forbid")

    Bucket: Annotated[str, Field(pattern=BUCKET_PATTERN)]
    Prefix: str = ""

    @model_validator(mode="after")
    def _prefix_ends_with_slash(self) -> S3OutputConfiguration:
        if self.Prefix and not self.Prefix.endswith("/"):
            raise ValueError(f"Prefix must be empty or end with '/' (got {self.Prefix!r})")
        if self.Prefix and not PREFIX_PATTERN.fullmatch(self.Prefix):
            raise ValueError(
                "Prefix must be 1 to 1023 characters (tab, line breaks or U+0020-U+00FF) before its final '/' "
                f"(got {self.Prefix!r})"
            )
        return self


class DiagnosticsOutputConfiguration(Model):
    model_config = ConfigDict(extra="forbid")

    S3OutputConfiguration: S3OutputConfiguration
    KmsKeyId: str | None = None


class Tag(Model):
    model_config = ConfigDict(extra="forbid")

    Key: Annotated[str, Field(min_length=1, max_length=128)]
    Value: Annotated[str, Field(max_length=256)]


class TrainingInput(Model):
    """What a user pastes into the console's "Start execution" box."""

    model_config = ConfigDict(extra="forbid")

    ModelName: Name
    DatasetName: Name
    DatasetSchema: dict[str, Any] | None = None
    LabelsInputConfiguration: dict[str, Any] | None = None
    TrainingDataStartTime: datetime | None = None
    TrainingDataEndTime: datetime | None = None
    EvaluationDataStartTime: datetime | None = None
    EvaluationDataEndTime: datetime | None = None
    RoleArn: Annotated[str, Field(pattern=ROLE_PATTERN)] | None = None
    DataPreProcessingConfiguration: dict[str, Any] | None = None
    ServerSideKmsKeyId: str | None = None
    Tags: list[Tag] | None = None
    OffCondition: str | None = None
    ModelDiagnosticsOutputConfiguration: DiagnosticsOutputConfiguration | None = None
    PollIntervalSeconds: Annotated[int, Field(ge=60, le=3600)] = 300
    MaxWaitSeconds: Annotated[int, Field(ge=60, le=14 * 24 * 3600)] = 48 * 3600

    @model_validator(mode="after")
    def _consistent(self) -> TrainingInput:
        for name in ("TrainingData", "EvaluationData"):
            start = getattr(self, f"{name}StartTime")
            end = getattr(self, f"{name}EndTime")
            if start is not None and end is not None and utc(start) >= utc(end):
                raise ValueError(f"{name}StartTime must be before {name}EndTime")
        if self.MaxWaitSeconds // self.PollIntervalSeconds > MAX_POLLS:
            raise ValueError(
                f"MaxWaitSeconds / PollIntervalSeconds allows at most {MAX_POLLS} polls "
                "(Step Functions keeps 25,000 history events): raise PollIntervalSeconds"
            )
        return self


class TrainingPlan(Model):
    """A validated input: the CreateModel request and how long to wait (StartTraining uses it)."""

    ModelName: str
    CreateModel: dict[str, Any]
    PollIntervalSeconds: int
    MaxPolls: int
    MaxWaitSeconds: int


def plan_training(raw_input: Any, execution_name: str, settings: Settings) -> TrainingPlan:
    """Validate the console input and build the CreateModel request, with the stack's defaults."""
    try:
        given = TrainingInput.model_validate(raw_input)
    except ValidationError as error:
        raise InvalidTrainingInputError(input_problems(error)) from error
    prefix = settings.model_name_prefix
    if prefix and not given.ModelName.startswith(prefix):
        # The status poller, which makes sure every success is alerted, polls only these models.
        raise InvalidTrainingInputError(
            f"ModelName: must begin with {prefix!r}, the stack's ModelNamePrefix (the status poller watches only "
            "those models)"
        )
    request: dict[str, Any] = given.model_dump(
        mode="json", exclude_none=True, exclude={"PollIntervalSeconds", "MaxWaitSeconds"}
    )
    for name in ("TrainingDataStartTime", "TrainingDataEndTime", "EvaluationDataStartTime", "EvaluationDataEndTime"):
        moment = getattr(given, name)
        if moment is not None:
            request[name] = utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The execution's name is unique per state machine: a retried CreateModel cannot create a second model.
    request["ClientToken"] = execution_name
    if "RoleArn" not in request:
        if not settings.lookout_role_arn:
            raise InvalidTrainingInputError("RoleArn is required: the stack has no default Lookout for Equipment role")
        request["RoleArn"] = settings.lookout_role_arn
    output = _diagnostics_output(given, settings)
    if output is not None:
        request["ModelDiagnosticsOutputConfiguration"] = output
    return TrainingPlan(
        ModelName=given.ModelName,
        CreateModel=request,
        PollIntervalSeconds=given.PollIntervalSeconds,
        MaxPolls=max(1, given.MaxWaitSeconds // given.PollIntervalSeconds),
        MaxWaitSeconds=given.MaxWaitSeconds,
    )


def _diagnostics_output(given: TrainingInput, settings: Settings) -> dict[str, Any] | None:
    """The stack's bucket under '<ModelName>/' unless given; the stack's KMS key unless given.

    Diagnostics written to another bucket are refused: the stack watches, reads and may grant L4E's role
    only its own bucket, so such a version would be alerted without a summary, or not at all.
    """
    watched = settings.diagnostics_bucket
    given_output = given.ModelDiagnosticsOutputConfiguration
    if given_output is not None and watched and given_output.S3OutputConfiguration.Bucket != watched:
        raise InvalidTrainingInputError(
            "ModelDiagnosticsOutputConfiguration.S3OutputConfiguration.Bucket: must be this stack's diagnostics "
            f"bucket {watched!r}, the only one it watches and reads (leave the field out to use it under "
            f"'{given.ModelName}/')"
        )
    if given_output is not None:
        output: dict[str, Any] = given_output.model_dump(mode="json", exclude_none=True)
    elif watched:
        output = {"S3OutputConfiguration": {"Bucket": watched, "Prefix": f"{given.ModelName}/"}}
    else:
        return None
    if settings.diagnostics_kms_key_arn and "KmsKeyId" not in output:
        output["KmsKeyId"] = settings.diagnostics_kms_key_arn
    return output


def utc(moment: datetime) -> datetime:
    """A time without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def input_problems(error: ValidationError) -> str:
    """Every problem of a console input, "where: what" each, as the failure's cause lists them."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "input"
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- failures


class Failure(StrEnum):
    """The named failures a training execution ends with: the Fail state's error, the alert's and the docs'."""

    INVALID_INPUT = "InvalidInput"
    LOOKOUT_REJECTED_REQUEST = "LookoutRejectedRequest"
    MODEL_ALREADY_EXISTS = "ModelAlreadyExists"
    ACCESS_DENIED = "AccessDenied"
    QUOTA_EXCEEDED = "QuotaExceeded"
    DATASET_NOT_FOUND = "DatasetNotFound"
    LOOKOUT_UNAVAILABLE = "LookoutUnavailable"
    TRAINING_FAILED = "TrainingFailed"
    TRAINING_TIMED_OUT = "TrainingTimedOut"
    WORKFLOW_ERROR = "WorkflowError"
    # AWS IoT SiteWise's training workflow
    SITEWISE_REJECTED_REQUEST = "SiteWiseRejectedRequest"
    COMPUTATION_MODEL_NOT_FOUND = "ComputationModelNotFound"
    SITEWISE_UNAVAILABLE = "SiteWiseUnavailable"
    EVALUATION_RESULTS_MISSING = "EvaluationResultsMissing"


# The error names Step Functions reports (our exception classes from the Lambda steps, L4E's
# errors from the direct SDK steps), to the failure a person is told about and what to do.
_REJECTED: tuple[Failure, str] = (
    Failure.LOOKOUT_REJECTED_REQUEST,
    "Lookout for Equipment rejected the request: check the dataset, the time ranges (at least 180 days "
    "of training data), the labels and the role.",
)
_EXISTS: tuple[Failure, str] = (
    Failure.MODEL_ALREADY_EXISTS,
    "A model with this ModelName exists or is being created: choose another ModelName, or delete the model first.",
)
_DENIED: tuple[Failure, str] = (
    Failure.ACCESS_DENIED,
    "A permission is missing: the workflow may pass only the stack's Lookout for Equipment role, and that role "
    "must read the labels and write the diagnostics bucket.",
)
_QUOTA: tuple[Failure, str] = (
    Failure.QUOTA_EXCEEDED,
    "A Lookout for Equipment quota is reached (by default 15 models per account, 5 trainings at once): delete "
    "unused models or wait for trainings to finish.",
)
_NOT_FOUND: tuple[Failure, str] = (
    Failure.DATASET_NOT_FOUND,
    "The dataset (or model) does not exist in this account and region: check DatasetName and ingest the data first.",
)
_UNAVAILABLE: tuple[Failure, str] = (
    Failure.LOOKOUT_UNAVAILABLE,
    "Lookout for Equipment kept throttling or failing after every retry: start the execution again later.",
)
_FAILURES: dict[str, tuple[Failure, str]] = {
    "InvalidTrainingInputError": (Failure.INVALID_INPUT, "Fix the execution input and start a new execution."),
    "LookoutRejectedRequestError": _REJECTED,
    "LookoutEquipment.ValidationException": _REJECTED,
    "ModelAlreadyExistsError": _EXISTS,
    "LookoutEquipment.ConflictException": _EXISTS,
    "LookoutAccessDeniedError": _DENIED,
    "LookoutEquipment.AccessDeniedException": _DENIED,
    "LookoutQuotaExceededError": _QUOTA,
    "LookoutBusyError": _QUOTA,
    "LookoutEquipment.ServiceQuotaExceededException": _QUOTA,
    "DatasetNotFoundError": _NOT_FOUND,
    "LookoutEquipment.ResourceNotFoundException": _NOT_FOUND,
    "LookoutUnavailableError": _UNAVAILABLE,
    "LookoutEquipment.ThrottlingException": _UNAVAILABLE,
    "LookoutEquipment.InternalServerException": _UNAVAILABLE,
    "TrainingFailed": (
        Failure.TRAINING_FAILED,
        "Lookout for Equipment could not train the model; its reason is above.",
    ),
    "TrainingTimedOut": (
        Failure.TRAINING_TIMED_OUT,
        "The model was still training when the workflow stopped waiting. Training goes on: see the model in "
        "the console, or start with a larger MaxWaitSeconds next time.",
    ),
    # AWS IoT SiteWise's training workflow (statemachine/train_sitewise_model.asl.json)
    "SiteWiseRejectedRequestError": (
        Failure.SITEWISE_REJECTED_REQUEST,
        "AWS IoT SiteWise rejected the training: check the time windows (the evaluation window must overlap "
        "or touch the training window), the sampling rate and the labels.",
    ),
    "ComputationModelNotFoundError": (
        Failure.COMPUTATION_MODEL_NOT_FOUND,
        "Check ComputationModelId and AssetId: the computation model must be an ACTIVE anomaly-detection model "
        "bound to the asset's model, in this account and region.",
    ),
    "SiteWiseAccessDeniedError": (
        Failure.ACCESS_DENIED,
        "A permission is missing: the workflow may train only this account's computation models and assets; "
        "AWS IoT SiteWise must be allowed to write the evaluation results to the stack's bucket.",
    ),
    "SiteWiseUnavailableError": (
        Failure.SITEWISE_UNAVAILABLE,
        "AWS IoT SiteWise kept throttling or failing after every retry: start the execution again later.",
    ),
    "SiteWiseTrainingFailed": (
        Failure.TRAINING_FAILED,
        "AWS IoT SiteWise could not train the model; its reason is above (see the execution in the console).",
    ),
    "DiagnosticsNotReadyError": (
        Failure.EVALUATION_RESULTS_MISSING,
        "The training completed but wrote no evaluation results under its prefix while the workflow waited: "
        "check that AWS IoT SiteWise may write to the stack's bucket. If they land later, the S3 trigger "
        "alerts them.",
    ),
    "SiteWiseTrainingTimedOut": (
        Failure.TRAINING_TIMED_OUT,
        "The training was still running when the workflow stopped waiting. Training goes on: the status poller "
        "announces its end; start with a larger MaxWaitSeconds next time.",
    ),
}


class WorkflowFailure(Model):
    """What the workflow's failure step reports: the Fail state's error and cause."""

    Error: Failure
    Cause: str
    Advice: str


class Lenient(Model):
    """Read what is usable of a state that may hold anything (a failed input included): the rest is absent."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _usable(cls, value: object) -> object:
        if not isinstance(value, dict):
            return {}
        usable: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            try:
                usable[name] = TypeAdapter(field.annotation).validate_python(value.get(name))
            except ValidationError:
                continue  # unusable: absent
        return usable


class _Created(Lenient):
    ModelArn: str | None = None


class _Described(Lenient):
    FailedReason: str | None = None


class ExecutionState(Lenient):
    """What the failure step reads of the execution's state: the model, if one was created, and why it failed."""

    ModelName: str | None = None
    training: _Created | None = None  # StartTraining's result
    failed: _Described | None = None  # DescribeModel's answer when L4E reported FAILED


def describe_failure(error: str, cause: str, failed_reason: str | None = None) -> WorkflowFailure:
    """The named failure, its cause as a person reads it, and what to do.

    A failed training's cause is L4E's FailedReason when it could be read (DescribeModel's answer).
    """
    name, advice = _FAILURES.get(
        error, (Failure.WORKFLOW_ERROR, f"Unexpected error {error}: see the execution's events.")
    )
    if name is Failure.TRAINING_FAILED and failed_reason:
        cause = failed_reason
    return WorkflowFailure(Error=name, Cause=_readable_cause(cause), Advice=advice)


def _readable_cause(cause: str) -> str:
    """Lambda errors arrive as a JSON document; people want its message."""
    import json

    try:
        document = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        return str(document["errorMessage"])
    return cause
