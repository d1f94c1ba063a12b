"""What differs between the anomaly-detection services, behind one small interface.

A diagnostics file's service is known from its name (lookout_diagnostics.domain.services). Everything
else the paths share (the summary engine, alert composition, the ledger and the once-only gate) does not
depend on the service; what does is the interface here: whose file it is, what its sensors are called and
where its previous summary lies. Each service implements it in a module of its own (lookout_service.py,
sitewise_service.py), which alert_diagnostics.detection_service imports when a file of that service is read:
reading one service's file loads nothing of the other's. A third service is one more module and one more
branch there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from lookout_diagnostics.domain.identity import Identification, ModelIdentity
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.summary import DiagnosticsSummary
from lookout_diagnostics.models import Model
from lookout_diagnostics.usecases.headlines import stored_summary

PREVIOUS_LOOKED_AT = 3  # earlier versions (trainings) asked for a stored summary, newest first


class PreviousSummary(Model):
    """The summary stored for the model's version before this one."""

    label: str  # "v2", "execution <id>"
    location: S3Location
    summary: DiagnosticsSummary


class DetectionService(Protocol):
    service: Service

    def identify(self, location: S3Location) -> Identification:
        """Which model (version, execution) wrote this file, as the service itself says."""
        ...

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        """A readable name for each sensor name that has one (raw name -> readable name)."""
        ...

    def previous_summary(self, identity: ModelIdentity, location: S3Location) -> PreviousSummary | None:
        """The summary stored beside the file of the model's previous version (training), if there is one."""
        ...


def stored_previous(location: S3Location, label: str) -> PreviousSummary | None:
    """The summary stored at `location`, labelled as a previous version's (`label`), if there is one."""
    summary = stored_summary(location)
    return PreviousSummary(label=label, location=location, summary=summary) if summary is not None else None
