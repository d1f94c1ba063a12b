"""How a training workflow that failed is told: the named failure, its cause as a person reads it, and what to do.

Pure: no I/O. Both services' failure steps (usecases/workflow_failure.py, usecases/train_sitewise.py) read what is
usable of the execution's state and turn the error Step Functions caught into the failure a person reads in the
console and in the alert (domain/alerts.py).
"""

from __future__ import annotations

import json
from enum import StrEnum

from pydantic import ConfigDict, TypeAdapter, ValidationError, model_validator

from lookout_diagnostics.models import Model


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
    try:
        document = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        return str(document["errorMessage"])
    return cause
