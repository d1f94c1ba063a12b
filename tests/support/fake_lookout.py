"""An in-process Amazon Lookout for Equipment (boto3 ``lookoutequipment``) for tests and the local run.

moto has no Lookout for Equipment backend. FakeLookout answers the service's requests from
in-memory models and model versions; tests/support/botocore_fake.py holds every request and
response to botocore's model of the service and lets botocore retry as it would against AWS.

Install it after ``mock_aws()`` has started and before the clients are created::

    with mock_aws(), FakeLookout() as lookout, skip_retry_sleeps():
        lookout.add_model("pump", diagnostics_bucket="diagnostics", diagnostics_prefix="pump/")
        lookout.add_version("pump", 1, diagnostics_object=("diagnostics", "pump/1/results.json.gz"))
        ...  # code under test calls boto3.client("lookoutequipment", ...)

Training is simulated: CreateModel creates the model IN_PROGRESS, and a plan given with
``train_on_create`` decides how many DescribeModel calls still see IN_PROGRESS and how training
ends (version 1 with its diagnostics object, or FAILED with a reason)::

    lookout.train_on_create("pump", in_progress_polls=2, on_complete=write_diagnostics_file)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import boto3

from tests.support.botocore_fake import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    FakeService,
    ServiceError,
    from_wire_time,
    present,
)

SERVICE = "lookoutequipment"

# The service model's enums, as types (a test checks them against botocore's model).
ModelStatus = Literal["IN_PROGRESS", "SUCCESS", "FAILED", "IMPORT_IN_PROGRESS"]
ModelVersionStatus = Literal["IN_PROGRESS", "SUCCESS", "FAILED", "IMPORT_IN_PROGRESS", "CANCELED"]
ModelVersionSourceType = Literal["TRAINING", "RETRAINING", "IMPORT"]
ModelQuality = Literal["QUALITY_THRESHOLD_MET", "CANNOT_DETERMINE_QUALITY", "POOR_QUALITY_DETECTED"]
AutoPromotionResult = Literal[
    "MODEL_PROMOTED",
    "MODEL_NOT_PROMOTED",
    "RETRAINING_INTERNAL_ERROR",
    "RETRAINING_CUSTOMER_ERROR",
    "RETRAINING_CANCELLED",
]
RetrainingSchedulerStatus = Literal["PENDING", "RUNNING", "STOPPING", "STOPPED"]

DEFAULT_PAGE_SIZE = 50
# Account quotas of the service (docs/service-facts.md): models per account, models training at once.
MODEL_QUOTA = 15
CONCURRENT_TRAINING_QUOTA = 5
# Where a simulated training writes its diagnostics file. The real layout under the configured prefix
# is not documented (DescribeModelVersion's ModelDiagnosticsResultsObject is the authority), so code
# under test must read the key from there; a test can pass another layout to train_on_create.
DEFAULT_DIAGNOSTICS_KEY = "{prefix}{model}/{version}/model_diagnostics_results.json.gz"
# ModelMetrics of a simulated training without labels (a JSON string on the wire).
DEFAULT_TRAINING_METRICS: dict[str, Any] = {
    "labeled_ranges": [],
    "labeled_event_metrics": {"num_labeled": 0, "num_identified": 0, "total_warning_time_in_seconds": 0},
    "predicted_ranges": [],
    "unknown_event_metrics": {"num_identified": 0, "total_duration_in_seconds": 0},
}
TrainingOutcome = Literal["SUCCESS", "FAILED"]


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosticsOutput:
    """A model's ModelDiagnosticsOutputConfiguration."""

    bucket: str
    prefix: str | None = None
    kms_key_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        s3 = present({"Bucket": self.bucket, "Prefix": self.prefix})
        return present({"S3OutputConfiguration": s3, "KmsKeyId": self.kms_key_id})


@dataclass
class FakeModelVersion:
    """One model version; mutate it between calls to script progress (e.g. status)."""

    model_name: str
    model_arn: str
    version: int
    arn: str
    status: ModelVersionStatus
    source_type: ModelVersionSourceType
    created_at: datetime
    model_metrics: str | None = None  # a JSON string on the wire
    model_quality: ModelQuality | None = None
    diagnostics_output: DiagnosticsOutput | None = None
    diagnostics_object: tuple[str, str] | None = None  # (bucket, key) of model_diagnostics_results.json.gz
    failed_reason: str | None = None
    auto_promotion_result: AutoPromotionResult | None = None
    prior_model_metrics: str | None = None  # PriorModelMetrics: a retraining's, the version it was weighed against
    auto_promotion_result_reason: str | None = None
    training_execution_start_time: datetime | None = None
    training_execution_end_time: datetime | None = None


@dataclass
class FakeModel:
    """One model; mutate it between calls to script progress (e.g. status)."""

    name: str
    arn: str
    dataset_name: str
    dataset_arn: str
    role_arn: str | None
    status: ModelStatus
    created_at: datetime
    diagnostics_output: DiagnosticsOutput | None = None
    failed_reason: str | None = None
    retraining_scheduler_status: RetrainingSchedulerStatus | None = None
    versions: dict[int, FakeModelVersion] = field(default_factory=dict)
    active_version: int | None = None
    activated_at: datetime | None = None
    previous_active_version: int | None = None
    previous_activated_at: datetime | None = None
    # What CreateModel was asked (wire form), and the members it sets, for models it created.
    create_request: dict[str, Any] | None = None
    schema: str | None = None  # DatasetSchema.InlineDataSchema, a JSON string
    labels_input_configuration: dict[str, Any] | None = None
    data_pre_processing_configuration: dict[str, Any] | None = None
    training_data_start_time: datetime | None = None
    training_data_end_time: datetime | None = None
    evaluation_data_start_time: datetime | None = None
    evaluation_data_end_time: datetime | None = None
    server_side_kms_key_arn: str | None = None
    off_condition: str | None = None
    training_execution_start_time: datetime | None = None
    training_execution_end_time: datetime | None = None
    last_updated_time: datetime | None = None

    @property
    def client_token(self) -> str | None:
        return None if self.create_request is None else self.create_request.get("ClientToken")

    def activate(self, version: int, at: datetime | None = None) -> None:
        """Make a version the active one, as training success or UpdateActiveModelVersion does."""
        if version not in self.versions:
            raise KeyError(f"model {self.name} has no version {version}")
        self.previous_active_version, self.previous_activated_at = self.active_version, self.activated_at
        self.active_version, self.activated_at = version, at or datetime.now(UTC)

    def active(self) -> FakeModelVersion | None:
        return None if self.active_version is None else self.versions[self.active_version]

    def previous_active(self) -> FakeModelVersion | None:
        return None if self.previous_active_version is None else self.versions[self.previous_active_version]

    def latest_retraining(self) -> FakeModelVersion | None:
        retrainings = [v for v in self.versions.values() if v.source_type == "RETRAINING"]
        return max(retrainings, key=lambda v: v.version, default=None)


TrainingCallback = Callable[[FakeModel, FakeModelVersion | None], None]


@dataclass(frozen=True)
class TrainingPlan:
    """How a simulated training goes: see FakeLookout.train_on_create."""

    in_progress_polls: int
    outcome: TrainingOutcome
    failed_reason: str | None
    model_quality: ModelQuality | None
    model_metrics: str | None
    diagnostics_key: str
    on_complete: TrainingCallback | None


@dataclass
class _Training:
    plan: TrainingPlan
    polls_left: int
    # The diagnostics output the training started with. Inferred: an UpdateModel during training
    # affects only versions trained afterwards, not the one being trained.
    diagnostics_output: DiagnosticsOutput | None


# --------------------------------------------------------------------------------------------------
# The fake service
# --------------------------------------------------------------------------------------------------


class FakeLookout(FakeService):
    """A stateful in-memory Lookout for Equipment answering boto3 clients through botocore's events."""

    service = SERVICE

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        default_page_size: int = DEFAULT_PAGE_SIZE,
        require_datasets: bool = False,
    ) -> None:
        super().__init__(region=region, account_id=account_id, default_page_size=default_page_size)
        # CreateModel on a dataset not added with add_dataset is ResourceNotFoundException when set;
        # otherwise any DatasetName is taken as existing.
        self.require_datasets = require_datasets
        # The account's quota of models (AWS's default unless a test stands for an account with a raised one),
        # and the most models seen training at once (CreateModel refuses a sixth, as L4E does).
        self.model_quota = MODEL_QUOTA
        self.peak_trainings = 0
        self._models: dict[str, FakeModel] = {}
        self._datasets: set[str] = set()
        self._training_plans: dict[str | None, TrainingPlan] = {}
        self._trainings: dict[str, _Training] = {}
        self.handlers = {
            "CreateModel": self._create_model,
            "DescribeModel": self._describe_model,
            "DescribeModelVersion": self._describe_model_version,
            "ListModels": self._list_models,
            "ListModelVersions": self._list_model_versions,
            "UpdateModel": self._update_model,
        }

    # ---- setting up state ------------------------------------------------------------------------

    def add_model(
        self,
        name: str,
        *,
        dataset_name: str = "pump-data",
        status: ModelStatus = "SUCCESS",
        diagnostics_bucket: str | None = None,
        diagnostics_prefix: str | None = None,
        diagnostics_kms_key_id: str | None = None,
        failed_reason: str | None = None,
        retraining_scheduler_status: RetrainingSchedulerStatus | None = None,
        created_at: datetime | None = None,
    ) -> FakeModel:
        if name in self._models:
            raise ValueError(f"model {name} already exists")
        if diagnostics_bucket is None and (diagnostics_prefix or diagnostics_kms_key_id):
            raise ValueError("a diagnostics prefix or KMS key needs a diagnostics bucket")
        arn_prefix = f"arn:aws:{SERVICE}:{self.region}:{self.account_id}"
        model = FakeModel(
            name=name,
            arn=f"{arn_prefix}:model/{name}/{uuid.uuid5(uuid.NAMESPACE_URL, 'model/' + name)}",
            dataset_name=dataset_name,
            dataset_arn=f"{arn_prefix}:dataset/{dataset_name}/{uuid.uuid5(uuid.NAMESPACE_URL, dataset_name)}",
            role_arn=f"arn:aws:iam::{self.account_id}:role/lookout-equipment-access",
            status=status,
            created_at=created_at or datetime.now(UTC),
            diagnostics_output=(
                DiagnosticsOutput(diagnostics_bucket, diagnostics_prefix, diagnostics_kms_key_id)
                if diagnostics_bucket
                else None
            ),
            failed_reason=failed_reason,
            retraining_scheduler_status=retraining_scheduler_status,
        )
        self._models[name] = model
        return model

    def add_version(
        self,
        model_name: str,
        version: int | None = None,
        *,
        status: ModelVersionStatus = "SUCCESS",
        source_type: ModelVersionSourceType = "TRAINING",
        model_metrics: Mapping[str, Any] | str | None = None,
        model_quality: ModelQuality | None = None,
        diagnostics_object: tuple[str, str] | None = None,
        failed_reason: str | None = None,
        auto_promotion_result: AutoPromotionResult | None = None,
        auto_promotion_result_reason: str | None = None,
        created_at: datetime | None = None,
        activate: bool | None = None,
    ) -> FakeModelVersion:
        """Add a version (numbered after the highest one unless given).

        It takes the model's current diagnostics output configuration, as L4E applies the model's
        configuration to versions trained afterwards. model_metrics is a dict (sent as JSON text) or
        the text itself. activate=None activates it as L4E would: a successful training or import,
        or a successful retraining whose AutoPromotionResult is MODEL_PROMOTED.
        """
        model = self.model(model_name)
        number = version if version is not None else max(model.versions, default=0) + 1
        if number in model.versions:
            raise ValueError(f"model {model_name} already has version {number}")
        added = FakeModelVersion(
            model_name=model_name,
            model_arn=model.arn,
            version=number,
            arn=f"{model.arn}/model-version/{number}",
            status=status,
            source_type=source_type,
            created_at=created_at or datetime.now(UTC),
            model_metrics=model_metrics if isinstance(model_metrics, str | None) else json.dumps(model_metrics),
            model_quality=model_quality,
            diagnostics_output=model.diagnostics_output,
            diagnostics_object=diagnostics_object,
            failed_reason=failed_reason,
            auto_promotion_result=auto_promotion_result,
            auto_promotion_result_reason=auto_promotion_result_reason,
        )
        model.versions[number] = added
        if activate is None:
            activate = status == "SUCCESS" and (
                source_type != "RETRAINING" or auto_promotion_result == "MODEL_PROMOTED"
            )
        if activate:
            model.activate(number, at=added.created_at)
        return added

    def model(self, name: str) -> FakeModel:
        return self._models[name]

    def add_dataset(self, name: str) -> None:
        """A dataset CreateModel may train on (checked only when require_datasets is set)."""
        self._datasets.add(name)

    def train_on_create(
        self,
        model_name: str | None = None,
        *,
        in_progress_polls: int = 2,
        outcome: TrainingOutcome = "SUCCESS",
        failed_reason: str | None = None,
        model_quality: ModelQuality | None = "CANNOT_DETERMINE_QUALITY",
        model_metrics: Mapping[str, Any] | str | None = None,
        diagnostics_key: str = DEFAULT_DIAGNOSTICS_KEY,
        on_complete: TrainingCallback | None = None,
    ) -> TrainingPlan:
        """Plan the training that CreateModel of `model_name` (of any model when None) starts.

        The model is IN_PROGRESS after CreateModel. Training advances only when DescribeModel is
        called (ListModels and DescribeModelVersion do not advance it): the first
        `in_progress_polls` DescribeModel answers still say IN_PROGRESS, and the next one finds the
        outcome. On SUCCESS a new version (1 for a new model) is created, successful and active,
        with `model_metrics` (DEFAULT_TRAINING_METRICS unless given) and `model_quality`; if the
        model has a diagnostics output configuration, the version's ModelDiagnosticsResultsObject
        is the configured bucket and `diagnostics_key` formatted with {prefix} (the configured
        prefix, "" if none), {model} and {version}. On FAILED the model gets `failed_reason` and no
        version (inferred: the documentation does not say whether a failed first training leaves a
        FAILED version).

        `on_complete(model, version_or_None)` runs at that moment, before the DescribeModel answer
        that reports the outcome, e.g. to put the diagnostics file into (moto's) S3; a test that
        wants the file to land late writes it later instead. A model without a plan stays
        IN_PROGRESS until the test changes it.
        """
        if in_progress_polls < 0:
            raise ValueError("in_progress_polls cannot be negative")
        if outcome == "SUCCESS" and failed_reason is not None:
            raise ValueError("a successful training has no failed_reason")
        if outcome == "FAILED" and model_metrics is not None:
            raise ValueError("a failed training has no model_metrics")
        metrics = DEFAULT_TRAINING_METRICS if model_metrics is None else model_metrics
        plan = TrainingPlan(
            in_progress_polls=in_progress_polls,
            outcome=outcome,
            failed_reason=(failed_reason or "Model training failed (injected by FakeLookout)")
            if outcome == "FAILED"
            else None,
            model_quality=model_quality if outcome == "SUCCESS" else None,
            model_metrics=(metrics if isinstance(metrics, str) else json.dumps(metrics))
            if outcome == "SUCCESS"
            else None,
            diagnostics_key=diagnostics_key,
            on_complete=on_complete,
        )
        self._training_plans[model_name] = plan
        return plan

    # ---- operations ------------------------------------------------------------------------------

    def _list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [
            model
            for model in self._models.values()
            if model.name.startswith(params.get("ModelNameBeginsWith", ""))
            and model.dataset_name.startswith(params.get("DatasetNameBeginsWith", ""))
            and params.get("Status", model.status) == model.status
        ]
        page, token = self.page("ListModels", [self._model_summary(m) for m in models], params)
        return present({"ModelSummaries": page, "NextToken": token})

    def _list_model_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self._known_model(params["ModelName"])
        newest_first = sorted(model.versions.values(), key=lambda v: v.version, reverse=True)
        summaries = [_version_summary(v) for v in newest_first if _version_matches(v, params)]
        page, token = self.page("ListModelVersions", summaries, params)
        return present({"ModelVersionSummaries": page, "NextToken": token})

    def _create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name, token = params["ModelName"], params["ClientToken"]
        existing = self._models.get(name)
        if existing is not None:
            if existing.client_token == token and existing.create_request == params:
                # The same request again (a retry): nothing new is created. Inferred: it answers
                # with the model's current status.
                return {"ModelArn": existing.arn, "Status": existing.status}
            raise ServiceError("ConflictException", f"Model {name} already exists")
        diagnostics = params.get("ModelDiagnosticsOutputConfiguration")
        if diagnostics is not None and "RoleArn" not in params:
            raise ServiceError("ValidationException", "RoleArn is required with ModelDiagnosticsOutputConfiguration")
        for start, end in (
            ("TrainingDataStartTime", "TrainingDataEndTime"),
            ("EvaluationDataStartTime", "EvaluationDataEndTime"),
        ):
            if start in params and end in params and params[start] >= params[end]:
                raise ServiceError("ValidationException", f"{start} must be before {end}")
        if self.require_datasets and params["DatasetName"] not in self._datasets:
            raise ServiceError("ResourceNotFoundException", f"Dataset {params['DatasetName']} does not exist")
        if len(self._models) >= self.model_quota:
            raise ServiceError("ServiceQuotaExceededException", f"At most {self.model_quota} models per account")
        if sum(model.status == "IN_PROGRESS" for model in self._models.values()) >= CONCURRENT_TRAINING_QUOTA:
            raise ServiceError(
                "ServiceQuotaExceededException", f"At most {CONCURRENT_TRAINING_QUOTA} models can train at once"
            )
        s3_output = diagnostics["S3OutputConfiguration"] if diagnostics else {}
        now = datetime.now(UTC)
        model = self.add_model(
            name,
            dataset_name=params["DatasetName"],
            status="IN_PROGRESS",
            diagnostics_bucket=s3_output.get("Bucket"),
            diagnostics_prefix=s3_output.get("Prefix"),
            diagnostics_kms_key_id=diagnostics.get("KmsKeyId") if diagnostics else None,
            created_at=now,
        )
        model.role_arn = params.get("RoleArn")
        model.create_request = params
        model.schema = params.get("DatasetSchema", {}).get("InlineDataSchema")
        model.labels_input_configuration = params.get("LabelsInputConfiguration")
        model.data_pre_processing_configuration = params.get("DataPreProcessingConfiguration")
        model.training_data_start_time = from_wire_time(params.get("TrainingDataStartTime"))
        model.training_data_end_time = from_wire_time(params.get("TrainingDataEndTime"))
        model.evaluation_data_start_time = from_wire_time(params.get("EvaluationDataStartTime"))
        model.evaluation_data_end_time = from_wire_time(params.get("EvaluationDataEndTime"))
        model.server_side_kms_key_arn = self._kms_key_arn(params.get("ServerSideKmsKeyId"))
        model.off_condition = params.get("OffCondition")
        model.training_execution_start_time = model.last_updated_time = now
        self.peak_trainings = max(
            self.peak_trainings, sum(model.status == "IN_PROGRESS" for model in self._models.values())
        )
        plan = self._training_plans.get(name, self._training_plans.get(None))
        if plan is not None:
            self._trainings[name] = _Training(plan, plan.in_progress_polls, model.diagnostics_output)
        return {"ModelArn": model.arn, "Status": model.status}

    def _update_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateModel: what the model's next trainings use; versions trained before keep theirs."""
        model = self._known_model(params["ModelName"])
        role_arn = params.get("RoleArn", model.role_arn)
        diagnostics = params.get("ModelDiagnosticsOutputConfiguration")
        # Inferred from the documentation ("You must also specify the RoleArn"): L4E needs a role to
        # write the diagnostics; one stored on the model by an earlier request is taken to do.
        if diagnostics is not None and role_arn is None:
            raise ServiceError("ValidationException", "RoleArn is required with ModelDiagnosticsOutputConfiguration")
        if diagnostics is not None:
            s3_output = diagnostics["S3OutputConfiguration"]
            # A new object: versions hold the previous one (add_version copies the model's), unchanged.
            model.diagnostics_output = DiagnosticsOutput(
                s3_output["Bucket"], s3_output.get("Prefix"), diagnostics.get("KmsKeyId")
            )
        if "LabelsInputConfiguration" in params:
            model.labels_input_configuration = params["LabelsInputConfiguration"]
        model.role_arn = role_arn
        model.last_updated_time = datetime.now(UTC)
        return {}

    def _describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self._known_model(params["ModelName"])
        self._advance_training(model)
        active, previous, retraining = model.active(), model.previous_active(), model.latest_retraining()
        return present(
            {
                **self._model_summary(model),
                **self._training_members(model),
                "RoleArn": model.role_arn,
                "FailedReason": model.failed_reason,
                "TrainingExecutionStartTime": model.training_execution_start_time,
                "TrainingExecutionEndTime": model.training_execution_end_time,
                "LastUpdatedTime": model.last_updated_time,
                "ModelMetrics": active.model_metrics if active else None,
                "ModelVersionActivatedAt": model.activated_at,
                "PreviousActiveModelVersion": model.previous_active_version,
                "PreviousActiveModelVersionArn": previous.arn if previous else None,
                "PreviousModelVersionActivatedAt": model.previous_activated_at,
                "LatestScheduledRetrainingFailedReason": retraining.failed_reason if retraining else None,
            }
        )

    def _describe_model_version(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self._known_model(params["ModelName"])
        version = model.versions.get(params["ModelVersion"])
        if version is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Model {model.name} has no version {params['ModelVersion']}"
            )
        results = version.diagnostics_object
        return present(
            {
                **self._training_members(model),
                "ModelName": model.name,
                "ModelArn": model.arn,
                "ModelVersion": version.version,
                "ModelVersionArn": version.arn,
                "Status": version.status,
                "SourceType": version.source_type,
                "DatasetName": model.dataset_name,
                "DatasetArn": model.dataset_arn,
                "RoleArn": model.role_arn,
                "CreatedAt": version.created_at,
                "TrainingExecutionStartTime": version.training_execution_start_time,
                "TrainingExecutionEndTime": version.training_execution_end_time,
                "FailedReason": version.failed_reason,
                "ModelMetrics": version.model_metrics,
                "ModelQuality": version.model_quality,
                "AutoPromotionResult": version.auto_promotion_result,
                "PriorModelMetrics": version.prior_model_metrics,
                "AutoPromotionResultReason": version.auto_promotion_result_reason,
                "ModelDiagnosticsOutputConfiguration": (
                    version.diagnostics_output.to_wire() if version.diagnostics_output else None
                ),
                "ModelDiagnosticsResultsObject": {"Bucket": results[0], "Key": results[1]} if results else None,
            }
        )

    # ---- training simulation ---------------------------------------------------------------------

    def _advance_training(self, model: FakeModel) -> None:
        training = self._trainings.get(model.name)
        if training is None:
            return
        if training.polls_left > 0:
            training.polls_left -= 1
            return
        del self._trainings[model.name]
        plan, now = training.plan, datetime.now(UTC)
        model.training_execution_end_time = model.last_updated_time = now
        version: FakeModelVersion | None = None
        if plan.outcome == "SUCCESS":
            number = max(model.versions, default=0) + 1
            output = training.diagnostics_output
            key = plan.diagnostics_key.format(
                prefix=(output.prefix or "") if output else "", model=model.name, version=number
            )
            version = self.add_version(
                model.name,
                number,
                status="SUCCESS",
                model_metrics=plan.model_metrics,
                model_quality=plan.model_quality,
                diagnostics_object=(output.bucket, key) if output else None,
                created_at=model.training_execution_start_time,
            )
            version.diagnostics_output = output
            version.training_execution_start_time = model.training_execution_start_time
            version.training_execution_end_time = now
            model.status = "SUCCESS"
        else:
            model.status, model.failed_reason = "FAILED", plan.failed_reason
        if plan.on_complete is not None:
            try:
                plan.on_complete(model, version)
            except Exception as error:
                self.callback_errors.append(error)
                raise

    # ---- helpers ---------------------------------------------------------------------------------

    def _training_members(self, model: FakeModel) -> dict[str, Any]:
        """What CreateModel set, as DescribeModel and DescribeModelVersion return it."""
        return {
            "Schema": model.schema,
            "LabelsInputConfiguration": model.labels_input_configuration,
            "TrainingDataStartTime": model.training_data_start_time,
            "TrainingDataEndTime": model.training_data_end_time,
            "EvaluationDataStartTime": model.evaluation_data_start_time,
            "EvaluationDataEndTime": model.evaluation_data_end_time,
            "DataPreProcessingConfiguration": model.data_pre_processing_configuration,
            "ServerSideKmsKeyId": model.server_side_kms_key_arn,
            "OffCondition": model.off_condition,
        }

    def _kms_key_arn(self, key: str | None) -> str | None:
        """The key's ARN (Describe* return an ARN where CreateModel takes an id, alias or ARN)."""
        if key is None or key.startswith("arn:"):
            return key
        kind = "" if key.startswith("alias/") else "key/"
        return f"arn:aws:kms:{self.region}:{self.account_id}:{kind}{key}"

    def _known_model(self, name: str) -> FakeModel:
        model = self._models.get(name)
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Model {name} does not exist")
        return model

    def _model_summary(self, model: FakeModel) -> dict[str, Any]:
        active, retraining = model.active(), model.latest_retraining()
        return present(
            {
                "ModelName": model.name,
                "ModelArn": model.arn,
                "DatasetName": model.dataset_name,
                "DatasetArn": model.dataset_arn,
                "Status": model.status,
                "CreatedAt": model.created_at,
                "ActiveModelVersion": model.active_version,
                "ActiveModelVersionArn": active.arn if active else None,
                "LatestScheduledRetrainingStatus": retraining.status if retraining else None,
                "LatestScheduledRetrainingModelVersion": retraining.version if retraining else None,
                "LatestScheduledRetrainingStartTime": retraining.created_at if retraining else None,
                "RetrainingSchedulerStatus": model.retraining_scheduler_status,
                "ModelDiagnosticsOutputConfiguration": (
                    model.diagnostics_output.to_wire() if model.diagnostics_output else None
                ),
                "ModelQuality": active.model_quality if active else None,
            }
        )


def _version_summary(version: FakeModelVersion) -> dict[str, Any]:
    return present(
        {
            "ModelName": version.model_name,
            "ModelArn": version.model_arn,
            "ModelVersion": version.version,
            "ModelVersionArn": version.arn,
            "CreatedAt": version.created_at,
            "Status": version.status,
            "SourceType": version.source_type,
            "ModelQuality": version.model_quality,
        }
    )


def _version_matches(version: FakeModelVersion, params: dict[str, Any]) -> bool:
    created = version.created_at.timestamp()
    return (
        params.get("Status", version.status) == version.status
        and params.get("SourceType", version.source_type) == version.source_type
        and params.get("MinModelVersion", version.version) <= version.version
        and params.get("MaxModelVersion", version.version) >= version.version
        and params.get("CreatedAtStartTime", created) <= created
        and params.get("CreatedAtEndTime", created) >= created
    )


def listed_models() -> dict[str, str]:
    """What a user listing the account's models sees: each model's name and status (one page is enough
    for the tests' few models)."""
    summaries = boto3.client("lookoutequipment").list_models()["ModelSummaries"]
    return {summary["ModelName"]: summary["Status"] for summary in summaries}


def writes_diagnostics(body: bytes) -> TrainingCallback:
    """An `on_complete` for train_on_create: the trained version's diagnostics file (`body`) put where the
    version says it is (moto's S3), as L4E does when a training ends."""

    def write(model: FakeModel, version: FakeModelVersion | None) -> None:
        assert version is not None and version.diagnostics_object is not None
        bucket, key = version.diagnostics_object
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)

    return write
