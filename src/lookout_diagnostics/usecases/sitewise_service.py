"""AWS IoT SiteWise behind the services' interface (usecases/services.py)."""

from __future__ import annotations

from collections.abc import Iterable

from lookout_diagnostics.aws import s3
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.identity import Identification, ModelIdentity
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.sitewise import MAX_ACTIONS_DESCRIBED, asset_in_key, identify_evaluation, readable_names
from lookout_diagnostics.usecases.services import PREVIOUS_LOOKED_AT, PreviousSummary, stored_previous


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
                found = stored_previous(evaluation.summary_location(), f"training {action.executed_at:%Y-%m-%d}")
                if found is not None:
                    return found
        return None
