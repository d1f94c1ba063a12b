"""Lookout for Equipment behind the services' interface (usecases/services.py)."""

from __future__ import annotations

from collections.abc import Iterable

from lookout_diagnostics.aws.lookout import LookoutClient
from lookout_diagnostics.domain.identity import Identification, ModelIdentity, identify
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.usecases.services import PREVIOUS_LOOKED_AT, PreviousSummary, stored_previous


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
                found = stored_previous(version.diagnostics_object.summary_location(), f"v{number}")
                if found is not None:
                    return found
        return None
