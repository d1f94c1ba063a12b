"""Lookout for Equipment adapter: the reads identification needs, with paging.

lookoutequipment has no boto3 paginators, so NextToken is followed here, with a bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.identity import (
    DescribedModelVersion,
    DiagnosticsOutput,
    ModelSummary,
    ModelVersion,
    VersionSummary,
    described_version,
)
from lookout_diagnostics.errors import (
    DatasetNotFoundError,
    LookoutAccessDeniedError,
    LookoutQuotaExceededError,
    LookoutRejectedRequestError,
    LookoutRequestError,
    LookoutUnavailableError,
    ModelAlreadyExistsError,
    ModelNotFoundError,
)

T = TypeVar("T")

MAX_PAGES = 50
PAGE_SIZE = 500  # the service's maximum: 100 models cost one ListModels call

# L4E's error codes, to the exceptions the workflow names its failures by.
_REQUEST_ERRORS: dict[str, type[LookoutRequestError]] = {
    "ConflictException": ModelAlreadyExistsError,
    "ValidationException": LookoutRejectedRequestError,
    "AccessDeniedException": LookoutAccessDeniedError,
    "ServiceQuotaExceededException": LookoutQuotaExceededError,
    "ResourceNotFoundException": DatasetNotFoundError,
    "ThrottlingException": LookoutUnavailableError,
    "InternalServerException": LookoutUnavailableError,
}


def create_model(request: dict[str, Any]) -> tuple[str, str]:
    """CreateModel; returns (ModelArn, Status). L4E's refusals become typed exceptions."""
    try:
        response = client("lookoutequipment").create_model(**request)
    except ClientError as error:
        raise _request_error(error) from error
    return str(response["ModelArn"]), str(response["Status"])


def _request_error(
    error: ClientError, overrides: dict[str, type[LookoutRequestError]] | None = None
) -> LookoutRequestError:
    code = error.response["Error"]["Code"]
    message = error.response["Error"].get("Message", code)
    kind = (overrides or {}).get(code) or _REQUEST_ERRORS.get(code, LookoutRequestError)
    return kind(f"{code}: {message}")


class LookoutClient:
    """Implements lookout_diagnostics.domain.identity.LookoutReader against the real service."""

    def list_models(self, name_prefix: str | None = None, status: str | None = None) -> list[ModelSummary]:
        request: dict[str, Any] = {"MaxResults": PAGE_SIZE}
        if name_prefix:
            request["ModelNameBeginsWith"] = name_prefix
        if status:
            request["Status"] = status
        return [_model(item) for item in _pages("list_models", "ModelSummaries", request)]

    def list_model_versions(self, model_name: str) -> list[int]:
        return [version.version for version in self.versions(model_name)]

    def versions(self, model_name: str) -> list[VersionSummary]:
        """Every version of a model (ListModelVersions, all pages); ModelNotFoundError if it was deleted."""
        request = {"ModelName": model_name, "MaxResults": PAGE_SIZE}
        items = _model_call(lambda: _pages("list_model_versions", "ModelVersionSummaries", request))
        return [
            VersionSummary(
                version=int(item["ModelVersion"]), status=str(item["Status"]), created_at=item.get("CreatedAt")
            )
            for item in items
        ]

    def version_statuses(self, model_name: str) -> dict[int, str]:
        """Every version of a model and its status."""
        return {version.version: version.status for version in self.versions(model_name)}

    def failed_reason(self, model_name: str) -> str | None:
        """Why a model's training failed (DescribeModel's FailedReason)."""
        response = _model_call(lambda: client("lookoutequipment").describe_model(ModelName=model_name))
        reason = response.get("FailedReason")
        return str(reason) if reason else None

    def update_model(self, request: dict[str, Any]) -> None:
        """UpdateModel, e.g. to give a model a diagnostics output configuration."""
        try:
            client("lookoutequipment").update_model(**request)
        except ClientError as error:
            raise _request_error(error, {"ResourceNotFoundException": ModelNotFoundError}) from error

    def describe_model_version(self, model_name: str, version: int) -> ModelVersion:
        response = _model_call(
            lambda: client("lookoutequipment").describe_model_version(ModelName=model_name, ModelVersion=version)
        )
        return described_version(DescribedModelVersion.model_validate(response))


def _model_call(call: Callable[[], T]) -> T:
    """A call about one model: a model deleted since it was listed is ModelNotFoundError, not a failure."""
    try:
        return call()
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise ModelNotFoundError(error.response["Error"].get("Message", "the model does not exist")) from error
        raise


def _pages(operation: str, items_key: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    call = getattr(client("lookoutequipment"), operation)
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        response = call(**request, **({"NextToken": token} if token else {}))
        items.extend(response.get(items_key, []))
        token = response.get("NextToken")
        if not token:
            break
    return items


def _model(item: dict[str, Any]) -> ModelSummary:
    output = (item.get("ModelDiagnosticsOutputConfiguration") or {}).get("S3OutputConfiguration")
    return ModelSummary(
        name=item["ModelName"],
        arn=item["ModelArn"],
        status=item["Status"],
        diagnostics_output=(
            DiagnosticsOutput(bucket=output["Bucket"], prefix=output.get("Prefix", "")) if output else None
        ),
        active_version=item.get("ActiveModelVersion"),
        retraining_status=item.get("LatestScheduledRetrainingStatus"),
        retraining_version=item.get("LatestScheduledRetrainingModelVersion"),
        created_at=item.get("CreatedAt"),
    )
