"""The anomaly-detection services this stack serves, and how each names the files it writes.

Amazon Lookout for Equipment writes a model version's pointwise diagnostics as
``model_diagnostics_results.json.gz``. AWS IoT SiteWise's native anomaly detection writes a training's
evaluation results as JSON Lines; AWS's documentation shows ``<epoch seconds>-evaluation_results.jsonl``
and says nothing of compression, so a gzipped ``.jsonl.gz`` is accepted too (inferred, docs/service-facts.md).
Both hold the same records, so one summary engine reads both. A summary is written beside its file, under a
name that no trigger matches.
"""

from __future__ import annotations

from enum import StrEnum

from lookout_diagnostics.errors import InvalidLocationError


class Service(StrEnum):
    LOOKOUT_FOR_EQUIPMENT = "lookout-for-equipment"
    IOT_SITEWISE = "iot-sitewise"

    @property
    def display_name(self) -> str:
        """The service's name as people read it."""
        return _DISPLAY_NAMES[self]


_DISPLAY_NAMES = {Service.LOOKOUT_FOR_EQUIPMENT: "Lookout for Equipment", Service.IOT_SITEWISE: "AWS IoT SiteWise"}

DIAGNOSTICS_FILE_NAME = "model_diagnostics_results.json.gz"
SUMMARY_FILE_NAME = "model_diagnostics_results.summary.json"
EVALUATION_FILE_SUFFIXES = ("evaluation_results.jsonl", "evaluation_results.jsonl.gz")
EVALUATION_SUMMARY_SUFFIX = "evaluation_results.summary.json"


def service_of(key: str) -> Service | None:
    """The service whose diagnostics file this key names, by its name alone; None for any other object."""
    if key.endswith(DIAGNOSTICS_FILE_NAME):
        return Service.LOOKOUT_FOR_EQUIPMENT
    if key.endswith(EVALUATION_FILE_SUFFIXES):
        return Service.IOT_SITEWISE
    return None


def summary_key(key: str) -> str:
    """Where a diagnostics file's summary goes: beside it (``…evaluation_results.jsonl`` and ``.jsonl.gz``
    both give ``…evaluation_results.summary.json``)."""
    if key.endswith(DIAGNOSTICS_FILE_NAME):
        return key[: -len(DIAGNOSTICS_FILE_NAME)] + SUMMARY_FILE_NAME
    for suffix in sorted(EVALUATION_FILE_SUFFIXES, key=len, reverse=True):
        if key.endswith(suffix):
            return key[: -len(suffix)] + EVALUATION_SUMMARY_SUFFIX
    raise InvalidLocationError(f"{key} is not a diagnostics file of a service this stack serves")
