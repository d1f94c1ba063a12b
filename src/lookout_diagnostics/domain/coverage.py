"""Diagnostics coverage: which models write no pointwise diagnostics, and the UpdateModel that fixes it."""

from __future__ import annotations

from lookout_diagnostics.domain.identity import ModelSummary
from lookout_diagnostics.models import Model


class CoverageChange(Model):
    """An UpdateModel that makes a model's future versions write diagnostics to the stack's bucket."""

    model_name: str
    bucket: str
    prefix: str
    role_arn: str
    kms_key_id: str | None = None  # the customer KMS key L4E encrypts the files with; None: a key L4E owns

    def request(self) -> dict[str, object]:
        output: dict[str, object] = {"S3OutputConfiguration": {"Bucket": self.bucket, "Prefix": self.prefix}}
        if self.kms_key_id is not None:
            output["KmsKeyId"] = self.kms_key_id
        return {"ModelName": self.model_name, "ModelDiagnosticsOutputConfiguration": output, "RoleArn": self.role_arn}


def uncovered(models: list[ModelSummary]) -> list[ModelSummary]:
    return [model for model in models if model.diagnostics_output is None]


def coverage_change(model: ModelSummary, bucket: str, role_arn: str, kms_key_id: str | None = None) -> CoverageChange:
    """The stack's convention: the model's own prefix (L4E requires it to end with '/')."""
    return CoverageChange(
        model_name=model.name, bucket=bucket, prefix=f"{model.name}/", role_arn=role_arn, kms_key_id=kms_key_id
    )
