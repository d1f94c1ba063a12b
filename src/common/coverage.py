"""Diagnostics coverage: which models write no pointwise diagnostics, and the UpdateModel that fixes it."""

from __future__ import annotations

from pydantic import BaseModel

from common.model_identity import ModelSummary


class CoverageChange(BaseModel):
    """An UpdateModel that makes a model's future versions write diagnostics to the stack's bucket."""

    model_name: str
    bucket: str
    prefix: str
    role_arn: str

    def request(self) -> dict[str, object]:
        return {
            "ModelName": self.model_name,
            "ModelDiagnosticsOutputConfiguration": {
                "S3OutputConfiguration": {"Bucket": self.bucket, "Prefix": self.prefix}
            },
            "RoleArn": self.role_arn,
        }


def uncovered(models: list[ModelSummary]) -> list[ModelSummary]:
    return [model for model in models if model.diagnostics_output is None]


def coverage_change(model: ModelSummary, bucket: str, role_arn: str) -> CoverageChange:
    """The stack's convention: the model's own prefix (L4E requires it to end with '/')."""
    return CoverageChange(model_name=model.name, bucket=bucket, prefix=f"{model.name}/", role_arn=role_arn)
