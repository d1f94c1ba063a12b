"""AWS IoT SiteWise evaluation results as a training writes them, for the tests and the local run."""

from __future__ import annotations

import io

import boto3

from local.generator import GeneratorSpec, GroundTruth, write_diagnostics_file
from tests.support.fake_sitewise import FakeAsset

# A training's evaluation results over two days at one-minute resolution, two anomalous episodes.
EVALUATION_SPEC = GeneratorSpec(
    rows=2000, sensors=1, components=1, episodes=2, episode_points=(10, 30), machine_off_stretches=0, seed=11
)


def evaluation_key(prefix: str, asset: FakeAsset, *, epoch: int = 1793606400, suffix: str = ".jsonl") -> str:
    """Where SiteWise writes them under a destination prefix (the documentation's example layout)."""
    return f"{prefix}Evaluation/asset[{asset.id}]/{epoch}-evaluation_results{suffix}"


def sensor_ids(asset: FakeAsset) -> tuple[str, ...]:
    """The asset's properties as SiteWise names them in diagnostics: `<asset id>\\<property id>`."""
    return tuple(f"{asset.id}\\{prop.id}" for prop in asset.properties)


def put_evaluation_results(
    bucket: str, key: str, asset: FakeAsset, *, compressed: bool = False, spec: GeneratorSpec = EVALUATION_SPEC
) -> GroundTruth:
    """Write realistic evaluation results for `asset` (every property a sensor) to s3://bucket/key."""
    names = sensor_ids(asset)
    sized = spec.model_copy(update={"sensors": len(names), "sensor_names": names})
    buffer = io.BytesIO()
    truth = write_diagnostics_file(buffer, GeneratorSpec.model_validate(sized.model_dump()), compressed=compressed)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return truth
