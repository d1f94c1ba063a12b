"""Which model and version a diagnostics file belongs to, decided from what L4E reports (an in-memory reader)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lookout_diagnostics.domain.identity import (
    MAX_VERSIONS_PER_MODEL,
    DiagnosticsOutput,
    ModelSummary,
    ModelVersion,
    identify,
)
from lookout_diagnostics.domain.locations import S3Location

BUCKET = "stack-diagnostics"
FILE = "model_diagnostics_results.json.gz"


@dataclass
class InMemoryLookout:
    """A LookoutReader over fixed models and versions, counting what it was asked."""

    models: list[ModelSummary] = field(default_factory=list)
    versions: dict[str, list[ModelVersion]] = field(default_factory=dict)
    described: list[tuple[str, int]] = field(default_factory=list)

    def add(self, name: str, prefix: str, *files: str | None) -> None:
        arn = f"arn:aws:lookoutequipment:eu-west-1:123456789012:model/{name}/0"
        output = DiagnosticsOutput(bucket=BUCKET, prefix=prefix)
        self.models.append(ModelSummary(name=name, arn=arn, status="SUCCESS", diagnostics_output=output))
        self.versions[name] = [
            ModelVersion(
                model_name=name,
                version=number,
                status="SUCCESS",
                model_quality="QUALITY_THRESHOLD_MET",
                diagnostics_object=S3Location(bucket=BUCKET, key=key) if key else None,
            )
            for number, key in enumerate(files, 1)
        ]

    def list_models(self) -> list[ModelSummary]:
        return self.models

    def list_model_versions(self, model_name: str) -> list[int]:
        return [version.version for version in self.versions[model_name]]

    def describe_model_version(self, model_name: str, version: int) -> ModelVersion:
        self.described.append((model_name, version))
        return self.versions[model_name][version - 1]


def at(key: str) -> S3Location:
    return S3Location(bucket=BUCKET, key=key)


def test_the_version_that_names_the_file_is_the_one_alerted() -> None:
    # Given a model whose version 2 wrote the file (version 1 wrote another)
    lookout = InMemoryLookout()
    lookout.add("pump-7", "pump-7/", f"pump-7/1/{FILE}", f"pump-7/2/{FILE}")
    # When the file is identified
    found = identify(at(f"pump-7/2/{FILE}"), lookout)
    # Then it is version 2, confirmed by DescribeModelVersion, with its quality
    assert found.identity is not None
    assert (found.identity.model_name, found.identity.model_version, found.identity.confirmed) == ("pump-7", 2, True)
    assert found.identity.model_quality == "QUALITY_THRESHOLD_MET"


def test_the_longest_matching_prefix_is_asked_first() -> None:
    # Given two models whose prefixes both hold the file, the more specific one wrote it
    lookout = InMemoryLookout()
    lookout.add("plant", "", f"other/{FILE}")
    lookout.add("pump-7", "plant/pump-7/", f"plant/pump-7/1/{FILE}")
    # When it is identified
    found = identify(at(f"plant/pump-7/1/{FILE}"), lookout)
    # Then the specific model is named, and the other was not even described
    assert found.identity is not None and found.identity.model_name == "pump-7"
    assert lookout.described == [("pump-7", 1)]


def test_a_file_under_a_prefix_that_no_version_names_yet_is_the_models_unconfirmed() -> None:
    lookout = InMemoryLookout()
    lookout.add("pump-7", "pump-7/", None)
    found = identify(at(f"pump-7/3/{FILE}"), lookout)
    assert found.identity is not None
    assert (found.identity.model_name, found.identity.model_version, found.identity.confirmed) == (
        "pump-7",
        None,
        False,
    )
    assert "none of its versions names it yet" in found.note


def test_a_file_no_model_writes_to_is_said_to_be_nobodys() -> None:
    lookout = InMemoryLookout()
    lookout.add("pump-7", "pump-7/", f"pump-7/1/{FILE}")
    found = identify(at(f"elsewhere/{FILE}"), lookout)
    assert found.identity is None
    assert found.note == "no Lookout for Equipment model writes diagnostics to this location"


def test_only_the_newest_versions_are_described() -> None:
    # Given a model with many versions, none naming the file
    lookout = InMemoryLookout()
    lookout.add("pump-7", "pump-7/", *[f"pump-7/{n}/{FILE}" for n in range(1, 31)])
    # When an unknown file under its prefix is identified
    identify(at(f"pump-7/99/{FILE}"), lookout)
    # Then the work is bounded: the newest versions only, newest first
    assert [version for _, version in lookout.described] == list(range(30, 30 - MAX_VERSIONS_PER_MODEL, -1))
