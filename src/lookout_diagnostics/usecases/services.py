"""What differs between the anomaly-detection services, behind one small interface.

A diagnostics file's service is known from its name (lookout_diagnostics.domain.services). Everything
else the paths share (the summary engine, alert composition, the ledger and the once-only gate) does not
depend on the service; what does sits here: whose file it is, and what its sensors are called. A third
service is one more class with these two methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from lookout_diagnostics.aws import s3
from lookout_diagnostics.aws.lookout import LookoutClient
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.identity import Identification, ModelIdentity, identify
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.sitewise import MAX_ACTIONS_DESCRIBED, asset_in_key, identify_evaluation, readable_names
from lookout_diagnostics.domain.summary import DiagnosticsSummary
from lookout_diagnostics.models import Model

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


class LookoutForEquipment:
    """L4E: DescribeModelVersion names a version's file; sensor names (``component\\sensor``) are readable."""

    service = Service.LOOKOUT_FOR_EQUIPMENT

    def identify(self, location: S3Location) -> Identification:
        return identify(location, LookoutClient())

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        return {}

    def previous_summary(self, identity: ModelIdentity, location: S3Location) -> PreviousSummary | None:
        """The previous successful versions' summaries, newest first (a version's file, not summarised, is none)."""
        if identity.model_version is None:
            return None
        client = LookoutClient()
        earlier = sorted(
            (v.version for v in client.versions(identity.model_name) if v.version < identity.model_version
             and v.status == "SUCCESS"),
            reverse=True,
        )  # fmt: skip
        for number in earlier[:PREVIOUS_LOOKED_AT]:
            version = client.describe_model_version(identity.model_name, number)
            if version.diagnostics_object is not None and version.diagnostics_object != location:
                found = _stored(version.diagnostics_object.summary_location(), f"v{number}")
                if found is not None:
                    return found
        return None


class IoTSiteWise:
    """SiteWise: a training action's evaluation destination holds the file; sensors are named by ids."""

    service = Service.IOT_SITEWISE

    def __init__(self) -> None:
        self._reader = SiteWiseClient()  # one per invocation: assets are described once

    def identify(self, location: S3Location) -> Identification:
        return identify_evaluation(location, self._reader)

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        return readable_names(raw_names, self._reader)

    def previous_summary(self, identity: ModelIdentity, location: S3Location) -> PreviousSummary | None:
        """The latest earlier training of the computation model on the same asset whose results were summarised."""
        asset = identity.asset_id or asset_in_key(location.key)
        model_id = identity.model_arn.rsplit("/", 1)[-1]
        model = self._reader.computation_model(model_id)
        actions = self._reader.training_actions(model, asset, MAX_ACTIONS_DESCRIBED)
        current = [
            a for a in actions if a.evaluation_destination and location.key.startswith(a.evaluation_destination.key)
        ]
        if not current:
            return None
        looked_at = 0
        for action in actions:
            destination = action.evaluation_destination
            if action.executed_at >= current[0].executed_at or destination is None or looked_at >= PREVIOUS_LOOKED_AT:
                continue
            looked_at += 1
            evaluation = s3.newest_diagnostics_file(destination.bucket, destination.key)
            if evaluation is not None and evaluation != location:
                found = _stored(evaluation.summary_location(), f"training {action.executed_at:%Y-%m-%d}")
                if found is not None:
                    return found
        return None


def _stored(location: S3Location, label: str) -> PreviousSummary | None:
    text = s3.read_json(location)
    if text is None:
        return None
    return PreviousSummary(label=label, location=location, summary=DiagnosticsSummary.model_validate_json(text))


def detection_service(service: Service) -> DetectionService:
    implementations: dict[Service, type[LookoutForEquipment] | type[IoTSiteWise]] = {
        Service.LOOKOUT_FOR_EQUIPMENT: LookoutForEquipment,
        Service.IOT_SITEWISE: IoTSiteWise,
    }
    return implementations[service]()
