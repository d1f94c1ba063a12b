"""The training workflow's input: the console's input validated, and the CreateModel request built from it.

Pure: no I/O. The StartTraining step validates the console input with it and builds the CreateModel
request with the stack's defaults; the step then calls CreateModel, and the state machine polls L4E itself
through direct SDK integrations. How a workflow that failed is told is domain/failures.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError, model_validator

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
