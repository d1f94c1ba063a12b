"""The AWS IoT SiteWise training workflow's input and the ExecuteAction it makes of it: pure.

The input names a computation model (ANOMALY_DETECTION) and the asset to train it on, the training window,
an optional evaluation window (default: the training window's last EVALUATION_DAYS days, or all of it if it
is shorter) and sampling rate, labels, and how long to wait. The training writes its evaluation results
under the stack's bucket, at a prefix of its own (`sitewise/<computation model id>/<execution name>/`), so
the S3 trigger summarises them and knows the training that wrote them.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from lookout_diagnostics.domain.training import MAX_POLLS, input_problems, utc
from lookout_diagnostics.errors import InvalidTrainingInputError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import StackDefaults

UUID_PATTERN = r"^(?!00000000-0000-0000-0000-000000000000)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EVALUATION_DAYS = 30
# SiteWise's documented sampling rates (targetSamplingRate).
SamplingRate = Literal["PT1S", "PT5S", "PT10S", "PT15S", "PT30S", "PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT1H"]
Id = Annotated[str, Field(pattern=UUID_PATTERN)]
# SiteWise's documented inference data upload frequencies (dataUploadFrequency).
UploadFrequency = Literal[
    "PT5M",
    "PT10M",
    "PT15M",
    "PT30M",
    "PT1H",
    "PT2H",
    "PT3H",
    "PT4H",
    "PT5H",
    "PT6H",
    "PT7H",
    "PT8H",
    "PT9H",
    "PT10H",
    "PT11H",
    "PT12H",
    "PT1D",
]


class ComputationModelToCreate(Model):
    """A computation model for the workflow to create: the asset model's properties to bind, by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")

    Name: Annotated[str, Field(min_length=1, max_length=256)]
    AssetModelId: Id
    InputProperties: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    ResultProperty: Annotated[str, Field(min_length=1)]


class SiteWiseTrainingInput(Model):
    """The console input of the SiteWise training workflow (events/sitewise-training-input.json): an existing
    computation model (ComputationModelId), or one to create (NewComputationModel); the asset to train on."""

    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")  # the pattern looks ahead

    ComputationModelId: Id | None = None
    NewComputationModel: ComputationModelToCreate | None = None
    AssetId: Id
    TrainingStartTime: datetime
    TrainingEndTime: datetime
    EvaluationStartTime: datetime | None = None
    EvaluationEndTime: datetime | None = None
    TargetSamplingRate: SamplingRate | None = None
    LabelInputConfiguration: dict[str, Any] | None = None
    PollIntervalSeconds: int = Field(default=300, ge=60, le=3600)
    MaxWaitSeconds: int = Field(default=86_400, ge=300, le=7 * 86_400)
    # After a successful training, start inference on the asset (inferenceMode START) every DataUploadFrequency.
    StartInference: bool = False
    DataUploadFrequency: UploadFrequency = "PT5M"

    @model_validator(mode="after")
    def _windows(self) -> SiteWiseTrainingInput:
        if (self.ComputationModelId is None) == (self.NewComputationModel is None):
            raise ValueError("give ComputationModelId, or NewComputationModel to create one, not both")
        start, end = utc(self.TrainingStartTime), utc(self.TrainingEndTime)
        if start >= end:
            raise ValueError("TrainingStartTime must be before TrainingEndTime")
        if self.MaxWaitSeconds // self.PollIntervalSeconds > MAX_POLLS:
            # Each check adds about a dozen events to the execution's history, which holds 25,000.
            raise ValueError(
                f"MaxWaitSeconds / PollIntervalSeconds allows at most {MAX_POLLS} checks: wait less or check less often"
            )
        if (self.EvaluationStartTime is None) != (self.EvaluationEndTime is None):
            raise ValueError("give both EvaluationStartTime and EvaluationEndTime, or neither")
        if self.EvaluationStartTime is not None and self.EvaluationEndTime is not None:
            evaluation_start, evaluation_end = utc(self.EvaluationStartTime), utc(self.EvaluationEndTime)
            if evaluation_start >= evaluation_end:
                raise ValueError("EvaluationStartTime must be before EvaluationEndTime")
            if evaluation_start > end or evaluation_end < start:
                raise ValueError("the evaluation window must overlap or touch the training window")
        return self

    def evaluation_window(self) -> tuple[datetime, datetime]:
        if self.EvaluationStartTime is not None and self.EvaluationEndTime is not None:
            return utc(self.EvaluationStartTime), utc(self.EvaluationEndTime)
        start, end = utc(self.TrainingStartTime), utc(self.TrainingEndTime)
        return max(start, end - timedelta(days=EVALUATION_DAYS)), end


class SiteWiseTrainingPlan(Model):
    """What the start step sends to ExecuteAction, and what the workflow then waits with."""

    ComputationModelId: str | None
    NewComputationModel: ComputationModelToCreate | None
    AssetId: str
    ActionPayload: dict[str, Any]
    ClientToken: str
    ModelClientToken: str
    EvaluationBucket: str
    EvaluationPrefix: str
    PollIntervalSeconds: int
    MaxPolls: int
    InferencePayload: str | None = None  # the inference ExecuteAction's payload, when the input asks for it
    InferenceClientToken: str

    @property
    def payload_text(self) -> str:
        return json.dumps(self.ActionPayload, separators=(",", ":"))


def plan_sitewise_training(raw: object, execution_arn: str, defaults: StackDefaults) -> SiteWiseTrainingPlan:
    """Validate the console input and build the training's ExecuteAction; InvalidTrainingInputError names
    every problem. The client token is derived from the execution: a retried start trains once."""
    try:
        given = SiteWiseTrainingInput.model_validate(raw)
    except ValidationError as error:
        raise InvalidTrainingInputError(input_problems(error)) from error
    if not defaults.diagnostics_bucket:
        raise InvalidTrainingInputError("the stack has no diagnostics bucket (DIAGNOSTICS_BUCKET) to write to")
    execution_name = execution_arn.rsplit(":", 1)[-1]
    model_part = given.ComputationModelId or (given.NewComputationModel.Name if given.NewComputationModel else "")
    prefix = f"sitewise/{model_part}/{execution_name}/"
    evaluation_start, evaluation_end = given.evaluation_window()
    payload: dict[str, Any] = {
        "trainingMode": "TRAIN_MODEL",
        "exportDataStartTime": int(utc(given.TrainingStartTime).timestamp()),
        "exportDataEndTime": int(utc(given.TrainingEndTime).timestamp()),
        "modelEvaluationConfiguration": {
            "dataStartTime": int(evaluation_start.timestamp()),
            "dataEndTime": int(evaluation_end.timestamp()),
            "resultDestination": {"bucketName": defaults.diagnostics_bucket, "prefix": prefix},
        },
    }
    if given.TargetSamplingRate:
        payload["targetSamplingRate"] = given.TargetSamplingRate
    if given.LabelInputConfiguration:
        payload["labelInputConfiguration"] = given.LabelInputConfiguration
    return SiteWiseTrainingPlan(
        ComputationModelId=given.ComputationModelId,
        NewComputationModel=given.NewComputationModel,
        AssetId=given.AssetId,
        ActionPayload=payload,
        ClientToken=str(uuid.uuid5(uuid.NAMESPACE_URL, execution_arn)),
        ModelClientToken=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_arn}#computation-model")),
        InferencePayload=(
            json.dumps(
                {"inferenceMode": "START", "dataUploadFrequency": given.DataUploadFrequency}, separators=(",", ":")
            )
            if given.StartInference
            else None
        ),
        InferenceClientToken=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_arn}#inference")),
        EvaluationBucket=defaults.diagnostics_bucket,
        EvaluationPrefix=prefix,
        PollIntervalSeconds=given.PollIntervalSeconds,
        MaxPolls=max(1, given.MaxWaitSeconds // given.PollIntervalSeconds),
    )
